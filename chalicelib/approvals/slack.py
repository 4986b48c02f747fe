"""Queued Slack work of requests for access:

- ``self``: a member's own ``/access request``, ``requests``, ``done`` or ``extend``, for the
  user linked to them (checked again here: anything that may send to the queue could name
  another user), or a ``request ... --for <@member>`` for the user linked to that member, which
  only the group's named requesters may ask;
- ``decision``: a click on Approve or Deny; the approver is the member Slack's signed payload
  names;
- ``extend``: a click on the Extend button of a grant's expiry notice, for the user linked to
  the member Slack's signed payload names;
- ``approval_message``: what Slack shows of a request after each event: the approvers' channel
  message (posted, then updated), the requester's direct message and, for a break-glass
  activation, a notice to every approver.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from chalicelib.approvals import messages as messages
from chalicelib.approvals.service import MESSAGE_KIND
from chalicelib.edges.slack import answering
from chalicelib.edges.slack.blocks import escape, message
from chalicelib.kernel import queue
from chalicelib.kernel.commands import parse
from chalicelib.kernel.errors import Forbidden

logger = logging.getLogger(__name__)
KINDS = ("self", "decision", "extend", MESSAGE_KIND)


def handle(services: Any, work: dict, receives: Callable[[], tuple[int, int]]) -> None:
    if work["kind"] == MESSAGE_KIND:
        show(services, work["id"], work["event"])
        return
    doing = f"{work.get('action', 'decide')} {work.get('username') or work.get('id', '')}"
    produce = {"self": _self, "extend": _extension}.get(work["kind"], _decision)
    answering.answer(work["response_url"], doing, receives, lambda: produce(services, work))


def _self(services: Any, work: dict) -> dict:
    member, username, action = work["slack_user"], work["username"], work["action"]
    # Asked for someone else (``--for``): the policy's requesters decide who may (the service).
    for_other = action == "request" and bool((work.get("request") or {}).get("for_user"))
    if not for_other and (services.slack_store.linked_user(member) or "") != username:
        services.state.audit(
            action,
            username,
            str(work.get("ticket", "(none)")),
            f"slack:{member}",
            "rejected: the member is not linked to this user",
        )
        raise Forbidden("you may ask only for the user linked to you")
    approvals = services.approvals
    if action == "requests":
        mine = [
            r for r in approvals.search(username=username) if r["status"] in ("pending", "approved")
        ]
        return messages.request_list(mine, approvals.decidable(member))
    if action == "done":
        done = approvals.done(username, work["group"], member, work["ticket"])
        group = escape(work["group"])
        if "cancelled" in done:
            return message(f"Your pending request for *{group}* was cancelled.")
        return message(
            f":checkered_flag: Your access to *{group}* ended now; the sessions of what "
            "only it allowed were revoked."
        )
    if action == "extend":
        return _extended(
            services.extending.extend(
                username, work["group"], work.get("hours"), member, work["ticket"]
            )
        )
    from chalicelib.approvals.commands import AccessRequest

    body = parse(AccessRequest, json.dumps(work["request"]))
    return messages.asked(approvals.ask(body, requester=member))


def _extension(services: Any, work: dict) -> dict:
    """A click on Extend: for the user linked to the member Slack signed for, now."""
    member = work["slack_user"]
    username = services.slack_store.linked_user(member) or ""
    if not username:
        raise Forbidden("you are linked to no managed user, so there is nothing to extend")
    ticket = work.get("ticket") or f"slack:extend:{member}"
    return _extended(services.extending.extend(username, work["group"], None, member, ticket))


def _extended(answer: dict) -> dict:
    if "request" in answer:  # the policy asks its approvers: a request was sent to them
        return messages.asked(answer["request"])
    group = escape(answer["group"])
    left = answer["extensions_left"]
    was = f" (was {escape(answer['extended_from'])})" if answer.get("extended_from") else ""
    return message(
        f":hourglass_flowing_sand: Your access to *{group}* now ends at "
        f"{escape(answer['expires_at'])}{was}; {left} extension(s) left."
    )


def _decision(services: Any, work: dict) -> dict | None:
    services.approvals.decide(
        work["id"], work["decision"], work["slack_user"], ticket=work.get("ticket")
    )
    return None  # the channel message is updated; the requester told by direct message


def show(services: Any, request_id: str, event: str) -> None:
    """Bring what Slack shows of the request up to date after ``event``."""
    approvals = services.approvals
    request = approvals.get(request_id)
    policy = approvals.policy(request["group"])
    if policy is None:
        return
    slack = approvals.slack
    shown = messages.channel_message(request, policy.approvals)
    where = request.get("message")
    if policy.channel:
        if where:
            slack.update_message(where["channel"], where["ts"], shown["text"], shown["blocks"])
        else:
            posted = slack.post_message(policy.channel, shown["text"], shown["blocks"])
            approvals.record_message(request_id, posted["channel"], posted["ts"])
    elif event == "created" or (event == "approved" and request.get("on_call")):
        # no channel: each approver is asked directly, or told of an on-call approval
        for approver in approvals.approvers(policy):
            slack.direct_message(approver, shown["text"], shown["blocks"])
    if event == "break_glass":
        notice = messages.break_glass_notice(request)
        for approver in approvals.approvers(policy):
            slack.direct_message(approver, notice["text"], notice["blocks"])
    requester = request.get("requester")
    if requester and event != "vote":
        told = messages.to_requester(request, event)
        slack.direct_message(requester, told["text"], told["blocks"])
    person = request.get("person")  # asked for by another member: told as well
    if person and person != requester and event != "vote":
        told = messages.to_person(request, event)
        slack.direct_message(person, told["text"], told["blocks"])


queue.register_all(KINDS, handle)  # the worker runs the kinds this module queues
