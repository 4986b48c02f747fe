"""One run through every route and handler of the app, as its callers would drive it.

``tests/system/test_permissions.py`` records every AWS call the app makes during this run and
holds the stage policies to exactly those calls. To cover a new route or handler, add a step to
``STEPS`` (a function of the ``Driver``); what a step reaches is measured, not declared. A route or
handler the steps cannot reach yet goes into ``NOT_COVERED`` with the reason, and the coverage
test says which ones are missing from both.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

from tests.support.iam_objects import REMOVED_KINDS, give_every_dependent

# (METHOD, route) or the name of a queue or schedule handler -> why the steps do not reach it.
NOT_COVERED: dict[str | tuple[str, str], str] = {}

ALLOWED_SLACK_USER = "U0LOCAL0001"  # SLACK_ALLOWED_USERS of the dev stage
TODAY = date.today()


class Clock:
    """The app's clock (``bootstrap.build(clock=...)``): real time plus what the steps skipped."""

    def __init__(self) -> None:
        self.skipped = timedelta()

    def __call__(self) -> datetime:
        return datetime.now(UTC) + self.skipped


@dataclass
class Driver:
    """What a step drives the app with; it records which routes and handlers it reached."""

    client: Any  # chalice.test.Client over the app
    token: str
    admin: Callable[[str], Any]  # a client of the root account's administrator
    clock: Clock
    slack_secret: str
    response_url: str  # where Slack replies land (an HTTP server on loopback)
    replies: Any  # devstack.slack_command.ResponseCatcher
    poll: Callable[[], tuple[int, int]]  # Lambda's SQS event source, one receive
    routes: set[tuple[str, str]] = field(default_factory=set)
    handlers: set[str] = field(default_factory=set)
    scim_token: str = ""  # the identity provider's bearer token on /scim/v2

    def _route(self, method: str, path: str) -> None:
        from chalice.local import RouteMatcher

        from app import app

        matched = RouteMatcher(list(app.routes)).match_route(path.split("?")[0])
        self.routes.add((method, matched.route))

    def call(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        raw = json.dumps(body).encode() if body is not None else b""
        response = self.client.http.request(method, path, headers=headers, body=raw)
        self._route(method, path)
        assert response.status_code == status, (method, path, response.status_code, response.body)
        if response.headers.get("Content-Type", "").startswith("application/json"):
            return json.loads(response.body) if response.body else None
        return response.body.decode()

    def scim(self, method: str, path: str, body: Any = None, status: int = 200) -> Any:
        headers = {
            "Authorization": f"Bearer {self.scim_token}",
            "Content-Type": "application/scim+json",
        }
        raw = json.dumps(body).encode() if body is not None else b""
        response = self.client.http.request(method, path, headers=headers, body=raw)
        self._route(method, path)
        assert response.status_code == status, (method, path, response.status_code, response.body)
        return json.loads(response.body) if response.body else None

    def slack(self, path: str, body: bytes) -> Any:
        from devstack.slack_command import sign

        response = self.client.http.post(path, headers=sign(self.slack_secret, body), body=body)
        self._route("POST", path)
        assert response.status_code == 200, (path, response.status_code, response.body)
        return json.loads(response.body) if response.body else None

    def command(self, text: str, trigger_id: str) -> Any:
        from devstack.slack_command import command_body

        return self.slack(
            "/slack/commands",
            command_body(
                text,
                user_id=ALLOWED_SLACK_USER,
                response_url=self.response_url,
                trigger_id=trigger_id,
            ),
        )

    def click(self, action_id: str, value: str) -> Any:
        from devstack.slack_command import click_body

        return self.slack(
            "/slack/interactions",
            click_body(
                action_id, value, user_id=ALLOWED_SLACK_USER, response_url=self.response_url
            ),
        )

    def work(self) -> None:
        """Lambda's SQS event source delivers what is queued to the worker, until it is empty."""
        from app import app
        from devstack.queue_poller import sqs_sources

        (source,) = sqs_sources(app)
        for _ in range(20):  # a message that keeps failing stays invisible until its timeout
            if self.poll() == (0, 0):
                return
            self.handlers.add(source.name)
        raise AssertionError("the work queue did not drain")

    def invoke(self, handler: str) -> Any:
        """A scheduled handler, fired as EventBridge fires it."""
        event = self.client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
        )
        self.handlers.add(handler)
        return self.client.lambda_.invoke(handler, event).payload


