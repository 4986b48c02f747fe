"""Provisioning over SCIM: what an identity provider's changes to users and groups become, each
a change of the catalogue run by the change runner as the REST API's are: create = onboard,
``active`` false = suspend, ``active`` true = restore (of a suspension the IdP made), DELETE =
offboard, membership = move, externalId and emails = set_profile.

The ticket of each change is ``scim:<digest of the request, the action and the user>:<digest of
the user's last ticket>``: an IdP that sends the same request again (it never got the answer)
lands on the ticket of the first attempt, which the runner replays or finishes, while the same
request sent later, after other changes, is a new change. Each change is also skipped when the
user is already as asked. An answer is built from what was read before the changes and what
they did, not by reading the account again.
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Callable, Iterable
from typing import Any

from pydantic import TypeAdapter, ValidationError
from scim2_models import Context, Group, PatchOp

from chalicelib.kernel.errors import BadRequest, Conflict, InProgress, unavailable
from chalicelib.kernel.identity import check_username, key
from chalicelib.scim import input as scim_input
from chalicelib.scim import protocol as scim_protocol
from chalicelib.scim.directory import Directory
from chalicelib.scim.protocol import LifecycleUser, ScimError, UserModel
from chalicelib.settings import Settings

logger = logging.getLogger(__name__)

_DEACTIVATED = "deactivated in the identity provider"
_PROFILE_TAGS = ("external_id", "email", "slack_user")

# The change runner: (action, user, the action's request) -> the action's answer.
Change = Callable[[str, str, Any], dict]


def digest(*parts: str) -> str:
    return hashlib.sha256("\x1f".join(parts).encode()).hexdigest()


class Provisioning:
    """One request's changes: ``fingerprint`` names the request (its tickets), ``requested_by``
    the identity provider that sent it, ``body`` reads its JSON object."""

    def __init__(
        self,
        settings: Settings,
        directory: Directory,
        change: Change,
        check_user_allowed: Callable[[str], None],
        fingerprint: str,
        requested_by: str,
        body: Callable[[], dict],
    ) -> None:
        self.settings = settings
        self.directory = directory
        self.run = change
        self.check_user_allowed = check_user_allowed
        self.fingerprint = fingerprint
        self.requested_by = requested_by
        self.body = body

    def ticket(self, action: str, username: str, record: dict | None) -> str:
        """This request's ticket for ``action`` on ``username``: the one of the user's last change
        when that change was this very request (a retry), else a new one."""
        own = f"scim:{digest(self.fingerprint, action, key(username))[:24]}"
        last = str((record or {}).get("ticket") or "")
        if last.startswith(f"{own}:"):
            return last
        return f"{own}:{digest(last)[:8]}"

    def change(self, action: str, target: str, record: dict | None, **fields: Any) -> dict:
        from chalicelib.kernel.catalogue import ACTIONS
        from chalicelib.kernel.commands import parse

        body = {"ticket": self.ticket(action, target, record), "requested_by": self.requested_by}
        request = parse(ACTIONS[action].request_model(), json.dumps({**body, **fields}))
        answer = self.run(action, target, request)
        answer.pop("temporary_password", None)  # never over SCIM
        return answer

    # users
    def create_user(self) -> Any:
        wanted = scim_input.user_body(UserModel, self.body(), Context.RESOURCE_CREATION_REQUEST)
        name = str(wanted.user_name)
        check_username(name)
        self.check_user_allowed(name)
        existing = self.directory.find_by_name(name)  # IAM finds a name in any case
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
        user = self.directory.find_by_name(name)
        assert user is not None
        if wanted.active is False:
            user = self.converge(user, active=False)
        return self.directory.user(user)

    def _resumable(self, existing: dict, ticket: str) -> bool:
        """Whether ``existing`` is this very create's user, left halfway (the IdP got no
        answer and sends it again): the runner then finishes it. Once its onboarding is done,
        the same create again is a duplicate like any other."""
        record = existing.get("record") or {}
        if not self.directory.managed(existing):
            return False
        if ticket not in (record.get("ticket"), existing["tags"].get("ticket")):
            return False
        return not self.directory.onboarded(ticket)

    def replace_user(self, ident: str | None) -> Any:
        current = self.directory.find_user(ident)
        payload = self.body()
        wanted = scim_input.user_body(UserModel, payload, Context.RESOURCE_REPLACEMENT_REQUEST)
        # A replacement without this service's extension leaves the Slack link as it is: it
        # may have been made through REST or Slack, by an IdP that does not map it.
        slack: str | None | bool = _slack_user(wanted) if _names_extension(payload) else False
        return self._apply(current, wanted, slack)

    def patch_user(self, ident: str | None) -> Any:
        current = self.directory.find_user(ident)
        wanted = self.directory.user(current)
        scim_input.patch_user(UserModel, self.body(), wanted)
        return self._apply(current, wanted, _slack_user(wanted))

    def _apply(self, current: dict, wanted: Any, slack: str | None | bool) -> Any:
        if wanted.user_name is not None and key(str(wanted.user_name)) != key(current["username"]):
            if wanted.active is not False:
                raise ScimError(
                    400,
                    f"userName cannot change ({current['username']} to {wanted.user_name}): an "
                    "IAM user is not renamed here; offboard the old name and create the new one",
                    "mutability",
                )
            logger.warning("SCIM deactivation: left out a userName change")
        user = self.converge(
            current,
            external_id=wanted.external_id,
            email=_email(wanted),
            active=wanted.active,
            slack_user=slack,
        )
        return self.directory.user(user)

    def converge(
        self,
        user: dict,
        *,
        active: bool | None = None,
        external_id: str | None | bool = False,
        email: str | None | bool = False,
        slack_user: str | None | bool = False,
    ) -> dict:
        """Make the user as asked, each change once and only if needed (False: not asked).
        A deactivation goes first, and nothing else asked beside it can stop it. Returns the
        user as it is now: ``user`` as read, with what the changes did."""
        profile: dict | None = None
        activity: dict | None = None
        if active is False:
            activity = self._activity(user, active)
            try:
                profile = self._profile(user, external_id, email, slack_user)
            except BadRequest as error:
                logger.warning("SCIM deactivation: left out a profile change: %s", error.code)
        else:
            profile = self._profile(user, external_id, email, slack_user)
            if active is True:
                activity = self._activity(user, True)
        return self._after(user, profile, activity)

    def _after(self, user: dict, profile: dict | None, activity: dict | None) -> dict:
        """``user`` after a profile change and a suspension or restore (their answers; None:
        not made): tags as set, groups as the change left them, and the record it wrote."""
        if profile is None and activity is None:
            return user
        changed = dict(user)
        if profile is not None:
            tags = {k: v for k, v in user.get("tags", {}).items() if k not in _PROFILE_TAGS}
            changed["tags"] = {**tags, **{k: profile[k] for k in _PROFILE_TAGS if profile.get(k)}}
        if activity is not None:  # a restore answers {"user": USER}, a suspension USER
            shown = activity.get("user", activity)
            changed["groups"] = shown.get("groups", user.get("groups", []))
        changed["record"] = self.directory.state.get_record(user["username"])
        return changed

    def _profile(
        self, user: dict, external_id: Any, email: Any, slack_user: str | None | bool
    ) -> dict | None:
        tags = user.get("tags", {})
        profile: dict[str, Any] = {}
        if external_id is not False and email is not False:
            if (external_id, email) != (tags.get("external_id"), tags.get("email")):
                profile.update(external_id=external_id, email=email)
        if slack_user is not False and (slack_user or "") != tags.get("slack_user", ""):
            profile["slack_user"] = slack_user or ""
        if not profile:
            return None
        kept = {"external_id": tags.get("external_id"), "email": tags.get("email")}
        return self.change(
            "set_profile", user["username"], user.get("record"), **{**kept, **profile}
        )

    def _activity(self, user: dict, active: bool) -> dict | None:
        name, record = user["username"], user.get("record")
        status = (record or {}).get("status", "active")
        last = str((record or {}).get("ticket", ""))

        def again(action: str) -> bool:
            """The user's last change was this very request: it may have stopped halfway (the
            record already says where it was going), so it runs again and finishes."""
            return self.ticket(action, name, record) == last

        if active is False and (status in ("active", "suspending") or again("suspend")):
            return self.change("suspend", name, record, reason=_DEACTIVATED)
        if active is True and (
            # Only a suspension the identity provider made is its to undo: one a person made
            # through REST or Slack stays until they restore it.
            (status in ("suspended", "restoring") and last.startswith("scim:")) or again("restore")
        ):
            return self.change("restore", name, record)
        return None

    def delete_user(self, ident: str | None) -> None:
        try:
            user = self.directory.find_user(ident)
        except ScimError:
            # The identity provider's retry of a delete whose process died after IAM deleted
            # the user: a 404 would count it done while the record, the audit and the event
            # are not. The person's record still names them: it is finished.
            stopped = self.directory.offboarding(ident)
            if stopped is None:
                raise
            self.change("offboard", stopped["username"], stopped)
            return
        self.change("offboard", user["username"], user.get("record"))

    # groups
    def create_group(self) -> Any:
        wanted = Group.model_validate(
            scim_input.known_only(self.body(), scim_protocol.GROUP_SCHEMAS),
            scim_ctx=Context.RESOURCE_CREATION_REQUEST,
        )
        name = str(wanted.display_name)
        if name not in self.settings.allowed_groups:
            raise ScimError(
                403,
                f"{name} is not a group this service manages; groups are created by "
                f"CloudFormation, and these can be linked: {', '.join(self.settings.scim_groups)}",
            )
        group = self.directory.find_group(name)
        if wanted.members is not None:
            group = self.set_members(group, [m.value for m in wanted.members])
        return self.directory.group(group)

    def replace_group(self, ident: str | None) -> Any:
        group = self.directory.find_group(ident)
        wanted = Group.model_validate(
            scim_input.known_only(self.body(), scim_protocol.GROUP_SCHEMAS),
            scim_ctx=Context.RESOURCE_REPLACEMENT_REQUEST,
        )
        _same_name(group, wanted)
        group = self.set_members(group, [m.value for m in wanted.members or []])
        return self.directory.group(group)

    def patch_group(self, ident: str | None) -> Any:
        group = self.directory.find_group(ident)
        patch = PatchOp[Group].model_validate(
            _removals_by_value(self.body()), scim_ctx=Context.RESOURCE_PATCH_REQUEST
        )
        wanted = self.directory.group(group)
        patch.patch(wanted)
        _same_name(group, wanted)
        group = self.set_members(group, [m.value for m in wanted.members or []])
        return self.directory.group(group)

    def delete_group(self, ident: str | None) -> None:
        """The group is CloudFormation's and stays: the IdP no longer gives it to anyone, so
        its managed members leave it (unlinked)."""
        self.set_members(self.directory.find_group(ident), [])

    def set_members(self, group: dict, members: Iterable[str | None]) -> dict:
        """Make the managed users ``members`` (ids) exactly the group's managed members: a move
        of each user that joins or leaves it. Every user is checked before anything changes.
        Returns the group as the moves left it."""
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
        moves = []
        for user in changing:
            record = self.directory.state.get_record(user["username"]) or {
                "status": "active",
                "grants": [],
            }
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
            answer = self.change("move", user["username"], record, groups=groups)
            by_id[user["id"]] = {**user, "groups": answer.get("groups", groups)}
        everyone = list(by_id.values())
        return {
            "name": name,
            "members": [u for u in everyone if name in u["groups"]],
            "all": everyone,
        }


def _same_name(group: dict, wanted: Any) -> None:
    if wanted.display_name is not None and wanted.display_name != group["name"]:
        raise ScimError(
            400,
            f"displayName cannot change: {group['name']} is a group CloudFormation made",
            "mutability",
        )


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
    from chalicelib.kernel.commands import SlackMember

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
