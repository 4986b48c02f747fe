"""Named API clients through the real Chalice app against moto: each client's own bearer token or
IAM principal, the actions it may run, the client in the audit trail, the shared token's last
release."""

from __future__ import annotations

import hashlib
import json
import logging
import secrets

import boto3
import pytest
from chalice import IAMAuthorizer

from tests.support import onboard
from tests.support.app_client import Api

IAM_PREFIX = "/iam"

ONBOARD = {
    "username": "pete",
    "groups": ["ChildDeveloperGroup"],
    "ticket": "T-1",
    "requested_by": "alice",
}
SCIM_USER = {
    "schemas": ["urn:ietf:params:scim:schemas:core:2.0:User"],
    "userName": "pete@example.com",
    "emails": [{"primary": True, "value": "pete@example.com", "type": "work"}],
    "active": True,
}
ROBOT_ROLE = "arn:aws:iam::123456789012:role/automation/HrRobot"
ROBOT_SESSION = "arn:aws:sts::123456789012:assumed-role/HrRobot/nightly-run"


def sha256(token: str) -> str:
    """What the secret keeps of a token (docs/deploying.md: printf %s TOKEN | sha256sum)."""
    return hashlib.sha256(token.encode()).hexdigest()


class Clients:
    """The stage's API clients secret, with two token clients and one IAM client."""

    def __init__(self, client) -> None:
        self.ticketing = secrets.token_hex(32)
        self.hr = secrets.token_hex(32)
        boto3.client("secretsmanager").put_secret_value(
            SecretId="iam-lifecycle/dev/api-clients",
            SecretString=json.dumps(
                {
                    "ticketing": {
                        "token_sha256": sha256(self.ticketing),
                        "actions": ["onboard", "offboard"],
                    },
                    "hr": {"token_sha256": sha256(self.hr), "actions": ["suspend", "restore"]},
                    "hr-robot": {"principal": ROBOT_ROLE, "actions": ["suspend"]},
                }
            ),
        )
        self.client = client

    def api(self, token: str) -> Api:
        return Api(self.client, token)


@pytest.fixture
def clients(client) -> Clients:
    return Clients(client)


def _user_status(api: Api) -> str:
    return api.call("GET", "/users/pete").json["status"]


def _trail(api: Api) -> list[tuple[str, str, str, str | None]]:
    events = api.call("GET", "/audit?username=pete").json["events"]
    return [
        (e["action"], e["result"].split(":")[0], e["requested_by"], e.get("client")) for e in events
    ]


def test_each_client_runs_its_actions_and_only_those(clients):
    ticketing, hr = clients.api(clients.ticketing), clients.api(clients.hr)

    assert ticketing.call("POST", "/users", ONBOARD).status_code == 201
    refused = ticketing.call(
        "POST", "/users/pete/suspend", {"ticket": "T-2", "requested_by": "alice"}
    )
    assert refused.status_code == 403
    assert refused.json["Code"] == "Forbidden"
    assert "ticketing may not run suspend" in refused.json["Message"]
    assert _user_status(ticketing) == "active"  # nothing happened

    assert (
        hr.call("POST", "/users/pete/suspend", {"ticket": "T-3", "requested_by": "bob"}).status_code
        == 200
    )
    assert _user_status(hr) == "suspended"
    refused = hr.call("POST", "/users", {**ONBOARD, "username": "olga", "ticket": "T-4"})
    assert refused.status_code == 403 and "hr may not run onboard" in refused.json["Message"]
    assert boto3.client("iam").list_users(PathPrefix="/managed/olga")["Users"] == []
    refused = hr.call("POST", "/users/pete/offboard", {"ticket": "T-5", "requested_by": "bob"})
    assert refused.status_code == 403 and "may not run offboard" in refused.json["Message"]
    # reads are open to every client
    assert hr.call("GET", "/users").status_code == 200


