"""A new hire's first hour with the real AWS CLI (the ``awscli`` package) on the local stack.

Onboarded with a key (the dev stage issues one: ACCESS_KEYS=issued_at_onboarding), the person
follows the welcome: MFA enrolled, the key put in a temporary ``AWS_SHARED_CREDENTIALS_FILE``
with ``aws configure set`` as the welcome says, the profiles merged into a temporary
``AWS_CONFIG_FILE`` by the merge script of ``GET /users/{u}/aws-config?format=shell``; then
``aws sts get-caller-identity --profile <child profile>`` (the CLI asks for the MFA code, since
the self-service policy denies sts:AssumeRole without one) answers
``assumed-role/DeveloperRole/<name>``. Suspended, the person can no longer assume the role
(groups taken away, key deactivated), and the role session the CLI had cached is denied in the
child account (the revocation). Restored, the same key and profiles work again: a restore
reactivates the key the suspension deactivated and issues none.

GetCallerIdentity needs no permission in AWS ("No permissions are required to perform this
operation", STS API reference): after the suspension it is run with the CLI's cache emptied, so
that it must assume the role again; the cached session is tried with an S3 call instead.
The keyless profile (``login_session``) needs a console sign-in, which the local stack has not:
tests/unit/test_first_hour.py proves that botocore reads it as AWS documents it.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import urllib.error
import urllib.request
from pathlib import Path

import boto3
import pytest

CHILD = "222233334444"
NAME = "nina.dev@acme"  # IAM allows "+=,.@-" in names; the profiles and the CLI take them
PROFILE = f"{CHILD}-DeveloperRole"


def aws_cli() -> str:
    found = shutil.which("aws", path=str(Path(sys.executable).parent)) or shutil.which("aws")
    if not found:
        pytest.fail(
            "the AWS CLI is missing: pip install -r requirements-dev.txt -c constraints.txt"
        )
    return found


def call(stack, method: str, path: str, body=None):
    request = urllib.request.Request(
        stack["api_url"] + path,
        data=json.dumps(body).encode() if body is not None else None,
        headers={
            "Content-Type": "application/json",
            "Authorization": f"Bearer {stack['api_token']}",
        },
        method=method,
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as response:
            raw = response.read()
            is_json = response.headers.get("Content-Type", "").startswith("application/json")
            return response.status, json.loads(raw) if is_json else raw.decode()
    except urllib.error.HTTPError as error:
        return error.code, json.loads(error.read())


class Laptop:
    """The new hire's machine: a home of its own, the AWS CLI, the stack as its AWS."""

    def __init__(self, home: Path, endpoint: str) -> None:
        self.home = home
        self.env = {
            "PATH": os.environ.get("PATH", ""),
            "HOME": str(home),
            "AWS_CONFIG_FILE": str(home / "aws" / "config"),
            "AWS_SHARED_CREDENTIALS_FILE": str(home / "aws" / "credentials"),
            "AWS_ENDPOINT_URL": endpoint,
            "TMPDIR": str(home),
        }

    def run(self, *args: str, stdin: str = "") -> subprocess.CompletedProcess:
        # A session of its own has no terminal: the CLI reads the MFA code from stdin.
        return subprocess.run(
            list(args),
            input=stdin,
            env=self.env,
            cwd=self.home,
            capture_output=True,
            text=True,
            timeout=120,
            start_new_session=True,
        )

    def aws(self, *args: str) -> subprocess.CompletedProcess:
        return self.run(aws_cli(), *args, "--profile", PROFILE, stdin="123456\n")

    def forget_sessions(self) -> None:
        shutil.rmtree(self.home / ".aws" / "cli" / "cache", ignore_errors=True)


def admin(stack, service: str):
    return boto3.session.Session(region_name="us-east-1", **stack["admin_credentials"]).client(
        service, endpoint_url=stack["aws_endpoint_url"]
    )


