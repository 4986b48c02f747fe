"""In-memory ports for the lifecycle operations: IAM, the state table, the session revoker,
AWS Sign-In and a clock, each copying the AWS behaviour the operations depend on, so that their
rules are tested in milliseconds. The adapters themselves are proven on moto (tests/service, and
tests/service/test_lifecycle_memory_contract.py holds this IAM against the real gateway).

A fake that accepts what AWS would refuse makes a test lie: each one refuses as AWS does (names
unique whatever their case, a user with dependents cannot be deleted, two keys a user, ...). Any
call can be told to fail (:meth:`Faults.fail`), to prove what a failure halfway leaves behind.
"""

from __future__ import annotations

import copy
import itertools
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import partial
from typing import Any

from chalicelib.aws.iam_cleanup import KINDS, LISTINGS
from chalicelib.aws.signin import principal_arn
from chalicelib.kernel.errors import (
    AccessDenied,
    AppError,
    Conflict,
    InProgress,
    NotFound,
    UpstreamError,
)
from chalicelib.kernel.identity import PERSON, key
from chalicelib.lifecycle.operations import Lifecycle
from chalicelib.lifecycle.revocation_policy import Revoked
from chalicelib.settings import Settings

ROOT = "123456789012"
CHILD = "222233334444"
OTHER_CHILD = "333344445555"
DEV_ROLE = f"arn:aws:iam::{CHILD}:role/DeveloperRole"
GLASS_ROLE = f"arn:aws:iam::{CHILD}:role/BreakGlassRole"
ENV = {
    "ALLOWED_GROUPS": "ChildDeveloperGroup,BreakGlassGroup,ReadOnlyGroup",
    "ROOT_ACCOUNT_ID": ROOT,
    "CHILD_ACCOUNT_IDS": f"{CHILD},{OTHER_CHILD}",
    "PROTECTED_USERS": "break-glass-owner",
    "ACCESS_KEYS": "issued_at_onboarding",
    "GRANT_MAX_HOURS": "BreakGlassGroup=4",
    "MFA_ROLES": "BreakGlassRole",
}


def assume(*roles: str) -> dict:
    """A group policy letting its members assume ``roles``."""
    return {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": list(roles)}],
    }


class Faults:
    """Calls told to fail: ``fail("put_record", UpstreamError)`` makes the next call of that
    name raise, as a throttled or unreachable AWS would (``times`` calls, or ``when`` only for
    the calls whose arguments it accepts)."""

    def __init__(self) -> None:
        self._due: list[tuple[str, type[AppError], list[int], Callable[..., bool]]] = []
        self._lock = threading.Lock()

    def fail(
        self,
        call: str,
        error: type[AppError] = UpstreamError,
        times: int = 1,
        when: Callable[..., bool] = lambda *_: True,
    ) -> None:
        self._due.append((call, error, [times], when))

    def check(self, call: str, *args: Any) -> None:
        with self._lock:
            for name, error, left, when in self._due:
                if name == call and left[0] > 0 and when(*args):
                    left[0] -= 1
                    raise error(f"{call} failed in AWS (InjectedFault); retry with the same ticket")


@dataclass
class _User:
    username: str
    path: str
    id: str
    arn: str
    created: str
    tags: dict[str, str]
    groups: set[str] = field(default_factory=set)
    keys: dict[str, dict] = field(default_factory=dict)  # id -> status, created, secret
    login: dict | None = None  # created, password
    policies: list[str] = field(default_factory=list)  # attached managed policy ARNs
    inline: list[str] = field(default_factory=list)
    mfa: list[str] = field(default_factory=list)  # serials of enabled devices
    boundary: str | None = None
    password_last_used: str | None = None


