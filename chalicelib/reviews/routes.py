"""Access reviews over REST: campaigns of who holds what, decided by the groups' owners in Slack
(or here, by a ticketing workflow naming the reviewer), with the evidence an auditor asks for;
and the daily schedule (the quarterly campaign, reminders, the close of campaigns past due)."""

from __future__ import annotations

from chalice import Rate, Response

from chalicelib.edges.http import Routes, composed
from chalicelib.kernel.catalogue import ACTIONS

routes = Routes(__name__)
JSON = ["application/json"]


@routes.route("/reviews", methods=["POST"], content_types=JSON)
@routes.protected(action="review", status=ACTIONS["review"].status)
def create_review() -> dict:
    from chalicelib.kernel.commands import parse_caller

    body = parse_caller(ACTIONS["review"].request_model(), routes.request().raw_body)
    return routes.services().reviews.start(body)


@routes.route("/reviews", methods=["GET"])
@routes.protected()
def list_reviews() -> dict:
    return {"reviews": routes.services().reviews.search(routes.query().get("status"))}


@routes.route("/reviews/{review_id}", methods=["GET"])
@routes.protected()
def get_review(review_id: str) -> dict:
    return routes.services().reviews.get(review_id)


@routes.route("/reviews/{review_id}/items/{item_id}/decision", methods=["POST"], content_types=JSON)
@routes.protected(action="review_decide")
def decide_review_item(review_id: str, item_id: str) -> dict:
    from chalicelib.kernel.commands import parse_caller

    body = parse_caller(ACTIONS["review_decide"].request_model(), routes.request().raw_body)
    return routes.services().reviews.decide(
        review_id, item_id, body.decision, body.reviewer, body.ticket
    )


@routes.route("/reviews/{review_id}/items/{item_id}/removed", methods=["POST"], content_types=JSON)
@routes.protected(action="review_decide")  # recording a decided revoke carried out by hand
def record_review_removal(review_id: str, item_id: str) -> dict:
    from chalicelib.kernel.commands import parse_caller
    from chalicelib.reviews.commands import ReviewRemovedRequest

    body = parse_caller(ReviewRemovedRequest, routes.request().raw_body)
    return routes.services().reviews.record_removed(review_id, item_id, body.operator, body.ticket)


@routes.route("/reviews/{review_id}/close", methods=["POST"], content_types=JSON)
@routes.protected(action="review_close")
def close_review(review_id: str) -> dict:
    from chalicelib.kernel.commands import parse_caller

    body = parse_caller(ACTIONS["review_close"].request_model(), routes.request().raw_body)
    return routes.services().reviews.close(review_id, body.requested_by)


@routes.route("/reviews/{review_id}/evidence", methods=["GET"])
@routes.protected()
def review_evidence(review_id: str):
    from chalicelib.reviews import evidence

    query = routes.query()
    form = query.get("format") or "json"
    if form not in ("json", "csv", "html"):
        from chalicelib.kernel.errors import BadRequest

        raise BadRequest("format must be json, csv or html")
    found = routes.services().reviews.evidence(review_id, rerun=query.get("rerun") == "true")
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


# The quarterly campaign (REVIEW_QUARTERLY), reminders before due dates (REVIEW_REMINDER_DAYS),
# and the close of campaigns past their due date.
@routes.schedule(Rate(1, unit=Rate.DAYS))
def access_reviews(event) -> dict:
    return routes.services().reviews.run()


composed()
