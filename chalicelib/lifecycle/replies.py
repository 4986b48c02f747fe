"""The Slack answers of lifecycle's changes and queries: a change's result (in the channel) and,
to the requester only, the temporary password, welcome pack and ``~/.aws/config`` text; a
user's status; a dry run's plan.
"""

from __future__ import annotations

from chalicelib.edges.slack.blocks import (
    CHUNK,
    IN_CHANNEL,
    capped,
    config_sections,
    context,
    escape,
    fields,
    header,
    listed,
    message,
    section,
    welcome_step,
)
from chalicelib.kernel.catalogue import ACTIONS
from chalicelib.lifecycle.access_map import aws_credentials


def _user_fields(user: dict) -> list[dict]:
    keys = user.get("access_keys", [])
    active = sum(1 for key in keys if key.get("status") == "Active")
    status = user.get("status", "")
    if user.get("suspended_until"):
        status += f" until {user['suspended_until']}"
    grants = [f"{g['group']} until {g['expires_at']}" for g in user.get("grants", [])]
    blocks = [
        fields(
            [
                ("Status", escape(status)),
                ("Console", "yes" if user.get("console") else "no"),
                ("MFA", "yes" if user.get("mfa") else "no"),
                ("Access keys", f"{active} active of {len(keys)}"),
            ]
        ),
        fields(
            [
                ("Groups", listed(user.get("groups", []))),
                ("Roles it may assume", listed(user.get("roles", []))),
            ]
        ),
    ]
    if grants:
        blocks.append(section("*Time-bound grants*\n" + listed(grants)))
    return blocks


def _footer(ticket: str, slack_user: str) -> dict:
    return context(f"ticket `{escape(ticket)}` · requested by <@{escape(slack_user)}>")


def _changed(action: str, answer: dict, user: dict) -> str:
    """One line saying what the change did."""
    if action == "onboard":
        return f"Created under the managed path, in {', '.join(user['groups']) or 'no group'}."
    if action == "move":
        return f"Groups are now exactly: {', '.join(user['groups']) or 'none'}."
    if action == "suspend":
        until = f" until {user['suspended_until']}" if user.get("suspended_until") else ""
        return (
            f"Suspended{until}: groups, active access keys and console login taken away "
            "(remembered for a restore)."
        )
    if action == "restore":
        return "Groups, access keys and console login given back as they were."
    if action == "grant":
        return (
            "Time-bound access: "
            + ", ".join(f"{g['group']} until {g['expires_at']}" for g in user.get("grants", []))
            + "."
        )
    return ""


def result(action: str, answer: dict, ticket: str, slack_user: str) -> list[dict]:
    """The messages for a change that succeeded: the result in the channel and, to the
    requester only, the temporary password, the ~/.aws/config text and the profiles to remove
    from it, when there are any."""
    if action == "offboard":
        return [_offboarded(answer, ticket, slack_user)]
    user = answer.get("user", answer)
    username = user["username"]
    blocks = [
        header(f"{username} {ACTIONS[action].done}"),
        section(escape(_changed(action, answer, user))),
        *_user_fields(user),
    ]
    revoked = answer.get("sessions_revoked_in") or user.get("sessions_revoked_in")
    if revoked:
        blocks.append(section("*Sessions revoked in* " + ", ".join(map(escape, revoked))))
    blocks += _revocation_notes({**user, **answer})
    blocks.append(_footer(ticket, slack_user))
    messages = [message(f"{username} {ACTIONS[action].done}", blocks, response_type=IN_CHANNEL)]
    private = _credentials(action, answer, user)
    if not private:
        return messages
    # Sign-in details come before the result; a changed config follows it.
    return [private, *messages] if action in _SIGN_IN else [*messages, private]


_SIGN_IN = ("onboard", "restore")  # the changes that may hand out a temporary password


def _credentials(action: str, answer: dict, user: dict) -> dict | None:
    """What only the requester sees: a temporary password, the new ``~/.aws/config`` text and
    the profiles the change made useless (after onboard, move, grant and restore)."""
    if action not in ("onboard", "move", "grant", "restore"):
        return None
    username = user["username"]
    if answer.get("welcome"):
        return message(
            f"Welcome pack of {username} (only you see this)", _welcome(answer, username)
        )
    password = answer.get("temporary_password")
    config = answer.get("aws_config")
    to_remove = answer.get("profiles_to_remove")
    blocks = []
    if password:
        blocks.append(
            section(
                f":key: Temporary console password of *{escape(username)}* "
                f"(only you see this; it must be changed at first sign-in):\n"
                f"```{escape(password)}```"
            )
        )
    elif user.get("console") and action in _SIGN_IN:
        blocks.append(
            section(
                "No temporary password here: it was handed out when this request "
                "first ran and is never stored."
            )
        )
    if config:
        blocks += config_sections(username, config)
    if to_remove:
        blocks.append(
            section(
                f":wastebasket: *{escape(username)}* can no longer assume these; "
                "remove their profiles from `~/.aws/config`:\n" + capped(to_remove)
            )
        )
    elif to_remove is not None:
        blocks.append(context("No profile to remove."))
    if not blocks:
        return None
    about = "Sign-in details" if action in _SIGN_IN else "New AWS config"
    return message(f"{about} of {username} (only you see this)", blocks)