class MemoryIam:
    """IAM in the root account as :class:`chalicelib.aws.iam.IamGateway` shows it.

    Copied from IAM: user names are unique case-insensitively and answered in the spelling IAM
    stored; CreateUser of a taken name fails (EntityAlreadyExists: the gateway answers None);
    the app's principal sees only users under its path (any other user: AccessDenied, which
    GetUser answers as None); AddUserToGroup and AttachUserPolicy of what is there already
    succeed; the removals of what is gone answer NoSuchEntity (the gateway: False); a user holds
    at most two access keys (LimitExceeded); DeleteUser fails with DeleteConflict while anything
    depends on the user; CreateLoginProfile fails when one exists."""

    cleanup_kinds = KINDS

    def __init__(self, root: str = ROOT, path: str = "/managed/") -> None:
        self.root = root
        self.path = path  # what the app's policy lets it read and change
        self.users: dict[str, _User] = {}  # by canonical name
        self.groups: dict[str, list[dict]] = {}  # group -> inline policy documents
        self.policies: set[str] = set()  # managed policy ARNs that exist
        self.alias: str | None = None
        self.virtual_mfa: set[str] = set()  # the account's virtual MFA devices
        self.used: dict[str, str] = {}  # key id -> last used
        self.faults = Faults()
        self.calls: list[tuple[str, tuple]] = []  # the changes, in order
        self._ids = itertools.count(1)
        self._lock = threading.RLock()

    # set-up, as an administrator (or another principal) would
    def add_user(self, username: str, path: str | None = None, **tags: str) -> dict:
        created = self._create(username, path or self.path, tags)
        assert created is not None, f"{username} is taken"
        return self._shown(self.users[key(username)])

    def give_key(self, username: str, status: str = "Active") -> str:
        found = self.create_access_key(username)["access_key_id"]
        self.users[key(username)].keys[found]["status"] = status
        return found

    def give_console(self, username: str) -> None:
        self.set_console_password(username, "Initial-Password-1!", new_user=True)

    def give_mfa(self, username: str) -> str:
        serial = f"arn:aws:iam::{self.root}:mfa/{self.users[key(username)].username}"
        self.users[key(username)].mfa.append(serial)
        self.virtual_mfa.add(serial)
        return serial

    def user(self, username: str) -> _User | None:
        """The user as IAM holds it, whatever the app may see (for assertions)."""
        return self.users.get(key(username))

    # the gateway's calls
    def _change(self, call: str, *args: Any) -> None:
        self.faults.check(call, *args)
        with self._lock:
            self.calls.append((call, args))

    def _get(self, username: str) -> _User:
        """The user the app may act on: NoSuchEntity, or AccessDenied outside its path."""
        found = self.users.get(key(username))
        if found is None:
            raise NotFound(f"The user with name {username} cannot be found.")
        if not found.path.startswith(self.path):
            raise AccessDenied(f"not authorized to perform on user {found.arn}")
        return found

    def _shown(self, user: _User) -> dict:
        return {
            "username": user.username,
            "arn": user.arn,
            "path": user.path,
            "id": user.id,
            "created": user.created,
            "password_last_used": user.password_last_used,
            "tags": dict(user.tags),
            "boundary": user.boundary,
        }

    def dependents(self, username: str) -> dict[tuple, Callable[[], list[str]]]:
        return {listing: partial(self._listed, username, listing) for listing in LISTINGS}

    def _listed(self, username: str, listing: tuple) -> list[str]:
        self.faults.check("listed", username, listing[0])
        try:
            user = self._get(username)
        except (NotFound, AccessDenied):
            return []
        return {
            "list_groups_for_user": sorted(user.groups),
            "list_access_keys": list(user.keys),
            "list_mfa_devices": list(user.mfa),
            "list_user_policies": list(user.inline),
            "list_attached_user_policies": list(user.policies),
        }.get(listing[0], [])

    def remove_dependent(self, kind: Any, username: str, item: str) -> bool:
        self._change("remove_dependent", kind.kind, username, item)
        with self._lock:
            if kind.kind == "virtual_mfa_devices":  # DeleteVirtualMFADevice: the account's
                if any(item in u.mfa for u in self.users.values()):
                    raise Conflict("MFA device is still in use. (DeleteConflict)")
                return _discard(self.virtual_mfa, item)
            try:
                user = self._get(username)
            except NotFound:
                return False
            removals: dict[str, Callable[[], bool]] = {
                "groups": lambda: _discard(user.groups, item),
                "access_keys": lambda: self._set_status(user, item, "Inactive"),
                "login_profile": lambda: self._drop_login(user),
                "deleted_access_keys": lambda: user.keys.pop(item, None) is not None,
                "mfa_devices": lambda: _discard(user.mfa, item),
                "inline_policies": lambda: _discard(user.inline, item),
                "attached_policies": lambda: _discard(user.policies, item),
                "permissions_boundary": lambda: self._drop_boundary(user),
                "user": lambda: self._delete(user),
            }
            return removals.get(kind.kind, lambda: False)()

    def _delete(self, user: _User) -> bool:
        if user.groups or user.keys or user.login or user.policies or user.inline or user.mfa:
            raise Conflict("Cannot delete entity, must remove dependents first. (DeleteConflict)")
        del self.users[key(user.username)]
        return True

    def _drop_login(self, user: _User) -> bool:
        had, user.login = user.login is not None, None
        return had

    def _drop_boundary(self, user: _User) -> bool:
        had, user.boundary = user.boundary is not None, None
        return had

    def get_user(self, username: str) -> dict | None:
        self.faults.check("get_user", username)
        try:
            return self._shown(self._get(username))
        except (NotFound, AccessDenied):
            return None

    def create_user(self, username: str, path: str, tags: dict[str, str]) -> dict | None:
        self._change("create_user", username, path, tags)
        created = self._create(username, path, tags)
        if created is None:
            return None
        return {k: created[k] for k in ("username", "arn", "path", "id")}

    def _create(self, username: str, path: str, tags: dict[str, str]) -> dict | None:
        with self._lock:
            if key(username) in self.users:
                return None  # EntityAlreadyExists, whatever the case and path
            user = _User(
                username=username,
                path=path,
                id=f"AIDA{next(self._ids):017d}",
                arn=f"arn:aws:iam::{self.root}:user{path}{username}",
                created=datetime.now(UTC).isoformat(),
                tags=dict(tags),
            )
            self.users[key(username)] = user
            return self._shown(user)

    def tag_user(self, username: str, tags: dict[str, str]) -> None:
        self._change("tag_user", username, tags)
        self._get(username).tags.update(tags)

    def untag_user(self, username: str, keys: list[str]) -> None:
        self._change("untag_user", username, keys)
        user = self._get(username)
        for name in keys:
            user.tags.pop(name, None)

    def has_login_profile(self, username: str) -> bool:
        try:
            return self._get(username).login is not None
        except NotFound:
            return False

    def set_console_password(self, username: str, password: str, new_user: bool = False) -> None:
        self._change("set_console_password", username, new_user)
        with self._lock:
            user = self._get(username)
            if user.login is not None and new_user:
                raise Conflict(f"Login Profile for user {username} already exists.")
            created = (user.login or {}).get("created") or datetime.now(UTC).isoformat()
            user.login = {"created": created, "password": password}

    def login_profile(self, username: str) -> dict | None:
        try:
            login = self._get(username).login
        except NotFound:
            return None
        return {"created": login["created"]} if login else None

    def delete_login_profile(self, username: str) -> bool:
        self._change("delete_login_profile", username)
        try:
            return self._drop_login(self._get(username))
        except NotFound:
            return False

    def attach_user_policy(self, username: str, policy_arn: str) -> None:
        self._change("attach_user_policy", username, policy_arn)
        user = self._get(username)
        if policy_arn not in self.policies:
            raise NotFound(f"Policy {policy_arn} does not exist or is not attachable.")
        with self._lock:
            if policy_arn not in user.policies:
                user.policies.append(policy_arn)

    def detach_user_policy(self, username: str, policy_arn: str) -> bool:
        self._change("detach_user_policy", username, policy_arn)
        try:
            return _discard(self._get(username).policies, policy_arn)
        except NotFound:
            return False

    def add_to_group(self, username: str, group: str) -> None:
        self._change("add_to_group", username, group)
        user = self._get(username)
        if group not in self.groups:
            raise NotFound(f"The group with name {group} cannot be found.")
        with self._lock:
            user.groups.add(group)

    def remove_from_group(self, username: str, group: str) -> bool:
        self._change("remove_from_group", username, group)
        try:
            return _discard(self._get(username).groups, group)
        except NotFound:
            return False

    def set_key_status(self, username: str, key_id: str, status: str) -> bool:
        self._change("set_key_status", username, key_id, status)
        try:
            return self._set_status(self._get(username), key_id, status)
        except NotFound:
            return False

    def _set_status(self, user: _User, key_id: str, status: str) -> bool:
        if key_id not in user.keys:
            return False
        user.keys[key_id]["status"] = status
        return True

    def create_access_key(self, username: str) -> dict:
        self._change("create_access_key", username)
        with self._lock:
            user = self._get(username)
            if len(user.keys) >= 2:
                raise UpstreamError(
                    "creating an access key failed in AWS (LimitExceeded); retry with the same ticket"
                )
            number = next(self._ids)
            found = f"AKIA{number:016d}"
            secret = f"secret-{number}"
            created = datetime.now(UTC).isoformat()
            user.keys[found] = {"status": "Active", "created": created, "secret": secret}
        return {"access_key_id": found, "secret_access_key": secret}

    def delete_access_key(self, username: str, key_id: str) -> bool:
        self._change("delete_access_key", username, key_id)
        try:
            return self._get(username).keys.pop(key_id, None) is not None
        except NotFound:
            return False

    def account_alias(self) -> str | None:
        return self.alias

    def groups_of(self, username: str) -> list[str]:
        return sorted(self._get(username).groups)

    def access_keys(self, username: str) -> list[dict]:
        return [{"id": k, "status": v["status"]} for k, v in self._get(username).keys.items()]

    def key_facts(self, username: str) -> list[dict]:
        keys = self._get(username).keys.items()
        return [{"id": k, "status": v["status"], "created": v["created"]} for k, v in keys]

    def last_used(self, key_id: str) -> str | None:
        return self.used.get(key_id)

    def mfa_devices(self, username: str) -> list[str]:
        return list(self._get(username).mfa)

    def group_access(self, groups: tuple[str, ...]) -> dict[str, list[dict]]:
        return {g: copy.deepcopy(docs) for g, docs in self.groups.items() if g in groups}


