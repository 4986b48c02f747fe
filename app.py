"""Routes, schedules and queue handlers: each parses input, calls one service function, returns.

A handler imports what only its path needs (request models and pydantic, the queries, the queue
worker) when it runs: a cold start pays for the path it serves, not for all of them.
"""

import functools
from collections.abc import Mapping

from chalice import Chalice, Rate, Response
from chalice.app import Request

from chalicelib.bootstrap import services
from chalicelib.edges import unknown
from chalicelib.edges.http import iam_routes, rest
from chalicelib.edges.slack import edge as slack_edge
from chalicelib.hygiene import rules as hygiene
from chalicelib.kernel import caller, tracing
from chalicelib.kernel.catalogue import ACTIONS
from chalicelib.kernel.errors import BadRequest
from chalicelib.settings import work_queue_name

app = Chalice(app_name="iam-lifecycle")
JSON = ["application/json"]

# X-Ray: every route, queue and schedule invocation, whatever handlers are added later.
app.register_middleware(tracing.trace, "all")


def _scheduled(event, get_response):
    """What a schedule changes, the audit trail records as done for the client ``schedule``."""
    with caller.acting_for(caller.SCHEDULE):
        return get_response(event)


app.register_middleware(_scheduled, "scheduled")


public = functools.partial(rest, app, public=True)
# Named API clients (chalicelib/edges/clients.py); a change names its action, which the client
# must hold.
protected = functools.partial(rest, app, gate=lambda: services().api_clients)


def _request() -> Request:
    """The request being handled (Chalice sets it before any route runs)."""
    request = app.current_request
    assert request is not None
    return request


def _query() -> Mapping[str, str]:
    return _request().query_params or {}


def _change(action: str, username: str | None = None) -> dict | Response:
    """The body as ``action``'s request model, run once per ticket by the change runner."""
    from chalicelib.kernel.commands import parse_caller

    request = parse_caller(ACTIONS[action].request_model(), _request().raw_body)
    answer = services().operations.change(
        action,
        username or request.username,
        request,
        answer_within=services().settings.answer_within or None,
    )
    if answer.get("status") == "accepted":  # goes on in the queue worker (service/continuing)
        return Response(
            body=answer,
            status_code=202,
            headers={"Content-Type": "application/json", "Location": answer["follow"]},
        )
    return answer


@app.route("/health", methods=["GET"])
@public()
def health():
    # ?deep=true: a live read of everything the app needs, for operators (behind the token).
    deep = _query().get("deep")
    if deep is None:
        return {"status": "ok"}
    from chalicelib.edges import health as checks

    services().api_clients.by_bearer(_request().headers.get("authorization"))  # any client
    if deep != "true":
        raise BadRequest("deep must be true (or left out for the liveness answer)")
    status, answer = checks.deep(services().settings, services().health_probes)
    return Response(body=answer, status_code=status, headers={"Content-Type": "application/json"})


@app.route("/users", methods=["POST"], content_types=JSON)
@protected(action="onboard", status=ACTIONS["onboard"].status)
def create_user() -> dict | Response:
    return _change("onboard")


@app.route("/users", methods=["GET"])
@protected()
def list_users() -> dict:
    from chalicelib.lifecycle import queries

    return {"users": queries.list_users(services().lifecycle)}


@app.route("/users/{username}", methods=["GET"])
@protected()
def get_user(username: str) -> dict:
    return services().lifecycle.describe(username)


@app.route("/users/{username}/aws-config", methods=["GET"])
@protected()
def get_aws_config(username: str):
    form = _query().get("format")
    if form == "shell":
        # A POSIX sh script merging the profiles into ~/.aws/config: `curl ... | sh`.
        params = _request().query_params
        remove = params.getlist("remove") if params is not None and "remove" in params else []
        return Response(
            body=services().lifecycle.aws_config_merge(username, remove),
            status_code=200,
            headers={"Content-Type": "text/x-shellscript"},
        )
    answer = services().lifecycle.aws_config_of(username)
    if form == "text":
        # The bare profiles, to save beside ~/.aws/config (format=shell merges them into it).
        return Response(
            body=answer["aws_config"], status_code=200, headers={"Content-Type": "text/plain"}
        )
    return answer


@app.route("/users/{username}/groups", methods=["PUT"], content_types=JSON)
@protected(action="move")
def move_user(username: str) -> dict | Response:
    return _change("move", username)


@app.route("/users/{username}/suspend", methods=["POST"], content_types=JSON)
@protected(action="suspend")
def suspend_user(username: str) -> dict | Response:
    return _change("suspend", username)


@app.route("/users/{username}/restore", methods=["POST"], content_types=JSON)
@protected(action="restore")
def restore_user(username: str) -> dict | Response:
    return _change("restore", username)


