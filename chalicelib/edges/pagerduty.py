"""PagerDuty's REST API v2, as the approvals use it: who is on call now on one schedule or one
escalation policy (``GET /oncalls`` with ``include[]=users``, the only way its entries carry the
person's e-mail), every page read (``more``/``offset``). The API token is a secret, sent as
``Authorization: Token token=...`` and never logged; the base URL is a setting (the local
stack's stand-in). Answers are kept for ``max_age`` seconds per schedule or policy; time-outs
are short, and any failure is an UpstreamError the caller turns into "ask the approvers",
never into an approval.
"""

from __future__ import annotations

import http.client
import json
import logging
import threading
import time
import urllib.error
import urllib.request
from collections.abc import Callable
from urllib.parse import urlencode

from chalicelib.kernel.errors import UpstreamError
from chalicelib.kernel.ports import OnCallEntry

logger = logging.getLogger(__name__)
ACCEPT = "application/vnd.pagerduty+json;version=2"
PAGE = 100  # PagerDuty's largest page
MAX_PAGES = 20  # more than 2,000 people on call at once is not an answer to trust


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    """The token goes to the configured host only."""

    def redirect_request(self, *args: object, **kwargs: object) -> None:
        return None


class PagerDuty:
    def __init__(
        self,
        token: Callable[[], str],
        base_url: str,
        timeout: float = 3.0,
        max_age: float = 60.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._token = token
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.max_age = max_age
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, list[OnCallEntry]]] = {}
        self._lock = threading.Lock()
        self._opener = urllib.request.build_opener(_NoRedirect)

    def on_call(self, *, schedule: str = "", escalation_policy: str = "") -> list[OnCallEntry]:
        """Everyone on call now on ``schedule`` or ``escalation_policy`` (one of them)."""
        if bool(schedule) == bool(escalation_policy):
            raise ValueError("name a schedule or an escalation policy")
        place = (
            ("schedule_ids[]", schedule)
            if schedule
            else ("escalation_policy_ids[]", escalation_policy)
        )
        with self._lock:
            kept = self._cache.get(place)
        if kept and kept[0] > self._clock():
            return kept[1]
        entries = self._read(place)
        with self._lock:
            self._cache[place] = (self._clock() + self.max_age, entries)
        return entries

    def _read(self, place: tuple[str, str]) -> list[OnCallEntry]:
        entries: list[OnCallEntry] = []
        for page in range(MAX_PAGES):
            query = [
                place,
                ("include[]", "users"),
                ("limit", str(PAGE)),
                ("offset", str(page * PAGE)),
            ]
            answer = self._get("/oncalls", query)
            found = answer.get("oncalls")
            if not isinstance(found, list):
                raise UpstreamError("PagerDuty answered /oncalls without its list of on-calls")
            entries += [e for e in (_entry(raw) for raw in found) if e is not None]
            if not answer.get("more") or not found:
                return entries
        raise UpstreamError(f"PagerDuty's on-calls run past {MAX_PAGES} pages")

    def _get(self, path: str, query: list[tuple[str, str]]) -> dict:
        request = urllib.request.Request(
            f"{self.base_url}{path}?{urlencode(query)}",
            headers={"Accept": ACCEPT, "Authorization": f"Token token={self._token()}"},
        )
        try:
            with self._opener.open(request, timeout=self.timeout) as response:
                body = json.loads(response.read())
        except urllib.error.HTTPError as answer:
            raise UpstreamError(f"PagerDuty answered {path} with HTTP {answer.code}") from None
        except (OSError, http.client.HTTPException) as failure:  # time-outs, refusals, resets
            raise UpstreamError(f"could not reach PagerDuty ({type(failure).__name__})") from None
        except ValueError:
            raise UpstreamError(
                f"PagerDuty answered {path} with something other than JSON"
            ) from None
        if not isinstance(body, dict):
            raise UpstreamError(f"PagerDuty answered {path} with something other than an object")
        return body


def _entry(raw: object) -> OnCallEntry | None:
    """One on-call row; a row without a usable e-mail or level is left out (it can match
    nobody), never guessed at."""
    if not isinstance(raw, dict):
        return None
    user = raw.get("user") if isinstance(raw.get("user"), dict) else {}
    email, level = (user or {}).get("email"), raw.get("escalation_level")
    if not (isinstance(email, str) and email) or not isinstance(level, int) or level is True:
        return None
    policy = raw.get("escalation_policy") or {}
    schedule = raw.get("schedule") or {}
    return OnCallEntry(
        email=email,
        level=level,
        escalation_policy=str(policy.get("id", "")) if isinstance(policy, dict) else "",
        schedule=str(schedule.get("id", "")) if isinstance(schedule, dict) else "",
    )
