"""Revoking people's live sessions in every child account, through AccessRevocationRole there.

Accounts are done in parallel. Within an account each role's inline deny is read, merged and
written under a lock (IAM has no conditional write, and two offboardings at once must not lose
each other's statements). An account that cannot be reached is reported, never skipped silently:
the caller records it and a schedule retries. A document with no room left for a person is fitted
(:func:`revocation_policy.fit`): merged, then cut off for the whole role, and the accounts where
that happened are reported too. It never fails for want of room.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial
from typing import Any
from urllib.parse import unquote

from chalicelib.aws.accounts import ChildAccounts, OrganizationUnavailable, not_deployed
from chalicelib.aws.clients import AwsClients
from chalicelib.aws.errors import aws_errors, tolerant
from chalicelib.aws.state import StateStore
from chalicelib.kernel.claim import Claim
from chalicelib.kernel.errors import AppError, Conflict, NotFound
from chalicelib.kernel.waves import wave
from chalicelib.lifecycle import revocation_policy
from chalicelib.lifecycle.revocation_policy import Revoked
from chalicelib.settings import Settings

SESSION_NAME = "iam-lifecycle"
# The overflow policies' path and room: customer managed policies hold 6,144 characters.
OVERFLOW_PATH = "/access-revocation/"
OVERFLOW_ROOM = 6_144


@dataclass
class _Overflow:
    """One overflow policy of a role as read: its default version and document."""

    arn: str
    version: str
    document: dict | None


@dataclass
class _Held:
    """One role of a revocation begun: its lock (if it was free) and what the lock guards."""

    account: str
    iam: Any
    role: str
    arn: str
    owner: str
    found: dict[str, Any] = field(default_factory=dict)
    taken: float = 0.0  # the monotonic moment before the lock was asked for beside the reads


class Revocation:
    """A revocation begun (:meth:`Revoker.begin`): committed with the names to revoke, or
    abandoned, which lets the locks go."""

    def __init__(self, revoker: Revoker, begun: dict[str, list[_Held] | str]) -> None:
        self._revoker = revoker
        self._begun = begun
        self._settled = False

    def commit(self, usernames: list[str], before: datetime | None = None) -> Revoked:
        """Write the denies of ``usernames``' sessions issued before ``before`` (default: now;
        none named: only prune). Returns the accounts done, for those that failed why, and
        those where a role was cut off whole."""

        def one(account: str) -> tuple[str | None, bool]:
            begun = self._begun[account]
            if isinstance(begun, str):
                return begun, False
            try:
                cut = wave(
                    {
                        held.role: partial(self._revoker._write, held, usernames, before)
                        for held in begun
                    }
                )
            except AppError as error:
                return error.message, False
            return None, any(cut.values())

        self._settled = True
        outcome = wave({a: partial(one, a) for a in self._begun}, limit=None)
        return Revoked(
            sorted(account for account, (failure, _) in outcome.items() if failure is None),
            {account: failure for account, (failure, _) in outcome.items() if failure},
            sorted(account for account, (failure, cut) in outcome.items() if cut and not failure),
        )

    def renew(self, seconds: int) -> bool:
        """Hold the locks this revocation took ``seconds`` more (the running change's
        heartbeat): a change whose process died frees its roles that long after its last
        renewal. False once none is ours any more (written and let go, or abandoned)."""
        held = [
            h
            for begun in self._begun.values()
            if isinstance(begun, list)
            for h in begun
            if h.found.get("lock")
        ]
        # One after the other, on the heartbeat's own thread: a few roles, seconds to spare.
        renewed = [self._revoker.state.renew_lock(h.arn, h.owner, seconds) for h in held]
        return any(renewed)

    def abandon(self) -> None:
        """Let the locks go, unless committed (a change refused after it began)."""
        if self._settled:
            return
        self._settled = True
        held = [
            h
            for begun in self._begun.values()
            if isinstance(begun, list)
            for h in begun
            if h.found.get("lock")
        ]
        state = self._revoker.state
        wave({h.arn: partial(state.release_lock, h.arn, h.owner) for h in held}, limit=None)


class Revoker:
    def __init__(
        self,
        settings: Settings,
        clients: AwsClients,
        state: StateStore,
        clock: Callable[[], datetime],
        children: ChildAccounts | None = None,
    ) -> None:
        self.settings = settings
        self.clients = clients
        self.state = state
        self.clock = clock
        self.children = children or ChildAccounts(
            settings, lambda: clients.root("organizations"), clock
        )
        self._max_sessions: dict[tuple[str, str], timedelta] = {}

    def _iam(self, account: str) -> Any:
        return self.clients.child(account, self.settings.revocation_role, "iam", SESSION_NAME)

    def every_role(self, accounts: list[str] | None = None) -> dict[str, list[str]]:
        """{account: [role]}: every managed role in ``accounts`` (default: every child account;
        an OU recorded as owed stands for its accounts)."""
        chosen = self.children.current() if accounts is None else self.children.resolve(accounts)
        return {account: list(self.settings.revocable_roles) for account in chosen}

    def begin(self, targets: dict[str, list[str]] | None = None) -> Revocation:
        """Reach each account and read what a revocation there writes over (each role's lock,
        deny document and MaxSessionDuration), writing nothing: started before the operation
        knows whom it revokes, its writes need one round trip once it does."""
        owed: dict[str, str] = {}
        if targets is None:
            try:
                targets = self.every_role()
            except OrganizationUnavailable as error:
                # Where the organization's accounts are unknown, the OUs are owed (the schedule
                # retries them) and the accounts known without it are done now.
                targets = self.every_role(error.static)
                owed = {parent: error.message for parent in error.parents}
        role = self.settings.revocation_role

        def one(account: str) -> list[_Held] | str:
            try:
                with aws_errors(f"assuming {role} in {account}"):
                    iam = self._iam(account)
                found = wave(
                    {
                        name: partial(self._read_role, account, iam, name)
                        for name in targets[account]
                    }
                )
            except AppError as error:
                return not_deployed(account, role, error)
            return list(found.values())

        # Every account at once: each has clients of its own, and a leaver's sessions in the
        # hundredth account matter as much as in the first.
        begun = wave({a: partial(one, a) for a in targets}, limit=None)
        return Revocation(self, {**begun, **owed})

    def revoke(
        self,
        usernames: list[str],
        targets: dict[str, list[str]] | None = None,
        before: datetime | None = None,
    ) -> Revoked:
        """Deny ``usernames``' sessions issued before ``before`` (default: now) on ``targets``
        ({account: [role]}; default: every managed role in every child account). Returns the
        accounts done, those that failed with why, and those where a role was cut off whole."""
        return self.begin(targets).commit(usernames, before)

    def prune(self) -> Revoked:
        """Drop statements whose sessions have all expired, in every child account."""
        return self.begin().commit([])

    def _read_role(self, account: str, iam: Any, role: str) -> _Held:
        arn = f"arn:aws:iam::{account}:role/{role}"
        held = _Held(account, iam, role, arn, uuid.uuid4().hex)
        # The lock and what it guards are read together: one round trip when nobody else
        # writes this role; when somebody does, the write takes the queueing path instead.
        # Taken from a holder that let go while the reads were made (its write may have come
        # after them), the lock is ours but the document read is not trusted: read again under it.
        started, held.taken = time.time(), time.monotonic()
        try:
            found = wave({"lock": lambda: self._try_lock(arn, held.owner), **self._reads(held)})
        except AppError:
            self.state.release_lock(arn, held.owner)  # it may have been taken beside a failed read
            raise
        previous = found["lock"]
        held.found = {
            **found,
            "lock": previous is not None,
            "stale": previous is not None and previous > started - Claim.MARGIN,
        }
        return held

    def _reads(self, held: _Held) -> dict[str, Callable[[], Any]]:
        return {
            "waiting": lambda: self.state.waiting(held.arn),
            "document": lambda: self._read(held.iam, held.role),
            "max_session": lambda: self._max_session(held.account, held.iam, held.role),
        }

    def _write(
        self, held: _Held, usernames: list[str], before: datetime | None = None, attempt: int = 1
    ) -> bool:
        """Rewrite the role's deny documents (its lock held, its reads in ``held.found``); True
        when the people are revoked by a cutoff of the whole role. People to revoke who find the
        lock taken join its waiting set, and whoever holds it next writes everyone waiting: a
        hundred offboardings at once cost a few writes, not a hundred."""
        found, name = held.found, self.settings.revocation_policy
        # The lock taken beside the change's reads may have run out while the change went on:
        # what was read under it is trusted only if it is still ours (renewed now, unless it
        # was taken a moment ago).
        since = self._renewed(held, held.taken) if found["lock"] else None
        if since is None:
            asked = revocation_policy.moment_of(before or self.clock())
            taken, cut_at = self._lock(held.arn, held.owner, queue=usernames)
            if taken is None:
                # Another writer took our names with theirs, at their moment (no earlier than
                # ours); it left word if that write, or a later one, cut the role off.
                return cut_at is not None and datetime.fromisoformat(cut_at) >= asked
            since = taken
            found = wave(self._reads(held))
        elif found.get("stale"):
            # (the waiting set read beside stays: a name it missed waits for the next holder,
            # one already written is written again, later)
            found = {**found, "document": self._read(held.iam, held.role)}
        waiting: list[str] = found["waiting"] if usernames else []

        def wanted(documents: list[dict | None]) -> dict | None:
            updated = self._unexpired(revocation_policy.combine(documents), found["max_session"])
            if usernames:
                # Those waiting are written at now: their moment came later than ours.
                updated = revocation_policy.revoke(
                    updated,
                    sorted(set(waiting) - set(usernames)),
                    self.clock(),
                    found["max_session"],
                )
                updated = revocation_policy.revoke(
                    updated, sorted(usernames), self.clock(), found["max_session"], before
                )
            return updated

        try:
            updated = wanted([found["document"]])
            overflow: list[_Overflow] = []
            # The overflow policies are read only when the inline one is not enough, and on
            # every prune (which moves what they hold back when there is room): the common
            # revocation costs one read a role. Unread, they are left as they are.
            if self.settings.revocation_overflow and (
                not usernames or revocation_policy.size(updated) > self.settings.revocation_room
            ):
                overflow = self._read_overflow(held)
                updated = wanted([found["document"], *(o.document for o in overflow)])
            rooms = [self.settings.revocation_room] + [OVERFLOW_ROOM] * len(overflow)
            packed = revocation_policy.fit_into(updated, rooms).documents
            # Never write over a document another writer may have changed since it was read:
            # the write starts with most of the lock's life ahead, renewed (still ours: nobody
            # else held it meanwhile) unless it was taken or renewed a moment ago, and always
            # after the overflow's reads (several IAM calls, each retried when throttled).
            if self._renewed(held, since, now=bool(overflow)) is None:
                if attempt >= 3:
                    raise AppError(f"the lock on {held.arn} ran out before its deny was written")
                stale = _Held(held.account, held.iam, held.role, held.arn, held.owner, {})
                stale.found = {"lock": False}
                return self._write(stale, usernames, before, attempt + 1)
            writes: dict[str, Callable[[], Any]] = {}
            if packed[0] != found["document"]:
                writes[name] = partial(self._write_inline, held, packed[0])
            for o, document in zip(overflow, packed[1:], strict=True):
                document = document or revocation_policy.placeholder_document()
                if document != o.document:
                    writes[o.arn] = partial(self._write_overflow, held, o, document)
            wave(writes)
        except BaseException:
            self.state.release_lock(held.arn, held.owner)
            raise
        # Revoked by a cutoff of the whole role (this write's, or one still in force that
        # covers their moment): the answers say so, those waiting included.
        # (a cutoff stays in the inline document, with the statements not the service's)
        cut_moment = revocation_policy.cutoff(packed[0]) if usernames else None
        if cut_moment is not None and cut_moment < revocation_policy.moment_of(
            before or self.clock()
        ):
            cut_moment = None
        release = partial(self.state.release_lock, held.arn, held.owner)
        if not waiting:
            # Nobody was written with us: the set is left as it is (see remove_waiting).
            release()
            return cut_moment is not None
        # Those waiting were written with us: off the set as the lock goes, at once, for the
        # next writer (a burst of offboardings queues on these locks). A revocation runs beside
        # the change's own waves, so this wave lengthens none of them.
        cut_at = cut_moment.isoformat() if cut_moment else None
        wave(
            {
                "dequeue": partial(self.state.remove_waiting, held.arn, waiting, cut_at),
                "release": release,
            }
        )
        return cut_moment is not None

    def _renewed(self, held: _Held, since: float, now: bool = False) -> float | None:
        """The monotonic moment from which the lock is ours for most of its life: ``since`` (a
        moment before it was taken or last renewed) while less than a third of its life has gone
        since, else (or ``now``) the moment before renewing it; None when it is not ours any
        more. Its life is the shorter of the lock's own and the lease the running change's
        heartbeat renews it for. Within a third of it nobody else can have taken the lock (its
        end is far off, on clocks that differ far less than that: kernel/claim.py), so a renewal
        would only find it ours, and is not sent; renewed after, the write it guards starts with
        at least two thirds ahead."""
        life = min(self.settings.revocation_lock_seconds, self.settings.lease_seconds)
        moment = time.monotonic()
        if not now and moment - since <= life / 3:
            return since
        seconds = self.settings.revocation_lock_seconds
        return moment if self.state.renew_lock(held.arn, held.owner, seconds) else None

    def _unexpired(self, document: dict | None, max_session: timedelta) -> dict | None:
        return revocation_policy.prune(document, self.clock(), max_session)

    def _try_lock(self, name: str, owner: str) -> float | None:
        """When the lock's previous holder last held it, once taken; None while another holds it."""
        try:
            return self.state.acquire_lock(name, owner, self.settings.revocation_lock_seconds)
        except Conflict:
            return None

    def _lock(self, name: str, owner: str, queue: list[str]) -> tuple[float | None, str | None]:
        """(when, None) once the lock is held, ``when`` the monotonic moment before the request
        that took it. While another holds it, ``queue`` waits in the lock's set; (None, when the
        role was last cut off) once a holder wrote them."""
        # Wait out a holder that died (its lock expires after revocation_lock_seconds), but not
        # a queue that moves: in a burst, each holder writes everyone waiting, so as long as the
        # queue shrinks, our turn is coming and giving up would only owe a revocation.
        patience = 2 * self.settings.revocation_lock_seconds
        deadline = time.monotonic() + patience
        delay = 0.05
        queued = False
        ahead: set[str] = set()
        while True:
            asked = time.monotonic()
            try:
                self.state.acquire_lock(name, owner, self.settings.revocation_lock_seconds)
                return asked, None
            except Conflict:
                if time.monotonic() > deadline:
                    raise
            if queue and not queued:
                self.state.add_waiting(name, queue)
                queued = True
            time.sleep(delay)
            if queue:
                members, cut_at = self.state.queue(name)
                if not set(queue) & set(members):
                    return None, cut_at
                if ahead - set(members):  # someone ahead was written: the queue moves
                    deadline = time.monotonic() + patience
                ahead = set(members)
            # Polling is most of a burst's calls: back off to a second.
            delay = min(delay * 2, 1.0)

    def _write_inline(self, held: _Held, document: dict | None) -> None:
        name = self.settings.revocation_policy
        if document is None:
            with aws_errors(f"deleting {name} on {held.arn}"):
                held.iam.delete_role_policy(RoleName=held.role, PolicyName=name)
            return
        with aws_errors(f"writing {name} on {held.arn}"):
            held.iam.put_role_policy(
                RoleName=held.role, PolicyName=name, PolicyDocument=json.dumps(document)
            )

    def overflow_arns(self, account: str, role: str) -> list[str]:
        """The role's overflow policies (templates/child/access-roles.yaml), in order."""
        return [
            f"arn:aws:iam::{account}:policy{OVERFLOW_PATH}{role}Revocation{n}"
            for n in range(1, self.settings.revocation_overflow + 1)
        ]

    def _read_overflow(self, held: _Held) -> list[_Overflow]:
        def one(arn: str) -> _Overflow:
            with aws_errors(f"reading {arn}"):
                version = held.iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
                raw = held.iam.get_policy_version(PolicyArn=arn, VersionId=version)
            document = raw["PolicyVersion"]["Document"]
            if not isinstance(document, dict):
                document = json.loads(unquote(document))
            return _Overflow(arn, version, document)

        arns = self.overflow_arns(held.account, held.role)
        found = wave({arn: partial(one, arn) for arn in arns})
        return [found[arn] for arn in arns]

    def _write_overflow(self, held: _Held, overflow: _Overflow, document: dict) -> None:
        """A new default version, then the old one deleted: a policy keeps at most two."""
        arn = overflow.arn
        with aws_errors(f"writing {arn}"):
            try:
                held.iam.create_policy_version(
                    PolicyArn=arn, PolicyDocument=json.dumps(document), SetAsDefault=True
                )
            except held.iam.exceptions.LimitExceededException:
                # Versions left by writers that died between their two calls (IAM numbers them
                # v1, v2, ...): the four before the default go, then the write again.
                number = int(overflow.version.lstrip("v"))
                for older in range(max(1, number - 4), number):
                    tolerant(
                        held.iam.delete_policy_version,
                        f"deleting version v{older} of {arn}",
                        PolicyArn=arn,
                        VersionId=f"v{older}",
                    )
                held.iam.create_policy_version(
                    PolicyArn=arn, PolicyDocument=json.dumps(document), SetAsDefault=True
                )
        tolerant(
            held.iam.delete_policy_version,
            f"deleting version {overflow.version} of {arn}",
            PolicyArn=arn,
            VersionId=overflow.version,
        )

    def _read(self, iam: Any, role: str) -> dict | None:
        try:
            with aws_errors(f"reading {self.settings.revocation_policy} on {role}"):
                raw = iam.get_role_policy(RoleName=role, PolicyName=self.settings.revocation_policy)
        except NotFound:
            return None
        document = raw["PolicyDocument"]
        return document if isinstance(document, dict) else json.loads(unquote(document))

    def _max_session(self, account: str, iam: Any, role: str) -> timedelta:
        """The role's MaxSessionDuration, read once per container (it changes with a deployment)."""
        key = (account, role)
        if key not in self._max_sessions:
            with aws_errors(f"reading role {role} in {account}"):
                seconds = iam.get_role(RoleName=role)["Role"].get("MaxSessionDuration", 3600)
            self._max_sessions[key] = timedelta(seconds=seconds)
        return self._max_sessions[key]
