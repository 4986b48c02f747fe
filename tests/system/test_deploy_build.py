"""What ``python -m deploy build`` writes is a Chalice project that packages as ``chalice deploy``
would deploy it: every function holding the stage's generated policy and the stage's generated
settings, the version among them. Runs chalice package on the build directory (slow: it reuses
the repository's cache of Lambda-platform wheels where there is one)."""

from __future__ import annotations

import fcntl
import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from deploy.__main__ import main
from tests.support.chalice_package import NO_AWS, PROJECT

pytestmark = pytest.mark.slow

STAGES = {
    "region": "eu-west-1",
    "stages": {
        "prod": {
            "accounts": {"root": "409876543210", "children": ["409876543211"]},
            "allowed_groups": ["ChildDeveloperGroup", "BreakGlassGroup"],
            "scim": {"groups": ["ChildDeveloperGroup"]},
        },
        "dev": {
            "accounts": {"root": "409876543210", "children": ["409876543212"]},
            "name_prefix": "Dev",
            "managed_path": "/managed-dev/",
            "allowed_groups": ["DevChildDeveloperGroup", "DevBreakGlassGroup"],
            "grant_max_hours": {"DevBreakGlassGroup": 4},
            "scim": {"groups": ["DevChildDeveloperGroup"]},
        },
    },
}


def test_the_build_packages_each_function_with_the_stages_policy_and_settings(tmp_path):
    config = tmp_path / "deployment.yaml"
    config.write_text(yaml.safe_dump(STAGES))
    assert main(["build", "--config", str(config)]) == 0
    build = tmp_path / "deployment.build"
    cache = PROJECT / ".chalice" / "deployments"
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        shutil.copytree(cache, build / ".chalice" / "deployments", dirs_exist_ok=True)
        subprocess.run(
            [Path(sys.executable).parent / "chalice", "--project-dir", build, "package"]
            + ["--stage", "dev", tmp_path / "out"],
            env=NO_AWS | {"PATH": str(Path(sys.executable).parent)},
            check=True,
            capture_output=True,
            timeout=600,
        )
    template = json.loads((tmp_path / "out" / "sam.json").read_text())
    policy = json.loads((build / ".chalice" / "policy-dev.json").read_text())
    functions = [
        r for r in template["Resources"].values() if r["Type"] == "AWS::Serverless::Function"
    ]
    assert len(functions) > 5
    for function in functions:
        properties = function["Properties"]
        role = template["Resources"][properties["Role"]["Fn::GetAtt"][0]]["Properties"]
        assert [p["PolicyDocument"] for p in role["Policies"]] == [policy]
        env = properties["Environment"]["Variables"]
        assert env["ALLOWED_GROUPS"] == "DevChildDeveloperGroup,DevBreakGlassGroup"
        assert env["MANAGED_PATH"] == "/managed-dev/"
        assert env["SELF_SERVICE_POLICY"] == "DevManagedUserSelfService"
        assert env["APP_VERSION"] == main_version()
    assert "arn:aws:iam::*:user/managed-dev/*" in json.dumps(policy)


def main_version() -> str:
    import tomllib

    return tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]["version"]
