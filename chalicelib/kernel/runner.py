"""Runs a changing operation the same way for every caller (REST, Slack worker, schedules):
once per ticket (Powertools Idempotency), one change per user at a time (a lease), audited and
counted whatever the outcome, with the ticket as the logs' correlation id."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, cast

from chalicelib.edges.callbacks import outbox, policy
from chalicelib.kernel import continuing, waves
from chalicelib.kernel import recording as recorder
from chalicelib.kernel.catalogue import ACTIONS
from chalicelib.kernel.claim import Claim
from chalicelib.kernel.errors import (
    AppError,
    BadRequest,
    Conflict,
    InProgress,
    NotFound,
    UpstreamError,
)
from chalicelib.kernel.identity import check_username, key
from chalicelib.kernel.ports import Events, Executor, StateStore
from chalicelib.kernel.telemetry import count, logger
from chalicelib.settings import Settings

if TYPE_CHECKING:
    from aws_lambda_powertools.utilities.typing import LambdaContext

    from chalicelib.kernel.commands import TicketRequest

# Never stored with the idempotency record: a replay answers without it.
# The secrets an answer may hand out once: kept from the idempotency record, the audit trail, the
# event and the callback.
_SECRET_FIELDS = ("temporary_password", "access_key")
# What an answer says of live sessions, kept in the audit entry beside the calls.
_REVOCATION_FIELDS = (
    "sessions_revoked_in",
    "sessions_revocation_pending",
    "sessions_revoked_by_role_cutoff",
    "signin_sessions_revoked",
)
# What follows a committed change: (action, username, request, answer) -> None, or what failed
# as (audit result, detail).
AfterChange = Callable[[str, str, Any, dict], "tuple[str, dict] | None"]


class _Deadline:
    """Gives Powertools the in-progress expiry a Lambda context would: past it, a retry may run."""

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds

    def get_remaining_time_in_millis(self) -> int:
        return self.seconds * 1000


class Operations:
    def __init__(
        self,
        settings: Settings,
        state: StateStore,
        tickets: Any,
        events: Events,
        work_queue: Any = None,
        state_before: Callable[[str], dict | None] = lambda _username: None,
        after_change: AfterChange | None = None,
    ) -> None:
        """``tickets``: the Powertools persistence layer of the tickets' idempotency records
        (``chalicelib.aws.tickets``); ``state_before``: the user as a plan's ``state_before``
        shows it (None: not there); ``after_change``: what follows a committed change (a
        person's welcome), returning what failed as (audit result, detail) for the trail."""
        from aws_lambda_powertools.utilities.idempotency import IdempotencyConfig

        self.settings = settings
        self.state = state
        self.events = events
        self._state_before = state_before
        self._after_change = after_change
        # Who carries out each action of the catalogue that the runner runs: registered by
        # the capabilities (the composition root wires them), never a list of its own.
        self._executors: dict[str, Executor] = {}
        self._work_queue = work_queue
        self._store = tickets
        # One ticket, one change: the key is the ticket alone, so a second action under it (on
        # this user or another) is a conflict, never a second change running beside the first.
        self._config = IdempotencyConfig(
            event_key_jmespath="ticket",
            payload_validation_jmespath="[action, username, request]",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=settings.idempotency_ttl,
            # Duck-typed: Powertools only asks it for the remaining time. A ticket in progress
            # is held as briefly as the user's lease, and renewed with it (the heartbeat).
            lambda_context=cast("LambdaContext", _Deadline(settings.lease_seconds)),
        )

    def register(self, executor: Executor, actions: tuple[str, ...]) -> None:
        """Run ``actions`` (names in the catalogue, run by this runner) through ``executor``,
        whose changes stop where it calls ``changes_done`` in a dry run."""
        for action in actions:
            declared = ACTIONS.get(action)
            if declared is None or declared.runs != "lifecycle":
                raise ValueError(f"{action} is not a change the catalogue gives the runner")
            if action in self._executors:
                raise ValueError(f"{action} is registered already")
        executor.changes_done = recorder.changes_done
        self._executors.update(dict.fromkeys(actions, executor))

    def executor(self, action: str) -> Executor:
        """Who carries ``action`` out (none registered: a wiring fault, not the caller's)."""
        try:
            return self._executors[action]
        except KeyError:
            raise LookupError(f"no executor is registered for {action}") from None

    def change(
        self,
        action: str,
        username: str,
        request: TicketRequest,
        answer_within: float | None = None,
    ) -> dict:
        """Run ``action`` on ``username`` once per ticket, holding the user, its snapshot read
        beside the claim of its ticket and user and handed to the action; a dry run lets the
        action read, and answers the plan of its changes instead.

        With ``answer_within`` (seconds), a change still making its changes then stops before
        its next wave and goes on in the queue worker under the same ticket: the answer is then
        ``continuing.accepted(...)`` (HTTP 202), and the ticket's callback carries the outcome."""
        executor = self.executor(action)
        if request.dry_run and not ACTIONS[action].dry_run:
            raise BadRequest(f"{action} cannot be dry-run")
        check_username(username)

        def work(snap: Any = None) -> dict:
            return executor.perform(action, username, request, snap)

        log = logger()
        log.set_correlation_id(request.ticket)
        log.append_keys(action=action, username=username, requested_by=request.requested_by)
        try:
            if request.callback_url:  # refused before anything is done, not when calling back
                policy.check_url(request.callback_url, self.settings.callback_hosts)
            if request.dry_run:
                return self._plan(action, username, request, work)
            try:
                with waves.deadline(answer_within):
                    return self._once_per_ticket(
                        action,
                        username,
                        request,
                        work,
                        lambda: executor.read(action, username, request),
                    )
            except waves.OutOfTime:
                return self._continue(action, username, request)
        finally:  # a warm container's next request must not log this one's ticket or requester
            log.remove_keys(["action", "username", "requested_by"])
            log.set_correlation_id(None)

    def _once_per_ticket(
        self,
        action: str,
        username: str,
        request: TicketRequest,
        work: Callable[..., dict],
        read: Callable[[], Any],
    ) -> dict:
        """The change under its ticket's idempotency record: run once, its answer stored for
        replays (secrets left out), refusals audited."""
        from aws_lambda_powertools.utilities.idempotency import idempotent_function
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError,
            IdempotencyPersistenceLayerError,
            IdempotencyValidationError,
        )

        secrets: dict[str, Any] = {}
        outcome: dict[str, Any] = {}
        # The lease is this invocation's, not the ticket's: two changes sent at once under one
        # ticket never both hold the user.
        owner = uuid.uuid4().hex
        claim = Claim(self, username, owner, read)

        def once(payload: dict) -> dict:
            # The ticket is ours now: its in-progress record is renewed beside the lease.
            claim.heartbeat.also(lambda seconds: self._store.renew(payload, seconds))
            try:
                answer = self._perform(action, username, request, work, claim)
            except Exception as error:
                outcome["error"] = error
                raise
            secrets.update({k: answer.pop(k) for k in _SECRET_FIELDS if k in answer})
            outcome["answer"] = answer
            return answer

        payload = {
            "action": action,
            "ticket": request.ticket,
            "username": key(username),
            "request": request.model_dump(mode="json"),
        }
        try:
            answer = idempotent_function(
                once,
                data_keyword_argument="payload",
                persistence_store=self._store,
                config=self._config,
                key_prefix=f"{self.settings.app_name}-{self.settings.stage}",
            )(payload=payload)
        except IdempotencyValidationError:
            raise self._refused(
                action,
                username,
                request,
                Conflict(
                    f"ticket {request.ticket} was already used for a different request; use a new "
                    "ticket"
                ),
            ) from None
        except IdempotencyAlreadyInProgressError:
            raise self._refused(
                action,
                username,
                request,
                InProgress(
                    f"ticket {request.ticket} is being processed; retry in "
                    f"{self.settings.lease_seconds} seconds"
                ),
            ) from None
        except IdempotencyPersistenceLayerError as error:
            # Only the bookkeeping around the work failed: its own outcome is the answer. The
            # ticket's record stays in progress for lease_seconds, then a retry may run.
            if "answer" in outcome:
                logger().warning(
                    "could not record the answer for replays", extra={"error": str(error)}
                )
                answer = outcome["answer"]
            elif "error" in outcome:
                raise outcome["error"] from None
            else:
                raise UpstreamError(
                    "the idempotency store failed; retry with the same ticket"
                ) from error
        finally:
            claim.settle()  # a claim made beside a refused ticket is let go
        if not outcome:  # the stored answer of an earlier run: nothing was done this time
            self._audit_failure(action, username, request, "replayed")
        elif self._after_change is not None:  # the change committed, its answer recorded
            failed = self._after_change(action, username, request, answer)
            if failed is not None:
                self._audit_failure(action, username, request, *failed)
        return {**answer, **secrets}

    def _continue(self, action: str, username: str, request: TicketRequest) -> dict:
        """Hand the change to the queue worker, which runs it again under the same ticket (its
        in-progress claim was let go when it stopped): what was done is not done twice, what
        was not is done there."""
        try:
            self._work_queue.send(continuing.message(action, username, request))
        except AppError as error:
            self._audit_failure(
                action, username, request, f"failed: could not queue the rest ({error.message})"
            )
            raise UpstreamError(
                f"{action} of {username} was begun and not finished; retry with the same ticket"
            ) from error
        logger().info(f"{action} continues in the queue worker")
        return continuing.accepted(action, username, request.ticket)

    def _refused(
        self, action: str, username: str, request: TicketRequest, error: AppError
    ) -> AppError:
        """``error``, audited and counted: a refused attempt is in the trail like any other."""
        self._audit_failure(action, username, request, f"{_outcome(error)}: {error.message}")
        count(action, _outcome(error))
        return error

    def _perform(
        self,
        action: str,
        username: str,
        request: TicketRequest,
        work: Callable[..., dict],
        claim: Claim,
    ) -> dict:
        log = logger()
        calls = recorder.Recording()
        try:
            snapshot = claim.snapshot()
            begun = getattr(snapshot, "revocation", None)
            if begun is not None:  # its locks on the child roles: renewed beside the lease
                claim.heartbeat.also(begun.renew)
            with recorder.recording() as calls:
                answer = work(snapshot)
            waves.no_deadline()  # done: the bookkeeping below is never cut short
            public = {k: v for k, v in answer.items() if k not in _SECRET_FIELDS}
            # Done, but never "ok" while a revocation is owed: the audit, the callback and the
            # metric (its alarm) say so, and the record holds it for the schedule's retry.
            result = "revocation_pending" if public.get("sessions_revocation_pending") else "ok"
            revocation = {k: public[k] for k in _REVOCATION_FIELDS if public.get(k)}
            # The change is done: its event first, so that the audit never says done for a
            # change whose event was lost (a failure here is retried; consumers may see an
            # event twice, never none); what is left goes in one wave.
            self.events.publish(
                action,
                {
                    "username": username,
                    "ticket": request.ticket,
                    "requested_by": request.requested_by,
                    "result": public,
                },
            )
            waves.wave(
                {
                    "release": claim.release,
                    "audit": lambda: self.state.audit(
                        action,
                        username,
                        request.ticket,
                        request.requested_by,
                        result,
                        {**revocation, **_removed(public), **self._calls(calls)},
                    ),
                    "callback": lambda: self._call_back(
                        action,
                        username,
                        request,
                        result,
                        ACTIONS[action].status,
                        answer=public,
                    ),
                }
            )
        except AppError as error:
            claim.release()
            outcome = _outcome(error)
            self._audit_failure(
                action,
                username,
                request,
                f"{outcome}: {error.message}",
                {**(error.detail or {}), **self._calls(calls)},
            )
            count(action, outcome)
            log.warning(
                f"{action} {outcome}", extra={"status": error.status, "reason": error.message}
            )
            self._call_back(action, username, request, outcome, error.status, error=error.message)
            raise
        except waves.OutOfTime:
            # Stopped between two waves, as a crash could have: the same ticket finishes it.
            claim.release()
            self._audit_failure(action, username, request, continuing.AUDITED, self._calls(calls))
            count(action, "continued")
            raise
        except Exception:
            claim.release()
            self._audit_failure(
                action, username, request, "failed: internal error", self._calls(calls)
            )
            count(action, "failed")
            self._call_back(action, username, request, "failed", 500, error="internal error")
            raise
        count(action, result)
        for kind in ("sessions_revocation_pending", "sessions_revoked_by_role_cutoff"):
            if public.get(kind):
                count("revocation", kind.removeprefix("sessions_"))
        log.info(f"{action} done", extra={"result": result, **revocation})
        return answer

    def _calls(self, record: recorder.Recording) -> dict:
        """The changing calls made, for the audit trail (none: no detail)."""
        waves = record.waves(self.settings.root_account_id)
        return {"calls": recorder.compact(waves)} if waves else {}

    def _plan(
        self, action: str, username: str, request: TicketRequest, work: Callable[[], dict]
    ) -> dict:
        """The changes ``work`` would make, by wave and account, made by the real code against
        the real state with every changing call answered instead of sent. Nothing is recorded
        but the audit event saying a plan was asked for."""
        try:
            before = self._before(username)
            record = recorder.plan(work)
        except AppError as error:
            outcome = _outcome(error)
            self._audit_failure(action, username, request, f"plan {outcome}: {error.message}")
            count(f"{action}_plan", outcome)
            self._call_back(
                action, username, request, f"plan {outcome}", error.status, error=error.message
            )
            raise
        waves = record.waves(self.settings.root_account_id)
        self.state.audit(
            action,
            username,
            request.ticket,
            request.requested_by,
            "planned",
            self._calls(record) or None,
        )
        count(f"{action}_plan", "ok")
        plan = recorder.the_plan(action, username, request.ticket, before, waves)
        # Documents as their digests: a queue message holds 256 KiB, a plan may hold more.
        self._call_back(
            action,
            username,
            request,
            "planned",
            200,
            answer={**plan, "waves": recorder.by_wave_and_account(recorder.compact(waves))},
        )
        return plan

    def _call_back(
        self,
        action: str,
        username: str,
        request: TicketRequest,
        result: str,
        status: int,
        answer: dict | None = None,
        error: str | None = None,
    ) -> None:
        """Queue the outcome for the request's callback_url: the queue worker delivers it, so a
        slow receiver never holds the answer. Nothing for a replay: its caller has the answer."""
        if not request.callback_url:
            return
        queued = outbox.message(
            request.callback_url,
            action=action,
            username=username,
            ticket=request.ticket,
            requested_by=request.requested_by,
            result=result,
            status=status,
            answer=answer,
            error=error,
        )
        try:
            self._work_queue.send(queued)
        except AppError as failure:
            self._audit_failure(
                action,
                username,
                request,
                f"callback undelivered: could not queue it ({failure.message})",
                {"url": policy.shown(request.callback_url), "payload": queued["payload"]},
            )

    def _before(self, username: str) -> dict | None:
        """The user before a plan's changes."""
        try:
            return self._state_before(username)
        except NotFound:
            return None  # not there yet (onboarding) or not managed (the plan will say so)

    def _audit_failure(
        self,
        action: str,
        username: str,
        request: TicketRequest,
        result: str,
        detail: dict | None = None,
    ) -> None:
        try:
            self.state.audit(action, username, request.ticket, request.requested_by, result, detail)
        except AppError:
            logger().exception("could not write the audit event of a failure")


def _removed(answer: dict) -> dict:
    """What an offboarding removed, this attempt's and every earlier one's, for the audit."""
    return {"removed": answer["removed"]} if answer.get("removed") else {}


def _outcome(error: AppError) -> str:
    """A 4xx is the caller's to fix (rejected); a 5xx is ours or AWS's (failed)."""
    return "rejected" if error.status < 500 else "failed"
