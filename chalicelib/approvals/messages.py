"""The Block Kit messages of requests for access: the approvers' channel message (with Approve
and Deny while pending, updated once decided, expired or cancelled), the direct messages to the
requester and, for a break-glass activation, to every approver.

A person's free text (a reason, a decision's reason) and every value read from a request go
through ``escape`` wherever Slack reads mrkdwn or mentions: in the notification ``text`` as in
the blocks, so ``<!channel>`` or ``<https://...|...>`` in a reason is shown, never acted on.
Header blocks are plain text, which Slack does not parse."""

from __future__ import annotations

from chalicelib.edges.slack.blocks import context, escape, fields, header, message, section

APPROVE_ACTION, DENY_ACTION = "request_approve", "request_deny"

_STATUS_LINE = {
    "pending": ":hourglass_flowing_sand: Waiting for an approver",
    "approved": ":white_check_mark: Approved",
    "denied": ":x: Denied",
    "expired": ":alarm_clock: Expired: nobody decided in time; nothing was granted",
    "cancelled": ":leftwards_arrow_with_hook: Cancelled by the requester; nothing was granted",
    "ended": ":checkered_flag: Ended early by the requester",
    "failed": ":warning: Approved, but not granted",
}


def _who(request: dict) -> str:
    member = request.get("requester")
    return f"<@{escape(member)}>" if member else escape(request["requested_by"])


def _mention(member: str) -> str:
    return f"<@{escape(member)}>" if member.startswith(("U", "W")) else escape(member)


def _user(request: dict) -> str:
    """The user, and who asked: themselves, or another member for them."""
    if request.get("for"):
        person = request.get("person")
        them = f"{_mention(person)}, " if person else ""
        return f"`{escape(request['username'])}` ({them}asked for by {_who(request)})"
    return f"`{escape(request['username'])}` ({_who(request)})"


def _decision_lines(request: dict) -> str:
    """Each decision as it came: who, what and when."""
    words = {"approve": "approved", "deny": "denied", "break_glass": "activated break-glass"}
    return "\n".join(
        f"• {_mention(d['by'])} {words.get(d['decision'], escape(d['decision']))}"
        + (f" at {escape(d['at'])}" if d.get("at") else "")
        for d in request.get("decisions", [])
    )


def _asked(request: dict) -> str:
    """What is asked: ``BreakGlassGroup for 2 h``, or ``extend pete's BreakGlassGroup by 2 h``."""
    if request.get("extends"):
        return f"extend {request['username']}'s {request['group']} by {request['hours']} h"
    return f"{request['group']} for {request['hours']} h"


def _summary(request: dict) -> str:
    verb = "asks to" if request.get("extends") else "asks for"
    return escape(f"{request['username']} {verb} {_asked(request)}: {request['reason']}")


def _details(request: dict) -> dict:
    return fields(
        [
            ("User", _user(request)),
            ("Group", f"`{escape(request['group'])}`"),
            ("For", f"{request['hours']} hour(s)")
            if not request.get("extends")
            else (
                "Extend",
                f"by {request['hours']} hour(s), from {escape(request['extends']['expires_at'])}",
            ),
            ("Pending until", escape(request["expires_at"])),
            ("Reason", escape(request["reason"])),
        ]
    )


