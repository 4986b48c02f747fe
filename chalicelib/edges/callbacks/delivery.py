"""Ticket callbacks delivered: the result of a change POSTed to the caller's URL, signed,
retried, audited. The URL is checked again here (``policy``): the allow-list may have changed
since the request was accepted."""

from __future__ import annotations

import hashlib
import hmac
import http.client
import json
import logging
import time
import urllib.error
import urllib.request
import uuid
from collections.abc import Callable
from datetime import date, datetime
from decimal import Decimal
from typing import Any, NamedTuple

from chalicelib.edges.callbacks import outbox
from chalicelib.edges.callbacks.policy import check_url, shown
from chalicelib.kernel import queue
from chalicelib.kernel.errors import BadRequest, UpstreamError
from chalicelib.kernel.telemetry import logger
from chalicelib.settings import Settings

USER_AGENT = "iam-lifecycle-callback/1"
TOLERANCE = 300  # seconds a signed timestamp stays acceptable


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """``v1=<hex HMAC-SHA256 of "v1:<timestamp>:<body>">``, as Slack signs its requests."""
    message = b"v1:" + timestamp.encode() + b":" + body
    return "v1=" + hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def verify(
    secret: str,
    timestamp: str,
    body: bytes,
    signature: str,
    now: float | None = None,
    tolerance: int = TOLERANCE,
) -> bool:
    """Whether ``signature`` is ours for this body and the timestamp is within ``tolerance``
    seconds of ``now`` (a replayed old request fails)."""
    if not (
        isinstance(timestamp, str)
        and timestamp.isascii()
        and timestamp.isdigit()
        and isinstance(signature, str)
    ):
        return False
    try:
        if abs((time.time() if now is None else now) - int(timestamp)) > tolerance:
            return False
    except (OverflowError, ValueError):  # too big for a float (or for int(): 4300 digits)
        return False
    expected = sign(secret, timestamp, body).encode()
    return hmac.compare_digest(expected, signature.encode("utf-8", "replace"))


def _plain(value: Any) -> Any:
    """JSON for what json cannot write: DynamoDB numbers, dates."""
    if isinstance(value, Decimal):
        return int(value) if value == value.to_integral_value() else float(value)
    if isinstance(value, (datetime, date)):
        return value.isoformat()
    return str(value)


class Delivery(NamedTuple):
    delivered: bool
    # Undelivered, but a later try may succeed (no answer, a 5xx, a 429) and the caller said it
    # would make one.
    retryable: bool = False


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect would send the signed result somewhere the allow-list never saw.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


