"""Routes, schedules and queue handlers: each parses input, calls one service function, returns.

A handler imports what only its path needs (request models and pydantic, the queries, the queue
worker) when it runs: a cold start pays for the path it serves, not for all of them.
"""

import functools
from collections.abc import Mapping

from chalice import Chalice, Rate, Response
from chalice.app import Request

from chalicelib.actions import ACTIONS
from chalicelib.api.rest import rest
from chalicelib.bootstrap import services
from chalicelib.service import tracing
from chalicelib.settings import work_queue_name
from chalicelib.slack import edge as slack_edge

app = Chalice(app_name="iam-lifecycle")
JSON = ["application/json"]

# X-Ray: every route, queue and schedule invocation, whatever handlers are added later.
app.register_middleware(tracing.trace, "all")


def _token() -> str:
    return services().secrets.get(services().settings.api_token_secret)


public = functools.partial(rest, app, public=True)
protected = functools.partial(rest, app, token=_token)


def _request() -> Request:
    """The request being handled (Chalice sets it before any route runs)."""
    request = app.current_request
    assert request is not None
    return request


def _query() -> Mapping[str, str]:
    return _request().query_params or {}


def _change(action: str, username: str | None = None) -> dict:
    """The body as ``action``'s request model, run once per ticket by the change runner."""
    from chalicelib.api.schemas import parse_caller

    request = parse_caller(ACTIONS[action].request_model(), _request().raw_body)
    return services().operations.change(action, username or request.username, request)


@app.route("/health", methods=["GET"])
@public()
def health() -> dict:
    return {"status": "ok"}


@app.route("/users", methods=["POST"], content_types=JSON)
@protected(status=ACTIONS["onboard"].status)
def create_user() -> dict:
    return _change("onboard")


@app.route("/users", methods=["GET"])
@protected()
def list_users() -> dict:
    from chalicelib.service import queries

    return {"users": queries.list_users(services().lifecycle)}


@app.route("/users/{username}", methods=["GET"])
@protected()
def get_user(username: str) -> dict:
    return services().lifecycle.describe(username)


@app.route("/users/{username}/aws-config", methods=["GET"])
@protected()
def get_aws_config(username: str):
    answer = services().lifecycle.aws_config_of(username)
    if _query().get("format") == "text":
        # The bare file, so that `curl ... > ~/.aws/config` works.
        return Response(
            body=answer["aws_config"], status_code=200, headers={"Content-Type": "text/plain"}
        )
    return answer


@app.route("/users/{username}/groups", methods=["PUT"], content_types=JSON)
@protected()
def move_user(username: str) -> dict:
    return _change("move", username)


@app.route("/users/{username}/suspend", methods=["POST"], content_types=JSON)
@protected()
def suspend_user(username: str) -> dict:
    return _change("suspend", username)


@app.route("/users/{username}/restore", methods=["POST"], content_types=JSON)
@protected()
def restore_user(username: str) -> dict:
    return _change("restore", username)


@app.route("/users/{username}/offboard", methods=["POST"], content_types=JSON)
@protected()
def offboard_user(username: str) -> dict:
    return _change("offboard", username)


@app.route("/users/{username}/grants", methods=["POST"], content_types=JSON)
@protected(status=ACTIONS["grant"].status)
def grant_access(username: str) -> dict:
    return _change("grant", username)


# Requests for access: decided by the group's approvers in Slack, or here by a ticketing system
# whose own workflow did the approving (the bearer token is the authority; `approver` the person).
@app.route("/requests", methods=["POST"], content_types=JSON)
@protected(status=ACTIONS["request"].status)
def create_request() -> dict:
    from chalicelib.api.schemas import parse_caller

    body = parse_caller(ACTIONS["request"].request_model(), _request().raw_body)
    return services().approvals.ask(body)


@app.route("/requests", methods=["GET"])
@protected()
def list_requests() -> dict:
    query = _query()
    return {"requests": services().approvals.search(query.get("status"), query.get("username"))}


@app.route("/requests/{request_id}", methods=["GET"])
@protected()
def get_request(request_id: str) -> dict:
    from chalicelib.domain.approvals import view

    return view(services().approvals.get(request_id))


@app.route("/requests/{request_id}/decision", methods=["POST"], content_types=JSON)
@protected()
def decide_request(request_id: str) -> dict:
    from chalicelib.api.schemas import parse_caller

    body = parse_caller(ACTIONS["decide"].request_model(), _request().raw_body)
    return services().approvals.decide(
        request_id, body.decision, body.approver, body.reason, body.ticket
    )


@app.route("/audit", methods=["GET"])
@protected()
def audit() -> dict:
    query = _query()
    events = services().lifecycle.state.audit_events(query.get("username"), query.get("ticket"))
    return {"events": events}


@app.route("/access-matrix", methods=["GET"])
@protected()
def access_matrix():
    from chalicelib.service import queries

    rows = queries.access_matrix(services().lifecycle)
    if _query().get("format") == "csv":
        return Response(
            body=queries.as_csv(rows), status_code=200, headers={"Content-Type": "text/csv"}
        )
    return {"rows": rows}


# Slack: signed by Slack instead of the bearer token; answered at once, the work done from SQS.
SLACK_FORM = ["application/x-www-form-urlencoded"]


@app.route("/slack/commands", methods=["POST"], content_types=SLACK_FORM)
def slack_command() -> Response:
    return slack_edge.command(_request(), services())


@app.route("/slack/interactions", methods=["POST"], content_types=SLACK_FORM)
def slack_interaction() -> Response:
    return slack_edge.interaction(_request(), services())


# One message per invocation: Chalice cannot turn on ReportBatchItemFailures for the event source,
# and with one record a failure fails the invocation, which SQS retries either way.
@app.on_sqs_message(queue=work_queue_name(), batch_size=1)
def worker(event) -> dict:
    from chalicelib import worker

    return worker.handle(event.to_dict(), event.context, services())


# Schedules: each a pass over the lifecycle records; a user whose change fails waits for the next.
@app.schedule(Rate(1, unit=Rate.HOURS))
def restore_due_users(event) -> dict:
    return {"restored": services().schedules.restore_due()}


@app.schedule(Rate(5, unit=Rate.MINUTES))
def expire_grants(event) -> dict:
    return {"expired": services().schedules.expire_grants()}


@app.schedule(Rate(5, unit=Rate.MINUTES))
def expire_requests(event) -> dict:
    return {"expired": services().approvals.expire_due()}


@app.schedule(Rate(1, unit=Rate.HOURS))
def prune_revocations(event) -> dict:
    return services().schedules.prune_revocations()


@app.schedule(Rate(1, unit=Rate.DAYS))
def report_drift(event) -> dict:
    return {"findings": services().schedules.report_drift()}
