"""The Slack edge's own replies: help, refusals, acknowledgements and notices. Block Kit
primitives: blocks.py; the mapping of errors to replies: errors.py; posting to ``response_url``:
response_url.py. Each capability's answers live with it.

Results of changes go to the channel; anything only the requester should see (help, refusals,
errors, status, and above all a temporary password) is ephemeral.
"""

from __future__ import annotations

from chalicelib.edges.slack import listeners
from chalicelib.edges.slack.blocks import context, escape, message, section
from chalicelib.edges.slack.grammar import VERBS
from chalicelib.edges.slack.listeners import ANYONE, SELF
from chalicelib.kernel.catalogue import SLACK_ACTIONS

CONFIRM_ACTION, CANCEL_ACTION = "offboard_confirm", "offboard_cancel"
_LOOKING_UP = "Looking up"  # status: a query, not one of the catalogue's changes


# help, refusals, acknowledgements
def help_text(command: str, verb: str = "", problem: str = "") -> dict:
    verbs = [verb] if verb else list(VERBS)
    usages = {name: escape(f"{command} {name} {VERBS[name][0]}") for name in verbs}
    lines = [f"`{usages[name]}`  {escape(VERBS[name][1])}" for name in verbs]
    blocks = []
    if problem:
        blocks.append(section(f":warning: {escape(problem)}"))
    blocks.append(section("\n".join(lines)))
    if not verb:
        blocks.append(
            context(
                f"{_listed(ANYONE)} are open to everyone, and {_listed(SELF)} to everyone linked to "
                "a user, for that user; the other verbs only to the people this service lists. "
                "Add `--dry-run` to a change of a named user to see its plan without changing "
                "anything."
            )
        )
    summary = f"{escape(problem)}. " if problem else ""
    return message(summary + "Usage: " + "; ".join(usages.values()), blocks)


def _listed(who: str) -> str:
    names = [f"`{name}`" for name, declared in listeners.VERBS.items() if declared.who == who]
    return " and ".join([", ".join(names[:-1]), names[-1]] if len(names) > 1 else names)


def refused(command: str, verb: str) -> dict:
    return message(
        f":no_entry: You may not use `{command} {verb}`: only the people listed in "
        "this service's configuration may change access. Ask one of them."
    )


def acknowledged(verb: str, username: str, ticket: str | None, *, dry_run: bool = False) -> dict:
    about = f" (ticket `{escape(ticket)}`)" if ticket else ""
    doing = (
        f"Planning `{verb}` of"
        if dry_run
        else SLACK_ACTIONS[verb].doing
        if verb in SLACK_ACTIONS
        else _LOOKING_UP
    )
    whom = f"*{escape(username)}*" if username else "the credential hygiene findings"
    return message(f":hourglass_flowing_sand: {doing} {whom}… the answer follows here{about}.")


def already_received() -> dict:
    return message("This request was received already; it was not queued again.")


def confirm_offboard(username: str, confirmation_id: str, minutes: int) -> dict:
    question = (
        f":warning: Offboard *{escape(username)}*? This deletes the user, its keys, "
        "console login, MFA devices and policies, and revokes its sessions. It cannot be "
        "undone."
    )
    buttons = {
        "type": "actions",
        "elements": [
            {
                "type": "button",
                "style": "danger",
                "action_id": CONFIRM_ACTION,
                "value": confirmation_id,
                "text": {"type": "plain_text", "text": f"Offboard {username}"[:75]},
            },
            {
                "type": "button",
                "action_id": CANCEL_ACTION,
                "value": confirmation_id,
                "text": {"type": "plain_text", "text": "Cancel"},
            },
        ],
    }
    return message(
        f"Offboard {username}? Confirm within {minutes} minutes.",
        [
            section(question),
            buttons,
            context(f"Only you can confirm, once, within {minutes} minutes."),
        ],
    )


def notice(text: str, *, replace_original: bool = False) -> dict:
    return message(text, replace_original=replace_original)


def not_linked(member: str) -> dict:
    return message(
        f":link: <@{escape(member)}> is not linked to a managed user, so there is no one to ask "
        "for; an operator links them when onboarding their user."
    )


def no_link(command: str) -> dict:
    return message(
        f":link: You are not linked to a managed user, so `{command} request` has no one to ask "
        "for. An operator links you when onboarding your user: "
        f"`{command} onboard <user> <group>... <@you>` (or `slack_user` in `POST /users`)."
    )
