"""The lifecycle operations. Nothing here knows of Chalice, Slack or boto3: gateways do the AWS work.

Each operation reads what it needs in one wave (a :class:`Snapshot`), decides with the checks
below over that snapshot, acts in as few waves as the data allows, and builds its answer from
the snapshot and what it did. Every operation is resumable: it writes in the user's record what
it is doing beside the first changes (before them where a failure halfway would lose a memory,
as a suspension's), with steps that tolerate being done already, so a retry with the same
ticket finishes the job instead of starting another.
"""

from __future__ import annotations

import re
import threading
from collections.abc import Callable
from datetime import UTC, date, datetime, timedelta
from functools import partial
from typing import TYPE_CHECKING, Any

from chalicelib.hygiene import rules as hygiene
from chalicelib.kernel.errors import (
    AppError,
    BadRequest,
    Conflict,
    Forbidden,
    NotFound,
    UpstreamError,
)
from chalicelib.kernel.identity import PERSON, key, same_person
from chalicelib.kernel.ports import Clock, IamGateway, Revoker, SignIn, StateStore
from chalicelib.kernel.snapshot import Reader, Snapshot
from chalicelib.kernel.waves import wave
from chalicelib.lifecycle import access_map, config_merge
from chalicelib.lifecycle.access_map import ACCESS_KEY, LOGIN_SESSION
from chalicelib.lifecycle.offboarding import gone, known, offboard_user, targets
from chalicelib.lifecycle.passwords import temporary_password
from chalicelib.lifecycle.revocation_policy import Revoked
from chalicelib.lifecycle.welcome import console_url, welcome
from chalicelib.settings import Settings

if TYPE_CHECKING:  # the request models (pydantic) load where requests are parsed, not here
    from chalicelib.edges.schemas import (
        ExpireGrantRequest,
        GrantRequest,
        HygieneRequest,
        MoveRequest,
        OffboardRequest,
        OnboardRequest,
        ProfileRequest,
        RestoreRequest,
        SuspendRequest,
        TicketRequest,
    )

_SUSPENDED = ("suspending", "suspended", "restoring")
# A profile name this service writes for a role: <account>-<role name>.
_PROFILE = re.compile(r"[0-9]{12}-[\w+=,.@-]{1,64}", re.ASCII)  # whole string: fullmatch


