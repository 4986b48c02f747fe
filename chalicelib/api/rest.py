"""The REST edge: the bearer token check and the one mapping of the app's errors to HTTP."""

from __future__ import annotations

import functools
import hmac
import json
import logging
from collections.abc import Callable
from typing import Any

from chalice import Response

from chalicelib.errors import AppError, Unauthorized

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
    app: Any, *, status: int = 200, public: bool = False, token: Callable[[], str] | None = None
) -> Callable:
    """Wrap a route: check the token unless ``public``, map errors, answer JSON with ``status``."""

    if not public and token is None:
        raise ValueError("a route that is not public needs the token to check")

    def decorate(handler: Callable[..., Any]) -> Callable[..., Response]:
        @functools.wraps(handler)
        def wrapper(*args: Any, **kwargs: Any) -> Response:
            try:
                if token is not None and not public:
                    check_bearer(app.current_request.headers.get("authorization"), token)
                result = handler(*args, **kwargs)
            except AppError as error:
                if error.status >= 500:
                    logger.exception("request failed: %s", error.code)
                return error_response(error)
            except Exception:
                logger.exception("unexpected error")
                return error_response(AppError("internal error; the failure was logged"))
            if isinstance(result, Response):
                return result
            planned = isinstance(result, dict) and result.get("dry_run") is True  # nothing created
            return Response(
                body=json.dumps(result),
                status_code=200 if planned else status,
                headers={"Content-Type": "application/json"},
            )

        return wrapper

    return decorate
