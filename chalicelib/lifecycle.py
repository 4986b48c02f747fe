"""The lifecycle operations. Nothing here knows of Chalice, Slack or boto3: gateways do the AWS work.

Every operation is resumable: it first writes in the user's record what it is about to do (and
what it must remember, such as the groups before a suspension), then converges AWS on the target
state with steps that tolerate being done already, then records the result. A retry after a
failure halfway therefore finishes the job instead of starting another.
"""

from __future__ import annotations

import contextlib
from collections.abc import Callable
from typing import Any
from datetime import datetime, timedelta, timezone

from chalicelib import access_map, call_log
from chalicelib.errors import AccessDenied, BadRequest, Conflict, Forbidden, NotFound
from chalicelib.iam_gateway import IamGateway
from chalicelib.identity import key
from chalicelib.offboarding import offboard_user
from chalicelib.passwords import temporary_password
from chalicelib.schemas import (GrantRequest, MoveRequest, OffboardRequest, OnboardRequest,
                                RestoreRequest, SuspendRequest, check_username)
from chalicelib.settings import Settings
from chalicelib.state_store import StateStore
from chalicelib.revocation import Revoker
from chalicelib.waves import wave


class Lifecycle:
    def __init__(self, settings: Settings, iam: IamGateway, state: StateStore, revoker: Revoker,
                 clock: Callable[[], datetime]) -> None:
        self.settings = settings
        self.iam = iam
        self.state = state
        self.revoker = revoker
        self.clock = clock

    # guard rails
    def check_user_allowed(self, username: str) -> None:
        check_username(username)
        if key(username) in self.settings.protected_users:  # IAM names ignore case; so does this
            raise Forbidden(f"{username} is a protected user; this service does not change it")

    def _check_groups(self, groups: list[str]) -> None:
        refused = sorted(set(groups) - set(self.settings.allowed_groups))
        if refused:
            raise Forbidden(
                f"group(s) {', '.join(refused)} are not managed by this service; "
                f"allowed: {', '.join(self.settings.allowed_groups)}"
            )
        missing = [group for group in groups if not self.iam.group_exists(group)]
        if missing:
            raise BadRequest(f"group(s) {', '.join(missing)} do not exist in the root account")

    def _managed_user(self, username: str, user: dict | None | object = ...) -> dict:
        """The user if the app manages it (``user``: already read, or None for missing). Its
        ``username`` is the name as IAM spells it, which may differ in case from the request's:
        the operations act on, record and revoke under that spelling."""
        user = self.iam.get_user(username) if user is ... else user
        if not isinstance(user, dict) or user["path"] != self.settings.managed_path:
            raise NotFound(f"no managed user named {username}")
        self.check_user_allowed(user["username"])
        return user

    def _managed_name(self, username: str) -> str:
        self.check_user_allowed(username)
        return self._managed_user(username)["username"]

    def _record(self, username: str) -> dict:
        return self.state.get_record(username) or {"status": "active", "grants": []}

    def _foreign(self, groups: list[str]) -> list[str]:
        """The groups among ``groups`` that this service does not manage (nor may read)."""
        return sorted(set(groups) - set(self.settings.allowed_groups))

    def _managed_groups_of(self, username: str, groups: list[str] | None = None) -> list[str]:
        groups = self.iam.groups_of(username) if groups is None else groups
        foreign = self._foreign(groups)
        if foreign:
            raise Conflict(
                f"{username} is also in group(s) {', '.join(foreign)}, which this service does "
                "not manage; remove them there by hand, then retry"
            )
        return groups

    # what a set of groups gives
    def roles_for(self, groups: list[str]) -> list[str]:
        """The roles the managed ones of ``groups`` let their members assume. The policies of a
        group the service does not manage are not its to read (its role may not)."""
        managed = [group for group in groups if group in self.settings.allowed_groups]
        documents = [doc for group in managed for doc in self.iam.group_policy_documents(group)]
        return access_map.assumable_roles(documents)

    def aws_config(self, username: str, roles: list[str]) -> str:
        return access_map.aws_config(
            username, roles, root_account_id=self.settings.root_account_id,
            region=self.settings.region, mfa_roles=self.settings.mfa_roles,
        )

    def aws_config_of(self, username: str) -> dict:
        """The ``~/.aws/config`` text of the roles the user's groups reach now, and its profiles."""
        username = self._managed_name(username)
        roles = self.roles_for(self.iam.groups_of(username))
        return {"username": username, "aws_config": self.aws_config(username, roles),
                "profiles": access_map.profiles(roles, self.settings.mfa_roles)}

    def _roles_before(self, record: dict, groups: list[str] | None = None) -> list[str]:
        """What an active user reached before a change: through ``groups`` (read from IAM by the
        change) and through the groups and grants of the record, which still name what an
        attempt that failed halfway already took away. Read before the change's first write."""
        held = set(groups or []) & set(self.settings.allowed_groups)
        recorded = set(record.get("groups", [])) | {g["group"] for g in record.get("grants", [])}
        documents = [doc for group in sorted(held)
                     for doc in self.iam.group_policy_documents(group)]
        for group in sorted((recorded & set(self.settings.allowed_groups)) - held):
            with contextlib.suppress(NotFound):  # deleted since: it reaches nothing
                documents += self.iam.group_policy_documents(group)
        return access_map.assumable_roles(documents)

    def _with_config(self, answer: dict, user: dict, before: list[str]) -> dict:
        """``answer`` with the config of what ``user`` (described after the change) reaches, and
        the profiles of the roles reached ``before`` that the change took away."""
        return {**answer, "aws_config": self.aws_config(user["username"], user["roles"]),
                "profiles_to_remove": access_map.profiles_to_remove(before, user["roles"])}

    def _set_password(self, username: str, new_user: bool = False) -> str:
        password = temporary_password()
        self.iam.set_console_password(username, password, new_user)
        return password

    # operations
    def onboard(self, request: OnboardRequest) -> dict:
        """Create the user (tagged with the ticket), console login, self-service policy, groups.

        A user that exists already is a conflict, except for a retry of this very ticket: an
        onboarding the record says is in progress (or that failed before its record was
        written) is finished; one that completed but whose answer was lost (nothing changed the
        user since, within the idempotency window) is answered again with a new temporary
        password, as its first one was never seen. Anything else, a suspended user above all,
        is never onboarded again."""
        username = request.username
        self.check_user_allowed(username)
        self._check_groups(request.groups)
        looked = wave({"user": lambda: self.iam.get_user(username),
                       "record": lambda: self.state.get_record(username)})
        existing, record = looked["user"], looked["record"]
        if existing is not None and self._completed(request, existing, record):
            password = self._set_password(username) if request.console else None
            return self._onboarded(username, password)
        started = {"status": "onboarding", "ticket": request.ticket,
                   "groups": sorted(request.groups), "grants": []}
        first: dict[str, Callable[[], Any]] = {
            "record": lambda: self.state.put_record(username, started)}
        created = existing is None
        if created:
            tags = {"ticket": request.ticket, "requested_by": request.requested_by,
                    "managed_by": self.settings.app_name}
            if request.email:
                tags["email"] = request.email
            first["user"] = lambda: self.iam.create_user(username, self.settings.managed_path, tags)
        wave(first)

        current = set() if created else set(self.iam.groups_of(username))
        tasks = {g: (lambda g=g: self.iam.add_to_group(username, g))
                 for g in request.groups if g not in current}
        tasks["self-service"] = lambda: self.iam.attach_user_policy(
            username, self.settings.self_service_policy_arn)
        if request.console:
            tasks["password"] = lambda: self._set_password(username, new_user=created)
        password = wave(tasks).get("password")
        self.state.put_record(username, {**started, "status": "active"})
        return self._onboarded(username, password)

    def _onboarded(self, username: str, password: str | None) -> dict:
        user = self.describe(username)
        answer = {"user": user, "aws_config": self.aws_config(username, user["roles"])}
        if password:
            answer["temporary_password"] = password
        return answer

    def _completed(self, request: OnboardRequest, existing: dict, record: dict | None) -> bool:
        """For a user that exists: False to finish this ticket's onboarding, True when it did
        complete; anything else is a conflict."""
        username = request.username
        if existing["username"] != username:
            raise Conflict(f"a user named {existing['username']} already exists; IAM user names "
                           f"are not case-sensitive, so {username} would be the same person")
        if existing["path"] != self.settings.managed_path or \
                existing["tags"].get("ticket") != request.ticket:
            raise Conflict(f"a user named {username} already exists")
        if record is None or (record.get("status") == "onboarding"
                              and record.get("ticket") == request.ticket):
            return False
        if record.get("status") == "active" and record.get("ticket") == request.ticket and \
                _written_within(record, self.settings.idempotency_ttl):
            return True
        raise Conflict(f"{username} was onboarded by ticket {request.ticket} already and is "
                           f"{record.get('status', 'active')} now; change them with the other "
                           "operations")

    def move(self, username: str, request: MoveRequest) -> dict:
        """Set the user's managed groups to exactly ``request.groups``."""
        username = self._managed_name(username)  # as IAM spells it
        self._check_groups(request.groups)
        record = self._record(username)
        if record["status"] != "active":
            raise Conflict(f"{username} is {record['status']}; restore them before moving them")
        granted = {g["group"] for g in record.get("grants", [])}
        groups = self._managed_groups_of(username)
        current = set(groups) - granted  # grants end on their own
        before = self._roles_before(record, groups)
        target = set(request.groups)
        tasks = {f"+{g}": (lambda g=g: self.iam.add_to_group(username, g)) for g in target - current}
        tasks.update({f"-{g}": (lambda g=g: self.iam.remove_from_group(username, g))
                      for g in current - target})
        wave(tasks)
        self.state.put_record(username, {**record, "groups": sorted(target), "ticket": request.ticket})
        user = self.describe(username)
        return self._with_config(user, user, before)

    def suspend(self, username: str, request: SuspendRequest) -> dict:
        """Remember groups, active keys and console access; then take all of them away."""
        username = self._managed_name(username)  # as IAM spells it
        record = self._record(username)
        status = record["status"]
        if status == "suspended" and record.get("ticket") == request.ticket:
            return self._with_sessions(self.describe(username), record)  # it did complete
        if status == "suspended" or (status in ("restoring", "offboarding")):
            raise Conflict(f"{username} is {status}; only an active user can be suspended")
        if status != "suspending":  # a retry keeps what the first attempt remembered
            keys = [k["id"] for k in self.iam.access_keys(username) if k["status"] == "Active"]
            # Time-bound access ends with a suspension and is not given back by a restore.
            granted = {g["group"] for g in record.get("grants", [])} - set(record.get("groups", []))
            groups = [g for g in self._managed_groups_of(username) if g not in granted]
            record = {**record, "status": "suspending", "ticket": request.ticket, "grants": [],
                      "saved": {"groups": groups, "keys": keys,
                                "console": self.iam.has_login_profile(username)},
                      "reason": request.reason,
                      "suspended_until": request.until.isoformat() if request.until else None}
            self.state.put_record(username, record)
        saved = record["saved"]
        tasks = {f"group:{g}": (lambda g=g: self.iam.remove_from_group(username, g))
                 for g in self.iam.groups_of(username)}
        tasks.update({f"key:{k}": (lambda k=k: self.iam.set_key_status(username, k, "Inactive"))
                      for k in saved["keys"]})
        tasks["console"] = lambda: self.iam.delete_login_profile(username)
        tasks["sessions"] = lambda: self.revoker.revoke([username])
        revoked, pending = wave(tasks)["sessions"]
        record = {**record, "status": "suspended", **_sessions(revoked, pending)}
        self.state.put_record(username, record)
        return self._with_sessions(self.describe(username), record)

    def restore(self, username: str, request: RestoreRequest) -> dict:
        """Undo exactly what the suspension did; a new temporary password if console existed."""
        username = self._managed_name(username)  # as IAM spells it
        record = self._record(username)
        if record["status"] == "active" and record.get("ticket") == request.ticket:
            # A retry of a restore that completed: its password was never seen, so set another.
            password = (self._set_password(username)
                        if self.iam.has_login_profile(username) else None)
            answer: dict = {"user": self.describe(username)}
            if password:
                answer["temporary_password"] = password
            return self._with_config(answer, answer["user"], [])  # it started from a suspension
        if record["status"] not in ("suspended", "restoring"):
            raise Conflict(f"{username} is {record['status']}; only a suspended user can be restored")
        if record["status"] == "suspended":
            record = {**record, "status": "restoring", "ticket": request.ticket}
            self.state.put_record(username, record)
        saved = record["saved"]
        tasks = {f"group:{g}": (lambda g=g: self.iam.add_to_group(username, g)) for g in saved["groups"]}
        tasks.update({f"key:{k}": (lambda k=k: self.iam.set_key_status(username, k, "Active"))
                      for k in saved["keys"]})
        if saved["console"]:
            tasks["password"] = lambda: self._set_password(username)
        password = wave(tasks).get("password")
        restored = {key: value for key, value in record.items() if key not in (
            "saved", "reason", "suspended_until", "sessions_revoked_in", "revocation_pending")}
        self.state.put_record(username, {**restored, "status": "active", "groups": saved["groups"]})
        answer = {"user": self.describe(username)}
        if password:
            answer["temporary_password"] = password
        # A suspension took every group away: before the restore, nothing was reachable.
        return self._with_config(answer, answer["user"], [])

    def offboard(self, username: str, request: OffboardRequest) -> dict:
        """Delete the user and every object that depends on it; access goes in the first wave."""
        self.check_user_allowed(username)
        # One round trip for what the checks need: every second counts for a leaver.
        looked = wave({"record": lambda: self.state.get_record(username),
                       "user": lambda: self.iam.get_user(username),
                       "groups": lambda: self._groups_if_any(username),
                       # What an earlier attempt removed but could not write in the record.
                       "earlier": lambda: self.state.audit_events(ticket=request.ticket)})
        record = looked["record"] or {"status": "active", "grants": []}
        if record["status"] == "offboarded":
            if record.get("ticket") == request.ticket:  # a retry of one that completed
                return self._offboarded(record.get("username", username), record)
            raise NotFound(f"{username} was already offboarded")
        started: dict = {}
        if record["status"] != "offboarding":
            username = self._managed_user(username, looked["user"])["username"]
            self._managed_groups_of(username, looked["groups"] or [])
            record = {**record, "status": "offboarding", "ticket": request.ticket, "removed": {}}
            # Written beside the first wave, not before it: until the user is deleted, a retry
            # after a failure finds the user and starts again.
            started["record"] = lambda: self.state.put_record(username, record)
        else:  # a retry, which may find the user deleted already and only the record to write
            username = (looked["user"] or {}).get("username") or record.get("username", username)

        def save_progress(removed: dict) -> None:
            self.state.put_record(username, {**record, "removed": removed})

        removed, (revoked, pending) = offboard_user(
            self.iam.client, username, _removed_before(record, [
                e for e in looked["earlier"] if e["action"] == "offboard"
                and key(e["username"]) == key(username)]), save_progress,
            revoke=lambda: self.revoker.revoke([username]), alongside=started)
        final = {key: value for key, value in record.items() if key != "saved"}
        final = {**final, "status": "offboarded", "groups": [], "grants": [], "removed": removed,
                 **_sessions(revoked, pending)}
        self.state.put_record(username, final)
        return self._offboarded(username, final)

    def _groups_if_any(self, username: str) -> list[str] | None:
        """None when there is no such user, or none the app may see (outside its path, IAM
        answers AccessDenied): the user check beside it then answers 404."""
        try:
            return self.iam.groups_of(username)
        except (NotFound, AccessDenied):
            return None

    @staticmethod
    def _offboarded(username: str, record: dict) -> dict:
        return _with_pending({"username": username, "removed": record.get("removed", {}),
                              "sessions_revoked_in": record.get("sessions_revoked_in", [])}, record)

    @staticmethod
    def _with_sessions(user: dict, record: dict) -> dict:
        return _with_pending({**user, "sessions_revoked_in": record.get("sessions_revoked_in", [])},
                             record)

    def retry_revocation(self, username: str) -> dict:
        """Revoke again in the accounts that could not be reached when the revocation was due."""
        record = self._record(username)
        pending = record.get("revocation_pending", [])
        revoked, failed = self.revoker.revoke(
            [username], self.revoker.every_role(pending))
        record = {**record, "revocation_pending": sorted(failed),
                  "sessions_revoked_in": sorted(set(record.get("sessions_revoked_in", [])) | set(revoked))}
        self.state.put_record(username, record)
        return _with_pending({"username": username, "sessions_revoked_in": revoked}, record)

    # time-bound access
    def grant(self, username: str, request: GrantRequest) -> dict:
        """Add to ``request.group`` until now + hours; a schedule takes it away again."""
        username = self._managed_name(username)  # as IAM spells it
        group = request.group
        limit = self.settings.grant_max_hours.get(group)
        if limit is None:
            grantable = ", ".join(sorted(self.settings.grant_max_hours)) or "none"
            raise Forbidden(f"{group} cannot be granted for a time; grantable groups: {grantable}")
        if request.hours > limit:
            raise BadRequest(f"{group} may be granted for at most {limit} hours")
        self._check_groups([group])
        record = self._record(username)
        if record["status"] != "active":
            raise Conflict(f"{username} is {record['status']}; restore them before granting access")
        if group in record.get("groups", []):
            raise Conflict(f"{username} is a member of {group} already, without an expiry")
        before = self._roles_before(record)
        grants = [g for g in record.get("grants", []) if g["group"] != group]
        earlier = [g for g in record.get("grants", []) if g["group"] == group]
        if earlier and earlier[0].get("ticket") == request.ticket:
            grant = earlier[0]  # a retry keeps the expiry of the first attempt
        else:
            expires = self.clock() + timedelta(hours=request.hours)
            grant = {"group": group, "expires_at": expires.isoformat(timespec="seconds"),
                     "ticket": request.ticket, "requested_by": request.requested_by,
                     "reason": request.reason}
        self.iam.add_to_group(username, group)
        self.state.put_record(username, {**record, "grants": sorted(grants + [grant],
                                                                    key=lambda g: g["group"])})
        user = self.describe(username)
        return self._with_config(user, user, before)

    def expire_grant(self, username: str, group: str) -> dict:
        """Take a grant's group away and revoke the sessions of the roles only it allowed."""
        record = self._record(username)
        remaining = [g for g in record.get("grants", []) if g["group"] != group]
        keeps = set(record.get("groups", [])) | {g["group"] for g in remaining}
        revoked: list[str] = []
        pending: dict[str, str] = {}
        if group not in keeps:
            self.iam.remove_from_group(username, group)
            lost = set(self.roles_for([group])) - set(self.roles_for(sorted(keeps)))
            targets: dict[str, list[str]] = {}
            for arn in sorted(lost):
                account, role = access_map.account_and_role(arn)
                if role in self.settings.revocable_roles and account in self.settings.child_account_ids:
                    targets.setdefault(account, []).append(role)
            if targets:
                revoked, pending = self.revoker.revoke([username], targets)
        record = {**record, "grants": remaining}
        if pending:
            record["revocation_pending"] = sorted(set(record.get("revocation_pending", [])) | set(pending))
        self.state.put_record(username, record)
        described = {"username": username, "group": group, "sessions_revoked_in": revoked}
        return _with_pending(described, {"revocation_pending": sorted(pending)} if pending else {})

    def describe(self, username: str) -> dict:
        call_log.answer_point()  # what follows a change only builds its answer
        self.check_user_allowed(username)
        user = self._managed_user(username)
        username = user["username"]
        record = self._record(username)
        details = wave({
            "groups": lambda: self.iam.groups_of(username),
            "console": lambda: self.iam.has_login_profile(username),
            "mfa": lambda: bool(self.iam.mfa_devices(username)),
            "keys": lambda: self.iam.access_keys(username),
        })
        described = {
            "username": username,
            "arn": user["arn"],
            "status": "suspended" if record["status"] in ("suspending", "suspended", "restoring")
            else "active",
            "groups": details["groups"],
            # Shown, never read: their policies are not the service's to read.
            "unmanaged_groups": self._foreign(details["groups"]),
            "console": details["console"],
            "mfa": details["mfa"],
            "access_keys": details["keys"],
            "roles": self.roles_for(details["groups"]),
            "grants": [{"group": g["group"], "expires_at": g["expires_at"]}
                       for g in record.get("grants", [])],
        }
        if record.get("suspended_until"):
            described["suspended_until"] = record["suspended_until"]
        return described


def _removed_before(record: dict, events: list[dict]) -> dict[str, list[str]]:
    """What earlier attempts removed: in the record, and in the audit events of attempts that
    failed to write it there (their detail carries it)."""
    removed: dict[str, set[str]] = {}
    for found in [record.get("removed", {})] + [
            (event.get("detail") or {}).get("removed", {}) for event in events]:
        for kind, ids in found.items():
            removed.setdefault(kind, set()).update(ids)
    return {kind: sorted(ids) for kind, ids in removed.items()}


def _written_within(record: dict, seconds: int) -> bool:
    written = datetime.fromisoformat(record.get("at") or "1970-01-01T00:00:00+00:00")
    return (datetime.now(timezone.utc) - written).total_seconds() < seconds


def _sessions(revoked: list[str], pending: dict[str, str]) -> dict:
    """What a revocation did, for the record: where it worked and where it is still owed."""
    return {"sessions_revoked_in": revoked, "revocation_pending": sorted(pending)}


def _with_pending(answer: dict, record: dict) -> dict:
    if record.get("revocation_pending"):
        answer["sessions_revocation_pending"] = record["revocation_pending"]
    return answer
