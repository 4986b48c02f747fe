"""Queued Slack work of access reviews:

- ``review_start``: ``/access review start [group...] due YYYY-MM-DD`` from an operator
  (checked again here, as every queued change is);
- ``review_decision``: a click on Keep, Revoke, "Keep all undecided" or "Removed by hand" (an
  operator's record of a removal the service may not make); the reviewer is the member Slack's
  signed payload names. The message clicked is redrawn with the decisions;
- ``review_item``: a break-glass use to review (chalicelib/kernel/review_items.py), opened as a
  campaign of that one item;
- ``review_message``: what Slack shows after a campaign's event: each reviewer's items by
  direct message when it starts, reminders, and the close (with the escalated items) in the
  operators' channel.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from typing import Any

from chalicelib.edges.slack import answering
from chalicelib.kernel import queue, review_items
from chalicelib.kernel.commands import parse
from chalicelib.reviews import messages as messages
from chalicelib.reviews import rules as rules
from chalicelib.reviews import settings as review_settings
from chalicelib.reviews.service import MESSAGE_KIND

logger = logging.getLogger(__name__)
KINDS = ("review_start", "review_decision", MESSAGE_KIND, review_items.KIND)


def handle(services: Any, work: dict, receives: Callable[[], tuple[int, int]]) -> None:
    if work["kind"] == MESSAGE_KIND:
        show(services, work["id"], work["event"])
        return
    if work["kind"] == review_items.KIND:  # a break-glass use to review
        services.reviews.open_use(work)
        return
    url = work["response_url"]
    doing = "review start" if work["kind"] == "review_start" else "review decision"
    produce = _start if work["kind"] == "review_start" else _decision
    answering.answer(url, doing, receives, lambda: produce(services, work))


def _start(services: Any, work: dict) -> dict:
    answering.authorize(services, {**work, "action": "review", "username": "review"})
    from chalicelib.reviews.commands import ReviewRequest

    body = parse(ReviewRequest, json.dumps(work["request"]))
    review = services.reviews.start(body)
    reviewers = {
        m for i in review["items"] for m in (i.get("reviewer"), i.get("second_reviewer")) if m
    }
    return {**messages.started(review, len(reviewers)), "replace_original": False}


def _decision(services: Any, work: dict) -> dict:
    reviews = services.reviews
    member, review_id, chunk = work["slack_user"], work["review"], int(work.get("chunk", 0))
    review, items = reviews.read(review_id)
    mine = rules.of_reviewer(items, member)
    if work["decision"] == "keep_all":
        part = messages.chunks(mine)[chunk] if 0 <= chunk < len(messages.chunks(mine)) else []
        reviews.keep_all(review_id, member, part)
    elif work["decision"] == "removed":
        reviews.record_removed(review_id, work["item"], member, work.get("ticket") or review_id)
    else:
        reviews.decide(review_id, work["item"], work["decision"], member, work.get("ticket"))
    review, items = reviews.read(review_id)
    if chunk < 0:  # the operators' message of escalated items
        shown = messages.closed(review, rules.totals(items), _escalated(items))
    else:
        mine = rules.of_reviewer(items, member)
        drawn = messages.reviewer_messages(review, mine)
        shown = drawn[chunk] if chunk < len(drawn) else drawn[-1]
    return {**shown, "replace_original": True}


def _escalated(items: list[dict]) -> list[dict]:
    return [i for i in items if i.get("escalated_at")]


def show(services: Any, review_id: str, event: str) -> None:
    """Bring what Slack shows of the campaign up to date after ``event``."""
    reviews = services.reviews
    review, items = reviews.read(review_id)
    slack = services.slack_api
    policy = review_settings.policy(services.settings)
    if event == "started" and review.get("source") and policy.channel:
        # One break-glass use: its review is shown where the operators look, its reviewer named.
        for shown in messages.use_messages(review, items):
            slack.post_message(policy.channel, shown["text"], shown["blocks"])
    elif event in ("started", "reminder"):
        by_reviewer: dict[str, list[dict]] = {}
        for item in items:
            for member in {item.get("reviewer"), item.get("second_reviewer")} - {None, ""}:
                by_reviewer.setdefault(str(member), []).append(item)
        for member, theirs in sorted(by_reviewer.items()):
            if event == "reminder" and not rules.undecided(theirs):
                continue
            for shown in messages.reviewer_messages(review, theirs, reminder=event == "reminder"):
                slack.direct_message(member, shown["text"], shown["blocks"])
    elif event == "closed":
        shown = messages.closed(review, rules.totals(items), _escalated(items))
        if policy.channel:
            slack.post_message(policy.channel, shown["text"], shown["blocks"])
        else:
            for member in sorted(policy.operators):
                slack.direct_message(member, shown["text"], shown["blocks"])


queue.register_all(KINDS, handle)  # the worker runs the kinds this module queues
