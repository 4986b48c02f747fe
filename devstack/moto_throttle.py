"""IAM and STS throttle each account's requests, as AWS does; off unless asked for.

AWS throttles IAM and STS per account ("API calls from the AWS Management Console, the AWS CLI,
and applications contribute to a maximum rate limit for your AWS account",
https://repost.aws/knowledge-center/iam-sts-throttling-error) and publishes no rate. A throttled
request is answered with HTTP 400 and the Query API error ``Throttling`` / "Rate exceeded"::

    <ErrorResponse xmlns="https://iam.amazonaws.com/doc/2010-05-08/">
      <Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate exceeded</Message></Error>
      <RequestId>...</RequestId>
    </ErrorResponse>

which the SDKs treat as a throttling error (botocore: ``ThrottledRetryableChecker``). moto never
throttles, so a client's retry behaviour under load is never exercised.

Here a token bucket per (service, account) stands in front of moto's IAM and STS responses: it
holds ``burst`` tokens and refills at ``requests_per_second``; a request that finds it empty is
answered as above before moto reads it, so it changes no state (not even the access key's last
use, which moto records on every request it reads). Turned on in the process that runs moto:

- ``set_rate("iam", 10, burst=10)`` / ``off()``, from Python (tests, the bench);
- ``IAM_RATE_LIMIT`` (requests per second per account) and ``IAM_RATE_BURST`` (default: the
  rate), likewise ``STS_RATE_LIMIT``/``STS_RATE_BURST``, read by ``make run`` once the stack is
  provisioned (``from_environment``);
- on a running server, ``POST /moto-api/throttle`` with ``Content-Type: application/json`` and
  ``{"service": "iam", "rate": 10, "burst": 10}`` (``"rate": null`` turns it off); ``GET``
  answers the limits and, per service and account, how many requests were served and throttled.
"""

from __future__ import annotations

import json
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Mapping
from typing import Any

from botocore import handlers
from moto.core.models import botocore_stubber
from moto.iam.responses import IamResponse
from moto.moto_api._internal import urls as moto_api_urls
from moto.sts.responses import TokenResponse

SERVICES = {
    "iam": (IamResponse, "https://iam.amazonaws.com/doc/2010-05-08/"),
    "sts": (TokenResponse, "https://sts.amazonaws.com/doc/2011-06-15/"),
}
ENDPOINT = "/moto-api/throttle"
_STUBBER = ("before-send", botocore_stubber)
_MARK = "_throttle_applied"

clock: Callable[[], float] = time.monotonic  # tests may replace it
_lock = threading.Lock()
_limits: dict[str, tuple[float, float]] = {}  # service -> (rate, burst)
_buckets: dict[tuple[str, str], list[float]] = {}  # (service, account) -> [tokens, when]
_counts: Counter[tuple[str, str, str]] = Counter()  # (service, account, served|throttled)


def set_rate(service: str, requests_per_second: float, burst: float | None = None) -> None:
    """Throttle ``service`` to this rate per account; each account's bucket starts full."""
    if service not in SERVICES:
        raise ValueError(f"throttling is emulated for {sorted(SERVICES)}, not {service!r}")
    if requests_per_second <= 0:
        raise ValueError("the rate must be positive; off() turns throttling off")
    with _lock:
        _limits[service] = (
            float(requests_per_second),
            float(burst or max(1.0, requests_per_second)),
        )
        for key in [key for key in _buckets if key[0] == service]:
            del _buckets[key]


def off(service: str | None = None) -> None:
    """No throttling for ``service`` (every service if None); the counts are kept."""
    with _lock:
        for name in [service] if service else list(_limits):
            _limits.pop(name, None)
            for key in [key for key in _buckets if key[0] == name]:
                del _buckets[key]


def limits() -> dict[str, dict[str, float]]:
    with _lock:
        return {name: {"rate": rate, "burst": burst} for name, (rate, burst) in _limits.items()}


def counts(service: str) -> dict[str, dict[str, int]]:
    """Per account: requests served and requests throttled while ``service`` was throttled."""
    found: dict[str, dict[str, int]] = {}
    with _lock:
        for (name, account, kind), number in _counts.items():
            if name == service:
                found.setdefault(account, {"served": 0, "throttled": 0})[kind] = number
    return found


