"""The SCIM 2.0 endpoint (RFC 7643, RFC 7644) through which Okta and Microsoft Entra ID provision:
its token, its size limit, the routing of each request to the directory (reads,
chalicelib/scim/directory.py) or to provisioning (changes, chalicelib/scim/provider.py), lists
and searches, and errors as SCIM's. Payloads are parsed, validated, patched, filtered and
serialized by python-scim's scim2-models."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from chalice import Response
from pydantic import ValidationError
from scim2_models import (
    Context,
    Error,
    Group,
    ListResponse,
    PayloadTooLargeException,
    ResourceType,
    ResponseParameters,
    Schema,
    SCIMException,
    SearchRequest,
)

from chalicelib.edges.http import check_bearer
from chalicelib.kernel.errors import AppError, InProgress
from chalicelib.scim import input as scim_input
from chalicelib.scim import protocol as scim_protocol
from chalicelib.scim.directory import Accounts, Directory, Records
from chalicelib.scim.protocol import MAX_RESULTS, SCIM_JSON, ScimError, UserModel
from chalicelib.scim.provider import Change, Provisioning, digest
from chalicelib.settings import Settings

if TYPE_CHECKING:
    from chalice.app import Request

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Ports:
    """What SCIM is given by the composition root."""

    settings: Settings
    token: Callable[[], Any]  # the SCIM bearer token (its secret's value)
    iam: Accounts
    state: Records
    change: Change
    check_user_allowed: Callable[[str], None]


def handle(request: Request, ports: Ports, resource: str, ident: str | None = None) -> Any:
    """One SCIM request: the token, the size, then the resource's method; errors as SCIM's."""
    settings = ports.settings
    try:
        check_bearer(request.headers.get("authorization"), ports.token)
        if len(request.raw_body or b"") > settings.scim_max_body:
            raise PayloadTooLargeException(
                detail=f"the body is larger than {settings.scim_max_body} bytes"
            )
        status, body = Endpoint(ports, request).dispatch(resource, ident)
    except ScimError as error:
        return _error(error.status, error.detail, error.scim_type)
    except SCIMException as error:
        scim = error.to_error()
        return _error(int(scim.status or 400), scim.detail or str(error), scim.scim_type)
    except ValidationError as error:
        return _validation_error(error)
    except InProgress as error:
        return _error(503, error.message, headers={"Retry-After": "5"})
    except AppError as error:
        if error.status >= 500:
            logger.exception("SCIM request failed: %s", error.code)
        scim_type = "invalidValue" if error.status == 400 else None
        return _error(error.status, error.message, scim_type)
    except Exception:
        logger.exception("unexpected error in a SCIM request")
        return _error(500, "internal error; the failure was logged")
    if body is None:
        return Response(body="", status_code=status)
    headers: dict[str, str | list[str]] = {"Content-Type": SCIM_JSON}
    location = (body.get("meta") or {}).get("location")
    if status == 201 and location:  # RFC 7644 §3.3: the created resource's URI
        headers["Location"] = location
    return Response(body=json.dumps(body), status_code=status, headers=headers)


def _error(
    status: int, detail: str, scim_type: str | None = None, headers: dict | None = None
) -> Response:
    body = Error(status=status, scim_type=scim_type, detail=detail).model_dump()
    return Response(
        body=json.dumps(body),
        status_code=status,
        headers={"Content-Type": SCIM_JSON, **(headers or {})},
    )


def _validation_error(error: ValidationError) -> Response:
    """scim2-models reports a SCIM error as ``scim_<scimType>``; pydantic's own kinds (an
    attribute no schema has, a missing or mistyped value) are the body breaking its schema."""
    scim_type, problems = None, []
    for issue in error.errors(include_url=False, include_input=False):
        kind = str(issue["type"])
        if kind.startswith("scim_") and scim_type is None:
            scim_type = kind[5:]
        elif kind in ("extra_forbidden", "missing", "model_type", "list_type") and not scim_type:
            scim_type = "invalidSyntax"
        where = ".".join(str(part) for part in issue["loc"])
        problems.append(f"{where}: {issue['msg']}" if where else str(issue["msg"]))
    return _error(400, "; ".join(problems), scim_type or "invalidValue")


def _identity_provider(request: Request) -> str:
    """Who sends the request, as the audit trail names it: scim:okta, scim:entra or scim:idp."""
    agent = (request.headers.get("user-agent") or "").lower()
    if "okta" in agent:
        return "scim:okta"
    if any(name in agent for name in ("azure", "entra", "microsoft", "aad")):
        return "scim:entra"
    return "scim:idp"


def _fingerprint(request: Request) -> str:
    """The request, named: its method, where it goes and its body (JSON in a canonical form)."""
    raw = request.raw_body or b""
    try:
        canonical = json.dumps(json.loads(raw), sort_keys=True) if raw.strip() else ""
    except (ValueError, UnicodeDecodeError, RecursionError):
        canonical = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
    where = json.dumps(request.uri_params or {}, sort_keys=True)
    return digest(request.method, where, canonical)


class Endpoint:
    """One request: routed to the directory or to provisioning, answered as SCIM answers."""

    def __init__(self, ports: Ports, request: Request) -> None:
        self.settings = ports.settings
        self.request = request
        self.directory = Directory(ports.settings, ports.iam, ports.state)
        self.base = self.directory.base
        self.provisioning = Provisioning(
            ports.settings,
            self.directory,
            ports.change,
            ports.check_user_allowed,
            _fingerprint(request),
            _identity_provider(request),
            self.payload,
        )

    def dispatch(self, resource: str, ident: str | None) -> tuple[int, dict | None]:
        method = self.request.method
        directory, provisioning = self.directory, self.provisioning
        created, replaced, patched = (
            Context.RESOURCE_CREATION_RESPONSE,
            Context.RESOURCE_REPLACEMENT_RESPONSE,
            Context.RESOURCE_PATCH_RESPONSE,
        )
        routes: dict[tuple[str, str, bool], Callable[[], tuple[int, dict | None]]] = {
            ("ServiceProviderConfig", "GET", False): lambda: (
                200,
                scim_protocol.config(self.base, self.settings.scim_token_secret),
            ),
            ("ResourceTypes", "GET", False): lambda: (
                200,
                scim_protocol.listed(ResourceType, scim_protocol.resource_types(self.base)),
            ),
            ("ResourceTypes", "GET", True): lambda: (
                200,
                self.one_of(scim_protocol.resource_types(self.base), ident),
            ),
            ("Schemas", "GET", False): lambda: (
                200,
                scim_protocol.listed(Schema, scim_protocol.schemas(self.base)),
            ),
            ("Schemas", "GET", True): lambda: (
                200,
                self.one_of(scim_protocol.schemas(self.base), ident),
            ),
            (".search", "POST", False): self.search_all,
            ("Users", "GET", False): lambda: (200, self.page(UserModel, directory.user_views())),
            ("Users", "POST", False): lambda: (
                201,
                self.dump(provisioning.create_user(), created),
            ),
            ("Users", "GET", True): lambda: (
                200,
                self.dump(directory.user(directory.find_user(ident))),
            ),
            ("Users", "PUT", True): lambda: (
                200,
                self.dump(provisioning.replace_user(ident), replaced),
            ),
            ("Users", "PATCH", True): lambda: (
                200,
                self.dump(provisioning.patch_user(ident), patched),
            ),
            ("Users", "DELETE", True): lambda: self.emptied(provisioning.delete_user, ident),
            ("Groups", "GET", False): lambda: (200, self.page(Group, directory.groups())),
            ("Groups", "POST", False): lambda: (
                201,
                self.dump(provisioning.create_group(), created),
            ),
            ("Groups", "GET", True): lambda: (
                200,
                self.dump(directory.group(directory.find_group(ident))),
            ),
            ("Groups", "PUT", True): lambda: (
                200,
                self.dump(provisioning.replace_group(ident), replaced),
            ),
            ("Groups", "PATCH", True): lambda: (
                200,
                self.dump(provisioning.patch_group(ident), patched),
            ),
            ("Groups", "DELETE", True): lambda: self.emptied(provisioning.delete_group, ident),
        }
        route = routes.get((resource, method, ident is not None))
        if not any(known == resource for known, _, _ in routes):
            raise ScimError(404, f"{self.base}/{resource} is not a SCIM endpoint of this service")
        if route is None:
            raise ScimError(405, f"{method} is not supported on {resource}")
        return route()

    @staticmethod
    def emptied(delete: Callable[[str | None], None], ident: str | None) -> tuple[int, None]:
        """A DELETE: done, nothing to answer (RFC 7644 §3.6)."""
        delete(ident)
        return 204, None

    def payload(self) -> dict:
        try:
            data = json.loads(self.request.raw_body or b"")
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise ScimError(400, "the body must be a JSON object", "invalidSyntax") from None
        if not isinstance(data, dict):
            raise ScimError(400, "the body must be a JSON object", "invalidSyntax")
        return data

    # discovery
    def one_of(self, items: list[Any], ident: str | None) -> dict:
        for item in items:
            if item.id == ident:
                return dict(item.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))
        raise ScimError(404, f"no {self.request.context.get('resourcePath', '')} named {ident}")

    # answers, lists and searches
    def dump(self, resource: Any, context: Context = Context.RESOURCE_QUERY_RESPONSE) -> dict:
        return dict(resource.model_dump(scim_ctx=context, response_parameters=self.parameters()))

    def parameters(self) -> Any:
        """``attributes`` and ``excludedAttributes`` of the query: what an answer carries."""
        query: dict[str, str] = dict(self.request.query_params or {})
        return ResponseParameters.model_validate(
            {k: query[k] for k in ("attributes", "excludedAttributes") if k in query}
        )

    def search(self, model: Any) -> Any:
        names = ("attributes", "excludedAttributes", "filter", "startIndex", "count")
        query: dict[str, Any] = {
            k: v for k, v in (self.request.query_params or {}).items() if k in names
        }
        scim_input.check_filter(query.get("filter"))
        for name in ("startIndex", "count"):
            if name in query:
                try:
                    query[name] = int(query[name])
                except ValueError:
                    raise ScimError(400, f"{name} must be a whole number", "invalidValue") from None
        return SearchRequest[model].model_validate(query)

    def page(self, model: Any, resources: list[Any], search: Any = None) -> dict:
        """One page of ``resources`` (in their order) that match the search: the query's, or
        the body's of a POST /.search."""
        search = search or self.search(model)
        if search.filter:
            resources = [r for r in resources if search.filter.match(r)]
        start = max(search.start_index or 1, 1)
        count = MAX_RESULTS if search.count is None else min(max(search.count, 0), MAX_RESULTS)
        shown = resources[start - 1 : start - 1 + count]
        answer = ListResponse[model](
            total_results=len(resources),
            start_index=start,
            items_per_page=len(shown),
            resources=shown,  # empty for count=0: RFC 7644 §3.4.2 requires it when any match
        )
        return dict(answer.model_dump(scim_ctx=Context.SEARCH_RESPONSE, response_parameters=search))

    def search_all(self) -> tuple[int, dict]:
        """POST /.search (RFC 7644 §3.4.3): a SearchRequest over users and groups together."""
        model = UserModel | Group
        payload = self.payload()
        scim_input.check_filter(payload.get("filter"))
        search = SearchRequest[model].model_validate(payload)
        resources = [*self.directory.user_views(), *self.directory.groups()]
        return 200, self.page(model, resources, search)