def ticket(n: int) -> dict:
    return {"ticket": f"T-{n}", "requested_by": "alice"}


def onboarding(d: Driver) -> None:
    # A group may also carry an inline policy; describing a user reads it too.
    d.admin("iam").put_group_policy(
        GroupName="ChildDeveloperGroup",
        PolicyName="ListBuckets",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [
                    {"Effect": "Allow", "Action": "s3:ListAllMyBuckets", "Resource": "*"}
                ],
            }
        ),
    )
    d.call("GET", "/health")
    body = {
        "username": "pete",
        "groups": ["ChildDeveloperGroup"],
        "email": "pete@example.com",
        "console": True,
        "access_key": True,
        "slack_user": "U0LOCAL0003",  # four eyes on pete's requests need his member
        **ticket(1),
    }
    # Its plan first: made by reading a user that does not exist yet, as the app's principal.
    plan = d.call("POST", "/users", {**body, "dry_run": True})
    assert plan["waves"][0]["accounts"]["123456789012"][0]["operation"] == "CreateUser"
    d.call("POST", "/users", body, 201)
    d.call("POST", "/users", body, 201)  # the same ticket again: the first answer, replayed
    d.call("GET", "/users/pete")
    d.call("GET", "/users")


def moves_and_grants(d: Driver) -> None:
    d.call("PUT", "/users/pete/groups", {"groups": ["BreakGlassGroup"], **ticket(2)})
    d.call("PUT", "/users/pete/groups", {"groups": ["ChildDeveloperGroup"], **ticket(3)})
    d.call(
        "POST",
        "/users/pete/grants",
        {"group": "BreakGlassGroup", "hours": 1, "reason": "incident INC-1", **ticket(4)},
        201,
    )
    d.clock.skipped += timedelta(hours=2)
    assert d.invoke("expire_grants")["expired"] == [
        {"username": "pete", "group": "BreakGlassGroup"}
    ]


def fill_developer_role_deny(d: Driver) -> None:
    """DeveloperRole's inline AccessRevocation in the child account as an earlier layoff left
    it: within IAM's 10,240 characters, with no room for one more person."""
    from chalicelib.lifecycle import revocation_policy
    from tests.support.revocation import CHILD

    names: list[str] = []
    document = None
    while True:
        more = revocation_policy.revoke(
            None,
            [*names, f"laid.off{len(names):04d}@example.com"],
            d.clock() - timedelta(minutes=30),
            timedelta(hours=1),
        )
        if revocation_policy.size(more) > revocation_policy.SIZE_LIMIT - 40:
            break
        names, document = [*names, f"laid.off{len(names):04d}@example.com"], more
    import boto3

    sts = d.admin("sts")
    role = f"arn:aws:iam::{CHILD}:role/OrganizationAccountAccessRole"
    granted = sts.assume_role(RoleArn=role, RoleSessionName="admin")["Credentials"]
    child_admin = boto3.client(
        "iam",
        region_name=sts.meta.region_name,
        endpoint_url=d.admin("iam").meta.endpoint_url,
        aws_access_key_id=granted["AccessKeyId"],
        aws_secret_access_key=granted["SecretAccessKey"],
        aws_session_token=granted["SessionToken"],
    )
    child_admin.put_role_policy(
        RoleName="DeveloperRole", PolicyName="AccessRevocation", PolicyDocument=json.dumps(document)
    )


