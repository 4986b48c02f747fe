"""The child accounts: CHILD_ACCOUNT_IDS and the ACTIVE accounts AWS Organizations lists under
CHILD_ORGANIZATIONAL_UNITS, kept for CHILD_ACCOUNTS_TTL seconds, so that an account a StackSet's
auto-deployment gives the access roles is covered without a redeployment.

Nested OUs count: a service-managed StackSet targeting an OU deploys to the accounts of its child
OUs too. The management account is never listed (StackSets do not deploy there either); name it
in CHILD_ACCOUNT_IDS if it holds the roles. Organizations answers these read calls only in the
management account or a delegated administrator account, which is where the app runs.

When Organizations fails, the last good listing is answered (with a warning) and Organizations is
asked again after the TTL; with no listing yet, ``OrganizationUnavailable`` is raised: it carries
the static accounts, so that a caller can still act there, and the OUs, to record as owed until
``resolve`` can expand them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from chalicelib.aws.errors import aws_errors
from chalicelib.kernel.errors import (
    AccessDenied,
    AppError,
    ConfigurationError,
    NotFound,
    UpstreamError,
)
from chalicelib.settings import Settings


class OrganizationUnavailable(UpstreamError):
    """Organizations could not be read and nothing was listed before: ``static`` are the
    accounts known without it. Retryable exactly when the cause was."""

    def __init__(
        self, message: str, static: list[str], parents: tuple[str, ...], cause: AppError
    ) -> None:
        super().__init__(message)
        self.static = static
        self.parents = parents  # what a caller records as owed: resolve() expands them later
        self.retryable = cause.retryable


class ChildAccounts:
    def __init__(
        self,
        settings: Settings,
        organizations: Callable[[], Any],
        clock: Callable[[], datetime],
        warn: Callable[..., None] | None = None,
    ) -> None:
        self.settings = settings
        self._organizations = organizations  # made on first use: most stages never need it
        self._clock = clock
        self._warn = warn or _warn
        self._listed: frozenset[str] | None = None
        self._expires = datetime.min
        self._lock = threading.Lock()  # revocations run in threads: one listing at a time

    def current(self) -> list[str]:
        """Every child account, sorted."""
        static = set(self.settings.child_account_ids)
        parents = self.settings.child_organizational_units
        if not parents:
            return sorted(static)
        with self._lock:
            now = self._clock()
            if self._listed is None or now >= self._expires:
                try:
                    self._listed = self._list(parents)
                except AppError as error:
                    if self._listed is None:
                        raise OrganizationUnavailable(
                            f"the child accounts in AWS Organizations are unknown: {error.message}",
                            sorted(static),
                            parents,
                            error,
                        ) from error
                    self._warn(
                        "AWS Organizations failed; using the child accounts listed before",
                        error=error.message,
                        accounts=sorted(self._listed),
                    )
                self._expires = now + timedelta(seconds=self.settings.child_accounts_ttl)
            return sorted(static | self._listed)

    def resolve(self, accounts: list[str]) -> list[str]:
        """``accounts``, sorted, with any configured OU or root id among them (recorded as owed
        while Organizations could not be read) replaced by the current child accounts."""
        parents = set(self.settings.child_organizational_units)
        named = set(accounts)
        if not named & parents:
            return sorted(named)
        return sorted((named - parents) | set(self.current()))

    def _list(self, parents: tuple[str, ...]) -> frozenset[str]:
        client = self._organizations()
        found: set[str] = set()
        seen: set[str] = set()
        todo = list(parents)
        while todo:
            parent = todo.pop()
            if parent in seen:  # one configured OU may lie within another
                continue
            seen.add(parent)
            with aws_errors(f"listing the accounts under {parent} in AWS Organizations"):
                for page in client.get_paginator("list_accounts_for_parent").paginate(
                    ParentId=parent
                ):
                    found.update(account["Id"] for account in page["Accounts"] if _active(account))
                for page in client.get_paginator("list_organizational_units_for_parent").paginate(
                    ParentId=parent
                ):
                    todo.extend(unit["Id"] for unit in page["OrganizationalUnits"])
        found.discard(self.settings.root_account_id)
        return frozenset(found)


def _active(account: dict) -> bool:
    # State is the field AWS documents; Status (retired in September 2026) for older answers.
    return account.get("State", account.get("Status")) == "ACTIVE"


def not_deployed(account: str, role: str, error: AppError) -> str:
    """Why an account could not be reached through ``role``. AWS refuses AssumeRole
    (AccessDenied) into a role that does not exist, as in an account the StackSet has not reached
    yet; said so, with AWS's own words rather than advice to change the app's policy."""
    if not isinstance(error, (AccessDenied, NotFound)):
        return error.message
    aws = getattr(error.__cause__, "response", {}).get("Error", {}).get("Message")
    return f"{role} not deployed in {account} yet: {aws or error.message}"


def _warn(message: str, **extra: Any) -> None:
    from chalicelib.kernel.telemetry import logger

    try:
        log: Any = logger()
    except ConfigurationError:  # settings made in code, not from the environment
        log = logging.getLogger(__name__)
    log.warning(message, extra=extra)
