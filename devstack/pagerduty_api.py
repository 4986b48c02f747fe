"""A stand-in for PagerDuty's REST API v2 on loopback: ``GET /oncalls`` answered as PagerDuty
answers it, from who a person or a test says is on call.

    GET  <url>/oncalls?schedule_ids[]=P..&escalation_policy_ids[]=P..&include[]=users
                                  &limit=25&offset=0
                                  {"oncalls": [...], "limit", "offset", "more", "total": null};
                                  Authorization: Token token=<the stack's token> (401 otherwise);
                                  each entry's ``user`` carries ``email`` only with include[]=users
    POST <url>/pagerduty/oncalls  {"oncalls": [{"email": "pete@example.com",
                                  "escalation_policy": "PLOCALEP", "level": 1,
                                  "schedule": "PLOCALS"?}, ...]}: who is on call now (replaces)
    GET  <url>/pagerduty/oncalls  the same, as set
    POST <url>/pagerduty/fail     {"status": 503, "times": 1}: answer /oncalls with that status
                                  (0 for times: until told otherwise; status 0: no answer at all,
                                  the connection closed)
    GET  <url>/pagerduty/requests {"requests": [{"path", "query", "accept"}, ...]} in order
    POST <url>/pagerduty/reset    nobody on call, no failure, no requests

The local stack names its URL as the app's PAGERDUTY_API_URL and keeps its token in the secret
``iam-lifecycle/dev/pagerduty-token``.
"""

from __future__ import annotations

import json
import threading
from email.message import Message
from http.server import BaseHTTPRequestHandler
from urllib.parse import parse_qs, urlsplit

from devstack.standin import StandIn

DEFAULT_LIMIT, MAX_LIMIT = 25, 100  # PagerDuty's


class PagerDutyStandIn(StandIn):
    def __init__(self, token: str | None = None, port: int = 0) -> None:
        self.token = token
        self.on_call: list[dict] = []
        self.requests: list[dict] = []
        self.failure = {"status": 0, "times": 0, "on": False}
        self._lock = threading.Lock()
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                parts = urlsplit(self.path)
                path = parts.path.rstrip("/")
                if path == "/pagerduty/oncalls":
                    with stand_in._lock:
                        self._json(200, {"oncalls": list(stand_in.on_call)})
                elif path == "/pagerduty/requests":
                    with stand_in._lock:
                        self._json(200, {"requests": list(stand_in.requests)})
                elif path == "/oncalls":
                    answer = stand_in._oncalls(self.headers, parse_qs(parts.query))
                    if answer is None:  # no answer at all, as a host that is down
                        self.close_connection = True
                        return
                    self._json(*answer)
                else:
                    self._json(404, {"error": {"message": "Not Found", "code": 2100}})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                try:
                    body = json.loads(self.rfile.read(length) or b"{}")
                except ValueError:
                    self._json(400, {"error": "the body must be JSON"})
                    return
                path = urlsplit(self.path).path.rstrip("/")
                try:
                    answer = stand_in._control(path, body)
                except (KeyError, TypeError, ValueError) as error:
                    self._json(400, {"error": f"{type(error).__name__}: {error}"})
                    return
                self._json(200 if answer is not None else 404, answer or {"error": "not found"})

            def _json(self, status: int, body: dict) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._listen(Handler, port)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}"

    # what a test or a person sets (as the POST routes do)
    def set_on_call(self, *people: dict) -> None:
        self._control("/pagerduty/oncalls", {"oncalls": list(people)})

    def fail(self, status: int = 503, times: int = 0) -> None:
        self._control("/pagerduty/fail", {"status": status, "times": times})

    def reset(self) -> None:
        self._control("/pagerduty/reset", {})

    def _control(self, path: str, body: dict) -> dict | None:
        with self._lock:
            if path == "/pagerduty/oncalls":
                self.on_call = [_person(p) for p in body["oncalls"]]
            elif path == "/pagerduty/fail":
                self.failure = {
                    "status": int(body.get("status", 503)),
                    "times": int(body.get("times", 0)),
                    "on": True,
                }
            elif path == "/pagerduty/reset":
                self.on_call, self.requests = [], []
                self.failure = {"status": 0, "times": 0, "on": False}
            else:
                return None
        return {"ok": True}

    def _oncalls(self, headers: Message, query: dict[str, list[str]]) -> tuple[int, dict] | None:
        with self._lock:
            self.requests.append(
                {
                    "path": "/oncalls",
                    "query": query,
                    "accept": headers.get("Accept", ""),
                }
            )
            failing = self.failure["on"]
            if failing and self.failure["times"] > 0:
                self.failure["times"] -= 1
                self.failure["on"] = self.failure["times"] > 0
            status = self.failure["status"]
            people = list(self.on_call)
        if failing:
            if status == 0:
                return None
            return status, {"error": {"message": "Service Unavailable", "code": 2001}}
        if self.token and headers.get("Authorization") != f"Token token={self.token}":
            return 401, {"error": {"message": "Authentication failed", "code": 2006}}
        return 200, _page(people, query)


def _person(raw: dict) -> dict:
    """One on-call entry as set: an e-mail, an escalation policy and a level, maybe a schedule."""
    level = raw.get("level", 1)
    if not isinstance(raw["email"], str) or not isinstance(level, int) or level < 1:
        raise ValueError("each entry needs an email and a level of 1 or more")
    return {
        "email": raw["email"],
        "escalation_policy": str(raw.get("escalation_policy", "PLOCALEP")),
        "level": level,
        "schedule": str(raw.get("schedule", "")),
    }


def _page(people: list[dict], query: dict[str, list[str]]) -> dict:
    """PagerDuty's answer: filtered by schedule or escalation policy, one page of it."""
    schedules = query.get("schedule_ids[]", [])
    policies = query.get("escalation_policy_ids[]", [])
    users = "users" in query.get("include[]", [])
    chosen = [
        p
        for p in people
        if (not schedules or p["schedule"] in schedules)
        and (not policies or p["escalation_policy"] in policies)
    ]
    limit = min(int(query.get("limit", [DEFAULT_LIMIT])[0]), MAX_LIMIT)
    offset = int(query.get("offset", ["0"])[0])
    page = chosen[offset : offset + limit]
    return {
        "oncalls": [_entry(p, users) for p in page],
        "limit": limit,
        "offset": offset,
        "more": offset + limit < len(chosen),
        "total": None,
    }


def _entry(person: dict, users: bool) -> dict:
    user_id = "PU" + person["email"].split("@")[0].upper()[:10]
    user: dict = {
        "id": user_id,
        "type": "user" if users else "user_reference",
        "summary": person["email"].split("@")[0],
    }
    if users:
        user["email"] = person["email"]
    schedule = person["schedule"]
    return {
        "escalation_policy": {
            "id": person["escalation_policy"],
            "type": "escalation_policy_reference",
        },
        "escalation_level": person["level"],
        "schedule": {"id": schedule, "type": "schedule_reference"} if schedule else None,
        "user": user,
        "start": None,
        "end": None,
    }
