"""``chalice package`` works without an AWS account and builds what Lambda should run: the app,
its runtime requirements as Lambda-platform wheels, and none of the tooling. The CloudFormation
route (``--merge-template .chalice/merge-template.yaml``) names functions and roles as
``chalice deploy`` does, which the child accounts' trust and the alarms rely on.

Chalice downloads the wheels from PyPI the first time (30-60 s), then reuses its cache.
"""

from __future__ import annotations

import json
import re
import zipfile
from pathlib import Path

import pytest
import yaml

from devstack import cfn
from tests.support.chalice_package import PROJECT, package

pytestmark = pytest.mark.slow

CONFIG = json.loads((PROJECT / ".chalice" / "config.json").read_text())
APP = CONFIG["app_name"]
MERGE = PROJECT / ".chalice" / "merge-template.yaml"


def requirements() -> dict[str, str]:
    """name -> pinned version of each line of requirements.txt."""
    pins = {}
    for line in (PROJECT / "requirements.txt").read_text().splitlines():
        line = line.split("#")[0].strip()
        if line:
            name, _, version = line.partition("==")
            pins[re.sub(r"[-_.]+", "_", name).lower()] = version
    return pins


@pytest.fixture(scope="module")
def dev(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("package") / "dev"
    package("dev", out)
    return out


@pytest.fixture(scope="module")
def prod_merged(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("package") / "prod"
    package("prod", out, merge_template=MERGE)
    return out


def test_the_package_holds_the_app_and_its_runtime_requirements_only(dev):
    assert (dev / "sam.json").is_file()
    with zipfile.ZipFile(dev / "deployment.zip") as archive:
        names = archive.namelist()
    tops = {name.split("/")[0] for name in names}
    assert "app.py" in names and "chalicelib/__init__.py" in names
    assert {
        p.relative_to(PROJECT).as_posix() for p in (PROJECT / "chalicelib").rglob("*.py")
    } <= set(names)
    installed = dict(
        top.removesuffix(".dist-info").rsplit("-", 1) for top in tops if top.endswith(".dist-info")
    )
    installed = {
        re.sub(r"[-_.]+", "_", name).lower(): version for name, version in installed.items()
    }
    for name, version in requirements().items():
        assert installed.get(name) == version, (name, version, installed.get(name))
    # Compiled for Lambda (Linux x86_64), whatever machine packaged it.
    [core] = [n for n in names if n.startswith("pydantic_core/_pydantic_core.")]
    assert core.endswith("-x86_64-linux-gnu.so"), core
    for tooling in (
        "boto3",
        "moto",
        "tests",
        "chalicelib/tests",
        ".chalice",
        "cfnlint",
        "pytest",
        "cfripper",
        "policy_sentry",
        "bench",
        "devstack",
        "templates",
    ):
        assert tooling not in tops, f"{tooling} must not be deployed"


def test_the_functions_run_as_the_stage_policy_with_tracing(dev):
    template = json.loads((dev / "sam.json").read_text())
    resources = template["Resources"]
    functions = {lid: r for lid, r in resources.items() if r["Type"] == "AWS::Serverless::Function"}
    assert functions
    policy = json.loads((PROJECT / ".chalice" / "policy-dev.json").read_text())
    for lid, function in functions.items():
        properties = function["Properties"]
        assert properties["Tracing"] == "Active", lid
        role = resources[properties["Role"]["Fn::GetAtt"][0]]
        [document] = [p["PolicyDocument"] for p in role["Properties"]["Policies"]]
        assert document == policy, lid


def handler_names(template: dict) -> dict[str, str]:
    """Function logical id -> the name Chalice knows it by (api_handler for the REST API)."""
    return {
        lid: (
            "api_handler"
            if r["Properties"]["Handler"] == "app.app"
            else r["Properties"]["Handler"].rsplit(".", 1)[1]  # <module>.<function>
        )
        for lid, r in template["Resources"].items()
        if r["Type"] == "AWS::Serverless::Function"
    }


def test_the_cloudformation_route_names_functions_and_roles_as_chalice_deploy_does(prod_merged):
    from cfnlint.api import lint_file

    path = prod_merged / "sam.yaml"
    assert not [str(m) for m in lint_file(path)]
    template = yaml.safe_load(path.read_text())  # Chalice writes intrinsics in long form
    resources = template["Resources"]

    def named(value: dict) -> str:  # Fn::Sub "iam-lifecycle-${Stage}..." with Stage=prod
        return (value["Fn::Sub"] if isinstance(value, dict) else value).replace("${Stage}", "prod")

    for lid, name in handler_names(template).items():
        properties = resources[lid]["Properties"]
        expected = f"{APP}-prod" if name == "api_handler" else f"{APP}-prod-{name}"
        assert "FunctionName" in properties, f"add {lid} to {MERGE.name}"
        assert named(properties["FunctionName"]) == expected
        role = resources[properties["Role"]["Fn::GetAtt"][0]]["Properties"]
        # The child accounts' AccessRevocationRole trusts role/<app>-<stage>-*.
        assert named(role["RoleName"]) == f"{APP}-prod-{name}"
    leftovers = set(cfn.load_template(MERGE)["Resources"]) - set(resources)
    assert not leftovers, f"{MERGE.name} names resources chalice no longer makes: {leftovers}"
