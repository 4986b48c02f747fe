"""Send a slash command to the local stack signed as Slack signs it, and print what comes back on
``response_url`` (the stack's Slack stand-in plays Slack's side).

    python -m devstack.slack_command onboard pete ChildDeveloperGroup pete@example.com
    python -m devstack.slack_command status pete
    python -m devstack.slack_command --confirm offboard pete     # also clicks the button
    python -m devstack.slack_command --user U0LOCAL0003 request BreakGlassGroup 1 INC-1
    python -m devstack.slack_command --user U0LOCAL0002 --click request_approve req-...

Reads the stack's facts from .local/stack.json (or STACK_FILE). Sends as the first Slack user the
dev stage allows (--user to change it).
"""

from __future__ import annotations

import argparse
import hashlib
import hmac
import json
import os
import queue
import sys
import time
import urllib.error
import urllib.request
import uuid
from urllib.parse import urlencode

from devstack import facts as stack
from devstack.facts import PROJECT, STAGE


def sign(secret: str, body: bytes, timestamp: int | None = None) -> dict[str, str]:
    """The headers Slack sends: v0 HMAC-SHA256 over ``v0:<timestamp>:<raw body>``."""
    stamp = str(int(time.time()) if timestamp is None else timestamp)
    digest = hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest.hexdigest()}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


def command_body(
    text: str,
    *,
    user_id: str,
    response_url: str,
    trigger_id: str | None = None,
    command: str = "/access",
    user_name: str = "someone",
) -> bytes:
    """A slash command's form body with the fields Slack sends."""
    return urlencode(
        {
            "token": "deprecated-verification-token",
            "team_id": "T0LOCAL",
            "team_domain": "local",
            "channel_id": "C0LOCAL",
            "channel_name": "access",
            "user_id": user_id,
            "user_name": user_name,
            "command": command,
            "text": text,
            "api_app_id": "A0LOCAL",
            "is_enterprise_install": "false",
            "response_url": response_url,
            "trigger_id": trigger_id or f"{int(time.time())}.{uuid.uuid4().hex}",
        }
    ).encode()


def click_body(action_id: str, value: str, *, user_id: str, response_url: str) -> bytes:
    """A block_actions interaction: a click on a button of an ephemeral message."""
    payload = {
        "type": "block_actions",
        "user": {"id": user_id, "username": "someone", "team_id": "T0LOCAL"},
        "api_app_id": "A0LOCAL",
        "team": {"id": "T0LOCAL", "domain": "local"},
        "container": {"type": "message", "is_ephemeral": True},
        "channel": {"id": "C0LOCAL"},
        "trigger_id": f"{int(time.time())}.{uuid.uuid4().hex}",
        "response_url": response_url,
        "actions": [
            {
                "type": "button",
                "action_id": action_id,
                "block_id": "b",
                "value": value,
                "action_ts": str(time.time()),
            }
        ],
    }
    return urlencode({"payload": json.dumps(payload)}).encode()


def button(reply: dict, action_id: str) -> str | None:
    """The value of the button ``action_id`` in a Block Kit message, if it has one."""
    for block in reply.get("blocks", []):
        for element in block.get("elements", []) if block.get("type") == "actions" else []:
            if element.get("action_id") == action_id:
                return element["value"]
    return None


