"""A stand-in for Slack's Web API on loopback: it answers the methods the app calls as Slack does
(``{"ok": true, ...}``), checks the bot token, and lists what it received.

    POST <url>/<method>            a Web API call (JSON or form body, Authorization: Bearer)
    GET  <url>/_recorded           {"calls": [{"method", "args"}, ...]} in order
    POST <url>/_reset              forget the calls
    POST <url>/_rate_limit         {"method": "chat.postMessage", "times": 1, "retry_after": 1}:
                                   answer that method 429 with Retry-After, as Slack does
    POST <url>/_user_groups        {"S0LOCAL": ["U0LOCAL0001"]}: members of Slack user groups

and, as ``hooks.slack.com`` does for a request's ``response_url``, at its root:

    POST <root>/commands/...       an answer to a slash command or a click (JSON), kept
    GET  <root>/_responses?prefix=/commands/x    {"responses": [{"path", "body"}, ...]} in order

The local stack names this stand-in's host:port as the stage's one Slack host
(SLACK_RESPONSE_HOSTS), so the app posts answers nowhere else.

Members of the local stack (CONTRACT): U0LOCAL0001 (operator and approver of every group),
U0LOCAL0002 (approver of BreakGlassGroup), U0LOCAL0003 (no rights).
"""

from __future__ import annotations

import itertools
import json
import threading
import time
from http.server import BaseHTTPRequestHandler
from typing import Any
from urllib.parse import parse_qs

from devstack.standin import StandIn

MEMBERS = ("U0LOCAL0001", "U0LOCAL0002", "U0LOCAL0003")
# hooks.slack.com's paths of a slash command's and of a click's response_url
RESPONSE_PATHS = ("/commands/", "/actions/")


class SlackApiStandIn(StandIn):
    def __init__(self, token: str | None = None, port: int = 0) -> None:
        self.token = token
        self.calls: list[dict] = []
        self.throttled: dict[str, dict] = {}
        self.user_groups: dict[str, list[str]] = {}
        self.responses: list[dict] = []
        self._lock = threading.Lock()
        self._ts = itertools.count(1)
        stand_in = self

        class Handler(BaseHTTPRequestHandler):
            def do_GET(self) -> None:  # noqa: N802 - http.server's naming
                path, _, query = self.path.partition("?")
                if path.rstrip("/") == "/_responses":
                    prefix = parse_qs(query).get("prefix", [""])[0]
                    with stand_in._lock:
                        kept = [r for r in stand_in.responses if r["path"].startswith(prefix)]
                    self._json(200, {"responses": kept})
                elif self.path.rstrip("/").endswith("/_recorded"):
                    with stand_in._lock:
                        self._json(200, {"calls": list(stand_in.calls)})
                else:
                    self._json(404, {"ok": False, "error": "unknown_method"})

            def do_POST(self) -> None:  # noqa: N802
                length = int(self.headers.get("Content-Length", "0"))
                raw = self.rfile.read(length)
                if self.path.startswith(RESPONSE_PATHS):
                    with stand_in._lock:
                        stand_in.responses.append({"path": self.path, "body": json.loads(raw)})
                    self._json(200, {"ok": True})
                    return
                method = self.path.split("?")[0].rstrip("/").rsplit("/", 1)[-1]
                if method.startswith("_"):
                    self._json(200, stand_in._control(method, raw))
                    return
                args = _args(raw, self.headers.get("Content-Type", ""))
                status, answer, headers = stand_in._call(
                    method, args, self.headers.get("Authorization", "")
                )
                self._json(status, answer, headers)

            def _json(self, status: int, body: dict, headers: dict | None = None) -> None:
                data = json.dumps(body).encode()
                self.send_response(status)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(data)))
                for name, value in (headers or {}).items():
                    self.send_header(name, value)
                self.end_headers()
                self.wfile.write(data)

            def log_message(self, *args: object) -> None:
                pass

        self._listen(Handler, port)

    @property
    def host(self) -> str:
        """host:port, as SLACK_RESPONSE_HOSTS names it."""
        return f"127.0.0.1:{self.server.server_address[1]}"

    @property
    def url(self) -> str:
        return f"http://{self.host}/api/"

    def reset(self) -> None:
        """Forget the calls (as POST <url>/_reset)."""
        self._control("_reset", b"")

    def restore(self) -> None:
        """As it started: no calls, answers, rate limits or user groups."""
        with self._lock:
            self.calls.clear()
            self.responses.clear()
            self.throttled.clear()
            self.user_groups.clear()
            self._ts = itertools.count(1)

    def recorded(self, method: str | None = None) -> list[dict]:
        with self._lock:
            return [c for c in self.calls if method is None or c["method"] == method]

    def _control(self, name: str, raw: bytes) -> dict:
        body = json.loads(raw or b"{}")
        with self._lock:
            if name == "_reset":
                self.calls.clear()
            elif name == "_rate_limit":
                self.throttled[body["method"]] = {
                    "times": int(body.get("times", 1)),
                    "retry_after": int(body.get("retry_after", 1)),
                }
            elif name == "_user_groups":
                self.user_groups.update(body)
        return {"ok": True}

    def _call(self, method: str, args: dict, authorization: str) -> tuple[int, dict, dict]:
        with self._lock:
            throttle = self.throttled.get(method)
            if throttle and throttle["times"] > 0:
                throttle["times"] -= 1
                self.calls.append({"method": method, "args": args, "answered": 429})
                return (
                    429,
                    {"ok": False, "error": "ratelimited"},
                    {"Retry-After": str(throttle["retry_after"])},
                )
            if self.token and authorization != f"Bearer {self.token}":
                return 200, {"ok": False, "error": "invalid_auth"}, {}
            self.calls.append({"method": method, "args": args})
            return 200, self._answer(method, args), {}

    def _answer(self, method: str, args: dict) -> dict:
        if method == "chat.postMessage":
            channel = str(args.get("channel", ""))
            if not channel:
                return {"ok": False, "error": "channel_not_found"}
            ts = f"{int(time.time())}.{next(self._ts):06d}"
            return {"ok": True, "channel": channel, "ts": ts, "message": {**args, "ts": ts}}
        if method == "chat.update":
            return {"ok": True, "channel": args.get("channel"), "ts": args.get("ts")}
        if method == "conversations.open":
            users = str(args.get("users", ""))
            return {"ok": True, "channel": {"id": "D" + users.split(",")[0][1:]}}
        if method == "usergroups.users.list":
            return {"ok": True, "users": self.user_groups.get(str(args.get("usergroup")), [])}
        if method == "auth.test":
            return {"ok": True, "user_id": "U0LOCALBOT", "team_id": "T0LOCAL"}
        return {"ok": False, "error": "unknown_method"}


def _args(raw: bytes, content_type: str) -> dict[str, Any]:
    if content_type.startswith("application/json"):
        return json.loads(raw or b"{}")
    return {k: v[0] for k, v in parse_qs(raw.decode()).items()}


def root_of(api_url: str) -> str:
    """The stand-in's root (where response_url answers go) from its Web API URL."""
    return api_url.rstrip("/").removesuffix("/api")
