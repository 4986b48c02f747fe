"""The lifecycle's changes of a person (onboard, move, suspend, restore, offboard, set_profile),
and :class:`Lifecycle`, the facade composing them with the grants, the revocations and the views.
Nothing here knows of Chalice, Slack or boto3: the ports do the AWS work.

Each operation reads what it needs in one wave (a :class:`Snapshot`), decides with the guards of
``rules`` over that snapshot, acts in as few waves as the data allows, and builds its answer from
the snapshot and what it did. Every operation is resumable: it writes in the user's record what
it is doing beside the first changes (before them where a failure halfway would lose a memory,
as a suspension's), with steps that tolerate being done already, so a retry with the same
ticket finishes the job instead of starting another.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from chalicelib.kernel.errors import (
    AppError,
    BadRequest,
    Conflict,
    NotFound,
    UpstreamError,
    unavailable,
)
from chalicelib.kernel.identity import PERSON, key
from chalicelib.kernel.ports import Clock, IamGateway, Revoker, SignIn, StateStore
from chalicelib.kernel.snapshot import Reader, Snapshot
from chalicelib.kernel.waves import wave
from chalicelib.lifecycle import rules
from chalicelib.lifecycle.access import Access, check_removable
from chalicelib.lifecycle.access_map import ACCESS_KEY, LOGIN_SESSION
from chalicelib.lifecycle.grants import Grants
from chalicelib.lifecycle.offboarding import gone, known, offboard_user, targets
from chalicelib.lifecycle.parts import Part
from chalicelib.lifecycle.passwords import temporary_password
from chalicelib.lifecycle.revoking import (
    Outcome,
    Revoking,
    offboarded,
    owed,
    owed_by_earlier,
    with_revocation,
)
from chalicelib.lifecycle.views import Shown, Views, used
from chalicelib.settings import Settings

if TYPE_CHECKING:  # the request models (pydantic) load where requests are parsed, not here
    from chalicelib.kernel.commands import TicketRequest
    from chalicelib.lifecycle.commands import (
        CloseTicketRequest,
        ExpireGrantRequest,
        ExtendGrantRequest,
        GrantRequest,
        MoveRequest,
        OffboardRequest,
        OnboardRequest,
        ProfileRequest,
        RestoreRequest,
        SuspendRequest,
    )


class Changes(Part):
    """The six changes of a person, each ``(username, request, snap=None)``."""

    def __init__(
        self, *parts: Any, forget: Callable[[str, dict, OffboardRequest, dict], None]
    ) -> None:
        super().__init__(*parts)
        # Called once a person is offboarded (name, final record, request, answer): what is
        # kept for them (Slack link, pending requests, review items) is let go.
        self.forget = forget

    def _set_password(self, username: str, new_user: bool = False) -> str:
        password = temporary_password()
        self.iam.set_console_password(username, password, new_user)
        return password

    def onboard(self, username: str, request: OnboardRequest, snap: Snapshot | None = None) -> dict:
        """Create the user (tagged with the ticket), console login, self-service policy, groups.

        A user that exists already is a conflict, except for a retry of this very ticket: an
        onboarding that failed halfway (its record written or not), or one whose answer was lost
        while nothing changed the user since, within the idempotency window. Either is finished
        by converging again (a new temporary password, as the first one was never seen).
        Anything else, a suspended user above all, is never onboarded again."""
        if request.access_key and not self.settings.keys_issued:
            raise BadRequest(
                "access_key: this stage issues no access keys at onboarding (ACCESS_KEYS="
                f"{self.settings.access_keys}); the person signs the CLI in with `aws login`"
            )
        snap = snap or self.reader.read("onboard", username, request)
        rules.check_groups(self.settings, request.groups, snap)
        existing = snap.user
        person: dict
        if existing is not None:
            rules.check_resumable(
                self.settings, request.username, request.ticket, existing, snap.record
            )
            person = existing
        else:
            # Nothing is kept for a name before IAM gave it to this person: a refused
            # onboarding leaves no record and no Slack link behind.
            tags = {
                "ticket": request.ticket,
                "requested_by": request.requested_by,
                "managed_by": self.settings.app_name,
            }
            if request.email:
                tags["email"] = request.email
            if request.external_id:
                tags["external_id"] = request.external_id
            if request.slack_user:
                tags["slack_user"] = request.slack_user
            created = self.iam.create_user(username, self.settings.managed_path, tags)
            if created is None:  # taken by a user the service may not see
                raise unavailable(username)
            person = created
        # The record and the link name the person (IAM's UserId), not only the name: a later
        # holder of the name is someone else, and nothing kept for this one acts for them.
        record = {
            "status": "active",
            "ticket": request.ticket,
            "groups": sorted(request.groups),
            "grants": [],
            PERSON: person["id"],
        }
        if request.slack_user:
            record["slack_user"] = request.slack_user
        record.update(owed_by_earlier(snap.record, person["id"], self.settings.root_account_id))
        # AddUserToGroup and AttachUserPolicy are no-ops when done already: a resumed
        # onboarding converges without reading what the first attempt did.
        tasks: dict[str, Callable[[], Any]] = {
            "record": lambda: self.state.put_record(username, record)
        }
        if request.slack_user:  # how a Slack member's own requests find their user
            slack_user = request.slack_user
            tasks["link"] = lambda: self.state.link_member(slack_user, username, person["id"])
        tasks.update(
            {f"group:{g}": partial(self.iam.add_to_group, username, g) for g in request.groups}
        )
        tasks["self-service"] = lambda: self.iam.attach_user_policy(
            username, self.settings.self_service_policy_arn
        )
        if request.console:
            tasks["password"] = lambda: self._set_password(username, new_user=existing is None)
        if request.access_key:
            tasks["key"] = lambda: self._first_key(username, resumed=existing is not None)
        done = wave(tasks)
        password, key = done.get("password"), done.get("key")
        self.changes_done()
        if existing is not None:  # a resumed onboarding: what else the user has, read once
            user = self.views.describe(username)
        else:
            user = self.views.show(
                snap,
                Shown(
                    name=username,
                    arn=person["arn"],
                    record=record,
                    groups=list(request.groups),
                    console=request.console,
                    keys=[{"id": key["access_key_id"], "status": "Active"}] if key else [],
                    last_used={},
                    mfa=False,
                ),
            )
        credentials = ACCESS_KEY if key else LOGIN_SESSION
        config = self.access.aws_config(username, user["roles"], credentials)
        answer: dict[str, Any] = {
            "user": user,
            "aws_config": config,
            "credentials": credentials,
            "welcome": self.access.welcome(snap, username, user, credentials, config),
        }
        if password:
            answer["temporary_password"] = password
        if key:
            answer["access_key"] = key
        return answer

    def _first_key(self, username: str, resumed: bool) -> dict:
        """The person's first access key. A resumed onboarding deletes the keys of its earlier
        attempts first: their secrets were never handed to anyone (the answer carrying them was
        lost), and IAM allows two keys a user."""
        if resumed:
            for old in self.iam.access_keys(username):
                self.iam.delete_access_key(username, old["id"])
        return self.iam.create_access_key(username)

    def move(self, username: str, request: MoveRequest, snap: Snapshot | None = None) -> dict:
        """Set the user's managed groups to exactly ``request.groups``."""
        snap = snap or self.reader.read("move", username, request)
        user = self.reader.managed(snap)
        name = user["username"]
        rules.check_groups(self.settings, request.groups, snap)
        record = snap.state
        if record["status"] != "active":
            raise Conflict(f"{name} is {record['status']}; restore them before moving them")
        groups = rules.managed_groups(self.settings, name, snap.groups or [])
        granted = {g["group"] for g in record.get("grants", [])}
        current = set(groups) - granted  # grants end on their own
        target = set(request.groups)
        before = self.access.roles_before(snap, groups)
        record = {**record, "groups": sorted(target), "ticket": request.ticket}
        tasks: dict[str, Callable[[], Any]] = {
            f"+{g}": partial(self.iam.add_to_group, name, g) for g in target - current
        }
        tasks.update(
            {f"-{g}": partial(self.iam.remove_from_group, name, g) for g in current - target}
        )
        now = (set(groups) - (current - target)) | target
        # The roles the person reaches no more: their sessions of those go in the same wave.
        lost = self.revoking.lost_targets(before, self.access.roles(now, snap.access))
        done = wave(
            {
                **tasks,
                **self.views.last_used_tasks(snap.keys),
                "sessions": lambda: self.revoking.roles(name, lost),
            }
        )
        record = {**record, **owed(record, done["sessions"], self.revoking.moment(), whole=False)}
        # After the change, not beside it: until then the record names the groups a retry of a
        # move that failed halfway must still count as reached before (profiles_to_remove).
        self.state.put_record(name, record)
        self.changes_done()
        view = self.views.show(
            snap,
            Shown(
                name=name,
                arn=user["arn"],
                record=record,
                groups=sorted(now),
                console=bool(snap.console),
                keys=snap.keys or [],
                last_used=used(done),
            ),
        )
        return with_revocation(
            self.access.with_config(view, view, before), done["sessions"], record
        )

    def suspend(self, username: str, request: SuspendRequest, snap: Snapshot | None = None) -> dict:
        """Remember groups, active keys and console access; then take all of them away.

        The memory is written before anything is taken (a failure halfway must not lose what a
        restore gives back); the removals and the session denies then go together, and the
        record says suspended only once both are done (or what is owed is named). A suspension
        that stopped halfway is finished by a retry, or by any later suspension (another
        ticket, the schedule that finds it stuck), under the memory it wrote."""
        snap = snap or self.reader.read("suspend", username, request)
        user = self.reader.managed(snap)
        name = user["username"]
        record = snap.state
        status = record["status"]
        retry = status == "suspending" or (
            status == "suspended" and record.get("ticket") == request.ticket
        )
        if not retry and status != "active":
            raise Conflict(f"{name} is {status}; only an active user can be suspended")
        groups = snap.groups or []
        if not retry:
            keys = [k["id"] for k in snap.keys or [] if k["status"] == "Active"]
            # Time-bound access ends with a suspension and is not given back by a restore.
            granted = {g["group"] for g in record.get("grants", [])} - set(record.get("groups", []))
            kept = [
                g for g in rules.managed_groups(self.settings, name, groups) if g not in granted
            ]
            record = {
                **record,
                "status": "suspending",
                "ticket": request.ticket,
                "grants": [],
                "saved": {"groups": kept, "keys": keys, "console": bool(snap.console)},
                "reason": request.reason,
                "suspended_until": request.until.isoformat() if request.until else None,
            }
        saved = record["saved"]
        remembered = record
        suspended = {**record, "status": "suspended"}

        def take_away() -> None:
            self.state.put_record(name, remembered)
            tasks: dict[str, Callable[[], Any]] = {
                f"group:{g}": partial(self.iam.remove_from_group, name, g) for g in groups
            }
            tasks.update(
                {
                    f"key:{k}": partial(self.iam.set_key_status, name, k, "Inactive")
                    for k in saved["keys"]
                }
            )
            tasks["console"] = lambda: self.iam.delete_login_profile(name)
            # Every credential of theirs in the root account stops at once, whatever it is.
            tasks["deny"] = lambda: self.iam.attach_user_policy(
                name, self.settings.suspended_policy_arn
            )
            wave(tasks)

        done = wave(
            {
                "take": take_away,
                "sessions": lambda: self.revoking.everywhere(snap, name, user["arn"]),
                **self.views.last_used_tasks(snap.keys),
            }
        )
        revoked, signed_in = done["sessions"]
        record = {**suspended, **owed(record, revoked, self.revoking.moment(), whole=True)}
        # Suspended only once everything is taken and the sessions revoked (what is owed named,
        # for the schedule): a crash before leaves it "suspending", for a retry to finish.
        self.state.put_record(name, record)
        self.changes_done()
        keys = [
            {**k, "status": "Inactive" if k["id"] in saved["keys"] else k["status"]}
            for k in snap.keys or []
        ]
        view = self.views.show(
            snap,
            Shown(
                name=name,
                arn=user["arn"],
                record=record,
                groups=[],
                console=False,
                keys=keys,
                last_used=used(done),
            ),
        )
        answer = with_revocation(view, revoked, record)
        answer["signin_sessions_revoked"] = signed_in
        return answer

    def restore(self, username: str, request: RestoreRequest, snap: Snapshot | None = None) -> dict:
        """Undo exactly what the suspension did, and what credential hygiene took (keys it
        deactivated, the console login it removed), from a suspended or an active user; a new
        temporary password if console access existed.

        From a suspension, the record says restoring before anything is given back and active
        once all of it is: a restore (or a suspension) that stopped halfway is finished by any
        later restore, its retry, or the schedule that finds it stuck."""
        snap = snap or self.reader.read("restore", username, request)
        user = self.reader.managed(snap)
        name = user["username"]
        record = snap.state
        status = record["status"]
        retry = status == "restoring" or (
            record.get("ticket") == request.ticket and status == "active" and "restored" in record
        )
        # What credential hygiene took (keys deactivated, the console removed) is given back
        # too, from an active user as from a suspended one.
        hygiene_taken = record.get("hygiene_taken") or {}
        suspended = status in rules.SUSPENDED
        if not retry and not suspended and not (record["status"] == "active" and hygiene_taken):
            raise Conflict(
                f"{name} is {record['status']}; only a suspended user, or one whose credentials "
                "hygiene took away, can be restored"
            )
        # An active user keeps its groups (None: unchanged).
        fresh: dict[str, Any] = {"groups": None, "keys": [], "console": False}
        saved = dict(
            (record.get("saved") or record.get("restored") or fresh)
            if suspended or retry
            else fresh
        )
        saved["keys"] = sorted(set(saved.get("keys", [])) | set(hygiene_taken.get("keys") or {}))
        saved["console"] = bool(saved.get("console") or hygiene_taken.get("console"))
        groups = list(record.get("groups", [])) if saved.get("groups") is None else saved["groups"]
        restored = {
            k: v
            for k, v in record.items()
            if k
            not in (
                "saved",
                "reason",
                "suspended_until",
                "sessions_revoked_in",
                "sessions_revoked_by_role_cutoff",
                "hygiene_taken",
            )
        }
        # What a revocation still owes (revocation_pending, its moment) stays: sessions issued
        # before the suspension must not come back to life with the person.
        # What was given back stays in the record until the next change, so that a retry of
        # this ticket (the record written beside the changes) gives it back again. Hygiene's
        # clocks start again from the restore.
        record = {
            **restored,
            "status": "active",
            "groups": groups,
            # One that finishes a restore keeps its ticket, for that one's retry to be answered.
            "ticket": record["ticket"] if status == "restoring" else request.ticket,
            "restored": saved,
            "restored_at": record.get("restored_at")
            if retry
            else self.clock().isoformat(timespec="seconds"),
        }
        tasks: dict[str, Callable[[], Any]] = {
            f"group:{g}": partial(self.iam.add_to_group, name, g) for g in saved["groups"] or []
        }
        tasks.update(
            {f"key:{k}": partial(self.iam.set_key_status, name, k, "Active") for k in saved["keys"]}
        )
        if saved["console"]:  # the snapshot says whether the login is there to update
            tasks["password"] = lambda: self._set_password(name, new_user=not snap.console)
        if suspended or retry:
            tasks["deny"] = lambda: self.iam.detach_user_policy(
                name, self.settings.suspended_policy_arn
            )
        if suspended:  # restoring until all is given back
            self.state.put_record(name, {**record, "status": "restoring"})
        else:
            tasks["record"] = lambda: self.state.put_record(name, record)
        done = wave({**tasks, **self.views.last_used_tasks(snap.keys)})
        if suspended:
            self.state.put_record(name, record)
        self.changes_done()
        keys = [
            {**k, "status": "Active" if k["id"] in saved["keys"] else k["status"]}
            for k in snap.keys or []
        ]
        view = self.views.show(
            snap,
            Shown(
                name=name,
                arn=user["arn"],
                record=record,
                groups=groups,
                console=bool(saved["console"]),
                keys=keys,
                last_used=used(done),
            ),
        )
        answer: dict = {"user": view}
        if done.get("password"):
            answer["temporary_password"] = done["password"]
        # A suspension took every group away: before the restore, nothing was reachable.
        return self.access.with_config(answer, view, [])

    def offboard(
        self, username: str, request: OffboardRequest, snap: Snapshot | None = None
    ) -> dict:
        """Delete the user and every object that depends on it; access and live sessions go
        in the first wave of changes, the user as soon as nothing depends on it."""
        snap = snap or self.reader.read("offboard", username, request)
        record = snap.state
        name = snap.name
        if record["status"] == "offboarded":
            if record.get("ticket") == request.ticket:  # a retry of one that completed
                return self._forgotten(name, record, request)
            raise NotFound(f"{snap.username} was already offboarded")
        if record["status"] != "offboarding":
            name = self.reader.managed(snap)["username"]
            rules.managed_groups(self.settings, name, snap.groups or [])
            record = {**record, "status": "offboarding", "ticket": request.ticket, "removed": {}}
        # else: a retry, or a later change finishing one that stopped (its ticket stays the
        # record's, so that its own retry is answered). The user is deleted last: a retry that
        # finds it gone has nothing left to remove in IAM, only the record to write.
        ids = targets(name, snap.user, snap.dependents, self.iam.cleanup_kinds) if snap.user else {}
        present = known(ids, snap.user, bool(snap.console))
        intent = record.get("removing") or {}
        # What an earlier attempt meant to remove and is gone now, it removed: known after
        # any crash, whatever it managed to write.
        earlier = [
            e for e in snap.earlier if e["action"] == "offboard" and key(e["username"]) == key(name)
        ]
        before = _removed_before(
            {**record, "removed": _union(record.get("removed"), gone(intent, present))}, earlier
        )
        ongoing = {**record, "removing": _union(intent, present), "removed": before}

        def save_progress(removed: dict) -> None:
            ongoing["removed"] = removed
            self.state.put_record(name, dict(ongoing))

        # AWS Sign-In names a user by its ARN: once the user is deleted, its sessions can be
        # neither listed nor revoked (AccessDenied to a path-scoped principal), so no later run
        # could revoke what is owed. The user is deleted only once they are revoked: a retry
        # that finds the user gone knows they were.
        arn = self.revoking.arn(snap, name)
        signin = Outcome()
        if snap.user is None:
            signin.settle((int(record.get("signin_sessions_revoked") or 0), None))

        def revoke_signin() -> None:
            if snap.user is not None:
                signin.settle(self.revoking.signin_sessions(arn))

        def before_user() -> None:
            _, failure = signin.wait()
            if failure is not None:  # once more, now: most failures pass
                signin.settle(self.revoking.signin_sessions(arn))
                _, failure = signin.wait()
            if failure is not None:
                raise UpstreamError(
                    f"{failure}; {name} is kept, every credential removed, until they are "
                    "revoked: retry with the same ticket"
                )

        def remove() -> dict[str, list[str]]:
            # The intent first: nothing is removed before the record says what will be.
            self.state.put_record(name, dict(ongoing))
            return offboard_user(self.iam, name, ids, before, save_progress, before_user)

        done = wave(
            {
                "iam": remove,
                "roles": lambda: self.revoking.roles_of(snap, name),
                "signin": lambda: signin.after(revoke_signin),
            }
        )
        revoked, signed_in = self.revoking.with_signin(done["roles"], signin.wait())
        final = {k: v for k, v in record.items() if k not in ("saved", "removing")}
        final = {
            **final,
            "status": "offboarded",
            "groups": [],
            "grants": [],
            "removed": done["iam"],
            "signin_sessions_revoked": signed_in,
            **owed(record, revoked, self.revoking.moment(), whole=True),
        }
        try:
            self.state.put_record(name, final)
        except AppError as error:  # the failure's audit event keeps what was removed
            error.detail = {**(error.detail or {}), "removed": done["iam"]}
            raise
        return self._forgotten(name, final, request)

    def _forgotten(self, name: str, record: dict, request: OffboardRequest) -> dict:
        """The offboarding's answer, once what was kept for the person is let go."""
        answer = offboarded(name, record)
        self.forget(name, record, request, answer)
        return answer

    def set_profile(
        self, username: str, request: ProfileRequest, snap: Snapshot | None = None
    ) -> dict:
        """Keep an identity provider's id of the person and the email as the user's tags: each
        set to the request's value, or removed where it has none. Nothing else changes."""
        snap = snap or self.reader.read("set_profile", username, request)
        user = self.reader.managed(snap)
        name = user["username"]
        wanted = {"external_id": request.external_id, "email": request.email}
        tags = user.get("tags", {})
        changed = {k: v for k, v in wanted.items() if v is not None and tags.get(k) != v}
        removed = sorted(k for k, v in wanted.items() if v is None and k in tags)
        tasks: dict[str, Callable[[], Any]] = {}
        member, linked = request.slack_user, tags.get("slack_user", "")
        if member is not None and member != linked:  # None: left as it is; "": unlinked
            changed, removed = (
                ({**changed, "slack_user": member}, removed)
                if member
                else (changed, sorted([*removed, "slack_user"]))
            )
            tasks.update(self._relink(name, snap, linked, member))
        if changed:
            tasks["tag"] = lambda: self.iam.tag_user(name, changed)
        if removed:
            tasks["untag"] = lambda: self.iam.untag_user(name, removed)
        wave(tasks)
        self.changes_done()
        kept = {k: v for k, v in {**tags, **changed}.items() if k not in removed}
        return {
            "username": name,
            "external_id": kept.get("external_id"),
            "email": kept.get("email"),
            "slack_user": kept.get("slack_user"),
            "changed": sorted([*changed, *removed]),
        }

    def _relink(self, name: str, snap: Snapshot, old: str, new: str) -> dict[str, Callable]:
        """The Slack member ``name`` is, from ``old`` to ``new`` ("" for none): the record
        (which four-eyes checks read), the member's link (Slack requests) and the old one gone."""
        record = {k: v for k, v in snap.state.items() if k != "slack_user"}
        tasks: dict[str, Callable] = {
            "record": lambda: self.state.put_record(
                name, {**record, **({"slack_user": new} if new else {})}
            )
        }
        person = str(snap.state.get(PERSON) or "")
        if new:
            tasks["link"] = lambda: self.state.link_member(new, name, person)
        if old:
            tasks["unlink"] = lambda: self.state.unlink_member(old, name, person)
        return tasks


