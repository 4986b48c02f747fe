"""The Block Kit messages of access reviews: each reviewer's items with Keep and Revoke per item
and "Keep all" (sent by direct message, redrawn after each click), reminders, and what the
operators' channel is told at the close (the totals, and the items escalated to them)."""

from __future__ import annotations

from chalicelib.edges.slack.blocks import context, escape, header, message, section

KEEP_ACTION, REVOKE_ACTION, KEEP_ALL_ACTION = "review_keep", "review_revoke", "review_keep_all"
# An operator says a member the service does not manage was removed by hand (IAM must agree).
REMOVED_ACTION = "review_removed"
# What each button asks the queued work to do.
DECISION_OF = {
    KEEP_ACTION: "keep",
    REVOKE_ACTION: "revoke",
    KEEP_ALL_ACTION: "keep_all",
    REMOVED_ACTION: "removed",
}
ACTIONS = tuple(DECISION_OF)
CHUNK = 20  # items per message: two blocks each, within Slack's 50 blocks
ESCALATED_BUTTONS = 20  # the escalated items the operators' message shows buttons for


def chunks(items: list[dict]) -> list[list[dict]]:
    return [items[i : i + CHUNK] for i in range(0, len(items), CHUNK)] or [[]]


def _state(item: dict) -> str:
    decision = item.get("decision")
    first = item.get("first_keep")
    if not decision and first:
        return (
            f":hourglass: keep by <@{escape(first['by'])}> at {escape(first['at'])}; a second "
            "reviewer must keep it too (the user has no linked Slack member)"
        )
    if not decision:
        return ":grey_question: not decided yet"
    line = (
        ":white_check_mark: keep" if decision == "keep" else ":no_entry: revoke"
    ) + f" by <@{escape(item['decided_by'])}> at {escape(item['decided_at'])}"
    if item.get("removed_at"):
        line += f"; removed at {escape(item['removed_at'])}"
    elif item.get("removal_owed"):
        line += f"; *owed by hand*: {escape(item['removal_owed'])}"
    elif item.get("carry_out_error"):
        line += f"; not carried out yet: {escape(item['carry_out_error'])}"
    elif decision == "revoke":
        line += "; carried out at the close"
    return line


def _item_blocks(review: dict, item: dict, chunk: int, open_: bool) -> list[dict]:
    kind = (
        f"time-bound until {escape(item['expires_at'])}"
        if item.get("kind") == "grant"
        else "member"
    )
    blocks = [
        section(
            f"*{escape(item['username'])}* in `{escape(item['group'])}` ({kind})\n{_state(item)}"
        )
    ]
    if open_ and not item.get("removed_at"):
        value = f"{review['id']}:{item['id']}:{chunk}"
        keep = {
            "type": "button",
            "action_id": KEEP_ACTION,
            "value": value,
            "text": {"type": "plain_text", "text": "Keep"},
        }
        revoke = {
            "type": "button",
            "action_id": REVOKE_ACTION,
            "value": value,
            "style": "danger",
            "text": {"type": "plain_text", "text": "Revoke"},
        }
        if item.get("decision") == "keep":
            keep["style"] = "primary"
        elements = [keep, revoke]
        if item.get("removal_owed"):
            elements.append(
                {
                    "type": "button",
                    "action_id": REMOVED_ACTION,
                    "value": value,
                    "text": {"type": "plain_text", "text": "Removed by hand"},
                }
            )
        blocks.append({"type": "actions", "block_id": f"review:{item['id']}", "elements": elements})
    return blocks


