"""The lifecycle's routes and schedules: each parses its input, calls one service function,
returns. A handler imports what only its path needs (request models and pydantic, the queries)
when it runs."""

from __future__ import annotations

from chalice import Rate, Response

from chalicelib.edges.http import Routes, composed
from chalicelib.kernel.catalogue import ACTIONS

routes = Routes(__name__)
JSON = ["application/json"]


def _change(action: str, username: str | None = None) -> dict | Response:
    """The body as ``action``'s request model, run once per ticket by the change runner."""
    from chalicelib.kernel.commands import parse_caller

    services = routes.services()
    request = parse_caller(ACTIONS[action].request_model(), routes.request().raw_body)
    answer = services.operations.change(
        action,
        username or request.username,
        request,
        answer_within=services.settings.answer_within or None,
    )
    if answer.get("status") == "accepted":  # goes on in the queue worker (kernel/continuing)
        return Response(
            body=answer,
            status_code=202,
            headers={"Content-Type": "application/json", "Location": answer["follow"]},
        )
    return answer


@routes.route("/users", methods=["POST"], content_types=JSON)
@routes.protected(action="onboard", status=ACTIONS["onboard"].status)
def create_user() -> dict | Response:
    return _change("onboard")


@routes.route("/users", methods=["GET"])
@routes.protected()
def list_users() -> dict:
    from chalicelib.lifecycle import queries

    return {"users": queries.list_users(routes.services().lifecycle)}


@routes.route("/users/{username}", methods=["GET"])
@routes.protected()
def get_user(username: str) -> dict:
    return routes.services().lifecycle.describe(username)


@routes.route("/users/{username}/aws-config", methods=["GET"])
@routes.protected()
def get_aws_config(username: str):
    lifecycle = routes.services().lifecycle
    form = routes.query().get("format")
    if form == "shell":
        # A POSIX sh script merging the profiles into ~/.aws/config: `curl ... | sh`.
        params = routes.request().query_params
        remove = params.getlist("remove") if params is not None and "remove" in params else []
        return Response(
            body=lifecycle.aws_config_merge(username, remove),
            status_code=200,
            headers={"Content-Type": "text/x-shellscript"},
        )
    answer = lifecycle.aws_config_of(username)
    if form == "text":
        # The bare profiles, to save beside ~/.aws/config (format=shell merges them into it).
        return Response(
            body=answer["aws_config"], status_code=200, headers={"Content-Type": "text/plain"}
        )
    return answer


@routes.route("/users/{username}/groups", methods=["PUT"], content_types=JSON)
@routes.protected(action="move")
def move_user(username: str) -> dict | Response:
    return _change("move", username)


@routes.route("/users/{username}/suspend", methods=["POST"], content_types=JSON)
@routes.protected(action="suspend")
def suspend_user(username: str) -> dict | Response:
    return _change("suspend", username)


@routes.route("/users/{username}/restore", methods=["POST"], content_types=JSON)
@routes.protected(action="restore")
def restore_user(username: str) -> dict | Response:
    return _change("restore", username)


@routes.route("/users/{username}/offboard", methods=["POST"], content_types=JSON)
@routes.protected(action="offboard")
def offboard_user(username: str) -> dict | Response:
    return _change("offboard", username)


@routes.route("/users/{username}/grants", methods=["POST"], content_types=JSON)
@routes.protected(action="grant", status=ACTIONS["grant"].status)
def grant_access(username: str) -> dict | Response:
    return _change("grant", username)


@routes.route("/tickets/{ticket_id}/closed", methods=["POST"], content_types=JSON)
@routes.protected(action="close_ticket")
def close_ticket(ticket_id: str) -> dict:
    import json

    from chalicelib.kernel.commands import parse, parse_caller
    from chalicelib.lifecycle.commands import ClosedTicket, TicketClosed

    body = parse(TicketClosed, routes.request().raw_body)
    closed = parse_caller(
        ClosedTicket, json.dumps({"ticket": ticket_id, "requested_by": body.requested_by})
    )
    return routes.services().ticket_closure.close(closed.ticket, closed.requested_by)


@routes.route("/access-matrix", methods=["GET"])
@routes.protected()
def access_matrix():
    from chalicelib.lifecycle import queries

    rows = queries.access_matrix(routes.services().lifecycle)
    if routes.query().get("format") == "csv":
        return Response(
            body=queries.as_csv(rows), status_code=200, headers={"Content-Type": "text/csv"}
        )
    return {"rows": rows}


# Schedules: each a pass over the lifecycle records; a user whose change fails waits for the next.
@routes.schedule(Rate(1, unit=Rate.HOURS))
def restore_due_users(event) -> dict:
    return {"restored": routes.services().schedules.restore_due()}


@routes.schedule(Rate(5, unit=Rate.MINUTES))
def expire_grants(event) -> dict:
    return routes.services().schedules.grants_due()


# Every 5 minutes: a revocation owed to an unreachable account (or to Sign-In) is retried
# within minutes, not hours; pruning on the same pass costs a few reads per role.
@routes.schedule(Rate(5, unit=Rate.MINUTES))
def prune_revocations(event) -> dict:
    return routes.services().schedules.prune_revocations()


@routes.schedule(Rate(5, unit=Rate.MINUTES))
def finish_stuck(event) -> dict:
    return {"finished": routes.services().schedules.finish_stuck()}


@routes.schedule(Rate(1, unit=Rate.DAYS))
def report_drift(event) -> dict:
    return {"findings": routes.services().schedules.report_drift()}


# Okta deactivates leavers and never deletes them: offboard those kept inactive for N days.
@routes.schedule(Rate(1, unit=Rate.DAYS))
def offboard_inactive_scim_users(event) -> dict:
    return {"offboarded": routes.services().schedules.offboard_inactive()}


composed()