def _outcome(request: dict) -> str:
    status = request["status"]
    line = _STATUS_LINE.get(status, status)
    if status == "cancelled" and request.get("why") == "offboarded":
        line = ":door: Cancelled: the user was offboarded; nothing was granted"
    if status == "cancelled" and request.get("why") == "ticket_closed":
        line = ":ticket: Cancelled: the ticket it was asked under closed; nothing was granted"
    if status == "approved" and request.get("on_call"):
        line += f": on call (level {request['on_call'].get('level', '?')})"
    if status in ("approved", "denied") and request.get("decided_by"):
        decider = request["decided_by"]
        by = f"<@{escape(decider)}>" if decider.startswith(("U", "W")) else escape(decider)
        line += f" by {by} at {escape(request.get('decided_at', ''))}"
    if request.get("break_glass") and status in ("approved", "ended"):
        line += " (break-glass: activated by the requester)"
    grant = request.get("grant")
    if grant and status == "approved":
        line += f"; access until {escape(grant['expires_at'])}"
    if status == "failed":
        line += (
            f": {escape(request.get('failure_reason', ''))}. Nothing will be granted for this "
            "request; ask again"
        )
    if request.get("decision_reason"):
        line += f"\n> {escape(request['decision_reason'])}"
    if len(request.get("decisions", [])) > 1 or (status == "pending" and request.get("decisions")):
        line += "\n" + _decision_lines(request)
    return line


def channel_message(request: dict, approvals_needed: int = 1) -> dict:
    """The request as the approvers' channel shows it: buttons only while it is pending."""
    blocks = [
        header(
            f"Extension request: {_asked(request)}"
            if request.get("extends")
            else f"Access request: {request['group']} for {request['username']}"
        ),
        _details(request),
        section(_outcome(request)),
    ]
    if request["status"] == "pending":
        given = len(request.get("approvals", []))
        if approvals_needed > 1:
            blocks.append(
                context(f"{given} of {approvals_needed} approvals given, each by another approver")
            )
        blocks.append(
            {
                "type": "actions",
                "block_id": f"request:{request['id']}",
                "elements": [
                    {
                        "type": "button",
                        "style": "primary",
                        "action_id": APPROVE_ACTION,
                        "value": request["id"],
                        "text": {"type": "plain_text", "text": "Approve"},
                    },
                    {
                        "type": "button",
                        "style": "danger",
                        "action_id": DENY_ACTION,
                        "value": request["id"],
                        "text": {"type": "plain_text", "text": "Deny"},
                    },
                ],
            }
        )
    if request.get("on_call_note"):
        blocks.append(context(f":information_source: {escape(request['on_call_note'])}"))
    blocks.append(context(f"request `{escape(request['id'])}`"))
    return message(_summary(request), blocks)


def to_person(request: dict, event: str) -> dict:
    """What the person another member asked for is told by direct message: on the ask, how to
    cancel it; after, what became of it."""
    group, user = escape(request["group"]), escape(request["username"])
    if event == "created":
        text = (
            f":inbox_tray: {_who(request)} asked for *{group}* for you (`{user}`), "
            f"{request['hours']} h: {escape(request['reason'])}. Its approvers decide; you may "
            f"not approve it. Not wanted? `/access done {group}` cancels it while it waits."
        )
    else:
        told = _told(request, event)
        text = f"For you (`{user}`), asked for by {_who(request)}: {told}"
    return message(text, [section(text), context(f"request `{escape(request['id'])}`")])


def to_requester(request: dict, event: str) -> dict:
    """What the requester is told by direct message (asked for someone else: for whom)."""
    text = _told(request, event)
    if request.get("for") and event != "created":
        text = f"For `{escape(request['username'])}`: {text}"
    return message(text, [section(text), context(f"request `{escape(request['id'])}`")])