def test_a_wrong_token_is_401(clients):
    for token in (secrets.token_hex(32), sha256(clients.ticketing), clients.ticketing[:-1]):
        answer = clients.api(token).call("POST", "/users", ONBOARD)
        assert answer.status_code == 401 and answer.json["Code"] == "Unauthorized"
    assert boto3.client("iam").list_users(PathPrefix="/managed/")["Users"] == []


def test_the_audit_shows_the_client_beside_the_claimed_requester(clients):
    ticketing, hr = clients.api(clients.ticketing), clients.api(clients.hr)
    ticketing.call("POST", "/users", ONBOARD)
    hr.call("POST", "/users/pete/suspend", {"ticket": "T-2", "requested_by": "alice"})
    hr.call("POST", "/users/pete/suspend", {"ticket": "T-3", "requested_by": "alice"})

    assert _trail(ticketing) == [
        ("onboard", "ok", "alice", "ticketing"),
        ("suspend", "ok", "alice", "hr"),  # claims alice; it was the hr client
        ("suspend", "rejected", "alice", "hr"),
    ]


def test_the_shared_token_still_works_as_a_client_with_every_action_and_warns(clients, api, caplog):
    with caplog.at_level(logging.WARNING):
        answer = api.call("POST", "/users", ONBOARD)
    assert answer.status_code == 201
    assert answer.headers["Deprecation"] == "true"
    assert "api-token) is deprecated" in answer.headers["Warning"]
    assert "iam-lifecycle/dev/api-clients" in answer.headers["Warning"]
    assert any("is deprecated" in r.getMessage() for r in caplog.records)
    assert (
        api.call("POST", "/users/pete/offboard", {"ticket": "T-2", "requested_by": "a"}).status_code
        == 200
    )
    assert [client for *_, client in _trail(api)] == ["api-token", "api-token"]
    # a client of its own is answered without the warning
    named = clients.api(clients.ticketing).call("GET", "/users")
    assert named.status_code == 200 and "Deprecation" not in named.headers


def _event(method: str, route: str, path: str, user_arn: str | None, body=None, **headers):
    """The event API Gateway sends the function for a route behind its IAM authorizer: the
    signature already verified, the caller's ARN in requestContext.identity.userArn."""
    identity = {"sourceIp": "198.51.100.7", "userArn": user_arn}
    return {
        "resource": route,
        "path": path,
        "httpMethod": method,
        "headers": {"content-type": "application/json", **headers},
        "multiValueHeaders": {},
        "queryStringParameters": None,
        "multiValueQueryStringParameters": None,
        "pathParameters": {"username": "pete"} if "{username}" in route else None,
        "stageVariables": None,
        "requestContext": {
            "resourcePath": route,
            "httpMethod": method,
            "path": f"/api{path}",
            "identity": identity,
        },
        "body": json.dumps(body) if body is not None else None,
        "isBase64Encoded": False,
    }


def _invoke(event: dict) -> tuple[int, dict, dict]:
    from app import app

    answer = app(event, None)
    return answer["statusCode"], answer["headers"], json.loads(answer["body"])


def test_an_iam_principal_runs_its_actions_under_the_iam_prefix(clients, api):
    assert api.call("POST", "/users", ONBOARD).status_code == 201
    route = f"{IAM_PREFIX}/users/{{username}}/suspend"
    path = f"{IAM_PREFIX}/users/pete/suspend"
    body = {"ticket": "T-2", "requested_by": "carol"}

    status, _, answer = _invoke(_event("POST", route, path, ROBOT_SESSION, body))
    assert status == 200 and answer["status"] == "suspended"
    assert _trail(api)[-1] == ("suspend", "ok", "carol", "hr-robot")

    restore = {"ticket": "T-3", "requested_by": "carol"}
    status, _, answer = _invoke(
        _event("POST", f"{IAM_PREFIX}/users/{{username}}/restore", path, ROBOT_SESSION, restore)
    )
    assert status == 403 and "hr-robot may not run restore" in answer["Message"]


