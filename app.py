"""Routes, schedules and queue handlers: each parses input, calls one service function, returns."""

import functools

from chalice import Chalice, Response

from chalicelib import queries
from chalicelib.bootstrap import services
from chalicelib.schemas import (MoveRequest, OffboardRequest, OnboardRequest, RestoreRequest,
                                SuspendRequest, parse)
from chalicelib.web import rest

app = Chalice(app_name="iam-lifecycle")
JSON = ["application/json"]


def _token() -> str:
    return services().secrets.get(services().settings.api_token_secret)


public = functools.partial(rest, app, public=True)
protected = functools.partial(rest, app, token=_token)


def _body(model):  # type: ignore[no-untyped-def]
    return parse(model, app.current_request.raw_body)


def _change(action: str, username: str, request, work):  # type: ignore[no-untyped-def]
    return services().operations.run(action, username, request, work)


@app.route("/health", methods=["GET"])
@public()
def health() -> dict:
    return {"status": "ok"}


@app.route("/users", methods=["POST"], content_types=JSON)
@protected(status=201)
def create_user() -> dict:
    request = _body(OnboardRequest)
    return _change("onboard", request.username, request,
                   lambda: services().lifecycle.onboard(request))


@app.route("/users", methods=["GET"])
@protected()
def list_users() -> dict:
    return {"users": queries.list_users(services().lifecycle)}


@app.route("/users/{username}", methods=["GET"])
@protected()
def get_user(username: str) -> dict:
    return services().lifecycle.describe(username)


def _user_change(action: str, username: str, model):  # type: ignore[no-untyped-def]
    """A change to one user: the lifecycle method named ``action``, run once per ticket."""
    request = _body(model)
    operation = getattr(services().lifecycle, action)
    return _change(action, username, request, lambda: operation(username, request))


@app.route("/users/{username}/groups", methods=["PUT"], content_types=JSON)
@protected()
def move_user(username: str) -> dict:
    return _user_change("move", username, MoveRequest)


@app.route("/users/{username}/suspend", methods=["POST"], content_types=JSON)
@protected()
def suspend_user(username: str) -> dict:
    return _user_change("suspend", username, SuspendRequest)


@app.route("/users/{username}/restore", methods=["POST"], content_types=JSON)
@protected()
def restore_user(username: str) -> dict:
    return _user_change("restore", username, RestoreRequest)


@app.route("/users/{username}/offboard", methods=["POST"], content_types=JSON)
@protected()
def offboard_user(username: str) -> dict:
    return _user_change("offboard", username, OffboardRequest)


@app.route("/audit", methods=["GET"])
@protected()
def audit() -> dict:
    query = app.current_request.query_params or {}
    events = services().lifecycle.state.audit_events(query.get("username"), query.get("ticket"))
    return {"events": events}


@app.route("/access-matrix", methods=["GET"])
@protected()
def access_matrix():  # type: ignore[no-untyped-def]
    rows = queries.access_matrix(services().lifecycle)
    if (app.current_request.query_params or {}).get("format") == "csv":
        return Response(body=queries.as_csv(rows), status_code=200,
                        headers={"Content-Type": "text/csv"})
    return {"rows": rows}