class Callbacks:
    def __init__(
        self,
        settings: Settings,
        secret: Callable[[], str],
        audit: Callable[[str, dict], None],
        sleep: Callable[[float], None] = time.sleep,
        timeout: float = 5.0,
    ) -> None:
        self.settings = settings
        self._secret = secret
        self._audit = audit
        self._sleep = sleep
        self._timeout = timeout
        self._opener = urllib.request.build_opener(_NoRedirect)

    def deliver(self, url: str, payload: dict, final: bool = True) -> Delivery:
        """POST ``payload`` to ``url``; delivered once a 2xx came back. Never raises: every
        outcome is one audit event. Not ``final``: the caller will try again later, and the
        audit event says so."""
        delivery = uuid.uuid4().hex
        where = shown(url)
        try:
            return self._deliver(url, payload, delivery, where, final)
        except Exception as error:  # a bug here must not turn a done change into a failure
            _log("exception", "callback failed", {"url": where, "delivery": delivery})
            return self._undelivered(
                "internal error", where, delivery, payload, 0, None, type(error).__name__
            )

    def _deliver(self, url: str, payload: dict, delivery: str, where: str, final: bool) -> Delivery:
        try:
            check_url(url, self.settings.callback_hosts)
        except BadRequest as refused:
            self._record(
                f"callback refused: {refused.message}", {"url": where, "delivery": delivery}
            )
            return Delivery(False)
        try:
            body = json.dumps(
                payload, separators=(",", ":"), sort_keys=True, allow_nan=False, default=_plain
            ).encode()
            # What is kept for an undelivered callback is what was sent, in numbers DynamoDB
            # takes (it refuses floats).
            payload = json.loads(body, parse_float=Decimal)
        except (TypeError, ValueError) as unusable:
            return self._undelivered(
                f"payload is not JSON ({unusable})", where, delivery, payload, 0, None, None
            )
        try:
            secret = self._secret()
        except Exception as unreadable:  # a missing secret must not fail the operation
            return self._undelivered(
                "the signing secret could not be read",
                where,
                delivery,
                payload,
                0,
                None,
                type(unreadable).__name__,
                retryable=not final,
            )

        most = max(1, self.settings.callback_attempts)
        status: int | None = None
        error: str | None = None
        for attempt in range(1, most + 1):
            if attempt > 1:
                self._sleep(self.settings.callback_backoff * 2 ** (attempt - 2))
            status, error = self._post(url, body, secret, delivery)
            if status is not None and 200 <= status < 300:
                self._record(
                    "callback delivered",
                    {"url": where, "attempts": attempt, "status": status, "delivery": delivery},
                )
                return Delivery(True)
            if status is not None and status != 429 and status < 500:
                reason = (
                    f"receiver answered {status} (redirects are not followed)"
                    if 300 <= status < 400
                    else f"receiver answered {status}"
                )
                return self._undelivered(reason, where, delivery, payload, attempt, status, error)
        last = f"HTTP {status}" if status is not None else error
        return self._undelivered(
            f"no success after {most} attempts (last: {last})",
            where,
            delivery,
            payload,
            most,
            status,
            error,
            retryable=not final,
        )

    def _post(
        self, url: str, body: bytes, secret: str, delivery: str
    ) -> tuple[int | None, str | None]:
        """One attempt: (HTTP status, None) or (None, why there was no answer)."""
        timestamp = str(int(time.time()))
        request = urllib.request.Request(
            url,
            data=body,
            method="POST",
            headers={
                "Content-Type": "application/json",
                "User-Agent": USER_AGENT,
                "X-Access-Request-Timestamp": timestamp,
                "X-Access-Signature": sign(secret, timestamp, body),
                "X-Access-Delivery": delivery,
            },
        )
        try:
            with self._opener.open(request, timeout=self._timeout) as response:
                response.read(65536)  # let the receiver finish writing; the body is not used
                return response.status, None
        except urllib.error.HTTPError as answer:
            answer.close()
            return answer.code, None
        except urllib.error.URLError as failure:
            return None, str(failure.reason)
        except (OSError, http.client.HTTPException) as failure:  # timeouts, resets mid-answer
            return None, f"{type(failure).__name__}: {failure}"

    def _undelivered(
        self,
        reason: str,
        where: str,
        delivery: str,
        payload: dict,
        attempts: int,
        status: int | None,
        error: str | None,
        retryable: bool = False,
    ) -> Delivery:
        """``retryable``: a later try may succeed and the caller will make one."""
        detail = {"url": where, "attempts": attempts, "delivery": delivery, "payload": payload}
        detail.update({k: v for k, v in (("status", status), ("error", error)) if v is not None})
        if retryable:
            self._record(f"callback not delivered yet: {reason}; it is tried again later", detail)
        else:
            self._record(f"callback undelivered: {reason}", detail)
        return Delivery(False, retryable)

    def _record(self, result: str, detail: dict) -> None:
        try:
            self._audit(result, detail)
        except Exception:  # then the log line is the only trace, payload included
            _log("error", f"could not audit: {result}", detail)
            return
        facts = {k: v for k, v in detail.items() if k != "payload"}
        _log("info" if result == "callback delivered" else "warning", result, facts)


def _log(level: str, message: str, extra: dict) -> None:
    try:
        log = logger()
    except Exception:  # no settings, as in a receiver's process: the standard logger will do
        log = logging.getLogger(__name__)
    try:
        getattr(log, level)(message, extra=extra)
    except Exception:  # logging must not be what makes a delivery raise
        logging.getLogger(__name__).warning(message)


def deliver_queued(services: Any, work: dict, receives: Callable[[], tuple[int, int]]) -> None:
    """Deliver an operation's outcome to its callback URL. A receiver that did not answer gets
    the message again after the queue's visibility timeout, until its last receive; every try
    is audited with the payload, so nothing is lost when the receiver stays down."""
    payload, settings = work["payload"], services.settings
    attempt, limit = receives()

    def audit(result: str, detail: dict) -> None:
        services.lifecycle.state.audit(
            payload["action"],
            payload["username"],
            payload["ticket"],
            payload["requested_by"],
            result,
            detail,
        )

    outcome = Callbacks(
        settings, lambda: services.secrets.get(settings.callback_secret), audit
    ).deliver(work["url"], payload, final=attempt >= limit)
    if outcome.retryable:
        raise UpstreamError("the callback receiver did not answer; the queue delivers it again")


queue.register(outbox.KIND, deliver_queued)