def _discard(items: set[str] | list[str], item: str) -> bool:
    """A removal: False when it was not there (IAM's NoSuchEntity, which the gateway tolerates)."""
    if item not in items:
        return False
    items.remove(item)
    return True


class MemoryState:
    """The state table as :class:`chalicelib.aws.state.StateStore` shows it: one record per
    person under the canonical name (it holds the spelling it was written with and when);
    DynamoDB keeps no attribute whose value is null; reads are consistent; a member's link is
    deleted only while it is still the one to this person (a conditional delete)."""

    def __init__(self) -> None:
        self.records: dict[str, dict] = {}
        self.links: dict[str, dict] = {}  # member -> username, user_id
        self.events: list[dict] = []
        self.leases: dict[str, str] = {}
        self.faults = Faults()
        self.writes: list[tuple[str, dict]] = []  # every record written, in order
        self._lock = threading.Lock()

    def get_record(self, username: str) -> dict | None:
        self.faults.check("get_record", username)
        found = self.records.get(key(username))
        return copy.deepcopy(found) if found else None

    def put_record(self, username: str, record: dict) -> dict:
        self.faults.check("put_record", username, record)
        values = {**record, "username": username, "at": datetime.now(UTC).isoformat()}
        stored = {k: copy.deepcopy(v) for k, v in values.items() if v is not None}
        with self._lock:
            self.records[key(username)] = stored
            self.writes.append((username, copy.deepcopy(stored)))
        return record

    def link_member(self, member: str, username: str, user_id: str) -> None:
        self.faults.check("link_member", member, username)
        self.links[member] = {"username": username, PERSON: user_id}

    def unlink_member(self, member: str, username: str, user_id: str | None) -> bool:
        self.faults.check("unlink_member", member, username)
        with self._lock:
            link = self.links.get(member)
            if link is None or link["username"] != username:
                return False
            if user_id and link.get(PERSON) not in (None, user_id):
                return False
            del self.links[member]
        return True

    def acquire(self, username: str, owner: str, seconds: int) -> float:
        with self._lock:
            held = self.leases.get(key(username))
            if held not in (None, owner):
                raise InProgress(f"another change to {username} is in progress")
            self.leases[key(username)] = owner
        return 0.0

    def release(self, username: str, owner: str) -> None:
        with self._lock:
            if self.leases.get(key(username)) == owner:
                del self.leases[key(username)]

    def audit(
        self,
        action: str,
        username: str,
        ticket: str,
        requested_by: str,
        result: str,
        detail: dict | None = None,
    ) -> dict:
        event = {
            "at": datetime.now(UTC).isoformat(timespec="milliseconds"),
            "action": action,
            "username": username,
            "ticket": ticket,
            "requested_by": requested_by,
            "result": result,
        }
        with self._lock:
            self.events.append({**event, **({"detail": copy.deepcopy(detail)} if detail else {})})
        return event

    def audit_events(self, username: str | None = None, ticket: str | None = None) -> list[dict]:
        if username:
            found = [e for e in self.events if key(e["username"]) == key(username)]
        elif ticket:
            found = [e for e in self.events if e["ticket"] == ticket]
        else:
            found = list(self.events)
        return copy.deepcopy(sorted(found, key=lambda e: e["at"]))