@app.route("/users/{username}/offboard", methods=["POST"], content_types=JSON)
@protected(action="offboard")
def offboard_user(username: str) -> dict | Response:
    return _change("offboard", username)


@app.route("/users/{username}/grants", methods=["POST"], content_types=JSON)
@protected(action="grant", status=ACTIONS["grant"].status)
def grant_access(username: str) -> dict | Response:
    return _change("grant", username)


# Requests for access: decided by the group's approvers in Slack, or here by a ticketing system
# whose own workflow did the approving (the bearer token is the authority; `approver` the person).
@app.route("/requests", methods=["POST"], content_types=JSON)
@protected(action="request", status=ACTIONS["request"].status)
def create_request() -> dict:
    from chalicelib.kernel.commands import parse_caller

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
    from chalicelib.approvals.rules import view

    return view(services().approvals.get(request_id))


@app.route("/requests/{request_id}/decision", methods=["POST"], content_types=JSON)
@protected(action="decide")
def decide_request(request_id: str) -> dict:
    from chalicelib.kernel.commands import parse_caller

    body = parse_caller(ACTIONS["decide"].request_model(), _request().raw_body)
    return services().approvals.decide(
        request_id, body.decision, body.approver, body.reason, body.ticket
    )


# Access reviews: campaigns of who holds what, decided by the groups' owners in Slack (or here,
# by a ticketing workflow naming the reviewer), with the evidence an auditor asks for.
@app.route("/reviews", methods=["POST"], content_types=JSON)
@protected(action="review", status=ACTIONS["review"].status)
def create_review() -> dict:
    from chalicelib.kernel.commands import parse_caller

    body = parse_caller(ACTIONS["review"].request_model(), _request().raw_body)
    return services().reviews.start(body)


@app.route("/reviews", methods=["GET"])
@protected()
def list_reviews() -> dict:
    return {"reviews": services().reviews.search(_query().get("status"))}


@app.route("/reviews/{review_id}", methods=["GET"])
@protected()
def get_review(review_id: str) -> dict:
    return services().reviews.get(review_id)


@app.route("/reviews/{review_id}/items/{item_id}/decision", methods=["POST"], content_types=JSON)
@protected(action="review_decide")
def decide_review_item(review_id: str, item_id: str) -> dict:
    from chalicelib.kernel.commands import parse_caller

    body = parse_caller(ACTIONS["review_decide"].request_model(), _request().raw_body)
    return services().reviews.decide(review_id, item_id, body.decision, body.reviewer, body.ticket)


@app.route("/reviews/{review_id}/items/{item_id}/removed", methods=["POST"], content_types=JSON)
@protected(action="review_decide")  # recording a decided revoke carried out by hand
def record_review_removal(review_id: str, item_id: str) -> dict:
    from chalicelib.kernel.commands import parse_caller
    from chalicelib.reviews.commands import ReviewRemovedRequest

    body = parse_caller(ReviewRemovedRequest, _request().raw_body)
    return services().reviews.record_removed(review_id, item_id, body.operator, body.ticket)


@app.route("/reviews/{review_id}/close", methods=["POST"], content_types=JSON)
@protected(action="review_close")
def close_review(review_id: str) -> dict:
    from chalicelib.kernel.commands import parse_caller

    body = parse_caller(ACTIONS["review_close"].request_model(), _request().raw_body)
    return services().reviews.close(review_id, body.requested_by)


@app.route("/reviews/{review_id}/evidence", methods=["GET"])
@protected()
def review_evidence(review_id: str):
    from chalicelib.reviews import evidence

    form = _query().get("format") or "json"
    if form not in ("json", "csv", "html"):
        from chalicelib.kernel.errors import BadRequest

        raise BadRequest("format must be json, csv or html")
    found = services().reviews.evidence(review_id, rerun=_query().get("rerun") == "true")
    if form == "csv":
        return Response(
            body=evidence.as_csv(found), status_code=200, headers={"Content-Type": "text/csv"}
        )
    if form == "html":
        return Response(
            body=evidence.as_html(found),
            status_code=200,
            headers={"Content-Type": "text/html; charset=utf-8"},
        )
    return found


@app.route("/audit", methods=["GET"])
@protected()
def audit() -> dict:
    query = _query()
    events = services().lifecycle.state.audit_events(query.get("username"), query.get("ticket"))
    return {"events": events}


@app.route("/access-matrix", methods=["GET"])
@protected()
def access_matrix():
    from chalicelib.lifecycle import queries

    rows = queries.access_matrix(services().lifecycle)
    if _query().get("format") == "csv":
        return Response(
            body=queries.as_csv(rows), status_code=200, headers={"Content-Type": "text/csv"}
        )
    return {"rows": rows}


@app.route("/hygiene", methods=["GET"])
@protected()
def hygiene_findings():
    findings = services().hygiene.findings(_query().get("username") or None)
    if _query().get("format") == "csv":
        from chalicelib.hygiene.service import as_csv

        return Response(
            body=as_csv(findings), status_code=200, headers={"Content-Type": "text/csv"}
        )
    return {"findings": findings}