def test_an_iam_route_refuses_an_unknown_principal_a_bearer_token_and_an_unverified_request(
    clients, api
):
    route, path = f"{IAM_PREFIX}/users", f"{IAM_PREFIX}/users"
    other = "arn:aws:sts::123456789012:assumed-role/SomeoneElse/run"
    status, _, answer = _invoke(_event("POST", route, path, other, ONBOARD))
    assert status == 403 and "SomeoneElse/run is not an API client" in answer["Message"]
    # the role's name in another account is another principal
    foreign = "arn:aws:sts::999999999999:assumed-role/HrRobot/run"
    assert _invoke(_event("GET", route, path, foreign))[0] == 403
    # no ARN: API Gateway did not verify it (chalice local runs no IAM authorizer)
    bearer = {"authorization": f"Bearer {clients.ticketing}"}
    status, _, answer = _invoke(_event("POST", route, path, None, ONBOARD, **bearer))
    assert status == 401 and "Signature Version 4" in answer["Message"]
    assert clients.api(clients.ticketing).call("POST", path, ONBOARD).status_code == 401
    assert boto3.client("iam").list_users(PathPrefix="/managed/")["Users"] == []


def test_every_protected_route_has_an_iam_twin_and_only_those():
    from app import app

    protected = {
        (path, method)
        for path, entries in app.routes.items()
        for method, entry in entries.items()
        if getattr(entry.view_function, "protected", False) and not path.startswith(IAM_PREFIX)
    }
    twins = {
        (path.removeprefix(IAM_PREFIX), method)
        for path, entries in app.routes.items()
        for method, entry in entries.items()
        if isinstance(entry.authorizer, IAMAuthorizer)
    }
    assert protected and twins == protected
    assert all(path.startswith(f"{IAM_PREFIX}/") for path in app.routes if "/iam" in path)


# The other edges keep their own credentials and are recorded as clients of their own.
def test_slack_is_recorded_as_the_client_slack(client, aws, api, poller):
    from devstack.slack_command import ResponseCatcher
    from tests.support.slack import Slack, run_worker

    onboard(api, "pete")
    with ResponseCatcher() as catcher:
        Slack(client, aws.slack_signing_secret).command(
            "suspend pete leave", response_url=catcher.url()
        )
        run_worker(poller)
        assert catcher.next()["text"] == "pete suspended"
    (_, result, requested_by, who) = _trail(api)[-1]
    assert (result, who) == ("ok", "slack") and requested_by.startswith("slack:")


def test_scim_is_recorded_as_the_client_scim(scim, api):
    assert scim("POST", "/Users", SCIM_USER).status_code == 201
    events = api.call("GET", "/audit").json["events"]
    assert [(e["action"], e.get("client")) for e in events] == [("onboard", "scim")]


def test_a_schedule_is_recorded_as_the_client_schedule(api, clock):
    onboard(api, "pete")
    grant = {"group": "BreakGlassGroup", "hours": 1, "reason": "incident"}
    answer = api.call("POST", "/users/pete/grants", {**grant, "ticket": "T-2", "requested_by": "a"})
    assert answer.status_code == 201, answer.json
    clock.advance(hours=2)
    event = api.client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    assert api.client.lambda_.invoke("expire_grants", event).payload["expired"]
    (action, result, _, who) = _trail(api)[-1]
    assert (action, result, who) == ("expire_grant", "ok", "schedule")


# The local stack's stand-in for API Gateway's IAM authorizer (devstack/api_gateway_iam.py),
# here with the test's in-process moto.
INVOKE_IAM_ROUTES = {
    "Version": "2012-10-17",
    "Statement": [
        {
            "Effect": "Allow",
            "Action": "execute-api:Invoke",
            "Resource": "arn:aws:execute-api:*:123456789012:local/api/*/iam/*",
        }
    ],
}


@pytest.fixture
def gateway(client):
    from devstack import api_gateway_iam

    undo = api_gateway_iam.install(api_gateway_iam.verify)
    yield
    undo()


