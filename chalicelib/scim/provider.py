"""The SCIM 2.0 edge (RFC 7643, RFC 7644) through which Okta and Microsoft Entra ID provision.

Payloads are parsed, validated, patched, filtered and serialized by python-scim's scim2-models;
this module only maps them onto the service. A SCIM User is a managed IAM user (``id`` = IAM's
UserId, ``userName`` = the user name, ``externalId`` and the work email kept as the user's tags
``external_id`` and ``email``, ``active`` = not suspended); a SCIM Group is one of the managed
groups (``id`` = ``displayName`` = the group name, its members the managed users in it).

Every change goes through the change runner as the REST API's do: create = onboard,
``active`` false = suspend, ``active`` true = restore (of a suspension the IdP made), DELETE =
offboard, membership = move, externalId and emails = set_profile. The ticket of each change is
``scim:<digest of the request, the action and the user>:<digest of the user's last ticket>``:
an IdP that sends the same request again (it never got the answer) lands on the ticket of the
first attempt, which the runner replays or finishes, while the same request sent later, after
other changes, is a new change. Each change is also skipped when the user is already as asked.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from typing import TYPE_CHECKING, Any

from chalice import Response
from pydantic import TypeAdapter, ValidationError
from scim2_models import (
    Context,
    Email,
    Error,
    Group,
    GroupMember,
    GroupMembership,
    ListResponse,
    Meta,
    PatchOp,
    PayloadTooLargeException,
    ResourceType,
    ResponseParameters,
    Schema,
    SCIMException,
    SearchRequest,
)

from chalicelib.edges.http import check_bearer
from chalicelib.kernel.errors import AppError, BadRequest, Conflict, InProgress
from chalicelib.kernel.identity import PERSON, check_username, key
from chalicelib.lifecycle.rules import unavailable
from chalicelib.scim import input as scim_input
from chalicelib.scim import protocol as scim_protocol
from chalicelib.scim.protocol import (
    MAX_RESULTS,
    SCIM_JSON,
    LifecycleUser,
    ScimError,
    UserModel,
)

if TYPE_CHECKING:
    from chalice.app import Request

    from chalicelib.bootstrap import Services

logger = logging.getLogger(__name__)

_SUSPENDED = ("suspending", "suspended", "restoring")
_DEACTIVATED = "deactivated in the identity provider"


def handle(request: Request, services: Services, resource: str, ident: str | None = None) -> Any:
    """One SCIM request: the token, the size, then the resource's method; errors as SCIM's."""
    try:
        check_bearer(
            request.headers.get("authorization"),
            lambda: services.secrets.get(services.settings.scim_token_secret),
        )
        if len(request.raw_body or b"") > services.settings.scim_max_body:
            raise PayloadTooLargeException(
                detail=f"the body is larger than {services.settings.scim_max_body} bytes"
            )
        status, body = Scim(services, request).dispatch(resource, ident)
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


def _digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


class Scim:
    """One request's view of the service."""

    def __init__(self, services: Services, request: Request) -> None:
        self.services = services
        self.settings = services.settings
        self.request = request
        # Where answers say resources are: the stage's setting, never the request's Host header.
        self.base = self.settings.scim_base_url or "/scim/v2"
        agent = (request.headers.get("user-agent") or "").lower()
        idp = (
            "okta"
            if "okta" in agent
            else "entra"
            if any(name in agent for name in ("azure", "entra", "microsoft", "aad"))
            else "idp"
        )
        self.requested_by = f"scim:{idp}"
        raw = request.raw_body or b""
        try:
            canonical = json.dumps(json.loads(raw), sort_keys=True) if raw.strip() else ""
        except (ValueError, UnicodeDecodeError, RecursionError):
            canonical = raw.decode("utf-8", "replace") if isinstance(raw, bytes) else raw
        where = json.dumps(request.uri_params or {}, sort_keys=True)
        self.fingerprint = _digest(request.method, where, canonical)

    # routing
    def dispatch(self, resource: str, ident: str | None) -> tuple[int, dict | None]:
        method = self.request.method
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
            ("Users", "GET", False): self.list_users,
            ("Users", "POST", False): self.create_user,
            ("Users", "GET", True): lambda: (200, self.dump(self.user(self.find_user(ident)))),
            ("Users", "PUT", True): lambda: self.replace_user(ident),
            ("Users", "PATCH", True): lambda: self.patch_user(ident),
            ("Users", "DELETE", True): lambda: self.delete_user(ident),
            ("Groups", "GET", False): self.list_groups,
            ("Groups", "POST", False): self.create_group,
            ("Groups", "GET", True): lambda: (200, self.dump(self.group(self.find_group(ident)))),
            ("Groups", "PUT", True): lambda: self.replace_group(ident),
            ("Groups", "PATCH", True): lambda: self.patch_group(ident),
            ("Groups", "DELETE", True): lambda: self.delete_group(ident),
        }
        route = routes.get((resource, method, ident is not None))
        if not any(known == resource for known, _, _ in routes):
            raise ScimError(404, f"{self.base}/{resource} is not a SCIM endpoint of this service")
        if route is None:
            raise ScimError(405, f"{method} is not supported on {resource}")
        return route()

    # discovery
    def one_of(self, items: list[Any], ident: str | None) -> dict:
        for item in items:
            if item.id == ident:
                return dict(item.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE))
        raise ScimError(404, f"no {self.request.context.get('resourcePath', '')} named {ident}")

    # reading
    def _managed(self, user: dict) -> bool:
        return (
            user["path"] == self.settings.managed_path
            and key(user["username"]) not in self.settings.protected_users
        )

    def users(self) -> list[dict]:
        return [u for u in self.services.lifecycle.iam.users() if self._managed(u)]

    def find_user(self, ident: str | None) -> dict:
        """The managed user whose IAM UserId is ``ident``, with its record."""
        for user in self.users():
            if user["id"] == ident:
                return {**user, "record": self.services.state.get_record(user["username"])}
        raise ScimError(404, f"no managed user has the id {ident}")

    def find_by_name(self, name: str) -> dict | None:
        lifecycle = self.services.lifecycle
        user = lifecycle.iam.get_user(name)
        if user is None:
            return None
        groups = lifecycle.iam.groups_of(user["username"]) if self._managed(user) else []
        return {**user, "groups": groups, "record": self.services.state.get_record(name)}

    def user(self, user: dict) -> Any:
        tags = user.get("tags", {})
        record = user.get("record") or {}
        groups = [g for g in user.get("groups", []) if g in self.settings.allowed_groups]
        view = UserModel(
            id=user["id"],
            user_name=user["username"],
            external_id=tags.get("external_id"),
            active=record.get("status", "active") not in (*_SUSPENDED, "offboarding"),
            emails=(
                [Email(value=tags["email"], type=Email.Type.work, primary=True)]
                if tags.get("email")
                else None
            ),
            groups=[
                GroupMembership.model_validate(
                    {"value": g, "display": g, "$ref": f"{self.base}/Groups/{g}"}
                )
                for g in sorted(groups)
            ]
            or None,
            meta=Meta(
                resource_type="User",
                created=user["created"],
                last_modified=record.get("at") or user["created"],
                location=f"{self.base}/Users/{user['id']}",
            ),
        )
        if tags.get("slack_user"):
            view[LifecycleUser] = LifecycleUser(slack_user_id=tags["slack_user"])
        return view

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

    def user_views(self) -> list[Any]:
        records = {key(r["username"]): r for r in self.services.state.records()}
        users = sorted(self.users(), key=lambda u: (key(u["username"]), u["id"]))
        return [self.user({**u, "record": records.get(key(u["username"]))}) for u in users]

    def list_users(self) -> tuple[int, dict]:
        return 200, self.page(UserModel, self.user_views())

    def search_all(self) -> tuple[int, dict]:
        """POST /.search (RFC 7644 §3.4.3): a SearchRequest over users and groups together."""
        model = UserModel | Group
        payload = self._payload()
        scim_input.check_filter(payload.get("filter"))
        search = SearchRequest[model].model_validate(payload)
        return 200, self.page(model, [*self.user_views(), *self.groups()], search)

    # changing users
    def ticket(self, action: str, username: str, record: dict | None) -> str:
        """This request's ticket for ``action`` on ``username``: the one of the user's last change
        when that change was this very request (a retry), else a new one."""
        own = f"scim:{_digest(self.fingerprint, action, key(username))[:24]}"
        last = str((record or {}).get("ticket") or "")
        if last.startswith(f"{own}:"):
            return last
        return f"{own}:{_digest(last)[:8]}"

    def change(self, action: str, target: str, record: dict | None, **fields: Any) -> dict:
        from chalicelib.edges.schemas import parse
        from chalicelib.kernel.catalogue import ACTIONS

        body = {"ticket": self.ticket(action, target, record), "requested_by": self.requested_by}
        request = parse(ACTIONS[action].request_model(), json.dumps({**body, **fields}))
        answer = self.services.operations.change(action, target, request)
        answer.pop("temporary_password", None)  # never over SCIM
        return answer

    def _payload(self) -> dict:
        try:
            data = json.loads(self.request.raw_body or b"")
        except (ValueError, UnicodeDecodeError, RecursionError):
            raise ScimError(400, "the body must be a JSON object", "invalidSyntax") from None
        if not isinstance(data, dict):
            raise ScimError(400, "the body must be a JSON object", "invalidSyntax")
        return data

    def create_user(self) -> tuple[int, dict]:
        wanted = scim_input.user_body(UserModel, self._payload(), Context.RESOURCE_CREATION_REQUEST)
        name = str(wanted.user_name)
        check_username(name)
        self.services.lifecycle.check_user_allowed(name)
        existing = self.find_by_name(name)  # IAM finds a name in any case
        record = (existing or {}).get("record")
        ticket = self.ticket("onboard", name, record)
        if existing is not None and not self._resumable(existing, ticket):
            # RFC 7644 §3.3: a second create of the same userName, in any case, changes nothing.
            raise ScimError(409, unavailable(name).message, "uniqueness")
        fields: dict[str, Any] = {
            "username": name,
            "groups": [],
            "console": self.settings.scim_console,
            "email": _email(wanted),
            "external_id": wanted.external_id,
            "slack_user": _slack_user(wanted) or None,
        }
        try:
            self.change(
                "onboard", name, record, **{k: v for k, v in fields.items() if v is not None}
            )
        except InProgress:
            raise
        except Conflict as error:  # another spelling, or a user outside what the service manages
            raise ScimError(409, error.message, "uniqueness") from None
        user = self.find_by_name(name)
        assert user is not None
        if wanted.active is False:
            self.converge(user, active=False)
            user = self.find_by_name(name) or user
        return 201, self.dump(self.user(user), Context.RESOURCE_CREATION_RESPONSE)

    def _resumable(self, existing: dict, ticket: str) -> bool:
        """Whether ``existing`` is this very create's user, left halfway (the IdP got no
        answer and sends it again): the runner then finishes it. Once its onboarding is done,
        the same create again is a duplicate like any other."""
        record = existing.get("record") or {}
        if not self._managed(existing):
            return False
        if ticket not in (record.get("ticket"), existing["tags"].get("ticket")):
            return False
        events = self.services.state.audit_events(ticket=ticket)
        return not any(e["action"] == "onboard" and e["result"] == "ok" for e in events)

    def replace_user(self, ident: str | None) -> tuple[int, dict]:
        current = self.find_user(ident)
        payload = self._payload()
        wanted = scim_input.user_body(UserModel, payload, Context.RESOURCE_REPLACEMENT_REQUEST)
        # A replacement without this service's extension leaves the Slack link as it is: it
        # may have been made through REST or Slack, by an IdP that does not map it.
        slack: str | None | bool = _slack_user(wanted) if _names_extension(payload) else False
        return self._apply(current, wanted, Context.RESOURCE_REPLACEMENT_RESPONSE, slack)

    def patch_user(self, ident: str | None) -> tuple[int, dict]:
        current = self.find_user(ident)
        wanted = self.user(current)
        scim_input.patch_user(UserModel, self._payload(), wanted)
        return self._apply(current, wanted, Context.RESOURCE_PATCH_RESPONSE, _slack_user(wanted))

    def _apply(
        self, current: dict, wanted: Any, context: Context, slack: str | None | bool
    ) -> tuple[int, dict]:
        if wanted.user_name is not None and key(str(wanted.user_name)) != key(current["username"]):
            if wanted.active is not False:
                raise ScimError(
                    400,
                    f"userName cannot change ({current['username']} to {wanted.user_name}): an "
                    "IAM user is not renamed here; offboard the old name and create the new one",
                    "mutability",
                )
            logger.warning("SCIM deactivation: left out a userName change")
        self.converge(
            current,
            external_id=wanted.external_id,
            email=_email(wanted),
            active=wanted.active,
            slack_user=slack,
        )
        user = self.find_user(current["id"])
        return 200, self.dump(self.user(user), context)

    def converge(
        self,
        user: dict,
        *,
        active: bool | None = None,
        external_id: str | None | bool = False,
        email: str | None | bool = False,
        slack_user: str | None | bool = False,
    ) -> None:
        """Make the user as asked, each change once and only if needed (False: not asked).
        A deactivation goes first, and nothing else asked beside it can stop it."""
        if active is False:
            self._activity(user, active)
            try:
                self._profile(user, external_id, email, slack_user)
            except BadRequest as error:
                logger.warning("SCIM deactivation: left out a profile change: %s", error.code)
            return
        self._profile(user, external_id, email, slack_user)
        if active is True:
            self._activity(user, True)

    def _profile(
        self, user: dict, external_id: Any, email: Any, slack_user: str | None | bool
    ) -> None:
        tags = user.get("tags", {})
        profile: dict[str, Any] = {}
        if external_id is not False and email is not False:
            if (external_id, email) != (tags.get("external_id"), tags.get("email")):
                profile.update(external_id=external_id, email=email)
        if slack_user is not False and (slack_user or "") != tags.get("slack_user", ""):
            profile["slack_user"] = slack_user or ""
        if profile:
            kept = {"external_id": tags.get("external_id"), "email": tags.get("email")}
            self.change("set_profile", user["username"], user.get("record"), **{**kept, **profile})

    def _activity(self, user: dict, active: bool) -> None:
        name, record = user["username"], user.get("record")
        status = (record or {}).get("status", "active")
        last = str((record or {}).get("ticket", ""))

        def again(action: str) -> bool:
            """The user's last change was this very request: it may have stopped halfway (the
            record already says where it was going), so it runs again and finishes."""
            return self.ticket(action, name, record) == last

        if active is False and (status in ("active", "suspending") or again("suspend")):
            self.change("suspend", name, record, reason=_DEACTIVATED)
        elif active is True and (
            # Only a suspension the identity provider made is its to undo: one a person made
            # through REST or Slack stays until they restore it.
            (status in ("suspended", "restoring") and last.startswith("scim:")) or again("restore")
        ):
            self.change("restore", name, record)

    def delete_user(self, ident: str | None) -> tuple[int, None]:
        try:
            user = self.find_user(ident)
        except ScimError:
            # The identity provider's retry of a delete whose process died after IAM deleted
            # the user: a 404 would count it done while the record, the audit and the event
            # are not. The person's record still names them: it is finished.
            stopped = self._offboarding(ident)
            if stopped is None:
                raise
            self.change("offboard", stopped["username"], stopped)
            return 204, None
        self.change("offboard", user["username"], user.get("record"))
        return 204, None

    def _offboarding(self, ident: str | None) -> dict | None:
        """The record of the person IAM knew as ``ident`` whose offboarding has not finished."""
        for record in self.services.state.records():
            if ident and record.get(PERSON) == ident and record.get("status") == "offboarding":
                return record
        return None

    # groups: those SCIM_GROUPS names, never one whose access is time-bound or approved
    def groups(self) -> list[Any]:
        account = self.services.lifecycle.iam.account(self.settings.allowed_groups)
        users = [u for u in account["users"] if self._managed(u)]
        return [
            self.group({"name": name, "members": [u for u in users if name in u["groups"]]})
            for name in sorted(self.settings.scim_groups)
            if name in account["access"]
        ]

    def not_assigned(self, name: str) -> ScimError:
        """The refusal of a managed group that SCIM does not assign, saying why."""
        settings = self.settings
        if name in settings.approval_policies:
            why = (
                "it has an approval policy: its access is asked for and approved, for a time, "
                "never pushed by an identity provider"
            )
        elif name in settings.grant_max_hours:
            why = "its access is time-bound (GRANT_MAX_HOURS): it is granted for hours"
        else:
            why = "the stage setting SCIM_GROUPS does not name it"
        assigned = ", ".join(settings.scim_groups) or "none"
        return ScimError(403, f"{name} is not assigned over SCIM: {why}. SCIM assigns: {assigned}")

    def find_group(self, ident: str | None) -> dict:
        if ident not in self.settings.allowed_groups:
            raise ScimError(404, f"no managed group named {ident}")
        if ident not in self.settings.scim_groups:
            raise self.not_assigned(str(ident))
        users = self.users()
        if not self.services.lifecycle.iam.group_access((str(ident),)):
            raise ScimError(404, f"group {ident} does not exist in the root account")
        return {"name": ident, "members": [u for u in users if ident in u["groups"]], "all": users}

    def group(self, group: dict) -> Any:
        name = group["name"]
        return Group(
            id=name,
            display_name=name,
            members=[
                GroupMember.model_validate(
                    {
                        "value": u["id"],
                        "display": u["username"],
                        "type": "User",
                        "$ref": f"{self.base}/Users/{u['id']}",
                    }
                )
                for u in sorted(group["members"], key=lambda u: key(u["username"]))
            ]
            or None,
            meta=Meta(resource_type="Group", location=f"{self.base}/Groups/{name}"),
        )

    def list_groups(self) -> tuple[int, dict]:
        return 200, self.page(Group, self.groups())

    def create_group(self) -> tuple[int, dict]:
        wanted = Group.model_validate(
            scim_input.known_only(self._payload(), scim_protocol.GROUP_SCHEMAS),
            scim_ctx=Context.RESOURCE_CREATION_REQUEST,
        )
        name = str(wanted.display_name)
        if name not in self.settings.allowed_groups:
            raise ScimError(
                403,
                f"{name} is not a group this service manages; groups are created by "
                f"CloudFormation, and these can be linked: {', '.join(self.settings.scim_groups)}",
            )
        group = self.find_group(name)
        if wanted.members is not None:
            group = self.set_members(group, [m.value for m in wanted.members])
        return 201, self.dump(self.group(group), Context.RESOURCE_CREATION_RESPONSE)

    def replace_group(self, ident: str | None) -> tuple[int, dict]:
        group = self.find_group(ident)
        wanted = Group.model_validate(
            scim_input.known_only(self._payload(), scim_protocol.GROUP_SCHEMAS),
            scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST,
        )
        self._same_name(group, wanted)
        group = self.set_members(group, [m.value for m in wanted.members or []])
        return 200, self.dump(self.group(group), Context.RESOURCE_REPLACEMENT_RESPONSE)

    def patch_group(self, ident: str | None) -> tuple[int, dict]:
        group = self.find_group(ident)
        patch = PatchOp[Group].model_validate(
            _removals_by_value(self._payload()), scim_ctx=Context.RESOURCE_PATCH_REQUEST
        )
        wanted = self.group(group)
        patch.patch(wanted)
        self._same_name(group, wanted)
        group = self.set_members(group, [m.value for m in wanted.members or []])
        return 200, self.dump(self.group(group), Context.RESOURCE_PATCH_RESPONSE)

    def delete_group(self, ident: str | None) -> tuple[int, None]:
        """The group is CloudFormation's and stays: the IdP no longer gives it to anyone, so
        its managed members leave it (unlinked)."""
        self.set_members(self.find_group(ident), [])
        return 204, None

    @staticmethod
    def _same_name(group: dict, wanted: Any) -> None:
        if wanted.display_name is not None and wanted.display_name != group["name"]:
            raise ScimError(
                400,
                f"displayName cannot change: {group['name']} is a group CloudFormation made",
                "mutability",
            )

    def set_members(self, group: dict, members: Iterable[str | None]) -> dict:
        """Make the managed users ``members`` (ids) exactly the group's managed members: a move
        of each user that joins or leaves it. Every user is checked before anything changes."""
        name = group["name"]
        by_id = {u["id"]: u for u in group["all"]}
        wanted = {str(m) for m in members}
        unknown = sorted(wanted - set(by_id))
        if unknown:
            raise ScimError(
                400, f"no managed user has the id(s) {', '.join(unknown)}", "invalidValue"
            )
        current = {u["id"] for u in group["members"]}
        changing = [by_id[i] for i in sorted(wanted ^ current)]
        state = self.services.state
        moves = []
        for user in changing:
            record = state.get_record(user["username"]) or {"status": "active", "grants": []}
            if record.get("status", "active") != "active":
                raise ScimError(
                    409,
                    f"{user['username']} is {record['status']}: its groups change once it is "
                    "active again",
                )
            granted = {g["group"] for g in record.get("grants", [])}
            kept = {g for g in user["groups"] if g in self.settings.allowed_groups} - granted
            kept = kept | {name} if user["id"] in wanted else kept - {name}
            moves.append((user, record, sorted(kept)))
        for user, record, groups in moves:
            self.change("move", user["username"], record, groups=groups)
        return self.find_group(name)


