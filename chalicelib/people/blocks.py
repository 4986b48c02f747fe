"""The Block Kit direct messages to a person linked to a Slack member: their welcome after the
onboarding (the steps of docs/first-hour.md, never a secret), credential hygiene's notices
and reminders (docs/hygiene.md), and the notice that a grant ends soon (docs/approvals.md)."""

from __future__ import annotations

from chalicelib.edges.slack.blocks import context, escape, fields, header, section, welcome_step
from chalicelib.kernel.direct_messages import EXTEND_ACTION


def _who(requested_by: str) -> str:
    """The person who onboarded: a Slack member as a mention, anyone else by name."""
    if requested_by.startswith("slack:"):
        return f"<@{escape(requested_by[len('slack:') :])}>"
    return f"*{escape(requested_by)}*"


def welcome(username: str, steps: list[dict], requested_by: str) -> dict:
    """The welcome steps in their order. Where a step needs a secret (the temporary password,
    the first access key), the person is told who hands it to them: it is never in Slack."""
    who = _who(requested_by)
    kinds = {step["step"] for step in steps}
    handed = " and ".join(
        name
        for kind, name in (("password", "temporary password"), ("access_key", "access key"))
        if kind in kinds
    )
    verb = "come" if " and " in handed else "comes"
    blocks = [
        header(f"Welcome, {username}: your first hour on AWS"),
        context(
            f"You were onboarded by {who}. These are your steps, in order. Nothing secret is in "
            "this message" + (f": your {handed} {verb} from {who}, privately." if handed else ".")
        ),
    ]
    for number, step in enumerate(steps, start=1):
        lead = f"*{number}. {escape(step['title'])}*\n{escape(step['text'])}"
        kind = step["step"]
        if kind == "password":
            blocks.append(
                section(
                    f"{lead}\n:key: Your temporary password comes from {who}, who onboarded you; "
                    "it is never sent here. Ask them for it if you do not have it."
                )
            )
        elif kind == "access_key":
            blocks.append(
                section(
                    f"{lead}\n:key: Your access key comes from {who}, who onboarded you; it is "
                    "never sent here."
                )
            )
        elif kind == "user_name":
            blocks.append(
                section(f"*{number}. {escape(step['title'])}*\n`{escape(step['value'])}`")
            )
        else:
            blocks += welcome_step(username, step, lead)
    return {"text": f"Welcome, {username}: your first hour on AWS", "blocks": blocks}


def hygiene_notice(username: str, notice: dict, what: str) -> dict:
    """A hygiene notice (or its reminder): the rule, the credential, the due date, what will
    happen then and how to avoid it."""
    lead = "Reminder: credential" if what == "reminded" else "Credential"
    title = f"{lead} hygiene: your {notice['credential_name']}"
    pairs = [
        ("Rule", escape(notice["title"])),
        ("Credential", f"`{escape(notice['credential'])}` of `{escape(username)}`"),
        ("Since", escape(notice["since"])),
    ]
    if notice.get("due") and notice.get("action"):
        pairs.append(("Due", escape(notice["due"])))
    blocks = [
        header(title),
        section(escape(notice["text"])),
        fields(pairs),
        section(f"*What will happen*\n{escape(notice['happens'])}"),
        section(f"*How to avoid it*\n{escape(notice['avoid'])}"),
        context("Sent by the credential hygiene schedule, as its rules ask (docs/hygiene.md)."),
    ]
    return {"text": f"{title}: {notice['text']}", "blocks": blocks}


def expiry_notice(username: str, notice: dict) -> dict:
    """A grant ends soon: when, and an Extend button while its policy allows one more."""
    group = escape(notice["group"])
    left = int(notice.get("extensions_left", 0))
    text = f":hourglass: Your access to *{group}* ends at {escape(notice['expires_at'])}."
    blocks = [section(text)]
    if left > 0:
        how = "asks its approvers" if notice.get("approval") else "makes it longer at once"
        blocks.append(
            section(
                f"Extend it by up to {notice['hours']} hour(s): the button {how}, as does "
                f"`/access extend {group} [hours]` ({left} extension(s) left)."
            )
        )
        blocks.append(
            {
                "type": "actions",
                "block_id": f"extend:{group}",
                "elements": [
                    {
                        "type": "button",
                        "style": "primary",
                        "action_id": EXTEND_ACTION,
                        "value": notice["group"],
                        "text": {"type": "plain_text", "text": f"Extend {notice['hours']} h"},
                    }
                ],
            }
        )
    else:
        blocks.append(section("It cannot be extended again; `/access request` asks for more."))
    blocks.append(context(f"`{escape(username)}`: sent once, before the grant ends."))
    return {
        "text": f"Your access to {notice['group']} ends at {notice['expires_at']}",
        "blocks": blocks,
    }