def _session(role: str, policy: dict | None):
    iam = boto3.client("iam")
    trust = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": "arn:aws:iam::123456789012:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }
    arn = iam.create_role(
        RoleName=role, Path="/automation/", AssumeRolePolicyDocument=json.dumps(trust)
    )["Role"]["Arn"]
    if policy:
        iam.put_role_policy(RoleName=role, PolicyName="invoke", PolicyDocument=json.dumps(policy))
    credentials = boto3.client("sts").assume_role(RoleArn=arn, RoleSessionName="nightly")[
        "Credentials"
    ]
    from botocore.credentials import Credentials

    return Credentials(
        credentials["AccessKeyId"], credentials["SecretAccessKey"], credentials["SessionToken"]
    )


def _signed(credentials, method: str, path: str, body=None) -> tuple[dict, bytes]:
    """Headers and body of a request signed as the AWS SDKs sign one for execute-api."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest

    raw = json.dumps(body).encode() if body is not None else b""
    request = AWSRequest(
        method=method,
        url=f"http://127.0.0.1:8000{path}",
        data=raw,
        headers={"Content-Type": "application/json"},
    )
    SigV4Auth(credentials, "execute-api", "us-east-1").add_auth(request)
    return {**dict(request.headers.items()), "Host": "127.0.0.1:8000"}, raw


def test_the_local_stack_checks_the_signature_as_api_gateway_does(clients, api, client, gateway):
    onboard(api, "pete")
    robot = _session("HrRobot", INVOKE_IAM_ROUTES)
    body = {"ticket": "T-2", "requested_by": "carol"}

    headers, raw = _signed(robot, "POST", "/iam/users/pete/suspend", body)
    answer = client.http.request("POST", "/iam/users/pete/suspend", headers=headers, body=raw)
    assert answer.status_code == 200, answer.body
    assert _trail(api)[-1] == ("suspend", "ok", "carol", "hr-robot")

    # the body changed after signing
    headers, raw = _signed(robot, "POST", "/iam/users/pete/restore", body)
    forged = raw.replace(b"T-2", b"T-9")
    answer = client.http.request("POST", "/iam/users/pete/restore", headers=headers, body=forged)
    assert answer.status_code == 403 and b"signature we calculated does not match" in answer.body
    # unsigned, or signed with a bearer token only
    bearer = {"Authorization": f"Bearer {clients.hr}", "Content-Type": "application/json"}
    answer = client.http.request("POST", "/iam/users/pete/restore", headers=bearer, body=raw)
    assert answer.status_code == 403 and b"Missing Authentication Token" in answer.body
    # a principal without execute-api:Invoke on the route
    headers, raw = _signed(_session("NoInvoke", None), "GET", "/iam/users")
    answer = client.http.request("GET", "/iam/users", headers=headers, body=raw)
    assert answer.status_code == 403 and b"not authorized to perform: execute-api:Invoke" in (
        answer.body
    )
    assert _user_status(api) == "suspended"  # nothing but the first request changed anything


def test_the_local_stack_refuses_a_signature_more_than_five_minutes_old(client, gateway):
    from datetime import UTC, datetime, timedelta

    from devstack import api_gateway_iam

    headers, raw = _signed(_session("HrRobot", INVOKE_IAM_ROUTES), "GET", "/iam/users")
    url = "http://127.0.0.1:8000/iam/users"
    assert api_gateway_iam.verify("GET", url, headers, raw).endswith("HrRobot/nightly")
    later = datetime.now(UTC) + timedelta(minutes=6)
    with pytest.raises(api_gateway_iam.Refused, match="Signature expired"):
        api_gateway_iam.verify("GET", url, headers, raw, now=later)


def test_every_protected_route_that_changes_something_names_its_actions():
    """A change route without actions would be open to every client."""
    from app import app

    for path, entries in app.routes.items():
        for method, entry in entries.items():
            if getattr(entry.view_function, "protected", False) and method != "GET":
                assert entry.view_function.actions, (method, path)
