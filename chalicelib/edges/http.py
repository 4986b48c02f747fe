"""The REST edge: who calls (chalicelib/edges/clients.py), the one mapping of the app's errors
to HTTP, and ``Routes``, the Chalice Blueprint a capability declares its routes and schedules on
(``<capability>/routes.py``), which app.py registers."""

from __future__ import annotations

import functools
import hmac
import importlib
import json
import logging
import sys
from collections.abc import Callable, Mapping
from typing import Any

from chalice import Blueprint, IAMAuthorizer, Response
from chalice.app import Request

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
    routes = (app.current_app if isinstance(app, Blueprint) else app).routes
    route = routes.get(request.context.get("resourcePath"), {}).get(request.method)
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


class Routes(Blueprint):
    """A capability's routes and schedules: a Chalice Blueprint whose handlers reach the app's
    services as the composition root built them (given when app.py registers it)."""

    def __init__(self, import_name: str) -> None:
        super().__init__(import_name)
        self._services: Callable[[], Any] | None = None

    def services(self) -> Any:
        if self._services is None:
            raise RuntimeError(f"{self._import_name} is not registered to the app")
        return self._services()

    def public(self, **options: Any) -> Callable:
        return rest(self, public=True, **options)

    def protected(self, **options: Any) -> Callable:
        """A route for the named API clients; a change names its action, which the client must
        hold."""
        return rest(self, gate=lambda: self.services().api_clients, **options)

    def request(self) -> Request:
        """The request being handled (Chalice sets it before any route runs)."""
        return self.current_request

    def query(self) -> Mapping[str, str]:
        return self.request().query_params or {}


def register(app: Any, services: Callable[[], Any], *blueprints: Routes) -> None:
    """Register each capability's ``Routes`` with the app, after its middleware (a blueprint's
    schedules take the middleware the app has when it is registered)."""
    for blueprint in blueprints:
        blueprint._services = services
        app.register_blueprint(blueprint)


def composed() -> None:
    """Called at the end of a module of ``Routes``. A schedule declared on a Blueprint is deployed
    with the Blueprint's module as its Lambda handler, so a cold start imports that module and
    never app.py (aws/chalice#1566): the app's middleware and services would be missing. Importing
    app.py here registers the Blueprint, as any other entry does."""
    if "app" not in sys.modules:
        importlib.import_module("app")
