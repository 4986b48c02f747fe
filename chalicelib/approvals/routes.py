"""Requests for access over REST: decided by the group's approvers in Slack, or here by a
ticketing system whose own workflow did the approving (the bearer token is the authority;
``approver`` the person); and the schedule that expires pending requests."""

from __future__ import annotations

from chalice import Rate

from chalicelib.edges.http import Routes, composed
from chalicelib.kernel.catalogue import ACTIONS

routes = Routes(__name__)
JSON = ["application/json"]


@routes.route("/requests", methods=["POST"], content_types=JSON)
@routes.protected(action="request", status=ACTIONS["request"].status)
def create_request() -> dict:
    from chalicelib.kernel.commands import parse_caller

    body = parse_caller(ACTIONS["request"].request_model(), routes.request().raw_body)
    return routes.services().approvals.ask(body)


@routes.route("/requests", methods=["GET"])
@routes.protected()
def list_requests() -> dict:
    query = routes.query()
    return {
        "requests": routes.services().approvals.search(query.get("status"), query.get("username"))
    }


@routes.route("/requests/{request_id}", methods=["GET"])
@routes.protected()
def get_request(request_id: str) -> dict:
    from chalicelib.approvals.rules import view

    return view(routes.services().approvals.get(request_id))


@routes.route("/requests/{request_id}/decision", methods=["POST"], content_types=JSON)
@routes.protected(action="decide")
def decide_request(request_id: str) -> dict:
    from chalicelib.kernel.commands import parse_caller

    body = parse_caller(ACTIONS["decide"].request_model(), routes.request().raw_body)
    return routes.services().approvals.decide(
        request_id, body.decision, body.approver, body.reason, body.ticket
    )


@routes.schedule(Rate(5, unit=Rate.MINUTES))
def expire_requests(event) -> dict:
    return {"expired": routes.services().approvals.expire_due()}


composed()
