"""Adoption over REST: adopt one user (or plan it), a batch of adoptions, release one user."""

from __future__ import annotations

from chalice import Response

from chalicelib.edges.http import Routes, composed

routes = Routes(__name__)
JSON = ["application/json"]


@routes.route("/users/{username}/adopt", methods=["POST"], content_types=JSON)
@routes.protected(action="adopt")
def adopt_user(username: str) -> dict:
    from chalicelib.adoption.commands import AdoptRequest
    from chalicelib.kernel.commands import parse_caller

    request = parse_caller(AdoptRequest, routes.request().raw_body)
    return routes.services().adoption.adopt(username, request)


@routes.route("/users/{username}/release", methods=["POST"], content_types=JSON)
@routes.protected(action="release")
def release_user(username: str) -> dict:
    from chalicelib.adoption.commands import ReleaseRequest
    from chalicelib.kernel.commands import parse_caller

    request = parse_caller(ReleaseRequest, routes.request().raw_body)
    return routes.services().operations.change("release", username, request)


@routes.route("/adoptions", methods=["POST"], content_types=JSON)
@routes.protected(action="adopt")
def adopt_users() -> Response:
    import json

    from chalicelib.adoption.commands import BatchAdoptRequest
    from chalicelib.kernel.commands import parse_caller

    request = parse_caller(BatchAdoptRequest, routes.request().raw_body)
    status, answer = routes.services().adoption.batch(request)
    return Response(
        body=json.dumps(answer), status_code=status, headers={"Content-Type": "application/json"}
    )


composed()