class MemoryRevocation:
    """A revocation begun: the accounts reached (each role's deny to be written) and those
    that could not be, which a commit reports as owed, never as done."""

    def __init__(self, revoker: MemoryRevoker, targets: dict[str, list[str]]) -> None:
        self.revoker = revoker
        self.targets = targets
        self.committed: list[str] | None = None
        self.abandoned = False

    def commit(self, usernames: list[str], before: datetime | None = None) -> Revoked:
        self.committed = list(usernames)
        return self.revoker._write(usernames, self.targets, before)

    def renew(self, seconds: int) -> bool:
        return self.committed is None and not self.abandoned

    def abandon(self) -> None:
        if self.committed is None:
            self.abandoned = True


class MemoryRevoker:
    """The child accounts' session denies as :class:`chalicelib.aws.revocation.Revoker` writes
    them: per account and role, each person's sessions issued before a moment. An account told
    to be unreachable (``unreachable[account] = why``: AccessRevocationRole not deployed, the
    call throttled) is reported as owed with why; the others are done."""

    def __init__(self, settings: Settings, clock: Callable[[], datetime]) -> None:
        self.settings = settings
        self.clock = clock
        self.children = list(settings.child_account_ids)
        self.unreachable: dict[str, str] = {}
        # account -> role -> username -> sessions issued before this moment are denied
        self.denied: dict[str, dict[str, dict[str, datetime]]] = {}
        self.begun: list[MemoryRevocation] = []
        self.calls: list[tuple[list[str], dict[str, list[str]], datetime | None]] = []
        self._lock = threading.Lock()

    def every_role(self, accounts: list[str] | None = None) -> dict[str, list[str]]:
        chosen = self.children if accounts is None else accounts
        return {account: list(self.settings.revocable_roles) for account in chosen}

    def begin(self, targets: dict[str, list[str]] | None = None) -> MemoryRevocation:
        revocation = MemoryRevocation(self, targets if targets is not None else self.every_role())
        self.begun.append(revocation)
        return revocation

    def revoke(
        self,
        usernames: list[str],
        targets: dict[str, list[str]] | None = None,
        before: datetime | None = None,
    ) -> Revoked:
        return self.begin(targets).commit(usernames, before)

    def prune(self) -> Revoked:
        return self.begin().commit([])

    def _write(
        self, usernames: list[str], targets: dict[str, list[str]], before: datetime | None
    ) -> Revoked:
        moment = before or self.clock()
        done, pending = [], {}
        with self._lock:
            self.calls.append((list(usernames), copy.deepcopy(targets), before))
            for account, roles in targets.items():
                if account in self.unreachable:
                    pending[account] = f"{account}: {self.unreachable[account]}"
                    continue
                for role in roles:
                    people = self.denied.setdefault(account, {}).setdefault(role, {})
                    for name in usernames:
                        people[name] = max(people.get(name, moment), moment)
                done.append(account)
        return Revoked(sorted(done), pending, [])

    def denied_roles(self, username: str) -> dict[str, list[str]]:
        """{account: [role]} where ``username``'s sessions are denied."""
        return {
            account: sorted(role for role, people in roles.items() if username in people)
            for account, roles in self.denied.items()
            if any(username in people for people in roles.values())
        }