def test_a_new_hire_reaches_the_child_account_with_the_real_cli(stack, tmp_path):
    status, answer = call(
        stack,
        "POST",
        "/users",
        {
            "username": NAME,
            "groups": ["ChildDeveloperGroup"],
            "ticket": "FIRST-1",
            "requested_by": "alice",
            "access_key": True,
        },
    )
    assert status == 201, answer
    key = answer["access_key"]
    steps = {step["step"]: step for step in answer["welcome"]}
    source = steps["access_key"]["profile"]
    assert source == f"{stack['root_account_id']}-{NAME}"

    # MFA, as the welcome asks (locally an administrator enrolls it: moto does not substitute
    # ${aws:username}, so the self-service policy grants the person nothing on their own user).
    iam = admin(stack, "iam")
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=NAME)["VirtualMFADevice"][
        "SerialNumber"
    ]
    assert serial == steps["mfa"]["mfa_serial"]
    iam.enable_mfa_device(
        UserName=NAME,
        SerialNumber=serial,
        AuthenticationCode1="123456",
        AuthenticationCode2="654321",
    )

    laptop = Laptop(tmp_path, stack["aws_endpoint_url"])
    (tmp_path / "aws").mkdir()
    (tmp_path / "aws" / "config").write_text("# mine\n[profile personal]\nregion = eu-west-1\n")
    for setting, value in (
        ("aws_access_key_id", key["access_key_id"]),
        ("aws_secret_access_key", key["secret_access_key"]),
    ):
        done = laptop.run(aws_cli(), "configure", "set", setting, value, "--profile", source)
        assert done.returncode == 0, done.stderr
    status, script = call(stack, "GET", f"/users/{NAME}/aws-config?format=shell")
    assert status == 200 and script.startswith("#!/bin/sh"), script
    (tmp_path / "merge.sh").write_text(script)
    merged = laptop.run("sh", str(tmp_path / "merge.sh"))
    assert merged.returncode == 0, merged.stderr
    config = (tmp_path / "aws" / "config").read_text()
    assert config.startswith("# mine\n[profile personal]\nregion = eu-west-1\n")

    works = laptop.aws("sts", "get-caller-identity")
    assert works.returncode == 0, works.stderr
    identity = json.loads(works.stdout)
    assert identity["Account"] == CHILD
    assert identity["Arn"] == f"arn:aws:sts::{CHILD}:assumed-role/DeveloperRole/{NAME}"
    assert laptop.aws("s3api", "list-buckets").returncode == 0  # DeveloperPolicy reads S3

    status, user = call(
        stack, "POST", f"/users/{NAME}/suspend", {"ticket": "FIRST-2", "requested_by": "alice"}
    )
    assert status == 200 and user["sessions_revoked_in"] == [CHILD], user
    assert [k["status"] for k in user["access_keys"]] == ["Inactive"]
    cached = laptop.aws("s3api", "list-buckets")  # the role session the CLI cached: revoked
    assert cached.returncode != 0 and "AccessDenied" in cached.stderr, cached.stderr
    laptop.forget_sessions()
    refused = laptop.aws("sts", "get-caller-identity")
    assert refused.returncode != 0, refused.stdout
    assert "AccessDenied" in refused.stderr or "InvalidClientTokenId" in refused.stderr

    status, restored = call(
        stack, "POST", f"/users/{NAME}/restore", {"ticket": "FIRST-3", "requested_by": "alice"}
    )
    assert status == 200, restored
    assert "access_key" not in restored  # the same key, reactivated: no new one
    keys = iam.list_access_keys(UserName=NAME)["AccessKeyMetadata"]
    assert [(k["AccessKeyId"], k["Status"]) for k in keys] == [(key["access_key_id"], "Active")]
    again = laptop.aws("sts", "get-caller-identity")
    assert again.returncode == 0, again.stderr
    assert json.loads(again.stdout)["Arn"].endswith(f"assumed-role/DeveloperRole/{NAME}")