def throttled(service: str) -> int:
    return sum(account["throttled"] for account in counts(service).values())


def reset_counts() -> None:
    with _lock:
        _counts.clear()


def from_environment(env: Mapping[str, str] = os.environ) -> dict[str, dict[str, float]]:
    """Apply ``<SERVICE>_RATE_LIMIT`` / ``<SERVICE>_RATE_BURST``; returns the limits now set."""
    for service in SERVICES:
        rate = env.get(f"{service.upper()}_RATE_LIMIT")
        if rate:
            burst = env.get(f"{service.upper()}_RATE_BURST")
            set_rate(service, float(rate), float(burst) if burst else None)
    return limits()


def _admit(service: str, account: str) -> bool | None:
    """True: served; False: throttled; None: the service is not throttled."""
    with _lock:
        limit = _limits.get(service)
        if limit is None:
            return None
        rate, burst = limit
        now = clock()
        bucket = _buckets.setdefault((service, account), [burst, now])
        bucket[0] = min(burst, bucket[0] + (now - bucket[1]) * rate)
        bucket[1] = now
        admitted = bucket[0] >= 1
        if admitted:
            bucket[0] -= 1
        _counts[(service, account, "served" if admitted else "throttled")] += 1
        return admitted


def _throttled_answer(namespace: str) -> tuple[int, dict[str, str], str]:
    request_id = str(uuid.uuid4())
    body = (
        f'<ErrorResponse xmlns="{namespace}"><Error><Type>Sender</Type><Code>Throttling</Code>'
        f"<Message>Rate exceeded</Message></Error><RequestId>{request_id}</RequestId>"
        "</ErrorResponse>"
    )
    return 400, {"Content-Type": "text/xml", "x-amzn-RequestId": request_id}, body


def _gate(service: str, namespace: str, dispatch: Callable[..., Any]) -> Callable[..., Any]:
    def _dispatch(self: Any, request: Any, full_url: str | None = None, headers: Any = None) -> Any:
        if service in _limits:
            # The account as moto finds it (BaseResponse.get_current_account), read before
            # setup_class, which records the key's last use.
            self.headers, self.querystring = request.headers, {}
            if _admit(service, self.get_current_account()) is False:
                return _throttled_answer(namespace)
        return dispatch(self, request, full_url, headers)

    return _dispatch


def throttle_endpoint(request: Any, full_url: str, headers: Any) -> tuple[int, dict, str]:
    """``/moto-api/throttle``: POST sets a service's rate (null: off); GET reports."""
    if request.method == "POST":
        try:
            asked = json.loads(request.data or b"{}")
            if asked.get("rate") is None:
                off(asked.get("service"))
            else:
                set_rate(asked["service"], float(asked["rate"]), asked.get("burst"))
        except (ValueError, KeyError, TypeError, AttributeError) as error:
            return 400, {"Content-Type": "application/json"}, json.dumps({"error": str(error)})
    report = {"limits": limits(), "counts": {name: counts(name) for name in SERVICES}}
    return 200, {"Content-Type": "application/json"}, json.dumps(report)


def apply() -> None:
    """Idempotent: gate IAM's and STS's responses (open until a rate is set) and add the
    endpoint (before the server's moto-api app is first built).

    In process, moto answers a request in botocore's ``before-send`` event, ahead of the handlers
    a client registers there itself, among them adaptive retry mode's rate limiter, which would
    then never wait. Registered last (for sessions made from now on), it answers where the
    network would: after them.
    """
    with _lock:
        if _STUBBER in handlers.BUILTIN_HANDLERS:
            handlers.BUILTIN_HANDLERS.remove(_STUBBER)
            handlers.BUILTIN_HANDLERS.append((*_STUBBER, handlers.REGISTER_LAST))
        for service, (cls, namespace) in SERVICES.items():
            if not cls.__dict__.get(_MARK):
                cls._dispatch = _gate(service, namespace, cls._dispatch)  # type: ignore[method-assign]
                setattr(cls, _MARK, True)
        moto_api_urls.url_paths.setdefault("{0}" + ENDPOINT, throttle_endpoint)
