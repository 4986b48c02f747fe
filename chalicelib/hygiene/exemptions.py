"""Exemptions from hygiene: a managed user's credentials skipped until a date, with a reason,
kept in the user's hygiene item and audited. Exemptions end, and are renewed."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any, Protocol

from chalicelib.hygiene.report import editable_item
from chalicelib.kernel.errors import BadRequest, NotFound
from chalicelib.kernel.ports import StateStore
from chalicelib.settings import Settings

MAX_EXEMPTION_DAYS = 366


class Users(Protocol):
    def get_user(self, username: str) -> dict | None: ...


class Exemptions:
    def __init__(
        self,
        settings: Settings,
        iam: Users,
        state: StateStore,
        clock: Callable[[], datetime],
        check_user_allowed: Callable[[str], None],
    ) -> None:
        self.settings = settings
        self.iam = iam
        self.state = state
        self.clock = clock
        self.check_user_allowed = check_user_allowed

    def exempt(self, username: str, request: Any) -> dict:
        """Skip a managed user's credentials until ``request.until``, with a reason; audited."""
        self.check_user_allowed(username)  # a protected user: 403 (skipped anyway)
        user = self.iam.get_user(username)
        if not user or user["path"] != self.settings.managed_path:
            raise NotFound(f"no managed user named {username}")
        name = user["username"]
        today = self.clock().date()
        if not today < request.until <= today + timedelta(days=MAX_EXEMPTION_DAYS):
            raise BadRequest(
                f"until: must be after today ({today.isoformat()}) and at most "
                f"{MAX_EXEMPTION_DAYS} days away: exemptions end, and are renewed"
            )
        exemption = {
            "reason": request.reason,
            "until": request.until.isoformat(),
            "ticket": request.ticket,
            "requested_by": request.requested_by,
            "at": self.clock().isoformat(timespec="seconds"),
        }
        item = editable_item(self.state.get_hygiene(name), name)
        self.state.put_hygiene(name, {**item, "exemption": exemption})
        self.state.audit(
            "hygiene_exemption", name, request.ticket, request.requested_by, "ok", exemption
        )
        return {"username": name, "exemption": exemption}