def suspension(d: Driver) -> None:
    # What a person collects over the years (their first key came with the onboarding).
    give_every_dependent(d.admin("iam"), "pete", keys=1)
    # Two AWS Sign-In sessions of his (`aws login`, an MCP client): the suspension revokes both.
    from devstack.moto_signin import issue_session

    arn = d.admin("iam").get_user(UserName="pete")["User"]["Arn"]
    for client_type in ("CLI", "MCP"):
        issue_session(arn.split(":")[4], arn, client_type)
    # A layoff earlier this hour filled DeveloperRole's inline deny: pete's goes to its overflow
    # policies (a new version, the old one deleted), and the prune reads them all back.
    fill_developer_role_deny(d)
    until = (TODAY + timedelta(days=1)).isoformat()
    d.call("POST", "/users/pete/suspend", {"reason": "leave", "until": until, **ticket(5)})
    d.call("POST", "/users/pete/suspend", {"reason": "leave", **ticket(6)}, 409)  # a refusal
    d.clock.skipped += timedelta(days=2)
    assert d.invoke("restore_due_users")["restored"] == ["pete"]
    d.call("POST", "/users/pete/suspend", {"reason": "leave", **ticket(7)})
    d.call("POST", "/users/pete/restore", ticket(8))
    # The same ticket once its idempotency record has expired: a new password for the login.
    expire_idempotency_records(d)
    assert "temporary_password" in d.call("POST", "/users/pete/restore", ticket(8))


def expire_idempotency_records(d: Driver) -> None:
    dynamodb = d.admin("dynamodb")
    for item in dynamodb.scan(TableName="iam-lifecycle-dev-idempotency")["Items"]:
        dynamodb.delete_item(TableName="iam-lifecycle-dev-idempotency", Key={"id": item["id"]})


def views(d: Driver) -> None:
    d.call("GET", "/audit?username=pete")
    d.call("GET", "/audit?ticket=T-1")
    d.call("GET", "/audit")
    d.call("GET", "/access-matrix")
    d.call("GET", "/access-matrix?format=csv")
    d.call("GET", "/users/pete/aws-config")
    d.invoke("report_drift")
    d.invoke("finish_stuck")
    d.call("GET", "/hygiene")
    d.call("GET", "/hygiene?format=csv")
    until = (date.today() + timedelta(days=30)).isoformat()
    d.call(
        "PUT", "/users/pete/hygiene-exemption", {"reason": "a tour", "until": until, **ticket(20)}
    )
    d.invoke("credential_hygiene")


def adoption(d: Driver) -> None:
    """A user made by hand at /, marked for adoption by the administrator: planned, adopted,
    released; one not marked is refused (the stage may not even read it)."""
    iam = d.admin("iam")
    for name, tags in (("ines", [{"Key": "iam-lifecycle:adopt", "Value": "true"}]), ("otto", [])):
        iam.create_user(UserName=name, Tags=tags)
        iam.add_user_to_group(UserName=name, GroupName="ChildDeveloperGroup")
        iam.create_login_profile(UserName=name, Password="An-old-password-1!")
        iam.create_access_key(UserName=name)
    plan = d.call("POST", "/users/ines/adopt", {**ticket(40), "dry_run": True})
    assert plan["plan"]["access_matrix"]["before"] == plan["plan"]["access_matrix"]["after"]
    d.call("POST", "/users/ines/adopt", ticket(40))
    d.call("POST", "/users/ines/release", {**ticket(41), "dry_run": True})
    assert d.call("POST", "/users/ines/release", ticket(41))["path"] == "/"
    batch = d.call("POST", "/adoptions", {**ticket(42), "usernames": ["otto"]})
    assert batch["results"][0]["result"] == "refused", batch


def requests_and_approvals(d: Driver) -> None:
    """A request that expires, one approved over REST, and one approved with a click; the
    approvers' channel messages posted and updated by the worker."""
    asked = {"username": "pete", "group": "BreakGlassGroup", "hours": 1, "reason": "INC-2"}
    late = d.call("POST", "/requests", {**asked, **ticket(20)}, 201)
    d.work()
    d.clock.skipped += timedelta(hours=4)
    assert d.invoke("expire_requests")["expired"] == [late["id"]]
    d.work()
    request = d.call("POST", "/requests", {**asked, **ticket(21)}, 201)
    d.call("GET", "/requests?status=pending")
    d.call("GET", f"/requests/{request['id']}")
    decision = {"decision": "approve", "approver": "U0LOCAL0002", "ticket": "T-22"}
    approved = d.call("POST", f"/requests/{request['id']}/decision", decision)
    assert approved["status"] == "approved"
    d.work()
    d.clock.skipped += timedelta(hours=2)
    assert d.invoke("expire_grants")["expired"] == [
        {"username": "pete", "group": "BreakGlassGroup"}
    ]
    clicked = d.call("POST", "/requests", {**asked, **ticket(23)}, 201)
    d.work()
    d.click("request_approve", clicked["id"])
    d.work()
    assert d.call("GET", f"/requests/{clicked['id']}")["status"] == "approved"
    # the ticket it was asked under closes: its grant ends, with the sessions it allowed
    closed = d.call("POST", "/tickets/T-23/closed", {"requested_by": "jira"})
    assert [e["group"] for e in closed["ended"]] == ["BreakGlassGroup"]
    d.clock.skipped += timedelta(hours=2)
    d.invoke("expire_grants")


