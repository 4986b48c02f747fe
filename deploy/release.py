"""make release: the versioned release bundle, ``dist/iam-lifecycle-<version>/``:

    iam-lifecycle-<version>-lambda.zip     the Lambda deployment package (``chalice package``)
    iam-lifecycle-<version>-source.tar.gz  the repository's files at this version: what
                                           ``python -m deploy build`` and ``make install`` need
    templates/                             the CloudFormation templates
    sbom.cdx.json                          CycloneDX SBOM of everything the package holds
    CHANGES.md                             CHANGELOG.md's section of this version
    SHA256SUMS                             the SHA-256 of each file above (``sha256sum -c``)

The version is pyproject.toml's; a version without its CHANGELOG.md section is refused. The
archives are reproducible: sorted entries, owner 0 and the time of SOURCE_DATE_EPOCH (or 0).
"""

from __future__ import annotations

import argparse
import fcntl
import gzip
import hashlib
import io
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import zipfile
from pathlib import Path

from chalicelib.settings import project_version
from deploy.model import APP_NAME

PROJECT = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent
# chalice package needs no account: fake credentials, and an endpoint nothing answers on.
NO_AWS = {
    "AWS_ACCESS_KEY_ID": "fake",
    "AWS_SECRET_ACCESS_KEY": "fake",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
}


class ReleaseError(RuntimeError):
    pass


def changes(version: str, changelog: str) -> str:
    """CHANGELOG.md's section of ``version``, or a ReleaseError saying to write it."""
    match = re.search(
        rf"^## \[{re.escape(version)}\].*?(?=^## \[|\Z)", changelog, re.MULTILINE | re.DOTALL
    )
    if not match:
        raise ReleaseError(
            f"CHANGELOG.md has no section '## [{version}]': write what changed and what an "
            "existing deployment must do before releasing it"
        )
    if "### What an existing deployment must do" not in match[0]:
        raise ReleaseError(
            f"CHANGELOG.md's section {version} has no '### What an existing deployment must do'"
        )
    return match[0].strip() + "\n"


def bundle(out: Path, version: str | None = None) -> Path:
    """Build the bundle into ``out/iam-lifecycle-<version>``; return that directory."""
    version = version or project_version()
    notes = changes(version, (PROJECT / "CHANGELOG.md").read_text())
    target = out / f"{APP_NAME}-{version}"
    shutil.rmtree(target, ignore_errors=True)
    target.mkdir(parents=True)
    (target / "CHANGES.md").write_text(notes)
    shutil.copytree(PROJECT / "templates", target / "templates")
    with tempfile.TemporaryDirectory() as work:
        package = _package(Path(work))
        shutil.copy2(package, target / f"{APP_NAME}-{version}-lambda.zip")
        _sbom(package, Path(work), target / "sbom.cdx.json")
    _source(target / f"{APP_NAME}-{version}-source.tar.gz", f"{APP_NAME}-{version}")
    _checksums(target)
    return target


# What ``chalice package`` reads of a project.
PACKAGED = ("app.py", "requirements.txt", "chalicelib/", ".chalice/", "vendor/")


def _package(work: Path) -> Path:
    # chalice imports the app before packaging it: no bytecode written beside its modules.
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | NO_AWS
    env["PYTHONDONTWRITEBYTECODE"] = "1"
    cache = PROJECT / ".chalice" / "deployments"
    cache.mkdir(parents=True, exist_ok=True)
    project = _packaged_files(work / "project")
    # The dependencies built once for every packaging of these requirements (chalice's cache).
    (project / ".chalice" / "deployments").symlink_to(cache, target_is_directory=True)
    # One packaging at a time: another (a test worker) would build the same cache file.
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        subprocess.run(
            [BIN / "chalice", "--project-dir", project, "package", "--stage", "prod", work / "out"],
            env=env,
            check=True,
            capture_output=True,
            text=True,
        )
    return work / "out" / "deployment.zip"


def _packaged_files(project: Path) -> Path:
    """A copy of the repository's files that the package is made of. chalice packages every
    file under chalicelib/, so packaging the checkout itself would add whatever else lies there
    (the bytecode Python wrote beside the modules, a file not committed)."""
    for name in _tracked():
        if name.startswith(PACKAGED):
            (project / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(PROJECT / name, project / name)
    return project


def _sbom(package: Path, work: Path, target: Path) -> None:
    """The SBOM of every distribution the package holds (its *.dist-info), not only the direct
    requirements."""
    with zipfile.ZipFile(package) as archive:
        found = sorted(
            {
                top.removesuffix(".dist-info")
                for top in (name.split("/")[0] for name in archive.namelist())
                if top.endswith(".dist-info")
            }
        )
    pins = work / "package-requirements.txt"
    pins.write_text("".join(f"{n.rsplit('-', 1)[0]}=={n.rsplit('-', 1)[1]}\n" for n in found))
    subprocess.run(
        [
            *(str(BIN / "cyclonedx-py"), "requirements", str(pins)),
            *("--pyproject", str(PROJECT / "pyproject.toml"), "--output-reproducible"),
            *("--of", "JSON", "-o", str(target)),
        ],
        check=True,
        capture_output=True,
        text=True,
    )


def _tracked() -> list[str]:
    """The repository's files (git's list), or a ReleaseError where there is no git checkout."""
    try:
        listed = subprocess.run(
            ["git", "ls-files", "-z"], cwd=PROJECT, check=True, capture_output=True
        ).stdout
    except (OSError, subprocess.CalledProcessError) as error:
        raise ReleaseError(f"the source archive needs a git checkout: {error}") from None
    return sorted(
        name for name in listed.decode().split("\0") if name and (PROJECT / name).is_file()
    )


def _source(target: Path, prefix: str) -> None:
    epoch = int(os.environ.get("SOURCE_DATE_EPOCH", "0"))
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as archive:
        for name in _tracked():
            path = PROJECT / name
            info = archive.gettarinfo(str(path), f"{prefix}/{name}")
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            info.mtime = epoch
            with path.open("rb") as content:
                archive.addfile(info, content)
    with (
        target.open("wb") as file,
        gzip.GzipFile(filename="", fileobj=file, mode="wb", mtime=epoch) as gz,
    ):
        gz.write(raw.getvalue())


def _checksums(target: Path) -> None:
    lines = []
    for path in sorted(p for p in target.rglob("*") if p.is_file() and p.name != "SHA256SUMS"):
        digest = hashlib.sha256(path.read_bytes()).hexdigest()
        lines.append(f"{digest}  {path.relative_to(target).as_posix()}\n")
    (target / "SHA256SUMS").write_text("".join(lines))


def verify(target: Path) -> list[str]:
    """The files whose SHA-256 differs from SHA256SUMS, or that it lists and are missing."""
    wrong = []
    for line in (target / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split("  ", 1)
        path = target / name
        if not path.is_file() or hashlib.sha256(path.read_bytes()).hexdigest() != digest:
            wrong.append(name)
    return wrong


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m deploy.release", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--out", default=str(PROJECT / "dist"), help="where the bundle goes (dist/)"
    )
    args = parser.parse_args(argv)
    try:
        target = bundle(Path(args.out))
    except ReleaseError as error:
        print(error, file=sys.stderr)
        return 2
    except subprocess.CalledProcessError as error:
        print(f"{' '.join(map(str, error.cmd))} failed:\n{error.stderr}", file=sys.stderr)
        return 1
    print(target)
    return 0


if __name__ == "__main__":
    sys.exit(main())