class Lifecycle:
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
        self.reader = Reader(settings, iam, state, revoker)
        # Called where an operation's changes end and its answer begins: the runner's dry run
        # stops there (what follows only reads, to answer).
        self.changes_made: Callable[[], None] = lambda: None
        # Called once a person is offboarded (name, final record, request, answer): what is
        # kept for them (Slack link, pending requests, review items) is let go.
        self.forget: Callable[[str, dict, OffboardRequest, dict], None] = lambda *_: None

    # reading
    def read(
        self, action: str, username: str, request: TicketRequest | OnboardRequest | None = None
    ) -> Snapshot:
        """The snapshot ``action`` decides on, read in one wave (:mod:`chalicelib.kernel.snapshot`)."""
        return self.reader.read(action, username, request)

    # checks: functions of the snapshot
    def check_user_allowed(self, username: str) -> None:
        self.reader.check_user_allowed(username)

    def _managed(self, snap: Snapshot) -> dict:
        return self.reader.managed(snap)

    def _check_groups(self, groups: list[str], snap: Snapshot) -> None:
        refused = sorted(set(groups) - set(self.settings.allowed_groups))
        if refused:
            raise Forbidden(
                f"group(s) {', '.join(refused)} are not managed by this service; "
                f"allowed: {', '.join(self.settings.allowed_groups)}"
            )
        missing = [group for group in groups if group not in snap.access]
        if missing:
            raise BadRequest(f"group(s) {', '.join(missing)} do not exist in the root account")

    def _foreign(self, groups: list[str]) -> list[str]:
        """The groups among ``groups`` that this service does not manage (nor may read)."""
        return sorted(set(groups) - set(self.settings.allowed_groups))

    def _managed_groups(self, name: str, groups: list[str]) -> list[str]:
        foreign = self._foreign(groups)
        if foreign:
            raise Conflict(
                f"{name} is also in group(s) {', '.join(foreign)}, which this service does "
                "not manage; remove them there by hand, then retry"
            )
        return groups

    # what a set of groups gives
    def roles(self, groups: list[str] | set[str], access: dict[str, list[dict]]) -> list[str]:
        """The roles the managed ones of ``groups`` let their members assume. The policies of a
        group the service does not manage are not its to read."""
        documents = [
            doc
            for group in sorted(groups)
            if group in self.settings.allowed_groups
            for doc in access.get(group, [])
        ]
        return access_map.assumable_roles(documents)

    def aws_config(self, username: str, roles: list[str], credentials: str = LOGIN_SESSION) -> str:
        return access_map.aws_config(
            username,
            roles,
            root_account_id=self.settings.root_account_id,
            managed_path=self.settings.managed_path,
            region=self.settings.region,
            mfa_roles=self.settings.mfa_roles,
            credentials=credentials,
        )

    def credentials_of(self, keys: list[dict]) -> str:
        """Where the person's CLI credentials come from: an access key when they hold an active
        one (and the stage allows keys), else their console sign-in (``aws login``)."""
        active = any(k.get("status") == "Active" for k in keys)
        return ACCESS_KEY if active and self.settings.keys_allowed else LOGIN_SESSION

    def aws_config_of(self, username: str) -> dict:
        """The ``~/.aws/config`` text of the roles the user's groups reach now, and its profiles."""
        snap = self.read("describe", username)
        name = self._managed(snap)["username"]
        roles = self.roles(snap.groups or [], snap.access)
        credentials = self.credentials_of(snap.keys or [])
        return {
            "username": name,
            "aws_config": self.aws_config(name, roles, credentials),
            "profiles": access_map.profiles(roles, self.settings.mfa_roles),
            "credentials": credentials,
            "source_profile": access_map.source_profile(self.settings.root_account_id, name),
        }

    def aws_config_merge(self, username: str, remove: list[str] | tuple[str, ...] = ()) -> str:
        """A POSIX sh script merging the user's profiles into an existing ``~/.aws/config``
        (backup first, every other profile kept) and deleting the profiles named in ``remove``."""
        for profile in remove:
            if not _PROFILE.fullmatch(profile):
                raise BadRequest(
                    f"remove: {profile!r} is not a profile this service writes "
                    "(<12-digit account>-<role name>)"
                )
        answer = self.aws_config_of(username)
        return config_merge.merge_snippet(
            answer["username"], answer["aws_config"], remove, app_name=self.settings.app_name
        )

    def _roles_before(self, snap: Snapshot, groups: list[str] | None = None) -> list[str]:
        """What an active user reached before a change: through ``groups`` (as the snapshot
        read them) and through the groups and grants of the record, which still name what an
        attempt that failed halfway already took away."""
        record = snap.state
        held = (
            set(groups or [])
            | set(record.get("groups", []))
            | {g["group"] for g in record.get("grants", [])}
        )
        return self.roles(held, snap.access)  # a group deleted since reaches nothing

    def _with_config(self, answer: dict, user: dict, before: list[str]) -> dict:
        """``answer`` with the config of what ``user`` reaches after the change, and the
        profiles of the roles reached ``before`` that the change took away."""
        credentials = self.credentials_of(user["access_keys"])
        return {
            **answer,
            "aws_config": self.aws_config(user["username"], user["roles"], credentials),
            "profiles_to_remove": access_map.profiles_to_remove(before, user["roles"]),
        }

    def _set_password(self, username: str, new_user: bool = False) -> str:
        password = temporary_password()
        self.iam.set_console_password(username, password, new_user)
        return password

    # the answer: built from what was read and what was done
    def _view(
        self,
        snap: Snapshot,
        name: str,
        arn: str,
        record: dict,
        groups: list[str],
        console: bool,
        keys: list[dict],
        last_used: dict[str, str | None],
        mfa: bool | None = None,
    ) -> dict:
        view = {
            "username": name,
            "arn": arn,
            "status": "suspended" if record.get("status") in _SUSPENDED else "active",
            "groups": sorted(groups),
            # Shown, never read: their policies are not the service's to read.
            "unmanaged_groups": self._foreign(groups),
            "console": console,
            "mfa": bool(snap.mfa if mfa is None else mfa),
            "access_keys": [{**k, "last_used": last_used.get(k["id"])} for k in keys],
            "roles": self.roles(groups, snap.access),
            "grants": [
                {"group": g["group"], "expires_at": g["expires_at"]}
                for g in record.get("grants", [])
            ],
        }
        if record.get("suspended_until"):
            view["suspended_until"] = record["suspended_until"]
        return view

    def view(self, snap: Snapshot, last_used: dict[str, str | None]) -> dict:
        """The user as the snapshot shows it (a read, not a change)."""
        user = self._managed(snap)
        return self._view(
            snap,
            user["username"],
            user["arn"],
            snap.state,
            snap.groups or [],
            bool(snap.console),
            snap.keys or [],
            last_used,
        )

    def last_used(self, keys: list[dict] | None) -> dict[str, str | None]:
        """When each key was last used: one wave."""
        return self._used(wave(self._last_used(keys)))

    def _last_used(self, keys: list[dict] | None) -> dict[str, Callable[[], Any]]:
        """Tasks reading each key's last use, for the wave that changes things."""
        return {f"used:{k['id']}": partial(self.iam.last_used, k["id"]) for k in keys or []}

    @staticmethod
    def _used(results: dict[str, Any]) -> dict[str, str | None]:
        return {name[5:]: value for name, value in results.items() if name.startswith("used:")}

    # operations
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
        snap = snap or self.read("onboard", username, request)
        self._check_groups(request.groups, snap)
        existing = snap.user
        person: dict
        if existing is not None:
            self._check_resumable(request, existing, snap.record)
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
        record.update(_owed_by_earlier(snap.record, person["id"], self.settings.root_account_id))
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
        self.changes_made()
        if existing is not None:  # a resumed onboarding: what else the user has, read once
            user = self.describe(username)
        else:
            user = self._view(
                snap,
                username,
                person["arn"],
                record,
                list(request.groups),
                request.console,
                [{"id": key["access_key_id"], "status": "Active"}] if key else [],
                {},
                mfa=False,
            )
        credentials = ACCESS_KEY if key else LOGIN_SESSION
        config = self.aws_config(username, user["roles"], credentials)
        answer: dict[str, Any] = {
            "user": user,
            "aws_config": config,
            "credentials": credentials,
            "welcome": self._welcome(snap, username, user, credentials, config),
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

    def _welcome(
        self, snap: Snapshot, username: str, user: dict, credentials: str, config: str
    ) -> list[dict]:
        root = self.settings.root_account_id
        profiles = access_map.profiles(user["roles"], self.settings.mfa_roles)
        return welcome(
            username=username,
            sign_in_url=console_url(snap.alias, root),
            console=bool(user["console"]),
            credentials=credentials,
            source_profile=access_map.source_profile(root, username),
            mfa_serial=access_map.mfa_serial(root, username),
            aws_config=config,
            merge=config_merge.merge_snippet(username, config, app_name=self.settings.app_name),
            try_profile=profiles[0]["profile"] if profiles else None,
            asks_mfa=any(p["mfa"] for p in profiles),
        )

    def _check_resumable(
        self, request: OnboardRequest, existing: dict, record: dict | None
    ) -> None:
        """Whether ``existing`` is this ticket's own onboarding, to be finished; any other user
        under the name (in another case, outside the managed path, onboarded by another ticket,
        changed since) makes the name unavailable, in the one wording that tells nothing of it."""
        if (
            existing["username"] != request.username
            or existing["path"] != self.settings.managed_path
            or existing["tags"].get("ticket") != request.ticket
        ):
            raise unavailable(request.username)
        if record is None:
            return  # created by this ticket, its record not yet written
        if (
            record.get("ticket") == request.ticket
            and record.get("status") == "active"
            and _written_within(record, self.settings.idempotency_ttl)
        ):
            return  # nothing changed the user since this ticket's onboarding
        raise unavailable(request.username)

    def move(self, username: str, request: MoveRequest, snap: Snapshot | None = None) -> dict:
        """Set the user's managed groups to exactly ``request.groups``."""
        snap = snap or self.read("move", username, request)
        user = self._managed(snap)
        name = user["username"]
        self._check_groups(request.groups, snap)
        record = snap.state
        if record["status"] != "active":
            raise Conflict(f"{name} is {record['status']}; restore them before moving them")
        groups = self._managed_groups(name, snap.groups or [])
        granted = {g["group"] for g in record.get("grants", [])}
        current = set(groups) - granted  # grants end on their own
        target = set(request.groups)
        before = self._roles_before(snap, groups)
        record = {**record, "groups": sorted(target), "ticket": request.ticket}
        tasks: dict[str, Callable[[], Any]] = {
            f"+{g}": partial(self.iam.add_to_group, name, g) for g in target - current
        }
        tasks.update(
            {f"-{g}": partial(self.iam.remove_from_group, name, g) for g in current - target}
        )
        now = (set(groups) - (current - target)) | target
        # The roles the person reaches no more: their sessions of those go in the same wave.
        lost = self._lost_targets(before, self.roles(now, snap.access))
        done = wave(
            {
                **tasks,
                **self._last_used(snap.keys),
                "sessions": lambda: self._revoke_roles(name, lost),
            }
        )
        record = {**record, **_owed(record, done["sessions"], self._moment(), whole=False)}
        # After the change, not beside it: until then the record names the groups a retry of a
        # move that failed halfway must still count as reached before (profiles_to_remove).
        self.state.put_record(name, record)
        self.changes_made()
        view = self._view(
            snap,
            name,
            user["arn"],
            record,
            sorted(now),
            bool(snap.console),
            snap.keys or [],
            self._used(done),
        )
        return _with_revocation(self._with_config(view, view, before), done["sessions"], record)

    def suspend(self, username: str, request: SuspendRequest, snap: Snapshot | None = None) -> dict:
        """Remember groups, active keys and console access; then take all of them away.

        The memory is written before anything is taken (a failure halfway must not lose what a
        restore gives back); the removals and the session denies then go together, and the
        record says suspended only once both are done (or what is owed is named). A suspension
        that stopped halfway is finished by a retry, or by any later suspension (another
        ticket, the schedule that finds it stuck), under the memory it wrote."""
        snap = snap or self.read("suspend", username, request)
        user = self._managed(snap)
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
            kept = [g for g in self._managed_groups(name, groups) if g not in granted]
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
                "sessions": lambda: self._revoke(snap, name, user["arn"]),
                **self._last_used(snap.keys),
            }
        )
        revoked, signed_in = done["sessions"]
        record = {**suspended, **_owed(record, revoked, self._moment(), whole=True)}
        # Suspended only once everything is taken and the sessions revoked (what is owed named,
        # for the schedule): a crash before leaves it "suspending", for a retry to finish.
        self.state.put_record(name, record)
        self.changes_made()
        keys = [
            {**k, "status": "Inactive" if k["id"] in saved["keys"] else k["status"]}
            for k in snap.keys or []
        ]
        view = self._view(snap, name, user["arn"], record, [], False, keys, self._used(done))
        answer = _with_revocation(view, revoked, record)
        answer["signin_sessions_revoked"] = signed_in
        return answer

    def restore(self, username: str, request: RestoreRequest, snap: Snapshot | None = None) -> dict:
        """Undo exactly what the suspension did, and what credential hygiene took (keys it
        deactivated, the console login it removed), from a suspended or an active user; a new
        temporary password if console access existed.

        From a suspension, the record says restoring before anything is given back and active
        once all of it is: a restore (or a suspension) that stopped halfway is finished by any
        later restore, its retry, or the schedule that finds it stuck."""
        snap = snap or self.read("restore", username, request)
        user = self._managed(snap)
        name = user["username"]
        record = snap.state
        status = record["status"]
        retry = status == "restoring" or (
            record.get("ticket") == request.ticket and status == "active" and "restored" in record
        )
        # What credential hygiene took (keys deactivated, the console removed) is given back
        # too, from an active user as from a suspended one.
        hygiene_taken = record.get("hygiene_taken") or {}
        suspended = status in _SUSPENDED
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
        done = wave({**tasks, **self._last_used(snap.keys)})
        if suspended:
            self.state.put_record(name, record)
        self.changes_made()
        keys = [
            {**k, "status": "Active" if k["id"] in saved["keys"] else k["status"]}
            for k in snap.keys or []
        ]
        view = self._view(
            snap,
            name,
            user["arn"],
            record,
            groups,
            bool(saved["console"]),
            keys,
            self._used(done),
        )
        answer: dict = {"user": view}
        if done.get("password"):
            answer["temporary_password"] = done["password"]
        # A suspension took every group away: before the restore, nothing was reachable.
        return self._with_config(answer, view, [])

    def offboard(
        self, username: str, request: OffboardRequest, snap: Snapshot | None = None
    ) -> dict:
        """Delete the user and every object that depends on it; access and live sessions go
        in the first wave of changes, the user as soon as nothing depends on it."""
        snap = snap or self.read("offboard", username, request)
        record = snap.state
        name = snap.name
        if record["status"] == "offboarded":
            if record.get("ticket") == request.ticket:  # a retry of one that completed
                return self._forgotten(name, record, request)
            raise NotFound(f"{snap.username} was already offboarded")
        if record["status"] != "offboarding":
            name = self._managed(snap)["username"]
            self._managed_groups(name, snap.groups or [])
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
        arn = self._arn(snap, name)
        signin = _Outcome()
        if snap.user is None:
            signin.settle((int(record.get("signin_sessions_revoked") or 0), None))

        def revoke_signin() -> None:
            if snap.user is not None:
                signin.settle(self._revoke_signin(arn))

        def before_user() -> None:
            _, failure = signin.wait()
            if failure is not None:  # once more, now: most failures pass
                signin.settle(self._revoke_signin(arn))
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
                "roles": lambda: self._revoke_roles_of(snap, name),
                "signin": lambda: signin.after(revoke_signin),
            }
        )
        revoked, signed_in = self._with_signin(done["roles"], signin.wait())
        final = {k: v for k, v in record.items() if k not in ("saved", "removing")}
        final = {
            **final,
            "status": "offboarded",
            "groups": [],
            "grants": [],
            "removed": done["iam"],
            "signin_sessions_revoked": signed_in,
            **_owed(record, revoked, self._moment(), whole=True),
        }
        try:
            self.state.put_record(name, final)
        except AppError as error:  # the failure's audit event keeps what was removed
            error.detail = {**(error.detail or {}), "removed": done["iam"]}
            raise
        return self._forgotten(name, final, request)

    def _forgotten(self, name: str, record: dict, request: OffboardRequest) -> dict:
        """The offboarding's answer, once what was kept for the person is let go."""
        answer = _offboarded(name, record)
        self.forget(name, record, request, answer)
        return answer

    def set_profile(
        self, username: str, request: ProfileRequest, snap: Snapshot | None = None
    ) -> dict:
        """Keep an identity provider's id of the person and the email as the user's tags: each
        set to the request's value, or removed where it has none. Nothing else changes."""
        snap = snap or self.read("set_profile", username, request)
        user = self._managed(snap)
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
        self.changes_made()
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

    def _moment(self) -> str:
        return self.clock().isoformat(timespec="seconds")

    def _arn(self, snap: Snapshot, name: str) -> str:
        """The user's ARN, path included: read, or (once deleted) as IAM wrote it."""
        if snap.user:
            return str(snap.user["arn"])
        return access_map.user_arn(self.settings.root_account_id, self.settings.managed_path, name)

    def _revoke(self, snap: Snapshot, name: str, arn: str) -> tuple[Revoked, int]:
        """Every live session of ``name``: their role sessions in every child account (through
        the revocation the reads began, if any) and, beside them, their AWS Sign-In sessions in
        the root account. What failed is owed, the root account's under its own id."""
        done = wave(
            {
                "roles": lambda: self._revoke_roles_of(snap, name),
                "signin": partial(self._revoke_signin, arn),
            }
        )
        return self._with_signin(done["roles"], done["signin"])

    def _revoke_roles_of(self, snap: Snapshot, name: str) -> Revoked:
        """Every role session of ``name`` in every child account, through the revocation the
        reads began, if any."""
        if snap.revocation is None:
            return self.revoker.revoke([name])
        return snap.revocation.commit([name])

    def _with_signin(self, revoked: Revoked, signin: tuple[int, str | None]) -> tuple[Revoked, int]:
        """The role revocation and the Sign-In one together; the latter, if it failed, owed
        under the root account's id."""
        count, failure = signin
        if failure is not None:
            revoked = revoked._replace(
                pending={**revoked.pending, self.settings.root_account_id: failure}
            )
        return revoked, count

    def _revoke_signin(self, arn: str) -> tuple[int, str | None]:
        """(sessions revoked, why some may be left): never raises, it is owed instead."""
        try:
            return self.signin.revoke_sessions(arn), None
        except AppError as error:
            return 0, f"AWS Sign-In sessions not revoked: {error.message}"

    def _lost_targets(self, before: list[str], after: list[str]) -> dict[str, list[str]]:
        """{account: [role]} of the managed child roles in ``before`` but not in ``after``."""
        lost = set(before) - set(after)
        if not lost:
            return {}
        children = set(self.revoker.every_role())
        targets: dict[str, list[str]] = {}
        for arn in sorted(lost):
            account, role = access_map.account_and_role(arn)
            if role in self.settings.revocable_roles and account in children:
                targets.setdefault(account, []).append(role)
        return targets

    def _revoke_roles(self, name: str, targets: dict[str, list[str]]) -> Revoked:
        return self.revoker.revoke([name], targets) if targets else Revoked([], {})

    def revoke_sessions(
        self, username: str, request: TicketRequest, snap: Snapshot | None = None
    ) -> dict:
        """Revoke again where a revocation is owed: the child accounts that could not be
        reached, at the moment it was owed from (what was given since is not denied), and the
        root account's Sign-In sessions."""
        record = self.state.get_record(username) or {"status": "active", "grants": []}
        name = record.get("username", username)
        root = self.settings.root_account_id
        pending = [a for a in record.get("revocation_pending", []) if a != root]
        owed = record.get("revocation_owed_before")
        before = datetime.fromisoformat(owed) if owed else None
        tasks: dict[str, Callable[[], Any]] = {
            "roles": lambda: (
                self.revoker.revoke([name], self.revoker.every_role(pending), before)
                if pending
                else Revoked([], {})
            )
        }
        # Even for a person restored since: a Sign-In session of before the suspension must
        # not come back to life, and a newer one only means signing in again.
        if root in record.get("revocation_pending", []):
            arn = access_map.user_arn(root, self.settings.managed_path, name)
            tasks["signin"] = partial(self._revoke_signin, arn)
        done = wave(tasks)
        revoked = done["roles"]
        count, failure = done.get("signin", (0, None))
        if failure is not None:
            revoked = revoked._replace(pending={**revoked.pending, root: failure})
        elif "signin" in tasks:
            revoked = revoked._replace(done=sorted([*revoked.done, root]))
        record = {
            **record,
            **_owed({**record, "revocation_pending": []}, revoked, owed or self._moment(), True),
            "sessions_revoked_in": sorted(
                set(record.get("sessions_revoked_in", [])) | set(revoked.done)
            ),
        }
        self.state.put_record(name, record)
        answer = {"username": name, "signin_sessions_revoked": count}
        return _with_revocation(answer, revoked, record)

    # time-bound access
    def grant(self, username: str, request: GrantRequest, snap: Snapshot | None = None) -> dict:
        """Add to ``request.group`` until now + hours; a schedule takes it away again."""
        group = request.group
        limit = self.settings.grant_max_hours.get(group)
        if limit is None:
            grantable = ", ".join(sorted(self.settings.grant_max_hours)) or "none"
            raise Forbidden(f"{group} cannot be granted for a time; grantable groups: {grantable}")
        if request.hours > limit:
            raise BadRequest(f"{group} may be granted for at most {limit} hours")
        snap = snap or self.read("grant", username, request)
        user = self._managed(snap)
        name = user["username"]
        self._check_groups([group], snap)
        record = snap.state
        if record["status"] != "active":
            raise Conflict(f"{name} is {record['status']}; restore them before granting access")
        if group in record.get("groups", []):
            raise Conflict(f"{name} is a member of {group} already, without an expiry")
        before = self._roles_before(snap)
        grants = [g for g in record.get("grants", []) if g["group"] != group]
        earlier = [g for g in record.get("grants", []) if g["group"] == group]
        if earlier and earlier[0].get("ticket") == request.ticket:
            grant = earlier[0]  # a retry keeps the expiry of the first attempt
        else:
            expires = self.clock() + timedelta(hours=request.hours)
            grant = {
                "group": group,
                "expires_at": expires.isoformat(timespec="seconds"),
                "ticket": request.ticket,
                "requested_by": request.requested_by,
                "reason": request.reason,
            }
        record = {**record, "grants": sorted(grants + [grant], key=lambda g: g["group"])}
        done = wave(
            {
                "add": lambda: self.iam.add_to_group(name, group),
                "record": lambda: self.state.put_record(name, record),
                **self._last_used(snap.keys),
            }
        )
        self.changes_made()
        groups = sorted(set(snap.groups or []) | {group})
        view = self._view(
            snap,
            name,
            user["arn"],
            record,
            groups,
            bool(snap.console),
            snap.keys or [],
            self._used(done),
        )
        return self._with_config(view, view, before)

    def expire_grant(
        self, username: str, request: ExpireGrantRequest, snap: Snapshot | None = None
    ) -> dict:
        """Take a grant's group away and revoke the sessions of the roles only it allowed."""
        group = request.group
        found = wave(
            {
                "record": lambda: self.state.get_record(username),
                "access": lambda: self.iam.group_access(self.settings.allowed_groups),
                "user": lambda: self.iam.get_user(username),
            }
        )
        record = found["record"] or {"status": "active", "grants": []}
        name = record.get("username", username)
        remaining = [g for g in record.get("grants", []) if g["group"] != group]
        keeps = set(record.get("groups", [])) | {g["group"] for g in remaining}
        revoked = Revoked([], {})
        if group not in keeps:
            lost = self._lost_targets(
                self.roles([group], found["access"]), self.roles(keeps, found["access"])
            )
            tasks: dict[str, Callable[[], Any]] = {
                "sessions": lambda: self._revoke_roles(name, lost)
            }
            user = found["user"]
            # The grant's holder left with their user; a later holder of the name keeps their
            # own memberships (the sessions' deny, issued before now, costs them a new session).
            if not user or same_person(record, user["id"]):
                tasks["remove"] = lambda: self.iam.remove_from_group(name, group)
            revoked = wave(tasks)["sessions"]
        record = {
            **record,
            "grants": remaining,
            **_owed(record, revoked, self._moment(), whole=False),
        }
        self.state.put_record(name, record)
        return _with_revocation({"username": name, "group": group}, revoked, record)

    # credential hygiene: one credential at a time, remembered for a restore
    def deactivate_key(
        self, username: str, request: HygieneRequest, snap: Snapshot | None = None
    ) -> dict:
        """Deactivate one access key whose rule is due, judged again on what is read now."""
        snap = snap or self.read("deactivate_key", username, request)
        name, record, key_ = self._hygiene_key(snap, request)
        taken = record.get("hygiene_taken") or {}
        keys = dict(taken.get("keys") or {})
        retry = key_["status"] != "Active" and key_["id"] in keys
        if not retry:
            if key_["status"] != "Active":
                raise Conflict(f"key {key_['id']} of {name} is inactive already")
            used = {key_["id"]: self.iam.last_used(key_["id"])}
            self._check_due(snap, request, used)
            keys[key_["id"]] = self.clock().date().isoformat()
        record = {**record, "hygiene_taken": {**taken, "keys": keys}}
        wave(
            {
                "key": lambda: self.iam.set_key_status(name, key_["id"], "Inactive"),
                "record": lambda: self.state.put_record(name, record),
            }
        )
        self.changes_made()
        return _hygiene_done(name, request, "deactivated")

    def delete_key(
        self, username: str, request: HygieneRequest, snap: Snapshot | None = None
    ) -> dict:
        """Delete a key this service deactivated, once the deletion rule's further period passed
        (off unless the stage turns it on). A deleted key cannot be given back."""
        snap = snap or self.read("delete_key", username, request)
        name, record, key_ = self._hygiene_key(snap, request, missing_ok=True)
        taken = record.get("hygiene_taken") or {}
        keys = dict(taken.get("keys") or {})
        deleted = sorted(set(record.get("hygiene_deleted", [])) | {request.credential})
        if key_ is not None:  # else: deleted already by an attempt whose record was not written
            if key_["status"] == "Active" or key_["id"] not in keys:
                raise Conflict(
                    f"key {key_['id']} of {name} was not deactivated by this service; "
                    "it is not its to delete"
                )
            self._check_due(snap, request, {})
        keys.pop(request.credential, None)
        record = {**record, "hygiene_taken": {**taken, "keys": keys}, "hygiene_deleted": deleted}
        tasks: dict[str, Callable[[], Any]] = {
            "record": lambda: self.state.put_record(name, record)
        }
        if key_ is not None:
            tasks["key"] = lambda: self.iam.delete_access_key(name, request.credential)
        wave(tasks)
        self.changes_made()
        return _hygiene_done(name, request, "deleted")

    def remove_console(
        self, username: str, request: HygieneRequest, snap: Snapshot | None = None
    ) -> dict:
        """Remove the console login (dormant password, or no MFA), judged again on what is read
        now; a restore gives it back with a new temporary password."""
        snap = snap or self.read("remove_console", username, request)
        user = self._managed(snap)
        name = user["username"]
        record = self._hygiene_record(name, snap, request, hygiene.CONSOLE)
        taken = record.get("hygiene_taken") or {}
        if snap.login is None:
            if not taken.get("console"):
                raise Conflict(f"{name} has no console login")
        else:
            self._check_due(snap, request, {})
            taken = {**taken, "console": self.clock().date().isoformat()}
        record = {**record, "hygiene_taken": taken}
        wave(
            {
                "console": lambda: self.iam.delete_login_profile(name),
                "record": lambda: self.state.put_record(name, record),
            }
        )
        self.changes_made()
        return _hygiene_done(name, request, "removed")

    def _hygiene_record(
        self, name: str, snap: Snapshot, request: HygieneRequest, credential: str | None = None
    ) -> dict:
        record = snap.state
        if record["status"] != "active":
            raise Conflict(f"{name} is {record['status']}; hygiene changes active users only")
        rule = self.settings.hygiene.rule(request.rule)
        if credential is not None and request.credential != credential:
            raise BadRequest(f"{request.rule} acts on {credential}, not {request.credential}")
        if rule.mode != hygiene.ACT:
            raise Conflict(f"the rule {rule.name} does not act in this stage ({rule.mode})")
        return record

    def _hygiene_key(
        self, snap: Snapshot, request: HygieneRequest, missing_ok: bool = False
    ) -> tuple[str, dict, Any]:
        user = self._managed(snap)
        name = user["username"]
        record = self._hygiene_record(name, snap, request)
        found = next((k for k in snap.keys or [] if k["id"] == request.credential), None)
        if found is None and not missing_ok:
            raise NotFound(f"{name} has no access key {request.credential}")
        return name, record, found

    def _check_due(self, snap: Snapshot, request: HygieneRequest, used: dict) -> None:
        """The rule judged again on the facts read now: a person who used the credential, or
        was given MFA or changed by hand, since the notice is not acted on."""
        facts = hygiene_facts(snap, used)
        today = self.clock().date()
        if not hygiene.still_due(
            facts, request.rule, request.credential, self.settings.hygiene, today
        ):
            raise Conflict(
                f"{request.rule} is not due on {request.credential} of {facts.username} any "
                "more (used or changed since it was noticed); nothing was done"
            )

    def end_grant(
        self, username: str, request: ExpireGrantRequest, snap: Snapshot | None = None
    ) -> dict:
        """End one's own time-bound access now: as at its expiry, the group goes and so do the
        sessions of the roles only it allowed."""
        found = wave(
            {
                "record": lambda: self.state.get_record(username),
                "user": lambda: self.iam.get_user(username),
            }
        )
        record, user = found["record"] or {}, found["user"]
        # A record of an earlier holder of the name ends nothing of the user who holds it now.
        mine = bool(user) and same_person(record, user["id"])
        if not mine or not any(g["group"] == request.group for g in record.get("grants", [])):
            raise Conflict(f"{username} holds no time-bound access to {request.group}")
        return self.expire_grant(username, request, snap)

    def describe_if_exists(self, username: str) -> dict | None:
        """The user as :meth:`describe` shows it, or None; the user is looked up first, so that
        nothing is asked of IAM about a name that is not there (a plan's state before)."""
        self.check_user_allowed(username)
        user = self.iam.get_user(username)
        if not user or user["path"] != self.settings.managed_path:
            return None
        return self.describe(username)

    def describe(self, username: str) -> dict:
        """The user as it is: one wave of reads, and one more for when its keys were used."""
        snap = self.read("describe", username)
        self._managed(snap)
        return self.view(snap, self.last_used(snap.keys))


