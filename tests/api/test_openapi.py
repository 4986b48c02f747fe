"""chalicelib/edges/openapi.yaml: a valid OpenAPI document that names exactly the app's routes, and whose
schemas hold every answer the real app (against moto) gives, success or error."""

from __future__ import annotations

import base64
import copy
from datetime import date, timedelta

import boto3
import pytest
from openapi_schema_validator import OAS30Validator, oas30_format_checker
from openapi_spec_validator import validate

from chalicelib.approvals import commands as approvals
from chalicelib.edges.clients import IAM_PREFIX
from chalicelib.hygiene import commands as hygiene
from chalicelib.lifecycle import commands as lifecycle
from chalicelib.reviews import commands as reviews
from tests.support.openapi import SCIM_ROUTES, SLACK_ROUTES, Caller, document, operations, resolve

ONBOARD = {
    "username": "pete",
    "groups": ["ChildDeveloperGroup"],
    "ticket": "T-1",
    "requested_by": "alice",
    "email": "pete@example.com",
}
SSH_KEY = (
    "ssh-rsa AAAAB3NzaC1yc2EAAAADAQABAAABAQC"
    + base64.b64encode(bytes(range(256))).decode()
    + " pete@laptop"
)
GLASS = "BreakGlassGroup"
FUTURE = (date.today() + timedelta(days=30)).isoformat()
# The pydantic model each documented request body mirrors.
BODY_MODELS = {
    ("/users", "post"): lifecycle.OnboardRequest,
    ("/users/{username}/groups", "put"): lifecycle.MoveRequest,
    ("/users/{username}/suspend", "post"): lifecycle.SuspendRequest,
    ("/users/{username}/restore", "post"): lifecycle.RestoreRequest,
    ("/users/{username}/offboard", "post"): lifecycle.OffboardRequest,
    ("/users/{username}/grants", "post"): lifecycle.GrantRequest,
    ("/users/{username}/hygiene-exemption", "put"): hygiene.ExemptionRequest,
    ("/requests", "post"): approvals.AccessRequest,
    ("/requests/{request_id}/decision", "post"): approvals.DecisionRequest,
    ("/tickets/{ticket_id}/closed", "post"): lifecycle.TicketClosed,
    ("/reviews", "post"): reviews.ReviewRequest,
    ("/reviews/{review_id}/items/{item_id}/decision", "post"): reviews.ReviewDecisionRequest,
    ("/reviews/{review_id}/items/{item_id}/removed", "post"): reviews.ReviewRemovedRequest,
    ("/reviews/{review_id}/close", "post"): reviews.ReviewCloseRequest,
}


def app_routes() -> set[tuple[str, str]]:
    """The API's routes, those under /iam (the same routes for IAM principals, documented once
    in the description and the sigv4 scheme) counted as the route they repeat; not the
    catch-all answering what the API does not have (404, 405)."""
    from app import app
    from chalicelib.edges.unknown import CATCH_ALL

    return {
        (
            path.removeprefix(IAM_PREFIX) if path.startswith(f"{IAM_PREFIX}/") else path,
            method.lower(),
        )
        for path, entries in app.routes.items()
        if path not in CATCH_ALL
        for method in entries
    }


def request_body_schema(template: str, method: str) -> dict:
    return operations()[(template, method)]["requestBody"]["content"]["application/json"]["schema"]


# the document itself
def test_the_document_is_valid_openapi_3_0():
    assert document()["openapi"] == "3.0.3"
    validate(document())


def test_every_route_of_the_app_is_documented_and_nothing_else():
    documented = set(operations())
    assert app_routes() - documented == set(), "routes missing from the document"
    assert documented - app_routes() == set(), "documented routes the app does not have"


def test_only_health_is_public():
    assert document()["security"] == [{"bearer": []}]
    public = {key for key, operation in operations().items() if operation.get("security") == []}
    assert public == {("/health", "get")} | SLACK_ROUTES


@pytest.mark.parametrize("route, model", BODY_MODELS.items(), ids=lambda v: str(v))
def test_request_bodies_mirror_the_models(route, model):
    documented = request_body_schema(*route)
    generated = model.model_json_schema()
    assert documented["additionalProperties"] is False
    assert set(documented["properties"]) == set(generated["properties"])
    assert set(documented.get("required", [])) == set(generated.get("required", []))


