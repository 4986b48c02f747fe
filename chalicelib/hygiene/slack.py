"""The hygiene capability's Slack work: ``/access hygiene [user]``, answered from the queue to
the requester alone (the findings of everyone, or of one user)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from chalicelib.edges.slack import response_url
from chalicelib.edges.slack.answering import failed
from chalicelib.edges.slack.blocks import escape, header, message, section
from chalicelib.kernel import queue

KINDS = ("hygiene",)  # what chalicelib/hygiene/verbs.py queues


def handle(services: Any, work: dict, receives: Callable[[], tuple[int, int]]) -> None:
    url, username = work["response_url"], work.get("username") or None
    try:
        answer = findings(services.hygiene.findings(username), username)
    except Exception as error:
        failed(url, f"hygiene {username or ''}".strip(), error, *receives())
        return
    response_url.post(url, answer)


_FINDINGS = 40  # lines of findings in one message; the rest is counted


def findings(found: list[dict], username: str | None = None) -> dict:
    """Credential hygiene findings (``GET /hygiene``), only for the requester."""
    whom = escape(username) if username else "managed users"
    if not found:
        return message(f":white_check_mark: No credential hygiene findings for {whom}.")
    lines = []
    for f in found[:_FINDINGS]:
        due = f" on {f['due']}" if f.get("due") else ""
        lines.append(
            f"`{escape(f['username'])}` {escape(f['rule'])} on `{escape(f['credential'])}` "
            f"since {f['since']}: next *{escape(f['next_action'])}*{due}"
        )
    if len(found) > _FINDINGS:
        lines.append(f"_… and {len(found) - _FINDINGS} more (GET /hygiene lists them all)_")
    text = f"Credential hygiene findings for {whom}: {len(found)}"
    return message(text, [header("Credential hygiene"), section("\n".join(lines))])


queue.register_all(KINDS, handle)