def _removed_before(record: dict, events: list[dict]) -> dict[str, list[str]]:
    """What earlier attempts removed: in the record, and in the audit events of attempts that
    failed to write it there (their detail carries it)."""
    removed: dict[str, set[str]] = {}
    for found in [record.get("removed", {})] + [
        (event.get("detail") or {}).get("removed", {}) for event in events
    ]:
        for kind, ids in found.items():
            removed.setdefault(kind, set()).update(ids)
    return {kind: sorted(ids) for kind, ids in removed.items()}


def _union(*found: dict[str, list[str]] | None) -> dict[str, list[str]]:
    kinds: dict[str, set[str]] = {}
    for each in found:
        for kind, ids in (each or {}).items():
            kinds.setdefault(kind, set()).update(ids)
    return {kind: sorted(ids) for kind, ids in kinds.items()}


# The catalogue's actions the lifecycle carries out (the runner finds them through ``perform``).
ACTIONS = (
    "onboard",
    "move",
    "suspend",
    "restore",
    "offboard",
    "set_profile",
    "grant",
    "expire_grant",
    "end_grant",
    "close_ticket",
    "extend",
    "revoke_sessions",
)


class Lifecycle:
    """The lifecycle capability: its changes, grants, revocations and views over the ports.
    Each of its :data:`ACTIONS` is a method ``(username, request, snap=None)``."""

    def __init__(
        self,
        settings: Settings,
        iam: IamGateway,
        state: StateStore,
        revoker: Revoker,
        clock: Clock,
        signin: SignIn,
    ) -> None:
        self.settings = settings
        self.iam = iam
        self.state = state
        self.revoker = revoker
        self.clock = clock
        self.signin = signin
        # Called where an operation's changes end and its answer begins; the runner sets it
        # when this registers (a dry run stops there: what follows only reads, to answer).
        self.changes_done: Callable[[], None] = lambda: None
        # Called once a person is offboarded (name, final record, request, answer): what is
        # kept for them (Slack link, pending requests, review items) is let go.
        self.forget: Callable[[str, dict, OffboardRequest, dict], None] = lambda *_: None
        self.reader = Reader(settings, iam, state, revoker)
        self.access = Access(settings)
        self.views = Views(settings, iam, self.access, self.reader)
        self.revoking = Revoking(settings, state, revoker, signin, clock)
        parts = (settings, iam, state, clock, self.reader, self.access, self.views, self.revoking)
        done = lambda: self.changes_done()  # noqa: E731 (whatever the runner sets, when called)
        self.changes = Changes(*parts, done, forget=lambda *leaver: self.forget(*leaver))
        self.grants = Grants(*parts, done)

    # reading
    def read(
        self, action: str, username: str, request: TicketRequest | OnboardRequest | None = None
    ) -> Snapshot:
        """The snapshot ``action`` decides on, read in one wave (:mod:`chalicelib.kernel.snapshot`)."""
        return self.reader.read(action, username, request)

    def check_user_allowed(self, username: str) -> None:
        self.reader.check_user_allowed(username)

    def perform(
        self, action: str, username: str, request: Any, snap: Snapshot | None = None
    ) -> dict:
        """Carry out one of :data:`ACTIONS` on the snapshot read for it (None: it reads its own)."""
        if action not in ACTIONS:
            raise KeyError(f"the lifecycle does not carry out {action}")
        return dict(getattr(self, action)(username, request, snap))

    # what a set of groups gives
    def roles(self, groups: list[str] | set[str], access: dict[str, list[dict]]) -> list[str]:
        return self.access.roles(groups, access)

    def aws_config(self, username: str, roles: list[str], credentials: str = LOGIN_SESSION) -> str:
        return self.access.aws_config(username, roles, credentials)

    def credentials_of(self, keys: list[dict]) -> str:
        return self.access.credentials_of(keys)

    def aws_config_of(self, username: str) -> dict:
        """The ``~/.aws/config`` text of the roles the user's groups reach now, and its profiles."""
        snap = self.read("describe", username)
        return self.access.config_of(self.reader.managed(snap)["username"], snap)

    def aws_config_merge(self, username: str, remove: list[str] | tuple[str, ...] = ()) -> str:
        """A POSIX sh script merging the user's profiles into an existing ``~/.aws/config``
        (backup first, every other profile kept) and deleting the profiles named in ``remove``."""
        check_removable(remove)  # before anything is read
        return self.access.merge(self.aws_config_of(username), remove)

    # the answer
    def view(self, snap: Snapshot, last_used: dict[str, str | None]) -> dict:
        """The user as the snapshot shows it (a read, not a change)."""
        return self.views.view(self.reader.managed(snap), snap, last_used)

    def last_used(self, keys: list[dict] | None) -> dict[str, str | None]:
        return self.views.last_used(keys)

    def describe(self, username: str) -> dict:
        return self.views.describe(username)

    def describe_if_exists(self, username: str) -> dict | None:
        return self.views.describe_if_exists(username)

    # the changes, as the catalogue names them
    def onboard(self, username: str, request: OnboardRequest, snap: Snapshot | None = None) -> dict:
        return self.changes.onboard(username, request, snap)

    def move(self, username: str, request: MoveRequest, snap: Snapshot | None = None) -> dict:
        return self.changes.move(username, request, snap)

    def suspend(self, username: str, request: SuspendRequest, snap: Snapshot | None = None) -> dict:
        return self.changes.suspend(username, request, snap)

    def restore(self, username: str, request: RestoreRequest, snap: Snapshot | None = None) -> dict:
        return self.changes.restore(username, request, snap)

    def offboard(
        self, username: str, request: OffboardRequest, snap: Snapshot | None = None
    ) -> dict:
        return self.changes.offboard(username, request, snap)

    def set_profile(
        self, username: str, request: ProfileRequest, snap: Snapshot | None = None
    ) -> dict:
        return self.changes.set_profile(username, request, snap)

    def grant(self, username: str, request: GrantRequest, snap: Snapshot | None = None) -> dict:
        return self.grants.grant(username, request, snap)

    def expire_grant(
        self, username: str, request: ExpireGrantRequest, snap: Snapshot | None = None
    ) -> dict:
        return self.grants.expire_grant(username, request, snap)

    def end_grant(
        self, username: str, request: ExpireGrantRequest, snap: Snapshot | None = None
    ) -> dict:
        return self.grants.end_grant(username, request, snap)

    def close_ticket(
        self, username: str, request: CloseTicketRequest, snap: Snapshot | None = None
    ) -> dict:
        return self.grants.close_ticket(username, request, snap)

    def extend(
        self, username: str, request: ExtendGrantRequest, snap: Snapshot | None = None
    ) -> dict:
        return self.grants.extend(username, request, snap)

    def revoke_sessions(
        self, username: str, request: TicketRequest, snap: Snapshot | None = None
    ) -> dict:
        return self.revoking.revoke_sessions(username, request, snap)
