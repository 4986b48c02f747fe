"""Adoption over the ports: read a person whole, decide with ``rules``, move them under the
service's path (or back), and prove by reading again that what they can do did not change.

The runner runs ``adopt`` and ``release`` as it runs every change (once per ticket, the user
held, audited, evented, dry-runnable); :class:`Adoption` adds the plan a person reads and the
batch over many users."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import TYPE_CHECKING, Any

from chalicelib.adoption import rules
from chalicelib.adoption import settings as adoption_settings
from chalicelib.adoption.ports import AdoptionIam
from chalicelib.kernel.errors import AppError, Conflict, Forbidden, NotFound
from chalicelib.kernel.identity import PERSON, check_username, key
from chalicelib.kernel.ports import IamGateway, StateStore
from chalicelib.kernel.waves import wave
from chalicelib.settings import Settings

if TYPE_CHECKING:
    from chalicelib.adoption.commands import AdoptRequest, BatchAdoptRequest, ReleaseRequest

ACTIONS = ("adopt", "release")
# Roles a set of groups reaches, given the managed groups' policy documents (the lifecycle's).
Roles = Callable[[list[str], dict[str, list[dict]]], list[str]]


@dataclass
class Reading:
    """One person as adoption reads them, in two waves: the user, every user's policies and
    the groups' documents beside the record, then the person's credentials."""

    username: str
    person: rules.Person | None
    hidden: bool
    record: dict | None
    access: dict[str, list[dict]]

    def abandon(self) -> None:
        """Nothing held: the runner lets a snapshot go this way."""

    @property
    def name(self) -> str:
        return self.person.username if self.person else self.username


class AdoptionActions:
    """``adopt`` and ``release``, each ``(username, request, snap=None)``."""

    def __init__(
        self,
        settings: Settings,
        iam: IamGateway,
        people: AdoptionIam,
        state: StateStore,
        roles: Roles,
        describe: Callable[[str], dict],
    ) -> None:
        self.settings = settings
        self.iam = iam
        self.people = people
        self.state = state
        self._roles = roles
        self._describe = describe
        # Set by the runner when this registers: a dry run stops there.
        self.changes_done: Callable[[], None] = lambda: None

    @property
    def policy(self) -> rules.Policy:
        return adoption_settings.policy(self.settings)

    # reading
    def read(self, action: str, username: str, request: Any = None) -> Reading:
        check_username(username)
        if key(username) in self.settings.protected_users:
            raise Forbidden(f"{username} is a protected user; this service does not change it")
        found = wave(
            {
                "user": lambda: self.people.user(username),
                "access": lambda: self.iam.group_access(self.settings.allowed_groups),
                "record": lambda: self.state.get_record(username),
            }
        )
        user = found["user"]
        if user is None:
            return Reading(username, None, False, found["record"], found["access"])
        if user.get("hidden"):
            return Reading(username, None, True, found["record"], found["access"])
        return Reading(username, self._person(user), False, found["record"], found["access"])

    def _person(self, user: dict) -> rules.Person:
        name = user["username"]
        creds = wave(
            {
                "policies": lambda: self.people.policies(name),
                "keys": lambda: self.iam.access_keys(name),
                "console": lambda: self.iam.has_login_profile(name),
                "mfa": lambda: self.iam.mfa_devices(name),
            }
        )
        policies = creds["policies"]
        return rules.Person(
            username=name,
            id=user["id"],
            arn=user["arn"],
            path=user["path"],
            tags=dict(user.get("tags") or {}),
            boundary=user.get("boundary"),
            groups=tuple(policies.get("groups") or ()),
            inline=tuple(sorted(policies.get("inline") or {})),
            attached=tuple(policies.get("attached") or ()),
            keys=tuple((k["id"], k["status"]) for k in creds["keys"]),
            console=bool(creds["console"]),
            mfa=tuple(creds["mfa"]),
        )

    def _facts(self, person: rules.Person, access: dict[str, list[dict]]) -> dict:
        return rules.facts(person, self.matrix(person, access))

    def matrix(self, person: rules.Person, access: dict[str, list[dict]]) -> list[dict]:
        return rules.matrix(person.username, person.groups, lambda g: self._roles(g, access))

    def perform(
        self, action: str, username: str, request: Any, snap: Reading | None = None
    ) -> dict:
        if action not in ACTIONS:
            raise KeyError(f"adoption does not carry out {action}")
        return dict(getattr(self, action)(username, request, snap))

    # adopt
    def check(self, reading: Reading, request: AdoptRequest) -> tuple[rules.Person, bool]:
        """The person, if they may be adopted under ``request`` (and whether this resumes an
        adoption of the same ticket that stopped halfway); else a 409 naming every reason."""
        person = self._visible(reading)
        record = reading.record
        resuming = (
            record is not None
            and record.get("status") == "adopting"
            and record.get(PERSON) == person.id
            and record.get("ticket") == request.ticket
        )
        if resuming:
            # What adoption changed so far is its own: judged as the user was before it.
            kept = (record or {})["adopted"]
            before_tags = {**person.tags, **{k: v for k, v in kept["tags"].items() if v}}
            for k, v in kept["tags"].items():
                if v is None:
                    before_tags.pop(k, None)
            person = replace(person, path=kept["path"], arn=kept["arn"], tags=before_tags)
        reasons = rules.refusals(person, None if resuming else record, self.policy)
        mismatch = rules.expected_groups(person, self.policy, request.groups)
        if mismatch:
            reasons.append(mismatch)
        if reasons:
            raise Conflict(
                f"{person.username} cannot be adopted: " + "; ".join(reasons),
                {"reasons": reasons},
            )
        return person, resuming

    def _visible(self, reading: Reading) -> rules.Person:
        if reading.hidden:
            raise Conflict(
                f"{reading.username} cannot be adopted: it is not marked for adoption (an "
                f"administrator tags it {rules.MARK_KEY}={rules.MARK_VALUE}; until then the "
                "service may not read it)",
                {"reasons": ["not marked for adoption"]},
            )
        if reading.person is None:
            raise NotFound(f"no IAM user named {reading.username}")
        return reading.person

    def adopt(self, username: str, request: AdoptRequest, snap: Reading | None = None) -> dict:
        """Bring the user under the service's path, tagged and recorded as onboarding does, its
        groups, policies, keys, password and MFA exactly as they were; then read them again
        and undo it all if what they can do differs."""
        reading = snap or self.read("adopt", username, request)
        before, resuming = self.check(reading, request)
        name, policy = before.username, self.policy
        added = rules.tags_added(before, request.ticket, request.requested_by, policy.app_name)
        kept = (reading.record or {}).get("adopted") if resuming else None
        kept = kept or rules.memory(before, added)
        expected = self._facts(before, reading.access)
        record = {
            "status": "adopting",
            "ticket": request.ticket,
            "groups": rules.owned_groups(before, policy),
            "grants": [],
            PERSON: before.id,
            "adopted": kept,
        }
        # The memory first: a stop halfway is finished by a retry of the ticket, and a release
        # gives back what it holds.
        self.state.put_record(name, record)
        self.people.set_path(name, policy.managed_path)
        self.iam.tag_user(name, added)
        self._prove(name, expected, undo=lambda: self._undo(name, kept))
        record = {**record, "status": "active"}
        self.state.put_record(name, record)
        self.changes_done()
        user = self._describe(name)
        return {**user, "adopted": {"from_path": kept["path"], "from_arn": kept["arn"]}}

    def _prove(self, name: str, expected: dict, undo: Callable[[], None]) -> None:
        """Read the person again: what they can do must be what it was. Otherwise undo and
        refuse, naming what differs (someone changed them meanwhile)."""
        again = self.read("adopt", name)
        after = self._facts(self._visible(again), again.access)
        changed = rules.differences(expected, after)
        if changed:
            undo()
            raise Conflict(
                f"{name} changed while it was being adopted or released, and what they can do "
                "would differ; nothing was kept: " + "; ".join(changed),
                {"differences": changed},
            )

    def _undo(self, name: str, kept: dict) -> None:
        to_set, to_remove = rules.tags_back(kept)
        if to_remove:
            self.iam.untag_user(name, to_remove)
        if to_set:
            self.iam.tag_user(name, to_set)
        self.people.set_path(name, kept["path"])
        record = self.state.get_record(name) or {}
        self.state.put_record(name, {**record, "status": "released"})

    # release
    def release(self, username: str, request: ReleaseRequest, snap: Reading | None = None) -> dict:
        """Give an adopted user back as they were before: the tags and path of then, the record
        closed (the trail keeps it), what they can do unchanged."""
        reading = snap or self.read("release", username, request)
        person = self._visible(reading)
        name, record = person.username, reading.record or {}
        kept = record.get("adopted")
        if not kept or record.get(PERSON) != person.id:
            raise Conflict(
                f"{name} was not adopted by this service; a user it onboarded is offboarded, "
                "not released"
            )
        status = record.get("status")
        resuming = status == "releasing" and record.get("release_ticket") == request.ticket
        if not resuming:
            if status != "active":
                raise Conflict(f"{name} is {status}; only an active adopted user can be released")
            if record.get("grants"):
                raise Conflict(
                    f"{name} holds time-bound access ({', '.join(g['group'] for g in record['grants'])}); "
                    "end it first: a released user is no longer the service's to take it from"
                )
            if person.path != self.policy.managed_path:
                raise Conflict(f"{name} is not under the service's path {self.policy.managed_path}")
        expected = self._facts(person, reading.access)
        releasing = {**record, "status": "releasing", "release_ticket": request.ticket}
        self.state.put_record(name, releasing)
        # The tags while the user is still the service's to tag (a release that stopped after
        # its move back did them already), then the path.
        if person.path == self.policy.managed_path:
            to_set, to_remove = rules.tags_back(kept)
            if to_remove:
                self.iam.untag_user(name, to_remove)
            if to_set:
                self.iam.tag_user(name, to_set)
        self.people.set_path(name, kept["path"])
        self._prove(name, expected, undo=lambda: self._readopt(name, person, record))
        self.state.put_record(name, {**releasing, "status": "released"})
        self.changes_done()
        return {
            "username": name,
            "released": True,
            "path": kept["path"],
            "arn": kept["arn"],
            "tags_restored": kept["tags"],
        }

    def _readopt(self, name: str, person: rules.Person, record: dict) -> None:
        """A release that would change access: the user put back as it was, managed."""
        keys = sorted(record["adopted"]["tags"])
        back = {k: person.tags[k] for k in keys if k in person.tags}
        self.people.set_path(name, self.policy.managed_path)
        if back:
            self.iam.tag_user(name, back)
        self.state.put_record(name, record)


class Adoption:
    """The plan a person reads before adopting, and adoptions in a batch."""

    def __init__(
        self,
        settings: Settings,
        actions: AdoptionActions,
        change: Callable[..., dict],
        deadline: float | None = None,
    ) -> None:
        self.settings = settings
        self.actions = actions
        self.change = change
        self.deadline = deadline  # seconds a batch works before it answers 202

    def adopt(self, username: str, request: AdoptRequest) -> dict:
        """The change, or with ``dry_run`` its plan: the runner's calls by wave, and what the
        person reads (what changes, what stays, the access matrix before and after)."""
        answer = self.change("adopt", username, request)
        if request.dry_run:
            reading = self.actions.read("adopt", username, request)
            person, _ = self.actions.check(reading, request)
            policy = self.actions.policy
            added = rules.tags_added(person, request.ticket, request.requested_by, policy.app_name)
            rows = self.actions.matrix(person, reading.access)
            answer = {**answer, "plan": rules.plan(person, policy, added, rows)}
        return answer

    def candidates(self) -> list[str]:
        """Every user outside the service's path (protected users left out)."""
        policy = self.actions.policy
        return sorted(
            user["username"]
            for user in self.actions.people.outside(policy.managed_path)
            if key(user["username"]) not in policy.protected_users
        )

    def batch(self, request: BatchAdoptRequest) -> tuple[int, dict]:
        """Adopt (or plan) each user under its own ticket ``<ticket>/<username>``: a retry of
        the batch with the same ticket answers the done ones again and goes on with the rest.
        Answers 200 once every user has an outcome, or 202 with the progress so far when the
        time to answer ran out (the same request again carries on)."""
        from chalicelib.adoption.commands import AdoptRequest

        names = self.candidates() if request.all else list(dict.fromkeys(request.usernames or []))
        started = time.monotonic()
        results: list[dict] = []
        progressed = False  # each request does at least one user not done before: it moves on
        for index, name in enumerate(names):
            late = self.deadline is not None and time.monotonic() - started > self.deadline
            if late and progressed:
                return 202, self._summary(request, results, names[index:])
            one = AdoptRequest(
                ticket=f"{request.ticket}/{key(name)}",
                requested_by=request.requested_by,
                dry_run=request.dry_run,
                callback_url=request.callback_url,  # each user's outcome, called back
            )
            progressed = progressed or not self._finished(name, one)
            results.append(self._one(name, one))
        return 200, self._summary(request, results, [])

    def _finished(self, name: str, request: AdoptRequest) -> bool:
        """Whether the trail holds an outcome of this user's ticket already (answered again,
        not done again)."""
        if self.deadline is None:
            return False  # no deadline: nothing to tell apart
        wanted = ("planned", "plan rejected") if request.dry_run else ("ok", "rejected")
        return any(
            event["action"] == "adopt"
            and key(event["username"]) == key(name)
            and str(event["result"]).startswith(wanted)
            for event in self.actions.state.audit_events(ticket=request.ticket)
        )

    def _one(self, name: str, request: AdoptRequest) -> dict:
        try:
            answer = self.adopt(name, request)
        except AppError as error:
            reasons = (error.detail or {}).get("reasons")
            outcome = "refused" if error.status < 500 else "failed"
            return {
                "username": name,
                "result": outcome,
                "status": error.status,
                "ticket": request.ticket,
                "reasons": reasons or [error.message],
            }
        if request.dry_run:
            return {
                "username": name,
                "result": "planned",
                "ticket": request.ticket,
                "plan": answer["plan"],
            }
        return {"username": name, "result": "adopted", "ticket": request.ticket, "user": answer}

    @staticmethod
    def _summary(request: BatchAdoptRequest, results: list[dict], remaining: list[str]) -> dict:
        counts: dict[str, int] = {}
        for result in results:
            counts[result["result"]] = counts.get(result["result"], 0) + 1
        return {
            "ticket": request.ticket,
            "dry_run": request.dry_run,
            "progress": {
                "total": len(results) + len(remaining),
                "done": len(results),
                **counts,
                "remaining": len(remaining),
            },
            "results": results,
            "remaining": remaining,
            **(
                {
                    "message": "not finished in time to answer: send the same request again "
                    "(same ticket) to go on; users done are answered again, not changed twice"
                }
                if remaining
                else {}
            ),
        }
