"""make release's bundle (deploy/release.py), built as CI builds it: every file listed in
SHA256SUMS with its digest, the SBOM covering what the Lambda package holds, the version one
and the same everywhere. Builds the package with chalice package (slow on a cold cache)."""

from __future__ import annotations

import json
import subprocess
import tarfile
import tomllib
import uuid
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from deploy import release

pytestmark = pytest.mark.slow

PROJECT = Path(__file__).resolve().parents[2]
VERSION = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]["version"]


@pytest.fixture(scope="module")
def bundle(tmp_path_factory) -> Iterator[Path]:
    # What Python or a person leaves in a checkout beside the modules: never packaged.
    stray = PROJECT / "chalicelib" / "__pycache__" / f"stray-{uuid.uuid4().hex}.pyc"
    stray.parent.mkdir(exist_ok=True)
    stray.write_bytes(b"not the repository's")
    try:
        yield release.bundle(tmp_path_factory.mktemp("dist"))
    finally:
        stray.unlink()


def test_every_file_of_the_bundle_is_in_its_checksums_and_sha256sum_agrees(bundle):
    assert bundle.name == f"iam-lifecycle-{VERSION}"
    listed = {line.split("  ", 1)[1] for line in (bundle / "SHA256SUMS").read_text().splitlines()}
    files = {p.relative_to(bundle).as_posix() for p in bundle.rglob("*") if p.is_file()}
    assert listed == files - {"SHA256SUMS"}
    assert {
        f"iam-lifecycle-{VERSION}-lambda.zip",
        f"iam-lifecycle-{VERSION}-source.tar.gz",
        "sbom.cdx.json",
        "CHANGES.md",
        "templates/root/service.yaml",
        "templates/child/access-roles.yaml",
    } <= listed
    subprocess.run(["sha256sum", "--check", "--quiet", "SHA256SUMS"], cwd=bundle, check=True)
    assert release.verify(bundle) == []


def test_a_changed_file_is_named_by_the_check(bundle, tmp_path):
    copy = tmp_path / "copy"
    subprocess.run(["cp", "-a", str(bundle), str(copy)], check=True)
    with (copy / "templates/root/service.yaml").open("a") as file:
        file.write("# changed\n")
    (copy / "CHANGES.md").unlink()
    assert release.verify(copy) == ["CHANGES.md", "templates/root/service.yaml"]


def test_the_sbom_lists_everything_the_package_holds_at_its_version(bundle):
    sbom = json.loads((bundle / "sbom.cdx.json").read_text())
    assert sbom["bomFormat"] == "CycloneDX"
    assert sbom["metadata"]["component"]["version"] == VERSION
    listed = {(c["name"].replace("-", "_").lower(), c["version"]) for c in sbom["components"]}
    with zipfile.ZipFile(bundle / f"iam-lifecycle-{VERSION}-lambda.zip") as archive:
        names = archive.namelist()
    assert "app.py" in names and "chalicelib/settings.py" in names
    held = {
        tuple(top.removesuffix(".dist-info").lower().rsplit("-", 1))
        for top in {name.split("/")[0] for name in names}
        if top.endswith(".dist-info")
    }
    assert held and held == listed
    for line in (PROJECT / "requirements.txt").read_text().splitlines():
        if line.split("#")[0].strip():
            name, _, version = line.strip().partition("==")
            assert (name.replace("-", "_").lower(), version) in listed, line


def test_the_package_holds_the_repositorys_files_of_the_app_and_nothing_else_of_the_checkout(
    bundle,
):
    with zipfile.ZipFile(bundle / f"iam-lifecycle-{VERSION}-lambda.zip") as archive:
        app = {n for n in archive.namelist() if n == "app.py" or n.startswith("chalicelib/")}
    tracked = subprocess.run(
        ["git", "ls-files", "app.py", "chalicelib"], cwd=PROJECT, check=True, capture_output=True
    ).stdout.decode()
    assert app == set(tracked.split())


def test_the_source_is_the_repositorys_files_at_this_version_and_rebuilds_the_same(
    bundle, tmp_path
):
    archive = bundle / f"iam-lifecycle-{VERSION}-source.tar.gz"
    prefix = f"iam-lifecycle-{VERSION}/"
    with tarfile.open(archive) as source:
        names = source.getnames()
        pyproject = source.extractfile(prefix + "pyproject.toml").read().decode()
    assert {prefix + "app.py", prefix + "deploy/__main__.py", prefix + "CHANGELOG.md"} <= set(names)
    assert f'version = "{VERSION}"' in pyproject
    again = tmp_path / "again.tar.gz"
    release._source(again, prefix.rstrip("/"))
    assert again.read_bytes() == archive.read_bytes()
    assert (bundle / "CHANGES.md").read_text().startswith(f"## [{VERSION}]")