def _owed_by_earlier(record: dict | None, person: str, root: str) -> dict:
    """What a revocation still owes for an earlier holder of the name (``record``: theirs),
    kept in the new holder's record so the schedule still retries it: the child accounts'
    session denies, from the moment they were owed (before this user existed, so none of
    theirs). Their own root-account Sign-In sessions died with their user."""
    if not record or record.get(PERSON) == person:
        return {}
    why = {a: w for a, w in (record.get("revocation_why") or {}).items() if a != root}
    pending = [a for a in record.get("revocation_pending") or [] if a != root]
    if not pending or not record.get("revocation_owed_before"):
        return {}
    return {
        "revocation_pending": pending,
        "revocation_why": {a: why.get(a, "owed") for a in pending},
        "revocation_owed_before": record["revocation_owed_before"],
    }


def unavailable(username: str) -> Conflict:
    """The one answer for a name that cannot be onboarded, whoever holds it: it confirms
    nothing about which users exist (protected names are refused with 403 before this)."""
    return Conflict(
        f"{username} cannot be onboarded: the name is not available (IAM user names are "
        "unique whatever their case); choose another name, or change an existing managed "
        "user with the other operations"
    )


def _moment(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def hygiene_facts(snap: Snapshot, used: dict[str, str | None]) -> hygiene.Facts:
    """What a hygiene change reads of a user, as the rules take it; ``used``: keys' last use."""
    user, record = snap.user or {}, snap.state
    taken = (record.get("hygiene_taken") or {}).get("keys") or {}
    return hygiene.Facts(
        username=str(user.get("username") or snap.username),
        created=datetime.fromisoformat(user["created"]),
        console=snap.login is not None,
        password_last_used=_moment(user.get("password_last_used")),
        password_changed=_moment((snap.login or {}).get("created")),
        mfa=bool(snap.mfa),
        keys=tuple(
            hygiene.Key(
                k["id"],
                k["status"] == "Active",
                datetime.fromisoformat(k["created"])
                if k.get("created")
                else datetime.fromisoformat(user["created"]),
                _moment(used.get(k["id"])),
            )
            for k in snap.keys or []
        ),
        restored_at=_moment(record.get("restored_at")),
        deactivated={k: date.fromisoformat(d) for k, d in taken.items()},
    )


def _hygiene_done(name: str, request: HygieneRequest, done: str) -> dict:
    return {"username": name, "rule": request.rule, "credential": request.credential, "done": done}


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


class _Outcome:
    """The Sign-In revocation's outcome, waited for by the offboarding's last IAM wave."""

    def __init__(self) -> None:
        self._ready = threading.Event()
        self._value: tuple[int, str | None] = (0, "AWS Sign-In sessions not revoked")

    def settle(self, value: tuple[int, str | None]) -> None:
        self._value = value
        self._ready.set()

    def after(self, task: Callable[[], Any]) -> Any:
        """Run ``task``; if it fails, the outcome is settled as owed (nobody waits forever)."""
        try:
            return task()
        finally:
            self._ready.set()

    def wait(self) -> tuple[int, str | None]:
        self._ready.wait()
        return self._value


def _union(*found: dict[str, list[str]] | None) -> dict[str, list[str]]:
    kinds: dict[str, set[str]] = {}
    for each in found:
        for kind, ids in (each or {}).items():
            kinds.setdefault(kind, set()).update(ids)
    return {kind: sorted(ids) for kind, ids in kinds.items()}


def _written_within(record: dict, seconds: int) -> bool:
    written = datetime.fromisoformat(record.get("at") or "1970-01-01T00:00:00+00:00")
    return (datetime.now(UTC) - written).total_seconds() < seconds


def _owed(record: dict, revoked: Revoked, moment: str, whole: bool) -> dict:
    """The record's revocation fields after ``revoked``: where it worked, where it is still
    owed and why, and the moment it is owed from (the latest owed: denying more, never less).
    A ``whole`` revocation (every role everywhere, now) settles what was owed before it where
    it worked; a partial one (some roles) adds to it."""
    why = {} if whole else dict(record.get("revocation_why") or {})
    why.update(revoked.pending)
    fields: dict[str, Any] = {
        "sessions_revoked_in": revoked.done,
        "revocation_pending": sorted(why),
        "revocation_why": why,
        "sessions_revoked_by_role_cutoff": revoked.role_cutoff,
    }
    earlier = record.get("revocation_owed_before") if why and not whole else None
    fields["revocation_owed_before"] = (
        (max(earlier, moment) if earlier else moment) if why else None
    )
    return fields


def _with_revocation(answer: dict, revoked: Revoked, record: dict) -> dict:
    """``answer`` naming what this change revoked, what is still owed (account -> why) and
    where a whole role was cut off: nothing is claimed that did not happen."""
    answer = {**answer, "sessions_revoked_in": revoked.done}
    why = record.get("revocation_why") or {a: "owed" for a in record.get("revocation_pending", [])}
    if why:
        answer["sessions_revocation_pending"] = why
    if revoked.role_cutoff:
        answer["sessions_revoked_by_role_cutoff"] = revoked.role_cutoff
    return answer


def _offboarded(username: str, record: dict) -> dict:
    answer = _with_revocation(
        {"username": username, "removed": record.get("removed", {})},
        Revoked(
            record.get("sessions_revoked_in", []),
            {},
            record.get("sessions_revoked_by_role_cutoff") or [],
        ),
        record,
    )
    if "signin_sessions_revoked" in record:
        answer["signin_sessions_revoked"] = record["signin_sessions_revoked"]
    return answer
