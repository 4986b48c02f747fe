"""The REST edge: who calls (chalicelib/edges/clients.py) and the one mapping of the app's errors
to HTTP."""

from __future__ import annotations

import functools
import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

from chalice import IAMAuthorizer, Response

from chalicelib.edges.clients import IAM_PREFIX, Client, Gate
from chalicelib.kernel import caller
from chalicelib.kernel.catalogue import ACTIONS
from chalicelib.kernel.errors import AppError, Unauthorized

logger = logging.getLogger(__name__)


def error_response(error: AppError) -> Response:
    return Response(
        body={"Code": error.code, "Message": error.message},
        status_code=error.status,
        headers={"Content-Type": "application/json"},
    )


def check_bearer(authorization: str | None, expected: Callable[[], str]) -> None:
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("send Authorization: Bearer <token>")
    if not hmac.compare_digest(token.strip().encode(), expected().encode()):
        raise Unauthorized("the bearer token is not valid")


def rest(
    app: Any,
    *,
    status: int = 200,
    public: bool = False,
    gate: Callable[[], Gate] | None = None,
    action: str | tuple[str, ...] = (),
) -> Callable:
    """Wrap a route: find its client unless ``public`` (403 unless the client holds ``action``,
    or each of several), run it on that client's behalf, map errors, answer JSON with
    ``status``."""

    if not public and gate is None:
        raise ValueError("a route that is not public needs the gate that finds its client")
    needed = (action,) if isinstance(action, str) else action
    for name in needed:
        if name not in ACTIONS:
            raise ValueError(f"{name} is not an action of the catalogue")

    def decorate(handler: Callable[..., Any]) -> Callable[..., Response]:
        @functools.wraps(handler)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            headers: dict[str, str] = {}
            try:
                if public or gate is None:
                    result = handler(*args, **kwargs)
                else:
                    client = _client(app, gate())
                    if client.deprecated:
                        headers = _deprecated(gate().deprecation())
                    for name in needed:
                        client.allow(name)
                    with caller.acting_for(client.name):
                        result = handler(*args, **kwargs)
            except AppError as error:
                if error.status >= 500:
                    logger.exception("request failed: %s", error.code)
                return _with(error_response(error), headers)
            except Exception:
                logger.exception("unexpected error")
                return _with(
                    error_response(AppError("internal error; the failure was logged")), headers
                )
            if isinstance(result, Response):
                return _with(result, headers)
            planned = isinstance(result, dict) and result.get("dry_run") is True  # nothing created
            return Response(
                body=json.dumps(result),
                status_code=200 if planned else status,
                headers={"Content-Type": "application/json", **headers},
            )

        wrapper.protected = not public  # type: ignore[attr-defined]
        wrapper.actions = needed  # type: ignore[attr-defined]
        return wrapper

    return decorate


def _client(app: Any, gate: Gate) -> Client:
    """The request's client: by the IAM principal on a route behind API Gateway's IAM
    authorizer (the only place API Gateway vouches for it), by the bearer token elsewhere."""
    request = app.current_request
    route = app.routes.get(request.context.get("resourcePath"), {}).get(request.method)
    if route is not None and isinstance(route.authorizer, IAMAuthorizer):
        return gate.by_principal((request.context.get("identity") or {}).get("userArn"))
    return gate.by_bearer(request.headers.get("authorization"))


def _deprecated(warning: str) -> dict[str, str]:
    # RFC 9745's Deprecation header, and a Warning a person reading the answer can act on.
    return {"Deprecation": "true", "Warning": f'299 - "{warning}"'}


def _with(response: Response, headers: dict[str, str]) -> Response:
    response.headers = {**(response.headers or {}), **headers}
    return response


def iam_routes(app: Any) -> None:
    """Every protected route again under ``IAM_PREFIX``, behind API Gateway's IAM authorizer
    (a route has one authorizer: the bearer-token routes stay as they are). Called once, after
    every route is declared."""
    authorizer = IAMAuthorizer()
    for path, entries in list(app.routes.items()):
        for method, entry in entries.items():
            if getattr(entry.view_function, "protected", False):
                app.route(
                    f"{IAM_PREFIX}{path}",
                    methods=[method],
                    authorizer=authorizer,
                    content_types=entry.content_types,
                    name=f"{entry.view_name}_iam",
                )(entry.view_function)
