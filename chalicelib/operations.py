"""Runs a changing operation the same way for every caller (REST, Slack worker, schedules):
once per ticket (Powertools Idempotency), one change per user at a time (a lease), audited and
counted whatever the outcome, with the ticket as the logs' correlation id."""

from __future__ import annotations

import uuid
from collections.abc import Callable
from typing import Any

from chalicelib import call_log, callbacks
from chalicelib.errors import AppError, Conflict, InProgress, NotFound, UpstreamError
from chalicelib.events import Events
from chalicelib.identity import key
from chalicelib.observability import count, logger
from chalicelib.schemas import TicketRequest, check_username
from chalicelib.settings import Settings
from chalicelib.state_store import StateStore, now_iso

# Never stored with the idempotency record: a replay answers without it.
_SECRET_FIELDS = ("temporary_password",)
# Changes whose REST route answers 201 Created.
_CREATES = frozenset({"onboard", "grant"})


class _Deadline:
    """Gives Powertools the in-progress expiry a Lambda context would: past it, a retry may run."""

    def __init__(self, seconds: int) -> None:
        self.seconds = seconds

    def get_remaining_time_in_millis(self) -> int:
        return self.seconds * 1000


class Operations:
    def __init__(self, settings: Settings, state: StateStore, dynamodb: Any, events: Events,
                 describe: Callable[[str], dict] | None = None, work_queue: Any = None) -> None:
        from aws_lambda_powertools.utilities.idempotency import (DynamoDBPersistenceLayer,
                                                                 IdempotencyConfig)

        self.settings = settings
        self.state = state
        self.events = events
        self._describe = describe
        self._work_queue = work_queue
        self._store = DynamoDBPersistenceLayer(table_name=settings.idempotency_table,
                                               boto3_client=dynamodb)
        # One ticket, one change: the key is the ticket alone, so a second action under it (on
        # this user or another) is a conflict, never a second change running beside the first.
        self._config = IdempotencyConfig(
            event_key_jmespath="ticket",
            payload_validation_jmespath="[action, username, request]",
            raise_on_no_idempotency_key=True,
            expires_after_seconds=settings.idempotency_ttl,
            lambda_context=_Deadline(settings.operation_timeout),
        )

    def run(self, action: str, username: str, request: TicketRequest,
            work: Callable[[], dict]) -> dict:
        check_username(username)
        log = logger()
        log.set_correlation_id(request.ticket)
        log.append_keys(action=action, username=username, requested_by=request.requested_by)
        try:
            return self._run(action, username, request, work)
        finally:  # a warm container's next request must not log this one's ticket or requester
            log.remove_keys(["action", "username", "requested_by"])
            log.set_correlation_id(None)

    def _run(self, action: str, username: str, request: TicketRequest,
             work: Callable[[], dict]) -> dict:
        from aws_lambda_powertools.utilities.idempotency import idempotent_function
        from aws_lambda_powertools.utilities.idempotency.exceptions import (
            IdempotencyAlreadyInProgressError, IdempotencyPersistenceLayerError,
            IdempotencyValidationError)

        if request.callback_url:  # refused before anything is done, not when calling back
            callbacks.check_url(request.callback_url, self.settings.callback_hosts)
        if request.dry_run:
            return self._plan(action, username, request, work)
        secrets: dict[str, str] = {}
        outcome: dict[str, Any] = {}

        def once(payload: dict) -> dict:
            try:
                answer = self._guarded(action, username, request, work)
            except Exception as error:
                outcome["error"] = error
                raise
            secrets.update({k: answer.pop(k) for k in _SECRET_FIELDS if k in answer})
            outcome["answer"] = answer
            return answer

        payload = {"action": action, "ticket": request.ticket, "username": key(username),
                   "request": request.model_dump(mode="json")}
        try:
            answer = idempotent_function(
                once, data_keyword_argument="payload", persistence_store=self._store,
                config=self._config, key_prefix=f"{self.settings.app_name}-{self.settings.stage}",
            )(payload=payload)
        except IdempotencyValidationError:
            raise self._refused(action, username, request, Conflict(
                f"ticket {request.ticket} was already used for a different request; use a new "
                "ticket")) from None
        except IdempotencyAlreadyInProgressError:
            raise self._refused(action, username, request, InProgress(
                f"ticket {request.ticket} is being processed; retry in "
                f"{self.settings.operation_timeout} seconds")) from None
        except IdempotencyPersistenceLayerError as error:
            # Only the bookkeeping around the work failed: its own outcome is the answer. The
            # ticket's record stays in progress until operation_timeout, then a retry may run.
            if "answer" in outcome:
                logger().warning("could not record the answer for replays", extra={"error": str(error)})
                answer = outcome["answer"]
            elif "error" in outcome:
                raise outcome["error"] from None
            else:
                raise UpstreamError("the idempotency store failed; retry with the same ticket") from error
        if not outcome:  # the stored answer of an earlier run: nothing was done this time
            self._audit_failure(action, username, request, "replayed")
        return {**answer, **secrets}

    def _refused(self, action: str, username: str, request: TicketRequest,
                 error: AppError) -> AppError:
        """``error``, audited and counted: a refused attempt is in the trail like any other."""
        self._audit_failure(action, username, request, f"{_outcome(error)}: {error.message}")
        count(action, _outcome(error))
        return error

    def _guarded(self, action: str, username: str, request: TicketRequest,
                 work: Callable[[], dict]) -> dict:
        log = logger()
        calls = call_log.Recording()
        # The lease is this invocation's, not the ticket's: two changes sent at once under one
        # ticket never both hold the user.
        owner = uuid.uuid4().hex
        try:
            self.state.acquire(username, owner, self.settings.operation_timeout)
            try:
                with call_log.recording() as calls:
                    answer = work()
            finally:
                self._release(username, owner)
            public = {k: v for k, v in answer.items() if k not in _SECRET_FIELDS}
            self.events.publish(action, {"username": username, "ticket": request.ticket,
                                         "requested_by": request.requested_by, "result": public})
            self.state.audit(action, username, request.ticket, request.requested_by, "ok",
                             self._calls(calls))
        except AppError as error:
            outcome = _outcome(error)
            self._audit_failure(action, username, request, f"{outcome}: {error.message}",
                                {**(error.detail or {}), **self._calls(calls)})
            count(action, outcome)
            log.warning(f"{action} {outcome}", extra={"status": error.status, "reason": error.message})
            self._call_back(action, username, request, outcome, error.status, error=error.message)
            raise
        except Exception:
            self._audit_failure(action, username, request, "failed: internal error",
                                self._calls(calls))
            count(action, "failed")
            self._call_back(action, username, request, "failed", 500, error="internal error")
            raise
        self._call_back(action, username, request, "ok", 201 if action in _CREATES else 200,
                        answer=public)
        count(action, "ok")
        log.info(f"{action} done")
        return answer

    def _calls(self, record: call_log.Recording) -> dict:
        """The changing calls made, for the audit trail (none: no detail)."""
        waves = record.waves(self.settings.root_account_id)
        return {"calls": call_log.compact(waves)} if waves else {}

    def _plan(self, action: str, username: str, request: TicketRequest,
              work: Callable[[], dict]) -> dict:
        """The changes ``work`` would make, by wave and account, made by the real code against
        the real state with every changing call answered instead of sent. Nothing is recorded
        but the audit event saying a plan was asked for."""
        try:
            before = self._state_before(username)
            with call_log.recording(dry_run=True) as record:
                try:
                    work()
                except call_log.PlanComplete:
                    pass  # the changes are all known; the answer is not needed
        except AppError as error:
            outcome = _outcome(error)
            self._audit_failure(action, username, request, f"plan {outcome}: {error.message}")
            count(f"{action}_plan", outcome)
            self._call_back(action, username, request, f"plan {outcome}", error.status,
                            error=error.message)
            raise
        waves = record.waves(self.settings.root_account_id)
        self.state.audit(action, username, request.ticket, request.requested_by, "planned",
                         self._calls(record) or None)
        count(f"{action}_plan", "ok")
        plan = {
            "dry_run": True, "action": action, "username": username, "ticket": request.ticket,
            "state_before": before, "calls": sum(len(wave) for wave in waves),
            "waves": _by_wave_and_account(waves),
        }
        # Documents as their digests: a queue message holds 256 KiB, a plan may hold more.
        self._call_back(action, username, request, "planned", 200,
                        answer={**plan, "waves": _by_wave_and_account(call_log.compact(waves))})
        return plan

    def _call_back(self, action: str, username: str, request: TicketRequest, result: str,
                   status: int, answer: dict | None = None, error: str | None = None) -> None:
        """Queue the outcome for the request's callback_url: the queue worker delivers it, so a
        slow receiver never holds the answer. Nothing for a replay: its caller has the answer."""
        if not request.callback_url:
            return
        payload: dict[str, Any] = {"action": action, "username": username,
                                   "ticket": request.ticket, "requested_by": request.requested_by,
                                   "result": result, "status": status, "at": now_iso()}
        payload.update({"answer": answer} if answer is not None else {"error": error})
        try:
            self._work_queue.send({"kind": "callback", "url": request.callback_url,
                                   "payload": payload})
        except AppError as failure:
            self._audit_failure(action, username, request,
                                f"callback undelivered: could not queue it ({failure.message})",
                                {"url": callbacks.shown(request.callback_url), "payload": payload})

    def _state_before(self, username: str) -> dict | None:
        if self._describe is None:
            return None
        try:
            return self._describe(username)
        except NotFound:
            return None  # not there yet (onboarding) or not managed (the plan will say so)

    def _release(self, username: str, owner: str) -> None:
        try:
            self.state.release(username, owner)
        except AppError:
            # The lease expires by itself after operation_timeout; the change itself is done.
            logger().warning("could not release the lease", extra={"username": username})

    def _audit_failure(self, action: str, username: str, request: TicketRequest, result: str,
                       detail: dict | None = None) -> None:
        try:
            self.state.audit(action, username, request.ticket, request.requested_by, result, detail)
        except AppError:
            logger().exception("could not write the audit event of a failure")


def _by_wave_and_account(waves: list[list[dict]]) -> list[dict]:
    """Waves numbered from 1, each with its calls grouped by account."""
    numbered = []
    for number, calls in enumerate(waves, start=1):
        accounts: dict[str, list[dict]] = {}
        for call in calls:
            accounts.setdefault(call["account"], []).append(
                {k: v for k, v in call.items() if k != "account"})
        numbered.append({"wave": number, "accounts": accounts})
    return numbered


def _outcome(error: AppError) -> str:
    """A 4xx is the caller's to fix (rejected); a 5xx is ours or AWS's (failed)."""
    return "rejected" if error.status < 500 else "failed"
