"""python -m deploy: a deployment from a file the adopter keeps outside the repository.

    python -m deploy init  --out ~/iam/deployment.yaml [--stage prod] [--profile root]
    python -m deploy check --config ~/iam/deployment.yaml
    python -m deploy build --config ~/iam/deployment.yaml [--out DIR]
    python -m deploy version

``--config`` may be left out when IAM_LIFECYCLE_CONFIG names the file. ``build`` writes into
``<the file's name>.build/`` beside it unless ``--out`` says where, and prints each stage's
commands (also in ``commands-<stage>.sh`` there; ``teardown-<stage>.sh`` removes the stage).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from deploy.model import CONFIG_VARIABLE, DeploymentError, config_path, load


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m deploy", description=__doc__.split("\n")[0])
    commands = parser.add_subparsers(dest="command", required=True)
    init = commands.add_parser("init", help="write a first deployment file from the organization")
    init.add_argument("--out", required=True, help="the file to write (never overwritten)")
    init.add_argument("--stage", default="prod", help="the stage's name (default prod)")
    init.add_argument("--profile", help="the AWS profile of the root account")
    init.add_argument("--region", help="the region to deploy to (default: the profile's)")
    for name, words in (
        ("check", "validate the deployment file"),
        ("build", "generate the stages' settings, policies and parameters"),
    ):
        command = commands.add_parser(name, help=words)
        command.add_argument("--config", help=f"the deployment file (or {CONFIG_VARIABLE})")
        if name == "build":
            command.add_argument("--out", help="the build directory")
    commands.add_parser("version", help="the version pyproject.toml holds")
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except DeploymentError as error:
        print(error, file=sys.stderr)
        return 2


def _run(args: argparse.Namespace) -> int:
    from chalicelib.settings import project_version

    if args.command == "version":
        print(project_version())
        return 0
    if args.command == "init":
        from deploy import organization

        out = Path(args.out).expanduser()
        if out.exists():
            raise DeploymentError(f"{out} exists: name a new file with --out")
        text = organization.first_file(args.stage, args.profile, args.region)
        out.write_text(text)
        print(
            f"wrote {out}: read it, fill in what it asks for, then: python -m deploy check --config {out}"
        )
        return 0
    path = config_path(args.config)
    deployment = load(path)
    if args.command == "check":
        print(f"{path}: ok (stages {', '.join(deployment.stages)})")
        return 0
    from deploy.generate import build, commands

    out = Path(args.out).expanduser() if args.out else path.with_name(path.stem + ".build")
    build(deployment, out, project_version())
    for stage in deployment.stages:
        print(f"# stage {stage}: {out / f'commands-{stage}.sh'} (teardown-{stage}.sh: its removal)")
        print("\n".join(commands(deployment, stage, out)))
    return 0


if __name__ == "__main__":
    sys.exit(main())
