"""Revoking people's live sessions in every child account, through AccessRevocationRole there.

Accounts are done in parallel. Within an account each role's inline deny is read, merged and
written under a lock (IAM has no conditional write, and two offboardings at once must not lose
each other's statements). An account that cannot be reached is reported, never skipped silently:
the caller records it and a schedule retries.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any
from urllib.parse import unquote

from chalicelib import revocation_policy
from chalicelib.aws import AwsClients
from chalicelib.errors import AppError, Conflict, NotFound
from chalicelib.iam_gateway import aws_errors
from chalicelib.settings import Settings
from chalicelib.state_store import StateStore
from chalicelib.waves import wave

SESSION_NAME = "iam-lifecycle"


class Revoker:
    def __init__(self, settings: Settings, clients: AwsClients, state: StateStore,
                 clock: Callable[[], datetime]) -> None:
        self.settings = settings
        self.clients = clients
        self.state = state
        self.clock = clock
        self._max_sessions: dict[tuple[str, str], timedelta] = {}

    def _iam(self, account: str) -> Any:
        return self.clients.child(account, self.settings.revocation_role, "iam", SESSION_NAME)

    def every_role(self, accounts: list[str] | None = None) -> dict[str, list[str]]:
        """{account: [role]}: every managed role in ``accounts`` (default: every child account)."""
        chosen = self.settings.child_account_ids if accounts is None else accounts
        return {account: list(self.settings.revocable_roles) for account in chosen}

    def revoke(self, usernames: list[str], targets: dict[str, list[str]] | None = None
               ) -> tuple[list[str], dict[str, str]]:
        """Deny ``usernames``' sessions issued before now on ``targets`` ({account: [role]};
        default: every managed role in every child account). Returns the accounts done and, for
        those that failed, why."""
        return self._each_account(self.every_role() if targets is None else targets,
                                  self._unexpired, usernames)

    def prune(self) -> tuple[list[str], dict[str, str]]:
        """Drop statements whose sessions have all expired, in every child account."""
        return self._each_account(self.every_role(), self._unexpired)

    def _unexpired(self, document: dict | None, max_session: timedelta) -> dict | None:
        return revocation_policy.prune(document, self.clock(), max_session)

    def _each_account(self, targets: dict[str, list[str]],
                      change: Callable[[dict | None, timedelta], dict | None],
                      usernames: list[str] | None = None) -> tuple[list[str], dict[str, str]]:
        def one(account: str) -> str | None:
            try:
                with aws_errors(f"assuming {self.settings.revocation_role} in {account}"):
                    iam = self._iam(account)
                wave({role: (lambda role=role: self._update(account, iam, role, change, usernames))
                      for role in targets[account]})
            except AppError as error:
                return error.message
            return None

        outcome = wave({account: (lambda account=account: one(account)) for account in targets})
        done = sorted(account for account, failure in outcome.items() if failure is None)
        return done, {account: failure for account, failure in outcome.items() if failure}

    def _update(self, account: str, iam: Any, role: str,
                change: Callable[[dict | None, timedelta], dict | None],
                usernames: list[str] | None = None) -> None:
        """Rewrite the role's deny document under its lock. People to revoke who find the lock
        taken join its waiting set, and whoever holds it next writes everyone waiting: a hundred
        offboardings at once cost a few writes, not a hundred in a row."""
        arn = f"arn:aws:iam::{account}:role/{role}"
        name = self.settings.revocation_policy
        owner = uuid.uuid4().hex
        if not self._lock(arn, owner, queue=usernames or []):
            return  # another writer took our names with theirs
        try:
            found = wave({"waiting": lambda: self.state.waiting(arn) if usernames else [],
                          "document": lambda: self._read(iam, role),
                          "max_session": lambda: self._max_session(account, iam, role)})
            waiting = found["waiting"]
            updated = change(found["document"], found["max_session"])
            if usernames:
                updated = revocation_policy.revoke(updated, sorted(set(waiting) | set(usernames)),
                                                   self.clock(), found["max_session"])
            if updated == found["document"]:
                pass
            elif updated is None:
                with aws_errors(f"deleting {name} on {arn}"):
                    iam.delete_role_policy(RoleName=role, PolicyName=name)
            elif revocation_policy.size(updated) > revocation_policy.SIZE_LIMIT:
                raise AppError(f"the revocation policy on {arn} would exceed IAM's size limit")
            else:
                with aws_errors(f"writing {name} on {arn}"):
                    iam.put_role_policy(RoleName=role, PolicyName=name,
                                        PolicyDocument=json.dumps(updated))
            self.state.remove_waiting(arn, waiting)
        finally:
            self.state.release_lock(arn, owner)

    def _lock(self, name: str, owner: str, queue: list[str]) -> bool:
        """True once the lock is held. While another holds it, ``queue`` waits in the lock's
        set; False when a holder has written them meanwhile."""
        # Wait out a holder that died: its lock expires after revocation_lock_seconds.
        deadline = time.monotonic() + 2 * self.settings.revocation_lock_seconds
        delay = 0.05
        queued = False
        while True:
            try:
                self.state.acquire_lock(name, owner, self.settings.revocation_lock_seconds)
                return True
            except Conflict:
                if time.monotonic() > deadline:
                    raise
            if queue and not queued:
                self.state.add_waiting(name, queue)
                queued = True
            time.sleep(delay)
            if queue and not set(queue) & set(self.state.waiting(name)):
                return False
            delay = min(delay * 2, 0.5)

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
