"""The deep health check against moto: each live read with its result and time, 503 when one
fails, behind the token, never a secret's value; the stage's policy grants every read (moto's
IAM enforcement on, as the app's principal). The shallow /health stays as the contract says."""

from __future__ import annotations

import boto3

from chalicelib import bootstrap
from chalicelib.aws.health import Probes
from chalicelib.edges import health
from devstack.local import REGION
from tests.support.enforcement import enforced

CHECKS = {
    "iam",
    "state_table",
    "work_queue",
    "secret:api_token",
    "secret:slack_signing_secret",
    "secret:slack_bot_token",
    "secret:scim_token",
    "secret:callback_secret",
}


def secret_values() -> list[str]:
    client = boto3.client("secretsmanager", region_name=REGION)
    names = [s["Name"] for s in client.list_secrets()["SecretList"]]
    return [client.get_secret_value(SecretId=name)["SecretString"] for name in names]


def test_the_liveness_answer_is_unchanged_and_needs_no_token(api):
    answer = api.call("GET", "/health", token=None)
    assert answer.status_code == 200 and answer.json == {"status": "ok"}


def test_the_deep_check_reads_everything_the_app_needs_behind_the_token(api):
    assert api.call("GET", "/health?deep=true", token=None).status_code == 401
    assert api.call("GET", "/health?deep=true", token="wrong").status_code == 401
    assert api.call("GET", "/health?deep=yes").status_code == 400
    answer = api.call("GET", "/health?deep=true")
    assert answer.status_code == 200, answer.json
    assert answer.json["status"] == "ok"
    assert set(answer.json["checks"]) == CHECKS
    for check in answer.json["checks"].values():
        assert check["ok"] is True and isinstance(check["ms"], float | int) and check["ms"] >= 0
    for value in secret_values():
        assert value not in answer.body.decode()


def test_the_deep_check_answers_the_release_running(api):
    import tomllib

    from tests.support.chalice_package import PROJECT

    version = tomllib.loads((PROJECT / "pyproject.toml").read_text())["project"]["version"]
    assert api.call("GET", "/health?deep=true").json["version"] == version


def test_any_read_that_fails_makes_the_answer_503_naming_it(api, aws):
    sqs = boto3.client("sqs", region_name=REGION)
    sqs.delete_queue(QueueUrl=sqs.get_queue_url(QueueName="iam-lifecycle-dev-work")["QueueUrl"])
    secrets = boto3.client("secretsmanager", region_name=REGION)
    secrets.delete_secret(SecretId="iam-lifecycle/dev/scim-token", ForceDeleteWithoutRecovery=True)
    answer = api.call("GET", "/health?deep=true")
    assert answer.status_code == 503, answer.json
    assert answer.json["status"] == "failing"
    failed = {name for name, check in answer.json["checks"].items() if not check["ok"]}
    assert failed == {"work_queue", "secret:scim_token"}
    assert "iam-lifecycle/dev/scim-token" in answer.json["checks"]["secret:scim_token"]["error"]
    for value in secret_values():
        assert value not in answer.body.decode()


def test_the_stage_policy_grants_every_read_of_the_deep_check(client, aws):
    """As the app's principal, holding exactly .chalice/policy-dev.json, IAM enforced."""
    session = boto3.session.Session(region_name=REGION, **aws.app_credentials)
    probes = Probes(session.client)
    with enforced():
        status, answer = health.deep(bootstrap.services().settings, probes)
    assert status == 200, answer