class ResponseCatcher:
    """Slack's side of ``response_url``: a path of its own on the Slack stand-in
    (devstack.slack_api), the one host the local stack lets the app post answers to. Its Web API
    URL is ``slack_api_url`` (default: SLACK_API_URL, as the tests' stand-in sets it)."""

    def __init__(self, slack_api_url: str | None = None) -> None:
        from devstack.slack_api import root_of

        api_url = slack_api_url or os.environ.get("SLACK_API_URL", "")
        if not api_url:
            raise RuntimeError("no Slack stand-in: pass its URL or set SLACK_API_URL")
        self.root = root_of(api_url)
        self.prefix = f"/commands/T0LOCAL/{uuid.uuid4().hex}"
        self.taken = 0

    def url(self, path: str = "/response") -> str:
        return f"{self.root}{self.prefix}{path}"

    def __enter__(self) -> ResponseCatcher:
        return self

    def __exit__(self, *exc: object) -> None:
        pass

    def next(self, timeout: float = 30) -> dict:
        """The next post's JSON body; raises queue.Empty after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        while True:
            with urllib.request.urlopen(
                f"{self.root}/_responses?{urlencode({'prefix': self.prefix})}", timeout=10
            ) as answer:
                kept = json.loads(answer.read())["responses"]
            if len(kept) > self.taken:
                self.taken += 1
                return kept[self.taken - 1]["body"]
            if time.monotonic() >= deadline:
                raise queue.Empty
            time.sleep(0.02)


def allowed_users(stage: str = STAGE) -> list[str]:
    config = json.loads((PROJECT / ".chalice" / "config.json").read_text())
    raw = config["stages"][stage]["environment_variables"].get("SLACK_ALLOWED_USERS", "")
    return [user.strip() for user in raw.split(",") if user.strip()]


def post(url: str, body: bytes, headers: dict[str, str]) -> tuple[int, str]:
    request = urllib.request.Request(url, data=body, headers=headers, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=30) as response:
            return response.status, response.read().decode()
    except urllib.error.HTTPError as error:
        return error.code, error.read().decode()


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except stack.StackDown as down:
        return stack.say_down(down)
    except urllib.error.URLError as error:
        if stack.refused(error):
            return stack.say_down(stack.StackDown(f"{error.reason}"))
        raise


def _main(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.slack_command",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument(
        "words", nargs="+", help="the command's text, e.g. onboard pete ChildDeveloperGroup"
    )
    parser.add_argument("--user", help="Slack user id to send as (default: the first one allowed)")
    parser.add_argument("--confirm", action="store_true", help="click the confirmation button")
    parser.add_argument(
        "--click",
        metavar="ACTION_ID",
        help="click a button instead (words: its value), e.g. --click request_approve req-...",
    )
    parser.add_argument("--wait", type=float, default=30, help="seconds to wait for each answer")
    # Flags of the command itself (--break-glass, --dry-run) are words of its text.
    args, extra = parser.parse_known_args(argv)
    args.words += extra
    facts = stack.read()
    user = args.user or (allowed_users() or ["U0NOBODY"])[0]
    if args.click:
        return _click(facts, user, args.click, " ".join(args.words), args.wait)
    with ResponseCatcher(facts["slack_api_url"]) as catcher:
        body = command_body(" ".join(args.words), user_id=user, response_url=catcher.url())
        status, answer = post(
            f"{facts['api_url']}/slack/commands", body, sign(facts["slack_signing_secret"], body)
        )
        print(f"--- answer ({status})\n{_pretty(answer)}", flush=True)
        if status != 200:
            return 1
        confirmation = button(json.loads(answer), "offboard_confirm")
        if confirmation and args.confirm:
            click = click_body(
                "offboard_confirm", confirmation, user_id=user, response_url=catcher.url("/click")
            )
            status, _ = post(
                f"{facts['api_url']}/slack/interactions",
                click,
                sign(facts["slack_signing_secret"], click),
            )
            print(f"--- clicked the confirmation ({status})", flush=True)
        elif confirmation:
            print("--- (add --confirm to click the button)")
            return 0
        if not (confirmation or ":hourglass" in answer):
            return 0  # help and refusals come in the answer itself
        verb = args.words[0].lower() if args.words else ""
        timeout = args.wait
        while True:
            try:
                reply = catcher.next(timeout=timeout)
            except queue.Empty:
                break
            print(
                f"--- on response_url ({reply.get('response_type', '-')})\n"
                f"{json.dumps(reply, indent=2)}",
                flush=True,
            )
            if not more_may_follow(verb, reply):
                break
            timeout = FOLLOW_UP_SECONDS
    return 0


# The worker posts a change's messages one right after the other.
FOLLOW_UP_SECONDS = 2.0


def more_may_follow(verb: str, reply: dict) -> bool:
    """Whether the worker may post another message after ``reply``: onboard and restore send
    the requester's sign-in details before the result in the channel; move and grant send the
    changed config after it. Anything else is one message."""
    if reply.get("response_type") == "in_channel":
        return verb in ("move", "grant")
    return verb in ("onboard", "restore")


def _click(facts: dict, user: str, action_id: str, value: str, wait: float) -> int:
    """Click a button of a message as ``user``; print what comes back on response_url (a
    refusal) or, after a moment, nothing (the channel message is updated instead)."""
    with ResponseCatcher(facts["slack_api_url"]) as catcher:
        body = click_body(action_id, value, user_id=user, response_url=catcher.url("/click"))
        status, _ = post(
            f"{facts['api_url']}/slack/interactions",
            body,
            sign(facts["slack_signing_secret"], body),
        )
        print(f"--- clicked {action_id} as {user} ({status})", flush=True)
        try:
            reply = catcher.next(timeout=min(wait, 5))
            print(f"--- on response_url\n{json.dumps(reply, indent=2)}", flush=True)
        except queue.Empty:
            print(
                f"--- nothing on response_url; see {facts.get('slack_api_url', '')}_recorded",
                flush=True,
            )
    return 0 if status == 200 else 1


def _pretty(text: str) -> str:
    try:
        return json.dumps(json.loads(text), indent=2)
    except ValueError:
        return text


if __name__ == "__main__":
    sys.exit(main())
