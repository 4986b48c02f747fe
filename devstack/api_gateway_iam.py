"""What API Gateway's IAM authorizer does, for the local stack: ``chalice local`` runs none, and
admits every request to a route behind one.

For a route with ``IAMAuthorizer`` (the REST API's routes under ``/iam``), API Gateway checks the
request's Signature Version 4 signature with the caller's credentials, refuses a timestamp more
than five minutes off, checks that the caller's policies allow ``execute-api:Invoke`` on the
method's ARN, and hands the function the caller's ARN in ``requestContext.identity.userArn``
(https://docs.aws.amazon.com/apigateway/latest/developerguide/permissions.html,
https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv.html). Here moto's credentials
and policies stand in for IAM's:

- ``verify`` runs where moto's backends are (in process, or in the moto server, which answers
  ``POST /moto-api/apigateway/verify`` once ``apply()`` registered it);
- ``install(check)`` makes ``chalice local`` (and Chalice's test client) call ``check`` for every
  request to an ``IAMAuthorizer`` route, and answer 403 as API Gateway does when it refuses.

The method ARN is ``arn:aws:execute-api:<region>:<root account>:local/api/<METHOD>/<path>``.
Principals of other accounts are refused: the API has no resource policy to let them in.
"""

from __future__ import annotations

import hmac
import json
import urllib.request
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import Any

ENDPOINT = "/moto-api/apigateway/verify"
API_ID, STAGE = "local", "api"
SKEW = timedelta(minutes=5)


class Refused(Exception):
    """API Gateway's 403, with the message it answers."""


def _between(first: str, second: str, text: str) -> str:
    return text.partition(first)[2].partition(second)[0]


def verify(
    method: str, url: str, headers: dict[str, str], body: bytes, now: datetime | None = None
) -> str:
    """The ARN of the caller who signed this request, or Refused (as API Gateway words it)."""
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from moto.iam.access_control import (
        CreateAccessKeyFailure,
        IAMPolicy,
        PermissionResult,
        create_access_key,
    )
    from moto.iam.models import get_account_id_from

    headers = {k.lower(): v for k, v in headers.items()}
    authorization = headers.get("authorization", "")
    if not authorization.startswith("AWS4-HMAC-SHA256 ") or "x-amz-date" not in headers:
        raise Refused("Missing Authentication Token")
    key_id, _, region, service, *_ = (
        _between("Credential=", ",", authorization).split("/") + [""] * 4
    )
    if service != "execute-api":
        raise Refused(
            f"Credential should be scoped to correct service: 'execute-api', not {service!r}"
        )
    signed = datetime.strptime(headers["x-amz-date"], "%Y%m%dT%H%M%SZ").replace(tzinfo=UTC)
    if abs((now or datetime.now(UTC)) - signed) > SKEW:
        raise Refused("Signature expired")
    account = get_account_id_from(key_id)
    token = (
        {"X-Amz-Security-Token": headers["x-amz-security-token"]}
        if "x-amz-security-token" in headers
        else {}
    )
    try:
        key = create_access_key(account, "aws", key_id, token)
    except CreateAccessKeyFailure:
        raise Refused("The security token included in the request is invalid.") from None
    names = _between("SignedHeaders=", ",", authorization).split(";")
    request = AWSRequest(
        method=method, url=url, data=body, headers={k: headers[k] for k in names if k in headers}
    )
    request.context["timestamp"] = headers["x-amz-date"]
    signer = SigV4Auth(key.create_credentials(), "execute-api", region)
    expected = signer.signature(
        signer.string_to_sign(request, signer.canonical_request(request)), request
    )
    if not hmac.compare_digest(expected, _between("Signature=", ",", authorization) or "-"):
        raise Refused(
            "The request signature we calculated does not match the signature you provided."
        )
    path = url.split("://", 1)[-1].partition("/")[2].partition("?")[0]
    resource = f"arn:aws:execute-api:{region}:{account}:{API_ID}/{STAGE}/{method}/{path}"
    allowed = False
    for policy in key.collect_policies():
        decision = IAMPolicy(policy).is_action_permitted("execute-api:Invoke", resource)
        if decision == PermissionResult.DENIED:
            allowed = False
            break
        allowed = allowed or decision == PermissionResult.PERMITTED
    if not allowed:
        raise Refused(
            f"User: {key.arn} is not authorized to perform: execute-api:Invoke on resource: {resource}"
        )
    return str(key.arn)


