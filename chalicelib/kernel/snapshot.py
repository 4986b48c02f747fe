"""The snapshot: what one change reads about one person, in one wave, before deciding anything.

Any capability's action reads one through :class:`Reader` (over the ports), so that a change
decides on facts read once and the runner can read them beside its claim of the user. What
each action reads is declared in :data:`READS`, beside the catalogue that names the actions.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

from chalicelib.kernel.errors import AccessDenied, Forbidden, NotFound
from chalicelib.kernel.identity import PERSON, check_username, key, same_person
from chalicelib.kernel.ports import IamGateway, Revocation, Revoker, StateStore
from chalicelib.kernel.waves import wave
from chalicelib.settings import Settings


class Ticketed(Protocol):
    """A request, as far as the reads go: its ticket (an offboarding reads its earlier events)."""

    @property
    def ticket(self) -> str: ...


@dataclass
class Snapshot:
    """What one operation read about one person, in one wave, before deciding anything."""

    username: str  # as the request named them
    user: dict | None = None  # GetUser: None when missing or not the service's to see
    record: dict | None = None
    groups: list[str] | None = None  # None: not read, or no such user
    keys: list[dict] | None = None  # id and status
    console: bool | None = None
    mfa: bool | None = None
    alias: str | None = None  # the root account's alias (ListAccountAliases), if it has one
    login: dict | None = None  # the console login's facts (hygiene's changes read them)
    # each managed group that exists -> the policy documents that apply to it
    access: dict[str, list[dict]] = field(default_factory=dict)
    dependents: dict[tuple, list[str]] = field(default_factory=dict)  # offboarding's lists
    earlier: list[dict] = field(default_factory=list)  # the ticket's audit events (offboarding)
    # a revocation begun beside the reads (suspend, offboard): committed or abandoned
    revocation: Revocation | None = None

    def abandon(self) -> None:
        """Let go what the reads took (a revocation's locks) when no change follows."""
        if self.revocation is not None:
            self.revocation.abandon()

    @property
    def name(self) -> str:
        """The name as IAM spells it (the record's, once the user is gone)."""
        if self.user:
            return str(self.user["username"])
        return str((self.record or {}).get("username") or self.username)

    @property
    def state(self) -> dict:
        """The record, bound to the user read beside it (what a change writes back names them)."""
        state = self.record or {"status": "active", "grants": []}
        if self.user and not state.get(PERSON):
            state = {**state, PERSON: self.user["id"]}
        return state


# What each action reads in its first wave.
READS: dict[str, tuple[str, ...]] = {
    "onboard": ("user", "record", "access", "alias"),
    "move": ("user", "record", "groups", "keys", "console", "mfa", "access"),
    "suspend": ("user", "record", "groups", "keys", "console", "mfa", "revocation"),
    "restore": ("user", "record", "keys", "console", "mfa", "access"),
    "grant": ("user", "record", "groups", "keys", "console", "mfa", "access"),
    "offboard": ("user", "record", "groups", "console", "dependents", "earlier", "revocation"),
    "set_profile": ("user", "record"),
    "describe": ("user", "record", "groups", "keys", "console", "mfa", "access"),
    # The schedules' changes read their own, narrower state.
    "expire_grant": (),
    "end_grant": (),
    "close_ticket": (),
    "extend": ("user", "record"),
    "revoke_sessions": (),
    # Hygiene's changes: what their rule is judged on again when they are due.
    "deactivate_key": ("user", "record", "dated_keys"),
    "delete_key": ("user", "record", "dated_keys"),
    "remove_console": ("user", "record", "login", "mfa"),
}


class Reader:
    """Reads snapshots through the ports; refuses a name that is invalid or protected first."""

    def __init__(
        self, settings: Settings, iam: IamGateway, state: StateStore, revoker: Revoker
    ) -> None:
        self.settings = settings
        self.iam = iam
        self.state = state
        self.revoker = revoker

    def check_user_allowed(self, username: str) -> None:
        check_username(username)
        if key(username) in self.settings.protected_users:  # IAM names ignore case; so does this
            raise Forbidden(f"{username} is a protected user; this service does not change it")

    def read(self, action: str, username: str, request: Ticketed | None = None) -> Snapshot:
        """The snapshot ``action`` decides on, read in one wave. A name that is not valid or is
        protected is refused before anything is read."""
        self.check_user_allowed(username)
        wanted = READS[action]
        iam, state = self.iam, self.state
        reads: dict[str, Callable[[], Any]] = {
            "user": lambda: iam.get_user(username),
            "record": lambda: state.get_record(username),
            "groups": lambda: visible(lambda: iam.groups_of(username)),
            "keys": lambda: visible(lambda: iam.access_keys(username)),
            "dated_keys": lambda: visible(lambda: iam.key_facts(username)),
            "login": lambda: visible(lambda: iam.login_profile(username)),
            "console": lambda: visible(lambda: iam.has_login_profile(username)),
            "mfa": lambda: visible(lambda: bool(iam.mfa_devices(username))),
            "access": lambda: iam.group_access(self.settings.allowed_groups),
            "alias": lambda: iam.account_alias(),
            "earlier": lambda: state.audit_events(ticket=request.ticket) if request else [],
            # What a revocation writes over depends on nothing: read now, it writes sooner.
            "revocation": lambda: self.revoker.begin(),
        }
        tasks = {name: task for name, task in reads.items() if name in wanted}
        listings = iam.dependents(username) if "dependents" in wanted else {}
        named = {f"list:{i}": listing for i, listing in enumerate(listings)}
        tasks.update({name: listings[listing] for name, listing in named.items()})
        found = wave(tasks)
        user, record = found.get("user"), found.get("record")
        if user and not same_person(record, user["id"]):
            record = None  # a previous holder's of the name: nothing of it is this user's
        return Snapshot(
            username=username,
            user=user,
            record=record,
            groups=found.get("groups"),
            keys=found.get("keys", found.get("dated_keys")),
            console=found.get("console", bool(found.get("login")) if "login" in wanted else None),
            login=found.get("login"),
            mfa=found.get("mfa"),
            alias=found.get("alias"),
            access=found.get("access") or {},
            dependents={listing: found[name] for name, listing in named.items()},
            earlier=found.get("earlier") or [],
            revocation=found.get("revocation"),
        )

    def managed(self, snap: Snapshot) -> dict:
        """The user if the service manages it. Its ``username`` is the name as IAM spells it,
        which may differ in case from the request's: changes act, record and revoke under
        that spelling."""
        user = snap.user
        if not user or user["path"] != self.settings.managed_path:
            raise NotFound(f"no managed user named {snap.username}")
        self.check_user_allowed(user["username"])
        return user


def visible(read: Callable[[], Any]) -> Any:
    """None when there is no such user, or none the service may see (outside its path, IAM
    answers AccessDenied): the user check beside it then answers 404."""
    try:
        return read()
    except (NotFound, AccessDenied):
        return None