class MemorySignIn:
    """AWS Sign-In in the root account: a user's console and ``aws login`` sessions, named by
    the user's ARN without its path. A revocation ends them all and answers how many; one told
    to fail raises (the adapter fails closed, saying how many are left)."""

    def __init__(self) -> None:
        self.sessions: dict[str, int] = {}  # principal ARN -> active sessions
        self.revoked: list[str] = []
        self.faults = Faults()

    def sign_in(self, user_arn: str, sessions: int = 1) -> None:
        principal = principal_arn(user_arn)
        self.sessions[principal] = self.sessions.get(principal, 0) + sessions

    def revoke_sessions(self, user_arn: str, reason: str | None = None) -> int:
        principal = principal_arn(user_arn)
        self.faults.check("revoke_sessions", principal)
        self.revoked.append(principal)
        return self.sessions.pop(principal, 0)


class Clock:
    """The operations' clock: fixed, moved on by hand."""

    def __init__(self, now: datetime | None = None) -> None:
        self.now = now or datetime(2026, 3, 2, 9, 0, tzinfo=UTC)

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now += timedelta(**delta)


@dataclass
class Memory:
    """Every port of :class:`Lifecycle`, in memory, with the root account as the dev stage
    has it: the managed groups (each allowing its child role), the self-service and
    suspension policies."""

    env: dict[str, str] = field(default_factory=dict)
    settings: Settings = field(init=False)
    iam: MemoryIam = field(init=False)
    state: MemoryState = field(default_factory=MemoryState)
    signin: MemorySignIn = field(default_factory=MemorySignIn)
    clock: Clock = field(default_factory=Clock)
    revoker: MemoryRevoker = field(init=False)

    def __post_init__(self) -> None:
        self.settings = Settings.from_env({**ENV, **self.env})
        self.iam = MemoryIam(self.settings.root_account_id, self.settings.managed_path)
        self.iam.groups = {
            "ChildDeveloperGroup": [assume(DEV_ROLE)],
            "BreakGlassGroup": [assume(GLASS_ROLE)],
            "ReadOnlyGroup": [],
            "AdminsByHand": [assume(f"arn:aws:iam::{CHILD}:role/AdminRole")],
        }
        self.iam.policies = {
            self.settings.self_service_policy_arn,
            self.settings.suspended_policy_arn,
        }
        self.revoker = MemoryRevoker(self.settings, self.clock)

    def lifecycle(self) -> Lifecycle:
        return Lifecycle(
            self.settings,
            self.iam,  # type: ignore[arg-type]
            self.state,  # type: ignore[arg-type]
            self.revoker,  # type: ignore[arg-type]
            self.clock,
            self.signin,  # type: ignore[arg-type]
        )