def endpoint(request: Any, full_url: str, headers: Any) -> tuple[int, dict, str]:
    """``POST /moto-api/apigateway/verify`` ``{"method", "url", "headers", "body"}``: 200
    ``{"userArn"}`` or 403 ``{"message"}``."""
    try:
        asked = json.loads(request.data or b"{}")
        method, url, sent, body = asked["method"], asked["url"], asked["headers"], asked["body"]
    except (ValueError, KeyError, TypeError) as error:
        return 400, {"Content-Type": "application/json"}, json.dumps({"error": repr(error)})
    try:
        arn = verify(method, url, sent, body.encode("latin-1"))
    except Refused as refused:
        return 403, {"Content-Type": "application/json"}, json.dumps({"message": str(refused)})
    return 200, {"Content-Type": "application/json"}, json.dumps({"userArn": arn})


def apply() -> None:
    """Idempotent: the moto server answers ``ENDPOINT``."""
    from moto.moto_api._internal import urls as moto_api_urls

    moto_api_urls.url_paths.setdefault("{0}" + ENDPOINT, endpoint)


def over_http(aws_endpoint_url: str) -> Callable[[str, str, dict[str, str], bytes], str]:
    """A ``check`` asking the moto server at ``aws_endpoint_url``."""

    def check(method: str, url: str, headers: dict[str, str], body: bytes) -> str:
        sent = json.dumps(
            {"method": method, "url": url, "headers": headers, "body": body.decode("latin-1")}
        )
        request = urllib.request.Request(
            aws_endpoint_url.rstrip("/") + ENDPOINT,
            data=sent.encode(),
            headers={"Content-Type": "application/json"},  # a form's body is no request.data
            method="POST",
        )
        try:
            with urllib.request.urlopen(request, timeout=10) as answer:  # noqa: S310 (loopback)
                return str(json.loads(answer.read())["userArn"])
        except urllib.error.HTTPError as error:
            if error.code == 403:
                raise Refused(json.loads(error.read())["message"]) from None
            raise

    return check


def install(check: Callable[[str, str, dict[str, str], bytes], str]) -> Callable[[], None]:
    """Make ``chalice local`` verify requests to IAMAuthorizer routes with ``check``; returns
    what undoes it."""
    import base64

    from chalice.app import IAMAuthorizer
    from chalice.local import ForbiddenError, LocalGatewayAuthorizer

    original = LocalGatewayAuthorizer.authorize

    def authorize(self: Any, raw_path: str, event: dict, context: Any) -> Any:
        route = self._route_for_event(event)
        if route is None or not isinstance(route.authorizer, IAMAuthorizer):
            return original(self, raw_path, event, context)
        headers = dict(event.get("headers") or {})
        raw = event.get("body") or b""
        body = base64.b64decode(raw) if event.get("isBase64Encoded") else raw
        body = body.encode() if isinstance(body, str) else body
        url = f"http://{headers.get('host', 'localhost')}{raw_path}"
        try:
            arn = check(event["requestContext"]["httpMethod"], url, headers, body)
        except Refused as refused:
            raise ForbiddenError(
                {"x-amzn-ErrorType": "AccessDeniedException"},
                json.dumps({"message": str(refused)}).encode(),
            ) from None
        event["requestContext"]["identity"]["userArn"] = arn
        return event, context

    LocalGatewayAuthorizer.authorize = authorize  # type: ignore[method-assign,assignment]

    def undo() -> None:
        LocalGatewayAuthorizer.authorize = original  # type: ignore[method-assign]

    return undo
