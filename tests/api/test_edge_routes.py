"""The REST edge's answers to what it does not have (an unknown path or method), and to query
parameters it checks (``?format=shell&remove=``), through the real app and Chalice's test client
routing as API Gateway does (devstack/api_gateway.py)."""

from __future__ import annotations

import json

import pytest

from tests.support import onboard

CHILD = "222233334444"
UNKNOWN_PATHS = [
    "/",
    "/nope",
    "/users/pete/nope",
    "/users/pete/aws-config/deeper/still",
    "/slack/nope",
    "/scim/v2/Users/1/too/deep",
]


# what the API does not have: 404 or 405, JSON, never the token
def test_an_unknown_path_is_a_404_without_the_token(api):
    """API Gateway's own answer for a route it lacks is a 403 whose body echoes the
    Authorization header; the catch-all route answers instead. A greedy path variable takes any
    request no other resource and method match, at any depth:
    https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-set-up-simple-proxy.html
    """
    for path in UNKNOWN_PATHS:
        for method in ("GET", "POST", "PUT", "PATCH", "DELETE"):
            answer = api.call(method, path, token="s3cr3t-token-value")
            assert answer.status_code == 404, (method, path, answer.body)
            assert answer.json["Message"].startswith("no route /")
            assert b"s3cr3t" not in answer.body
            assert "s3cr3t" not in str(answer.headers)


def test_a_known_path_with_another_method_is_a_405_naming_its_methods(api):
    """As chalice local answers it (Chalice's own 405)..."""
    answer = api.call("DELETE", "/users", token="s3cr3t-token-value")
    assert answer.status_code == 405
    assert b"s3cr3t" not in answer.body
    assert set(answer.headers["Allow"].split(", ")) == {"GET", "POST"}


def test_api_gateways_catch_all_answers_a_known_path_with_another_method_with_a_405(client):
    """...and as API Gateway hands it over: to the greedy route, which resolves a request on
    the pair of resource and method, so DELETE /users reaches /{proxy+}."""
    from chalice.local import LambdaContext

    from app import app

    event = {
        "resource": "/{proxy+}",
        "path": "/users",
        "httpMethod": "DELETE",
        "requestContext": {
            "httpMethod": "DELETE",
            "resourcePath": "/{proxy+}",
            "path": "/api/users",
        },
        "headers": {"authorization": "Bearer s3cr3t-token-value"},
        "multiValueQueryStringParameters": None,
        "pathParameters": {"proxy": "users"},
        "stageVariables": None,
        "body": None,
        "isBase64Encoded": False,
    }
    answer = app(event, LambdaContext("api_handler", 512))
    assert answer["statusCode"] == 405
    assert answer["headers"]["Allow"] == "GET, POST"
    assert "s3cr3t" not in answer["body"]
    assert json.loads(answer["body"]) == {
        "Code": "MethodNotAllowed",
        "Message": "DELETE is not a method of /users; its methods: GET, POST",
    }


def test_the_catch_all_shadows_no_route(api, scim, client):
    assert api.call("GET", "/health", token=None).json == {"status": "ok"}
    assert api.call("GET", "/users").status_code == 200
    assert api.call("GET", "/users", token=None).status_code == 401
    assert api.call("GET", "/users/nobody").status_code == 404  # the route's own 404
    assert api.call("GET", "/users/nobody").json["Message"] != "no route /users/nobody"
    unsigned = client.http.post(
        "/slack/commands",
        headers={"Content-Type": "application/x-www-form-urlencoded"},
        body=b"text=help",
    )
    assert unsigned.status_code == 401
    assert scim("GET", "/ServiceProviderConfig").status_code == 200
    assert scim("GET", "/Users/unknown-id").status_code == 404  # SCIM's own answer


# ?format=shell&remove=: a profile name, all of it, in ASCII
@pytest.mark.parametrize(
    "remove",
    [
        f"{CHILD}-DeveloperRole%0A",  # a trailing newline
        f"{CHILD}-DeveloperRole%0Aecho",
        "%D9%A2%D9%A2%D9%A2%D9%A2%D9%A3%D9%A3%D9%A3%D9%A3%D9%A4%D9%A4%D9%A4%D9%A4-DeveloperRole",
        f"{CHILD}-D%C3%A9veloper",  # a letter outside ASCII
        f"{CHILD}-DeveloperRole%20",
    ],
)
def test_a_profile_to_remove_must_be_a_whole_ascii_profile_name(api, remove):
    onboard(api, "pete")
    refused = api.call("GET", f"/users/pete/aws-config?format=shell&remove={remove}")
    assert refused.status_code == 400, refused.body
    assert "remove" in refused.json["Message"]


def test_a_profile_to_remove_this_service_wrote_is_taken(api):
    onboard(api, "pete")
    script = api.call("GET", f"/users/pete/aws-config?format=shell&remove={CHILD}-BreakGlassRole")
    assert script.status_code == 200 and script.body.decode().startswith("#!/bin/sh")