def _told(request: dict, event: str) -> str:
    group, status = escape(request["group"]), request["status"]
    if event == "created" and request.get("for"):
        text = (
            f"Your request for *{group}* ({request['hours']} h) for "
            f"`{escape(request['username'])}` was sent to its approvers; "
            f"`{escape(request['username'])}` was told too. "
            f"It waits until {escape(request['expires_at'])}."
        )
    elif event == "created" and request.get("extends"):
        text = (
            f"Your request to extend *{group}* by {request['hours']} h (from "
            f"{escape(request['extends']['expires_at'])}) was sent to its approvers. "
            f"It waits until {escape(request['expires_at'])}."
        )
    elif event == "created":
        text = (
            f"Your request for *{group}* ({request['hours']} h) was sent to its approvers. "
            f"It waits until {escape(request['expires_at'])}."
        )
    elif status == "approved" and request.get("extends"):
        grant = request.get("grant") or {}
        text = (
            f":white_check_mark: Your request to extend *{group}* was approved; access now "
            f"until {escape(grant.get('expires_at', '?'))}."
        )
    elif event == "break_glass":
        grant = request.get("grant") or {}
        text = (
            f":rotating_light: Break-glass access to *{group}* is active until "
            f"{escape(grant.get('expires_at', '?'))}. Every approver was told and will review it. "
            "`/access done " + group + "` ends it early."
        )
    elif status == "approved":
        grant = request.get("grant") or {}
        text = (
            f":white_check_mark: Your request for *{group}* was approved; access until "
            f"{escape(grant.get('expires_at', '?'))}. `/access done {group}` ends it early."
        )
    elif status == "failed":
        text = (
            f":warning: Your request for *{group}* was approved but not granted: "
            f"{escape(request.get('failure_reason', ''))}"
        )
    elif status == "denied":
        text = f":x: Your request for *{group}* was denied."
    elif status == "expired":
        text = f":alarm_clock: Your request for *{group}* expired: nobody decided in time."
    elif status == "cancelled" and request.get("why") == "ticket_closed":
        text = (
            f"Your request for *{group}* was cancelled: the ticket it was asked under closed; "
            "nothing was granted."
        )
    elif status == "cancelled":
        text = f"Your request for *{group}* was cancelled; nothing was granted."
    elif status == "ended":
        text = f":checkered_flag: Your access to *{group}* ended; its sessions were revoked."
    else:
        text = f"Your request for *{group}* is {escape(status)}."
    return text


def break_glass_notice(request: dict) -> dict:
    """To every approver of a break-glass group: who activated it, why, and a review asked."""
    grant = request.get("grant") or {}
    text = (
        f":rotating_light: Break-glass: {_who(request)} activated *{escape(request['group'])}* "
        f"for `{escape(request['username'])}` until {escape(grant.get('expires_at', '?'))}.\n"
        f"> {escape(request['reason'])}\n"
        "Please review this activation: `GET /audit?ticket=" + escape(request["id"]) + "` "
        "shows what was done."
    )
    return message(
        escape(f"Break-glass: {request['username']} activated {request['group']}"),
        [section(text), context(f"request `{escape(request['id'])}`")],
    )


def request_list(mine: list[dict], decidable: list[dict]) -> dict:
    """``/access requests``: the pending requests the member may decide (with buttons), and
    their own open ones."""
    blocks: list[dict] = []
    if decidable:
        blocks.append(section(f"*Waiting for your decision* ({len(decidable)})"))
        for request in decidable[:10]:
            blocks += channel_message(request)["blocks"][1:]
    else:
        blocks.append(section("No pending request waits for your decision."))
    if mine:
        lines = [
            f"`{escape(r['group'])}` {r['hours']} h: {escape(r['status'])}"
            + (f" until {escape(r['grant']['expires_at'])}" if r.get("grant") else "")
            for r in mine
        ]
        blocks.append(section("*Your requests*\n" + "\n".join(lines)))
    return message(f"{len(decidable)} request(s) wait for your decision", blocks[:50])


def asked(request: dict) -> dict:
    """The requester's answer to ``/access request``."""
    if request["status"] == "approved":
        return to_requester(request, "approved" if request.get("on_call") else "break_glass")
    asked_for = (
        f"to extend *{escape(request['group'])}* by {request['hours']} h"
        if request.get("extends")
        else f"for *{escape(request['group'])}* for {request['hours']} h"
    )
    return message(
        f":inbox_tray: Asked {asked_for}. "
        f"Its approvers decide in Slack; you will be told here and by direct message. "
        f"(request `{escape(request['id'])}`)"
    )
