"""The teardown ``python -m deploy build`` writes (``teardown-<stage>.sh``), run line by line with
the AWS CLI against a moto server holding a deployed stage: every secret the stage reads is gone,
the session denies the app wrote, the service and groups stacks, the queues, the state table and
the stage's log groups; another stage's log group stays. (moto's CloudFormation does not make
groups or secrets: devstack's shim makes them beside the stack, so deleting the groups stack here
leaves its groups behind; and moto cannot delete the child stack, below.)"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import boto3
import pytest
import yaml
from moto.server import ThreadedMotoServer

from deploy.__main__ import main
from devstack import cfn, moto_ext
from devstack.local import PROJECT, free_port

REGION = "eu-west-1"
STAGE = {
    "region": REGION,
    "stages": {
        "prod": {
            "accounts": {"root": "409876543210", "children": ["409876543211"]},
            "allowed_groups": ["ChildDeveloperGroup", "BreakGlassGroup"],
            "scim": {"groups": ["ChildDeveloperGroup"]},
            "drift_webhook_secret": "ops/drift-webhook",
            "alarm_email": "ops@example.org",
        }
    },
}


@pytest.fixture
def moto_server():
    moto_ext.apply()
    port = free_port()
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=port, verbose=False)
    server.start()
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.stop()


def test_the_teardown_removes_what_the_stage_made(moto_server, tmp_path):
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")} | {
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_ENDPOINT_URL": moto_server,
        "AWS_CONFIG_FILE": "/dev/null",
        "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
        "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ['PATH']}",
    }
    session = boto3.Session(
        aws_access_key_id="testing", aws_secret_access_key="testing", region_name=REGION
    )

    def client(name: str):
        return session.client(name, endpoint_url=moto_server)

    config = tmp_path / "deployment.yaml"
    config.write_text(yaml.safe_dump(STAGE))
    assert main(["build", "--config", str(config)]) == 0
    build = tmp_path / "deployment.build"
    templates = build / "templates"

    # The stage as deployed: its stacks (the child's in the same account here), a session deny
    # the app wrote, a secret the file names outside the stack, the functions' log groups.
    for template, stack in (
        ("root/service", "iam-lifecycle-prod-service"),
        ("root/access-groups", "iam-lifecycle-access-groups"),
        ("child/access-roles", "iam-lifecycle-access-roles"),
    ):
        given = json.loads(
            (build / "parameters" / "prod" / f"{template.replace('/', '-')}.json").read_text()
        )
        cfn.deploy(session, templates / f"{template}.yaml", stack, given, endpoint_url=moto_server)
    client("iam").put_role_policy(
        RoleName="DeveloperRole",
        PolicyName="AccessRevocation",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}],
            }
        ),
    )
    client("secretsmanager").create_secret(Name="ops/drift-webhook", SecretString="https://x")
    logs = client("logs")
    for group in ("iam-lifecycle-prod", "iam-lifecycle-prod-worker", "iam-lifecycle-prod2-worker"):
        logs.create_log_group(logGroupName=f"/aws/lambda/{group}")
    # The service stack's secrets and the one the file names outside it.
    made = (
        (PROJECT / "templates/root/service.yaml")
        .read_text()
        .count("Type: AWS::SecretsManager::Secret")
    )
    assert len(client("secretsmanager").list_secrets()["SecretList"]) == made + 1 == 8

    lines = (build / "teardown-prod.sh").read_text().splitlines()
    for line in lines:
        if line.startswith("#") or " chalice delete " in f" {line} ":
            continue  # nothing deployed with chalice here
        if "delete-stack" in line and "monitoring" in line:
            continue  # no monitoring stack here
        done = subprocess.run(
            ["bash", "-c", line], env=env, capture_output=True, text=True, timeout=120
        )
        none_written = "delete-role-policy" in line and "NoSuchEntity" in done.stderr
        # moto deletes a stack's roles before the managed policies attached to them (their
        # Roles property); CloudFormation deletes in the reverse order of the dependencies.
        moto_order = "iam-lifecycle-access-roles" in line and "DeleteConflict" in done.stderr
        assert done.returncode == 0 or none_written or moto_order, f"{line}\n{done.stderr}"

    assert client("secretsmanager").list_secrets()["SecretList"] == []
    stacks = client("cloudformation").list_stacks()["StackSummaries"]
    gone = {s["StackName"] for s in stacks if s["StackStatus"] == "DELETE_COMPLETE"}
    assert {"iam-lifecycle-prod-service", "iam-lifecycle-access-groups"} <= gone
    iam = client("iam")
    for role in ("DeveloperRole", "BreakGlassRole"):  # the session denies the app wrote
        if role in {r["RoleName"] for r in iam.list_roles()["Roles"]}:
            assert iam.list_role_policies(RoleName=role)["PolicyNames"] == []
    assert "iam-lifecycle-prod-state" not in client("dynamodb").list_tables()["TableNames"]
    assert client("sqs").list_queues().get("QueueUrls", []) == []
    left = [g["logGroupName"] for g in logs.describe_log_groups()["logGroups"]]
    assert left == ["/aws/lambda/iam-lifecycle-prod2-worker"]
    assert shlex.split(lines[3])[:3] == ["env", f"AWS_DEFAULT_REGION={REGION}", "chalice"]
