"""The answer to a path or method the API does not have: a JSON 404, or a 405 naming the methods
the path has. Without a route of its own for them, API Gateway answers 403, and with an
Authorization header it echoes the header (the bearer token) back in the body.

The catch-all routes (``/`` and the greedy ``/{proxy+}``, every method) are matched only when no
route of the API matches the request's path and method (API Gateway resolves a request on the
pair of resource and method, the most specific resource first).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from chalice import Response

from chalicelib.edges.http import error_response
from chalicelib.kernel.errors import AppError, NotFound

METHODS = ["GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"]
CATCH_ALL = ("/", "/{proxy+}")


class MethodNotAllowed(AppError):
    status, code, retryable = 405, "MethodNotAllowed", False


def answer(routes: Mapping[str, Mapping[str, Any]], method: str, path: str) -> Response:
    """Why ``method`` on ``path`` has no route: a 405 with the methods of the route the path
    matches, or a 404. Nothing of the request but its method and (shortened) path is echoed."""
    allowed = sorted(
        {m for template, entries in routes.items() if _matches(template, path) for m in entries}
    )
    shown = path if len(path) <= 200 else path[:200] + "…"
    if not allowed:
        return error_response(
            NotFound(f"no route {shown}: the API's routes are in its OpenAPI document")
        )
    refused = error_response(
        MethodNotAllowed(f"{method} is not a method of {shown}; its methods: {', '.join(allowed)}")
    )
    refused.headers["Allow"] = ", ".join(allowed)
    return refused


def _matches(template: str, path: str) -> bool:
    if template in CATCH_ALL:
        return False
    parts, wanted = path.rstrip("/").split("/"), template.split("/")
    return len(parts) == len(wanted) and all(
        want.startswith("{") or want == part for part, want in zip(parts, wanted, strict=True)
    )