def slack(d: Driver) -> None:
    from chalicelib.edges.slack import replies
    from devstack.slack_command import button

    d.command("status pete", "1.1.1")
    # Linked to a Slack member: the worker sends sam the welcome by direct message, once.
    d.command("onboard sam ChildDeveloperGroup <@U0LOCAL0003|sam>", "2.2.2")
    d.work()
    prompt = d.command("offboard sam", "3.3.3")
    d.click(replies.CONFIRM_ACTION, button(prompt, replies.CONFIRM_ACTION))
    d.work()


def access_reviews(d: Driver) -> None:
    """A campaign started in Slack, decided with a click and over REST (the revoke carried out),
    closed by hand; a second one over REST reminded and closed by the schedule; the evidence
    in every format, with the query run again."""
    due = (d.clock().date() + timedelta(days=5)).isoformat()
    d.command(f"review start ChildDeveloperGroup due {due}", "5.5.5")
    d.work()
    [review] = d.call("GET", "/reviews?status=open")["reviews"]
    [item] = review["items"]
    d.click("review_keep", f"{review['id']}:{item['id']}:0")
    d.work()
    decision = {"decision": "revoke", "reviewer": "U0LOCAL0002", "ticket": "T-30"}
    path = f"/reviews/{review['id']}/items/{item['id']}/decision"
    assert d.call("POST", path, decision)["removed_at"]
    # Removals by hand are for members the service does not manage: this one is its own.
    by_hand = {"operator": "U0LOCAL0001", "ticket": "T-33"}
    d.call("POST", f"/reviews/{review['id']}/items/{item['id']}/removed", by_hand, status=409)
    d.call("POST", f"/reviews/{review['id']}/close", ticket(31))
    d.work()
    # Put back by a later change: the evidence names it.
    d.call("PUT", "/users/pete/groups", {"groups": ["ChildDeveloperGroup"], **ticket(32)})
    d.call("GET", f"/reviews/{review['id']}")
    d.call("GET", f"/reviews/{review['id']}/evidence?rerun=true")
    d.call("GET", f"/reviews/{review['id']}/evidence?format=csv")
    d.call("GET", f"/reviews/{review['id']}/evidence?format=html")
    second = d.call("POST", "/reviews", {"due": due, **ticket(33)}, 201)
    d.work()
    d.clock.skipped += timedelta(days=3)
    assert d.invoke("access_reviews")["reminded"] == [second["id"]]
    d.work()
    d.clock.skipped += timedelta(days=3)
    assert d.invoke("access_reviews")["closed"] == [second["id"]]
    d.work()


def offboarding(d: Driver) -> None:
    # First its plan, called back to the ticket (the worker delivers it, signed).
    plan = d.call(
        "POST",
        "/users/pete/offboard",
        {**ticket(9), "dry_run": True, "callback_url": d.response_url},
    )
    assert plan["waves"][-1]["accounts"]["123456789012"][-1]["operation"] == "DeleteUser"
    d.work()
    answer = d.call("POST", "/users/pete/offboard", ticket(9))
    assert set(answer["removed"]) >= REMOVED_KINDS
    d.clock.skipped += timedelta(hours=13)  # past the child roles' longest session
    d.invoke("prune_revocations")


