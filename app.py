"""The app: Chalice, its middleware, the capabilities' routes and schedules (each capability's
``routes.py``, a Blueprint registered here), the generic routes (health, audit, Slack, SCIM, the
answer to an unknown path), the /iam routes, and the queue handler.

A handler imports what only its path needs (request models and pydantic, the queries, the queue
worker) when it runs: a cold start pays for the path it serves, not for all of them.
"""

import functools
from collections.abc import Mapping

from chalice import Chalice, Response
from chalice.app import Request

from chalicelib import capabilities
from chalicelib.adoption import routes as adoption
from chalicelib.approvals import routes as approvals
from chalicelib.bootstrap import services
from chalicelib.edges import unknown
from chalicelib.edges.http import iam_routes, register, rest
from chalicelib.edges.slack import edge as slack_edge
from chalicelib.hygiene import routes as hygiene
from chalicelib.kernel import caller, tracing
from chalicelib.kernel.errors import BadRequest
from chalicelib.lifecycle import routes as lifecycle
from chalicelib.reviews import routes as reviews
from chalicelib.settings import work_queue_name

app = Chalice(app_name="iam-lifecycle")

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


# Each capability's routes and schedules, after the middleware (its schedules take the app's).
register(
    app,
    services,
    lifecycle.routes,
    approvals.routes,
    reviews.routes,
    hygiene.routes,
    adoption.routes,
)


@app.route("/audit", methods=["GET"])
@protected()
def audit() -> dict:
    query = _query()
    events = services().lifecycle.state.audit_events(query.get("username"), query.get("ticket"))
    return {"events": events}


# Slack: signed by Slack instead of the bearer token; answered at once, the work done from SQS.
SLACK_FORM = ["application/x-www-form-urlencoded"]


@app.route("/slack/commands", methods=["POST"], content_types=SLACK_FORM)
def slack_command() -> Response:
    with caller.acting_for(caller.SLACK):
        return slack_edge.command(_request(), services())


@app.route("/slack/interactions", methods=["POST"], content_types=SLACK_FORM)
def slack_interaction() -> Response:
    capabilities.slack_listeners()  # the buttons each capability listens to
    with caller.acting_for(caller.SLACK):
        return slack_edge.interaction(_request(), services())


# SCIM 2.0 for identity providers (Okta, Entra ID): its own bearer token and SCIM error bodies.
SCIM = "/scim/v2"
SCIM_JSON = ["application/scim+json", "application/json"]  # Okta and Entra send the latter


def _scim(resource: str, ident: str | None = None) -> Response:
    from chalicelib.scim import endpoint as scim

    with caller.acting_for(caller.SCIM):  # scim.handle checks the SCIM token before anything
        return scim.handle(_request(), services().scim, resource, ident)


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
    from chalicelib import capabilities
    from chalicelib.edges import worker

    capabilities.queued_work()  # each kind's handler registered before any message is taken
    return worker.handle(event.to_dict(), event.context, services())