def reviewer_messages(review: dict, items: list[dict], reminder: bool = False) -> list[dict]:
    """A reviewer's items, in messages of at most ``CHUNK`` items each."""
    open_ = review["status"] == "open"
    out = []
    parts = chunks(items)
    for n, part in enumerate(parts):
        left = sum(1 for i in part if not i.get("decision"))
        lead = (
            f":alarm_clock: Reminder: {left} item(s) still wait for your decision; the review "
            f"closes after {escape(review['due'])}."
            if reminder
            else f"Please review who keeps this access. Decide each item by {escape(review['due'])};"
            " you can change a decision until the review closes."
        )
        blocks = [
            header(f"Access review: {len(items)} item(s) for you")
            if len(parts) == 1
            else header(f"Access review: items {n * CHUNK + 1}-{n * CHUNK + len(part)}"),
            section(
                lead if open_ else f"This review closed at {escape(review.get('closed_at', ''))}."
            ),
        ]
        for item in part:
            blocks += _item_blocks(review, item, n, open_)
        if open_ and left:
            blocks.append(
                {
                    "type": "actions",
                    "block_id": f"review_all:{n}",
                    "elements": [
                        {
                            "type": "button",
                            "action_id": KEEP_ALL_ACTION,
                            "value": f"{review['id']}:{n}",
                            "style": "primary",
                            "text": {"type": "plain_text", "text": "Keep all undecided"},
                        }
                    ],
                }
            )
        blocks.append(context(f"review `{escape(review['id'])}` · due {escape(review['due'])}"))
        text = f"Access review {review['id']}: {left} item(s) wait for your decision"
        out.append(message(text, blocks[:50]))
    return out


def started(review: dict, reviewers: int) -> dict:
    return message(
        f":mag: Access review `{escape(review['id'])}` started: {len(review['items'])} item(s) "
        f"of {escape(', '.join(review.get('groups', [])))}, {reviewers} reviewer(s) asked by "
        f"direct message, due {escape(review['due'])}. Evidence: "
        f"`GET /reviews/{escape(review['id'])}/evidence?format=html`."
    )


def closed(review: dict, totals: dict, escalated: list[dict]) -> dict:
    text = (
        f":checkered_flag: Access review `{escape(review['id'])}` closed: {totals['kept']} kept, "
        f"{totals['revoked']} revoked ({totals['carried_out']} carried out), "
        f"{totals['undecided']} undecided."
    )
    blocks = [section(text)]
    if escalated:
        lines = [
            f"• *{escape(i['username'])}* in `{escape(i['group'])}` (reviewer "
            + (f"<@{escape(i['reviewer'])}>" if i.get("reviewer") else "none")
            + f"): {_state(i)}"
            for i in escalated[:40]
        ]
        more = f"\n…and {len(escalated) - 40} more" if len(escalated) > 40 else ""
        blocks.append(
            section(
                ":rotating_light: *Escalated to the operators*: nobody decided these items by "
                "the due date. An operator decides each one here (a revoke is carried out at "
                "once).\n" + "\n".join(lines) + more
            )
        )
        waiting = [i for i in escalated if not i.get("decision") or i.get("removal_owed")]
        for item in waiting[:ESCALATED_BUTTONS]:
            blocks += _item_blocks(review, item, -1, True)
    blocks.append(context(f"`GET /reviews/{escape(review['id'])}/evidence?format=html`"))
    return message(text, blocks)


def use_messages(review: dict, items: list[dict]) -> list[dict]:
    """The review of one break-glass use, for the operators' channel: who used it, why, and
    who reviews it, above the reviewer's own Keep and Revoke."""
    shown = reviewer_messages(review, items)
    for item in items:
        reviewers = [m for m in (item.get("reviewer"), item.get("second_reviewer")) if m]
        who = " and ".join(f"<@{escape(m)}>" for m in reviewers) or "the operators"
        line = (
            f":rotating_light: Break-glass use: `{escape(item['username'])}` activated "
            f"`{escape(item['group'])}` (until {escape(item.get('expires_at', '?'))}): "
            f"{escape(item.get('reason', ''))}. {who}, please keep or revoke it."
        )
        for drawn in shown:
            drawn["blocks"].insert(1, section(line))
    return shown