def test_request_body_schemas_accept_and_refuse_what_the_models_do():
    def valid(route, body):
        validator = OAS30Validator(request_body_schema(*route), format_checker=oas30_format_checker)
        return validator.is_valid(body)

    onboard = ("/users", "post")
    assert valid(onboard, ONBOARD)
    assert not valid(onboard, {**ONBOARD, "username": "pete smith"})
    assert not valid(onboard, {**ONBOARD, "username": "x" * 65})
    assert not valid(onboard, {**ONBOARD, "admin": True})
    assert not valid(onboard, {**ONBOARD, "ticket": "  "})
    assert not valid(onboard, {k: v for k, v in ONBOARD.items() if k != "requested_by"})
    suspend = ("/users/{username}/suspend", "post")
    assert valid(suspend, {"ticket": "T", "requested_by": "a", "until": FUTURE, "reason": None})
    assert not valid(suspend, {"ticket": "T", "requested_by": "a", "until": "next week"})


# the app's answers
def test_every_documented_route_answers_as_documented(api):
    from devstack import moto_iam_extras

    # Offboarding lists service-specific credentials, which plain moto does not implement.
    moto_iam_extras.apply()
    iam = boto3.client("iam")
    call = Caller(api)

    assert call("GET", "/health", token=None, status=200).json == {"status": "ok"}

    created = call("POST", "/users", ONBOARD, status=201).json
    assert created["temporary_password"] and created["user"]["status"] == "active"
    # a replay answers the first answer again, without the password (never stored)
    replay = call("POST", "/users", ONBOARD, status=201).json
    assert replay == {k: v for k, v in created.items() if k != "temporary_password"}
    assert call("POST", "/users", {**ONBOARD, "email": "p@example.org"}, status=409)

    # what offboarding must find and remove
    key = iam.create_access_key(UserName="pete")["AccessKey"]["AccessKeyId"]
    ssh = iam.upload_ssh_public_key(UserName="pete", SSHPublicKeyBody=SSH_KEY)
    ssh_id = ssh["SSHPublicKey"]["SSHPublicKeyId"]
    iam.put_user_policy(
        UserName="pete",
        PolicyName="scratch",
        PolicyDocument=(
            '{"Version": "2012-10-17", "Statement": [{"Effect": "Allow", '
            '"Action": "s3:ListAllMyBuckets", "Resource": "*"}]}'
        ),
    )
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName="pete")["VirtualMFADevice"][
        "SerialNumber"
    ]
    iam.enable_mfa_device(
        UserName="pete",
        SerialNumber=serial,
        AuthenticationCode1="123456",
        AuthenticationCode2="654321",
    )

    user = call("GET", "/users/{username}", username="pete", status=200).json
    assert user["mfa"] is True and [k["id"] for k in user["access_keys"]] == [key]
    listed = call("GET", "/users", status=200).json
    assert [u["username"] for u in listed["users"]] == ["pete"]

    moved = call(
        "PUT",
        "/users/{username}/groups",
        username="pete",
        status=200,
        body={"groups": ["BreakGlassGroup"], "ticket": "T-2", "requested_by": "alice"},
    ).json
    assert moved["groups"] == ["BreakGlassGroup"]
    assert moved["profiles_to_remove"] == ["222233334444-DeveloperRole"]
    config = call("GET", "/users/{username}/aws-config", username="pete", status=200).json
    assert config["aws_config"] == moved["aws_config"]
    assert [p["profile"] for p in config["profiles"]] == ["222233334444-BreakGlassRole"]
    text = call(
        "GET", "/users/{username}/aws-config", username="pete", query={"format": "text"}, status=200
    )
    assert text.headers["Content-Type"] == "text/plain"
    assert text.body.decode() == config["aws_config"]

    # plans: of a user that exists and of one that does not yet
    plan = call(
        "POST",
        "/users/{username}/suspend",
        username="pete",
        status=200,
        body={"ticket": "T-P", "requested_by": "alice", "dry_run": True},
    ).json
    assert plan["dry_run"] is True and plan["state_before"]["username"] == "pete"
    plan = call(
        "POST",
        "/users",
        {**ONBOARD, "username": "nina", "ticket": "T-N", "dry_run": True},
        status=200,
    ).json
    assert plan["state_before"] is None and plan["calls"] > 0

    suspended = call(
        "POST",
        "/users/{username}/suspend",
        username="pete",
        status=200,
        body={"ticket": "T-3", "requested_by": "alice", "reason": "leave", "until": FUTURE},
    ).json
    assert suspended["status"] == "suspended" and suspended["suspended_until"] == FUTURE
    assert suspended["groups"] == [] and suspended["console"] is False

    restored = call(
        "POST",
        "/users/{username}/restore",
        username="pete",
        status=200,
        body={"ticket": "T-4", "requested_by": "alice"},
    ).json
    assert restored["temporary_password"] and restored["user"]["groups"] == ["BreakGlassGroup"]
    assert "suspended_until" not in restored["user"]

    call("POST", "/users", {**ONBOARD, "username": "olga", "ticket": "T-O"}, status=201)
    granted = call(
        "POST",
        "/users/{username}/grants",
        username="olga",
        status=201,
        body={
            "group": "BreakGlassGroup",
            "hours": 2,
            "reason": "incident 42",
            "ticket": "T-G",
            "requested_by": "alice",
        },
    ).json
    assert [g["group"] for g in granted["grants"]] == ["BreakGlassGroup"]
    assert "BreakGlassGroup" in granted["groups"]

    by_user = call("GET", "/audit", query={"username": "pete"}, status=200).json["events"]
    assert [(e["action"], e["result"]) for e in by_user] == [
        ("onboard", "ok"),
        ("onboard", "replayed"),
        (
            "onboard",
            "rejected: ticket T-1 was already used for a different request; use a new ticket",
        ),
        ("move", "ok"),
        ("suspend", "planned"),
        ("suspend", "ok"),
        ("restore", "ok"),
    ]
    by_ticket = call("GET", "/audit", query={"ticket": "T-1"}, status=200).json["events"]
    assert [(e["action"], e["ticket"]) for e in by_ticket] == [("onboard", "T-1")] * 3

    rows = call("GET", "/access-matrix", status=200).json["rows"]
    assert {
        "username": "pete",
        "status": "active",
        "group": "BreakGlassGroup",
        "account": "222233334444",
        "role": "BreakGlassRole",
        "managed": True,
    } in rows
    csv = call("GET", "/access-matrix", query={"format": "csv"}, status=200)
    assert csv.headers["Content-Type"] == "text/csv"
    lines = csv.body.decode().splitlines()
    assert lines[0] == "username,status,group,account,role,managed"
    assert "pete,active,BreakGlassGroup,222233334444,BreakGlassRole,yes" in lines

    olga = {**ONBOARD, "username": "rita", "ticket": "T-RITA", "slack_user": "U0LOCAL0003"}
    call("POST", "/users", olga, status=201)
    asked = {"username": "rita", "group": "BreakGlassGroup", "hours": 1, "reason": "INC-1"}
    request = call("POST", "/requests", {**asked, "ticket": "T-R", "requested_by": "a"}, status=201)
    found = call("GET", "/requests", query={"status": "pending"}, status=200).json["requests"]
    assert found == [request.json]
    call("GET", "/requests/{request_id}", request_id=request.json["id"], status=200)
    decision = {"decision": "approve", "approver": "U0LOCAL0002", "ticket": "T-D"}
    approved = call(
        "POST",
        "/requests/{request_id}/decision",
        decision,
        request_id=request.json["id"],
        status=200,
    ).json
    assert approved["status"] == "approved" and approved["grant"]["group"] == "BreakGlassGroup"

    offboarded = call(
        "POST",
        "/users/{username}/offboard",
        username="pete",
        status=200,
        body={"ticket": "T-5", "requested_by": "alice"},
    ).json
    removed = offboarded["removed"]
    assert offboarded["username"] == "pete"
    assert removed["access_keys"] == [key] and removed["ssh_public_keys"] == [ssh_id]
    assert removed["mfa_devices"] == [serial] and removed["inline_policies"] == ["scratch"]
    assert removed["groups"] == ["BreakGlassGroup"] and removed["user"] == ["pete"]
    assert removed["login_profile"] == ["pete"]
    assert iam.list_virtual_mfa_devices()["VirtualMFADevices"] == []

    call("GET", "/users/{username}", username="pete", status=404)
    exemption = {"reason": "on leave", "until": FUTURE, "ticket": "T-X", "requested_by": "alice"}
    exempt = call(
        "PUT", "/users/{username}/hygiene-exemption", exemption, username="olga", status=200
    ).json
    assert exempt["exemption"]["until"] == FUTURE
    assert call("GET", "/hygiene", status=200).json == {"findings": []}
    call("GET", "/hygiene", query={"format": "csv", "username": "olga"}, status=200)

    started = {
        "groups": ["ChildDeveloperGroup"],
        "due": FUTURE,
        "ticket": "T-RV",
        "requested_by": "a",
    }
    review = call("POST", "/reviews", started, status=201).json
    assert call("GET", "/reviews", query={"status": "open"}, status=200).json["reviews"] == [review]
    call("GET", "/reviews/{review_id}", review_id=review["id"], status=200)
    item = review["items"][0]
    revoke = {"decision": "revoke", "reviewer": "U0LOCAL0002", "ticket": "T-RVD"}
    decided = call(
        "POST",
        "/reviews/{review_id}/items/{item_id}/decision",
        revoke,
        review_id=review["id"],
        item_id=item["id"],
        status=200,
    ).json
    assert decided["removed_at"]
    # A managed item's revoke is the service's own: recording it by hand is a 409.
    call(
        "POST",
        "/reviews/{review_id}/items/{item_id}/removed",
        {"operator": "U0LOCAL0001", "ticket": "T-RVR"},
        review_id=review["id"],
        item_id=item["id"],
        status=409,
    )
    closed = call(
        "POST",
        "/reviews/{review_id}/close",
        {"ticket": "T-RVC", "requested_by": "a"},
        review_id=review["id"],
        status=200,
    ).json
    assert closed["status"] == "closed"
    for form in ("json", "csv", "html"):
        call(
            "GET",
            "/reviews/{review_id}/evidence",
            review_id=review["id"],
            query={"format": form},
            status=200,
        )
    # adoption: a user made by hand, marked for adoption by an administrator
    iam.create_user(UserName="ines", Tags=[{"Key": "iam-lifecycle:adopt", "Value": "true"}])
    iam.add_user_to_group(UserName="ines", GroupName="ChildDeveloperGroup")
    adopt = {"ticket": "T-AD", "requested_by": "a"}
    planned = call(
        "POST", "/users/{username}/adopt", {**adopt, "dry_run": True}, username="ines", status=200
    ).json
    assert planned["plan"]["access_matrix"]["before"] == planned["plan"]["access_matrix"]["after"]
    adopted = call("POST", "/users/{username}/adopt", adopt, username="ines", status=200).json
    assert adopted["adopted"]["from_path"] == "/"
    released = call(
        "POST",
        "/users/{username}/release",
        {"ticket": "T-RL", "requested_by": "a"},
        username="ines",
        status=200,
    ).json
    assert released["released"] is True
    batch = {"ticket": "T-ADS", "requested_by": "a", "usernames": ["ines"], "dry_run": True}
    assert call("POST", "/adoptions", batch, status=200).json["progress"]["planned"] == 1
    # the ticket olga's grant was made under closes: the grant ends; again, nothing more
    closing = {"requested_by": "jira"}
    ended = call("POST", "/tickets/{ticket_id}/closed", closing, ticket_id="T-G", status=200).json
    assert ended["ended"][0]["username"] == "olga" and ended["ended"][0]["group"] == GLASS
    again = call("POST", "/tickets/{ticket_id}/closed", closing, ticket_id="T-G", status=200).json
    assert again == ended
    assert (
        call("POST", "/tickets/{ticket_id}/closed", closing, ticket_id="T-NONE", status=200).json[
            "ended"
        ]
        == []
    )
    assert call.called == set(operations()) - SLACK_ROUTES - SCIM_ROUTES, (
        "documented routes the scenario did not call"
    )