def _email(user: Any) -> str | None:
    """The email kept: the primary one, else the work one, else the first."""
    emails = [e for e in user.emails or [] if e.value]
    for pick in (lambda e: e.primary, lambda e: str(e.type or "") == "work", lambda e: True):
        chosen = [e for e in emails if pick(e)]
        if chosen:
            return str(chosen[0].value)
    return None


def _removals_by_value(payload: dict) -> dict:
    """Entra removes members with ``{"op": "Remove", "path": "members", "value": [{"value":
    id}]}``; RFC 7644 §3.5.2.2 selects them with a filter in the path instead, which is what
    scim2-models applies. Each such removal becomes one removal per member by filter."""
    operations = payload.get("Operations")
    if not isinstance(operations, list):
        return payload
    rewritten: list[Any] = []
    for op in operations:
        if (
            isinstance(op, dict)
            and str(op.get("op", "")).lower() == "remove"
            and str(op.get("path", "")).lower() == "members"
            and isinstance(op.get("value"), list)
        ):
            for member in op["value"]:
                value = member.get("value") if isinstance(member, dict) else None
                if not isinstance(value, str):
                    raise ScimError(400, "each member to remove needs a value", "invalidValue")
                quoted = json.dumps(value)
                rewritten.append({"op": "remove", "path": f"members[value eq {quoted}]"})
        else:
            rewritten.append(op)
    return {**payload, "Operations": rewritten}


def _slack_user(user: Any) -> str | None | bool:
    """The Slack member of this service's extension, if any. One that is not a Slack member id
    is refused, unless the request deactivates: then it is left out (False: not asked)."""
    from chalicelib.edges.schemas import SlackMember

    extension = user[LifecycleUser]
    member = extension.slack_user_id if extension is not None else None
    if member is None:
        return None
    try:
        return str(TypeAdapter(SlackMember).validate_python(member))
    except ValidationError:
        if user.active is False:
            logger.warning("SCIM deactivation: left out slackUserId, not a Slack member id")
            return False
        raise ScimError(
            400,
            f"slackUserId {member!r} is not a Slack member id (U or W, then capitals and digits)",
            "invalidValue",
        ) from None


def _names_extension(payload: dict) -> bool:
    return any(k.lower() == scim_protocol.LIFECYCLE_USER.lower() for k in payload)
