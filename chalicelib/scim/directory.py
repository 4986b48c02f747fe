"""The directory as SCIM shows it (RFC 7643): the managed users and the groups SCIM assigns, read
over two ports (IAM's users and groups, the lifecycle records) and shown as scim2-models
resources. Nothing here changes anything.

A SCIM User is a managed IAM user (``id`` = IAM's UserId, ``userName`` = the user name,
``externalId`` and the work email kept as the user's tags ``external_id`` and ``email``,
``active`` = not suspended); a SCIM Group is one of the managed groups (``id`` = ``displayName``
= the group name, its members the managed users in it)."""

from __future__ import annotations

from typing import Any, Protocol

from scim2_models import Email, Group, GroupMember, GroupMembership, Meta

from chalicelib.kernel.identity import PERSON, key
from chalicelib.scim.protocol import LifecycleUser, ScimError, UserModel
from chalicelib.settings import Settings

_SUSPENDED = ("suspending", "suspended", "restoring")


class Accounts(Protocol):
    """What SCIM reads of IAM (the composition root gives it chalicelib/aws/iam.py's gateway)."""

    def users(self) -> list[dict]: ...

    def get_user(self, username: str) -> dict | None: ...

    def groups_of(self, username: str) -> list[str]: ...

    def account(self, groups: tuple[str, ...]) -> dict: ...


class Records(Protocol):
    """What SCIM reads of the lifecycle records and the audit trail (the state table)."""

    def get_record(self, username: str) -> dict | None: ...

    def records(self) -> list[dict]: ...

    def audit_events(
        self, username: str | None = None, ticket: str | None = None
    ) -> list[dict]: ...


class Directory:
    def __init__(self, settings: Settings, iam: Accounts, state: Records) -> None:
        self.settings = settings
        self.iam = iam
        self.state = state
        # Where answers say resources are: the stage's setting, never the request's Host header.
        self.base = settings.scim_base_url or "/scim/v2"

    # users
    def managed(self, user: dict) -> bool:
        return (
            user["path"] == self.settings.managed_path
            and key(user["username"]) not in self.settings.protected_users
        )

    def users(self) -> list[dict]:
        """Every managed user with its groups and tags: one read of the account."""
        return [u for u in self.iam.users() if self.managed(u)]

    def find_user(self, ident: str | None) -> dict:
        """The managed user whose IAM UserId is ``ident``, with its record."""
        for user in self.users():
            if user["id"] == ident:
                return {**user, "record": self.state.get_record(user["username"])}
        raise ScimError(404, f"no managed user has the id {ident}")

    def find_by_name(self, name: str) -> dict | None:
        """The user IAM holds under ``name`` (in any case), its groups and record; None: none."""
        user = self.iam.get_user(name)
        if user is None:
            return None
        groups = self.iam.groups_of(user["username"]) if self.managed(user) else []
        return {**user, "groups": groups, "record": self.state.get_record(name)}

    def offboarding(self, ident: str | None) -> dict | None:
        """The record of the person IAM knew as ``ident`` whose offboarding has not finished."""
        for record in self.state.records():
            if ident and record.get(PERSON) == ident and record.get("status") == "offboarding":
                return record
        return None

    def onboarded(self, ticket: str) -> bool:
        """Whether the onboarding of ``ticket`` finished (its audit says so)."""
        events = self.state.audit_events(ticket=ticket)
        return any(e["action"] == "onboard" and e["result"] == "ok" for e in events)

    def user(self, user: dict) -> Any:
        """A user as a SCIM User resource."""
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

    def user_views(self) -> list[Any]:
        records = {key(r["username"]): r for r in self.state.records()}
        users = sorted(self.users(), key=lambda u: (key(u["username"]), u["id"]))
        return [self.user({**u, "record": records.get(key(u["username"]))}) for u in users]

    # groups: those SCIM_GROUPS names, never one whose access is time-bound or approved
    def groups(self) -> list[Any]:
        account = self.iam.account(self.settings.allowed_groups)
        users = [u for u in account["users"] if self.managed(u)]
        return [
            self.group({"name": name, "members": [u for u in users if name in u["groups"]]})
            for name in sorted(self.settings.scim_groups)
            if name in account["access"]
        ]

    def not_assigned(self, name: str) -> ScimError:
        """The refusal of a managed group that SCIM does not assign, saying why."""
        settings = self.settings
        if name in settings.approval_groups:
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
        """The group, its managed members and every managed user: one read of the account."""
        if ident not in self.settings.allowed_groups:
            raise ScimError(404, f"no managed group named {ident}")
        if ident not in self.settings.scim_groups:
            raise self.not_assigned(str(ident))
        account = self.iam.account((str(ident),))
        if not account["access"]:
            raise ScimError(404, f"group {ident} does not exist in the root account")
        users = [u for u in account["users"] if self.managed(u)]
        return {"name": ident, "members": [u for u in users if ident in u["groups"]], "all": users}

    def group(self, group: dict) -> Any:
        """A group as a SCIM Group resource."""
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