def _some_body(template: str, method: str):
    """A valid body for the route, so that only the token or header makes the difference."""
    if (template, method) == ("/users", "post"):
        return ONBOARD
    if (template, method) == ("/users/{username}/groups", "put"):
        return {"groups": ["ChildDeveloperGroup"], "ticket": "T-9", "requested_by": "alice"}
    if method == "post":
        return {"ticket": "T-9", "requested_by": "alice"}
    return None


def test_every_protected_route_is_a_documented_401_without_or_with_a_wrong_token(api):
    call = Caller(api)
    for (template, method), operation in operations().items():
        if operation.get("security") == [] or (template, method) in SCIM_ROUTES:
            continue
        for token in (None, "wrong-token"):
            answer = call(
                method.upper(),
                template,
                _some_body(template, method),
                username="pete",
                request_id="req-0",
                review_id="rev-0",
                item_id="item-0",
                ticket_id="T-0",
                token=token,
                status=401,
            ).json
            assert answer["Code"] == "Unauthorized"
    assert boto3.client("iam").list_users(PathPrefix="/managed/")["Users"] == []


def test_every_route_is_a_documented_415_for_a_content_type_other_than_json(api):
    call = Caller(api)
    for template, method in operations():
        answer = call(
            method.upper(),
            template,
            _some_body(template, method),
            username="pete",
            resource="Users",
            ident="pete",
            request_id="req-0",
            review_id="rev-0",
            item_id="item-0",
            ticket_id="T-0",
            headers={"Content-Type": "text/plain"},
            status=415,
        ).json
        assert answer["Code"] == "UnsupportedMediaType"