@app.route("/users/{username}/hygiene-exemption", methods=["PUT"], content_types=JSON)
# An exemption holds back the hygiene actions: the client must hold them all.
@protected(action=hygiene.ACTIONS)
def exempt_from_hygiene(username: str) -> dict:
    from chalicelib.hygiene.commands import ExemptionRequest
    from chalicelib.kernel.commands import parse_caller

    request = parse_caller(ExemptionRequest, _request().raw_body)
    return services().hygiene.exempt(username, request)


# Slack: signed by Slack instead of the bearer token; answered at once, the work done from SQS.
SLACK_FORM = ["application/x-www-form-urlencoded"]


@app.route("/slack/commands", methods=["POST"], content_types=SLACK_FORM)
def slack_command() -> Response:
    with caller.acting_for(caller.SLACK):
        return slack_edge.command(_request(), services())


@app.route("/slack/interactions", methods=["POST"], content_types=SLACK_FORM)
def slack_interaction() -> Response:
    with caller.acting_for(caller.SLACK):
        return slack_edge.interaction(_request(), services())


# SCIM 2.0 for identity providers (Okta, Entra ID): its own bearer token and SCIM error bodies.
SCIM = "/scim/v2"
SCIM_JSON = ["application/scim+json", "application/json"]  # Okta and Entra send the latter


def _scim(resource: str, ident: str | None = None) -> Response:
    from chalicelib.scim import provider as scim

    with caller.acting_for(caller.SCIM):  # scim.handle checks the SCIM token before anything
        return scim.handle(_request(), services(), resource, ident)


@app.route(f"{SCIM}/{{resource}}", methods=["GET", "POST"], content_types=SCIM_JSON)
def scim_resources(resource: str) -> Response:
    return _scim(resource)


@app.route(
    f"{SCIM}/{{resource}}/{{ident}}",
    methods=["GET", "PUT", "PATCH", "DELETE"],
    content_types=SCIM_JSON,
)
def scim_resource(resource: str, ident: str) -> Response:
    return _scim(resource, ident)


# A path or method the API does not have: JSON 404 (405 with Allow where the path has other
# methods), in API Gateway as in chalice local, never API Gateway's 403 echoing the token.
@app.route("/", methods=unknown.METHODS, content_types=["*/*"], name="unknown_root")
@app.route("/{proxy+}", methods=unknown.METHODS, content_types=["*/*"], name="unknown_route")
@public()
def unknown_route() -> Response:
    request = _request()
    # API Gateway's event names the path as called (no stage); chalice local's, its context.
    path = request.to_original_event().get("path") or request.context.get("path") or "/"
    return unknown.answer(app.routes, request.method, path)


# IAM principals (SigV4) call every protected route under /iam, behind API Gateway's IAM
# authorizer; declared after every route.
iam_routes(app)


# One message per invocation: Chalice cannot turn on ReportBatchItemFailures for the event source,
# and with one record a failure fails the invocation, which SQS retries either way.
@app.on_sqs_message(queue=work_queue_name(), batch_size=1)
def worker(event) -> dict:
    from chalicelib.edges import worker

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


# Every 5 minutes: a revocation owed to an unreachable account (or to Sign-In) is retried
# within minutes, not hours; pruning on the same pass costs a few reads per role.
@app.schedule(Rate(5, unit=Rate.MINUTES))
def prune_revocations(event) -> dict:
    return services().schedules.prune_revocations()


@app.schedule(Rate(5, unit=Rate.MINUTES))
def finish_stuck(event) -> dict:
    return {"finished": services().schedules.finish_stuck()}


@app.schedule(Rate(1, unit=Rate.DAYS))
def report_drift(event) -> dict:
    return {"findings": services().schedules.report_drift()}


# Okta deactivates leavers and never deletes them: offboard those kept inactive for N days.
@app.schedule(Rate(1, unit=Rate.DAYS))
def offboard_inactive_scim_users(event) -> dict:
    return {"offboarded": services().schedules.offboard_inactive()}


# Credential hygiene: notices, reminders, then the actions due. An event whose detail says
# {"dry_run": true} (the local stack's `fire hygiene --dry-run`) plans instead.
@app.schedule(Rate(1, unit=Rate.DAYS))
def credential_hygiene(event) -> dict:
    return services().hygiene.run(
        dry_run=(event.to_dict().get("detail") or {}).get("dry_run") is True
    )


# Access reviews: the quarterly campaign (REVIEW_QUARTERLY), reminders before due dates
# (REVIEW_REMINDER_DAYS), and the close of campaigns past their due date.
@app.schedule(Rate(1, unit=Rate.DAYS))
def access_reviews(event) -> dict:
    return services().reviews.run()
