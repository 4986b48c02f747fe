"""Credential hygiene over REST (the findings, an exemption) and its daily schedule."""

from __future__ import annotations

from chalice import Rate, Response

from chalicelib.edges.http import Routes, composed
from chalicelib.hygiene import rules

routes = Routes(__name__)
JSON = ["application/json"]


@routes.route("/hygiene", methods=["GET"])
@routes.protected()
def hygiene_findings():
    findings = routes.services().hygiene.findings(routes.query().get("username") or None)
    if routes.query().get("format") == "csv":
        from chalicelib.hygiene.rules import as_csv

        return Response(
            body=as_csv(findings), status_code=200, headers={"Content-Type": "text/csv"}
        )
    return {"findings": findings}


@routes.route("/users/{username}/hygiene-exemption", methods=["PUT"], content_types=JSON)
# An exemption holds back the hygiene actions: the client must hold them all.
@routes.protected(action=rules.ACTIONS)
def exempt_from_hygiene(username: str) -> dict:
    from chalicelib.hygiene.commands import ExemptionRequest
    from chalicelib.kernel.commands import parse_caller

    request = parse_caller(ExemptionRequest, routes.request().raw_body)
    return routes.services().hygiene.exempt(username, request)


# Notices, reminders, then the actions due. An event whose detail says {"dry_run": true} (the
# local stack's `fire hygiene --dry-run`) plans instead.
@routes.schedule(Rate(1, unit=Rate.DAYS))
def credential_hygiene(event) -> dict:
    return routes.services().hygiene.run(
        dry_run=(event.to_dict().get("detail") or {}).get("dry_run") is True
    )


composed()