def test_errors_are_documented_for_each_route(api):
    call = Caller(api)
    ticket = {"ticket": "T-9", "requested_by": "alice"}

    # 400: a bad body, an invalid username, a date that is not in the future
    assert "JSON object" in call("POST", "/users", b"{not json", status=400).json["Message"]
    assert (
        "username"
        in call("POST", "/users", {**ONBOARD, "username": "pete smith"}, status=400).json["Message"]
    )
    call("GET", "/users/{username}", username="bad%20name", status=400)
    call("GET", "/users/{username}/aws-config", username="bad%20name", status=400)
    call(
        "PUT",
        "/users/{username}/groups",
        {"groups": "BreakGlassGroup", **ticket},
        username="pete",
        status=400,
    )
    assert (
        "until"
        in call(
            "POST",
            "/users/{username}/suspend",
            {**ticket, "until": date.today().isoformat()},
            username="pete",
            status=400,
        ).json["Message"]
    )
    call("POST", "/users/{username}/restore", {"ticket": "T-9"}, username="pete", status=400)
    call(
        "POST", "/users/{username}/offboard", {**ticket, "force": True}, username="pete", status=400
    )

    # 403: a group this service does not manage, a protected user
    call("POST", "/users", {**ONBOARD, "groups": ["Administrators"]}, status=403)
    call("GET", "/users/{username}", username="break-glass-owner", status=403)
    call("GET", "/users/{username}/aws-config", username="break-glass-owner", status=403)
    call("POST", "/users/{username}/offboard", ticket, username="break-glass-owner", status=403)

    # 404: an unknown user
    for method, template, body in [
        ("GET", "/users/{username}", None),
        ("GET", "/users/{username}/aws-config", None),
        ("PUT", "/users/{username}/groups", {"groups": [], **ticket}),
        ("POST", "/users/{username}/suspend", {**ticket, "ticket": "T-10"}),
        ("POST", "/users/{username}/restore", {**ticket, "ticket": "T-11"}),
        ("POST", "/users/{username}/offboard", {**ticket, "ticket": "T-12"}),
    ]:
        answer = call(method, template, body, username="nobody", status=404).json
        assert answer["Code"] == "NotFound"

    # 409: a user that exists, wrong states, a ticket reused with a different body
    call("POST", "/users", ONBOARD, status=201)
    call("POST", "/users", {**ONBOARD, "ticket": "T-2"}, status=409)
    call(
        "POST",
        "/users/{username}/restore",
        {**ticket, "ticket": "T-20"},
        username="pete",
        status=409,
    )
    call(
        "POST",
        "/users/{username}/suspend",
        {**ticket, "ticket": "T-21"},
        username="pete",
        status=200,
    )
    call(
        "POST",
        "/users/{username}/suspend",
        {**ticket, "ticket": "T-22"},
        username="pete",
        status=409,
    )
    call(
        "PUT",
        "/users/{username}/groups",
        {"groups": ["BreakGlassGroup"], **ticket, "ticket": "T-23"},
        username="pete",
        status=409,
    )
    call(
        "POST",
        "/users/{username}/suspend",
        {**ticket, "ticket": "T-21", "reason": "other"},
        username="pete",
        status=409,
    )


def test_error_schema_refuses_drift():
    """The Error schema is strict, so an answer with other fields would fail the checks above."""
    error = resolve({"$ref": "#/components/schemas/Error"})
    validator = OAS30Validator(copy.deepcopy(error))
    assert validator.is_valid({"Code": "NotFound", "Message": "no managed user named x"})
    assert not validator.is_valid({"Code": "NotFound", "Message": "x", "Trace": "..."})
    assert not validator.is_valid({"message": "x"})