def _welcome(answer: dict, username: str) -> list[dict]:
    """The onboarding's welcome steps in their order, the secrets inline (this message is the
    requester's alone): what to hand the new person."""
    blocks = [
        header(f"Welcome pack of {username}"),
        context("Only you see this. Hand it to the person privately; it is shown once."),
    ]
    for number, step in enumerate(answer["welcome"], start=1):
        lead = f"*{number}. {escape(step['title'])}*\n{escape(step['text'])}"
        kind = step["step"]
        if kind == "password":
            password = answer.get("temporary_password")
            blocks.append(
                section(f"{lead}\n```{escape(password)}```")
                if password
                else section(
                    f"{lead}\n_Not here: it was handed out when this request first ran and is never stored._"
                )
            )
        elif kind == "access_key":
            key = answer.get("access_key")
            blocks.append(
                section(
                    f"{lead}\n```"
                    + escape(
                        aws_credentials(
                            step["profile"], key["access_key_id"], key["secret_access_key"]
                        )
                    )
                    + "```"
                )
                if key
                else section(
                    f"{lead}\n_Not here: it was handed out when this request first ran and is never stored._"
                )
            )
        else:
            blocks += welcome_step(username, step, lead)
    return blocks


def _offboarded(answer: dict, ticket: str, slack_user: str) -> dict:
    removed = answer.get("removed", {})
    pairs = [
        (kind.replace("_", " ").capitalize(), listed(ids))
        for kind, ids in sorted(removed.items())
        if kind != "user"
    ]
    blocks = [
        header(f"{answer['username']} offboarded"),
        section(
            "Access went first (groups, keys, console, live sessions), then every "
            "dependent object, then the user."
        ),
    ]
    for start in range(0, len(pairs), 10):
        blocks.append(fields(pairs[start : start + 10]))
    revoked = answer.get("sessions_revoked_in", [])
    blocks.append(section("*Sessions revoked in* " + (", ".join(map(escape, revoked)) or "_none_")))
    blocks += _revocation_notes(answer)
    blocks.append(_footer(ticket, slack_user))
    return message(f"{answer['username']} offboarded", blocks, response_type=IN_CHANNEL)


def _revocation_notes(answer: dict) -> list[dict]:
    """What a revocation still owes, and where a whole role was cut off: never left unsaid."""
    notes = []
    owed = answer.get("sessions_revocation_pending") or {}
    if owed:
        notes.append(
            section(
                (
                    ":warning: *Revocation still owed* (retried every 5 minutes): "
                    + "; ".join(f"{escape(a)}: {escape(why)}" for a, why in sorted(owed.items()))
                )[:CHUNK]
            )
        )
    cut = answer.get("sessions_revoked_by_role_cutoff")
    if cut:
        notes.append(
            section(
                "*Whole roles cut off in* "
                + ", ".join(map(escape, cut))
                + " (no room for one more person: every older session of those roles is denied; "
                "people still entitled assume them again)"
            )
        )
    return notes


def status(user: dict) -> dict:
    return message(
        f"{user['username']}: {user.get('status')}",
        [header(user["username"]), *_user_fields(user)],
    )


# plans (--dry-run)
_PLAN_BLOCKS = 40  # Slack takes 50 blocks in a message; the rest is summarised


def plan(answer: dict, slack_user: str) -> dict:
    """A dry run's plan, to the requester only: every call by wave and account."""
    title = f"Plan: {answer['action']} {answer['username']}"
    waves = answer["waves"]
    before = answer.get("state_before")
    state = (
        f"now {before['status']}, in {', '.join(before['groups']) or 'no group'}"
        if before
        else "does not exist yet"
    )
    blocks = [
        header(title),
        section(
            f":mag: Dry run: nothing was changed. {answer['calls']} call(s) in "
            f"{len(waves)} wave(s); *{escape(answer['username'])}* {escape(state)}."
        ),
    ]
    for wave in waves:
        for account, calls in wave["accounts"].items():
            lines = [
                f"`{escape(call['operation'])}` {escape(_params(call['params']))}" for call in calls
            ]
            blocks.append(
                section(f"*Wave {wave['wave']}* · account `{escape(account)}`\n" + "\n".join(lines))
            )
    if len(blocks) > _PLAN_BLOCKS:
        hidden = len(blocks) - _PLAN_BLOCKS
        blocks = blocks[:_PLAN_BLOCKS] + [
            section(f"_…and {hidden} more; the REST API's `dry_run` answer has all of it._")
        ]
    blocks.append(_footer(answer["ticket"], slack_user))
    return message(title, blocks)


def _params(params: dict) -> str:
    """A call's parameters on one line; documents are named, not shown."""
    shown = [
        f"{key}={'(document)' if key.endswith('Document') else str(value)[:80]}"
        for key, value in params.items()
        if key != "UserName"
    ]
    return " ".join(shown)