def child_accounts_from_the_organization(d: Driver) -> None:
    """The ACTIVE accounts of an OU, nested OUs included, listed from AWS Organizations as the
    app's principal in the management account."""
    import dataclasses
    import functools

    from chalicelib import bootstrap
    from chalicelib.aws.accounts import ChildAccounts

    org = d.admin("organizations")
    org.create_organization(FeatureSet="ALL")
    root = org.list_roots()["Roots"][0]["Id"]
    unit = org.create_organizational_unit(ParentId=root, Name="workloads")["OrganizationalUnit"][
        "Id"
    ]
    team = org.create_organizational_unit(ParentId=unit, Name="team")["OrganizationalUnit"]["Id"]
    account = org.create_account(AccountName="late", Email="late@example.com")[
        "CreateAccountStatus"
    ]["AccountId"]
    org.move_account(AccountId=account, SourceParentId=root, DestinationParentId=team)
    services = bootstrap.services()
    settings = dataclasses.replace(services.settings, child_organizational_units=(unit,))
    children = ChildAccounts(
        settings, functools.partial(services.clients.root, "organizations"), d.clock
    )
    assert children.current() == sorted([*settings.child_account_ids, account])


def identity_provider(d: Driver) -> None:
    """An IdP over SCIM: create, find, group push, profile and deactivation in one PUT, a user
    kept inactive past the stage's days offboarded by the schedule, a delete, an unlinked group."""
    user = "urn:ietf:params:scim:schemas:core:2.0:User"
    patch = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
    d.scim("GET", "/scim/v2/ServiceProviderConfig")
    body = {
        "schemas": [user],
        "userName": "ida@example.com",
        "externalId": "00u1",
        "emails": [{"value": "ida@example.com", "primary": True}],
        "active": True,
    }
    uid = d.scim("POST", "/scim/v2/Users", body, status=201)["id"]
    d.scim("GET", "/scim/v2/Users?filter=userName%20eq%20%22ida@example.com%22")
    add = {"op": "add", "path": "members", "value": [{"value": uid}]}
    d.scim(
        "PATCH", "/scim/v2/Groups/ChildDeveloperGroup", {"schemas": [patch], "Operations": [add]}
    )
    changed = {
        "schemas": [user],
        "userName": "ida@example.com",
        "externalId": "00u9",
        "active": False,
    }
    assert d.scim("PUT", f"/scim/v2/Users/{uid}", changed)["active"] is False
    d.clock.skipped += timedelta(days=31)
    d.invoke("offboard_inactive_scim_users")
    d.scim("GET", f"/scim/v2/Users/{uid}", status=404)
    other = d.scim("POST", "/scim/v2/Users", {**body, "userName": "joe@example.com"}, status=201)
    d.scim(
        "PATCH",
        "/scim/v2/Groups/ChildDeveloperGroup",
        {"schemas": [patch], "Operations": [{**add, "value": [{"value": other["id"]}]}]},
    )
    d.scim("DELETE", "/scim/v2/Groups/ChildDeveloperGroup", status=204)
    d.scim("DELETE", f"/scim/v2/Users/{other['id']}", status=204)


def deep_health(d: Driver) -> None:
    answer = d.call("GET", "/health?deep=true")
    assert answer["status"] == "ok", answer


STEPS: list[Callable[[Driver], None]] = [
    deep_health,
    onboarding,
    moves_and_grants,
    suspension,
    views,
    requests_and_approvals,
    slack,
    access_reviews,
    offboarding,
    child_accounts_from_the_organization,
    identity_provider,
    adoption,
]


def app_surface() -> set[str | tuple[str, str]]:
    """Every route (METHOD, path) and every queue, schedule or pure Lambda handler of app.py."""
    from app import app
    from chalicelib.edges.unknown import CATCH_ALL

    # Routes under /iam run the same handlers as the routes they repeat, for IAM principals
    # (tests/api/test_api_clients.py checks that each repeats exactly one protected route).
    routes = {
        (method, path)
        for path, entries in app.routes.items()
        if path not in CATCH_ALL  # what the API does not have: no AWS call
        for method in entries
        if not path.startswith("/iam/")
    }
    handlers = {source.name for source in app.event_sources}
    handlers |= {function.name for function in app.pure_lambda_functions}
    return routes | handlers
