"""Every message the Slack entry point sends, as Block Kit, and the one mapping of the app's errors
to Slack replies (edges/http.py is its counterpart for HTTP). Posting to ``response_url``: response_url.py.

Results of changes go to the channel; anything only the requester should see (help, refusals,
errors, status, and above all a temporary password) is ephemeral.
"""

from __future__ import annotations

from typing import Any

from chalicelib.edges.slack.grammar import VERBS
from chalicelib.kernel.catalogue import ACTIONS, SLACK_ACTIONS
from chalicelib.kernel.errors import AppError
from chalicelib.lifecycle.access_map import aws_credentials

EPHEMERAL, IN_CHANNEL = "ephemeral", "in_channel"
CONFIRM_ACTION, CANCEL_ACTION = "offboard_confirm", "offboard_cancel"
_LOOKING_UP = "Looking up"  # status: a query, not one of the catalogue's changes


def escape(text: Any) -> str:
    """Slack's mrkdwn treats &, < and > as markup."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def _text(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def _context(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:3000]}]}


def _header(text: str) -> dict:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150]}}


def _fields(pairs: list[tuple[str, str]]) -> dict:
    return {
        "type": "section",
        "fields": [{"type": "mrkdwn", "text": f"*{k}*\n{v}"[:2000]} for k, v in pairs[:10]],
    }


def message(
    text: str, blocks: list[dict] | None = None, *, response_type: str = EPHEMERAL, **extra: Any
) -> dict:
    """A message: ``text`` is what notifications show, ``blocks`` what Slack renders."""
    return {
        "response_type": response_type,
        "text": text,
        "blocks": blocks or [_text(text)],
        **extra,
    }


def _list(items: list[str], empty: str = "none") -> str:
    return "\n".join(f"`{escape(item)}`" for item in items) if items else f"_{empty}_"


# help, refusals, acknowledgements
def help_text(command: str, verb: str = "", problem: str = "") -> dict:
    verbs = [verb] if verb else list(VERBS)
    usages = {name: escape(f"{command} {name} {VERBS[name][0]}") for name in verbs}
    lines = [f"`{usages[name]}`  {escape(VERBS[name][1])}" for name in verbs]
    blocks = []
    if problem:
        blocks.append(_text(f":warning: {escape(problem)}"))
    blocks.append(_text("\n".join(lines)))
    if not verb:
        blocks.append(
            _context(
                "`status` and `help` are open to everyone, and `request`, `requests` and "
                "`done` to everyone linked to a user, for that user; the other verbs only to "
                "the people this service lists. Add `--dry-run` to a change of a named user "
                "to see its plan without changing anything."
            )
        )
    summary = f"{escape(problem)}. " if problem else ""
    return message(summary + "Usage: " + "; ".join(usages.values()), blocks)


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
            _text(question),
            buttons,
            _context(f"Only you can confirm, once, within {minutes} minutes."),
        ],
    )


def notice(text: str, *, replace_original: bool = False) -> dict:
    return message(text, replace_original=replace_original)


# results
def _user_fields(user: dict) -> list[dict]:
    keys = user.get("access_keys", [])
    active = sum(1 for key in keys if key.get("status") == "Active")
    status = user.get("status", "")
    if user.get("suspended_until"):
        status += f" until {user['suspended_until']}"
    grants = [f"{g['group']} until {g['expires_at']}" for g in user.get("grants", [])]
    blocks = [
        _fields(
            [
                ("Status", escape(status)),
                ("Console", "yes" if user.get("console") else "no"),
                ("MFA", "yes" if user.get("mfa") else "no"),
                ("Access keys", f"{active} active of {len(keys)}"),
            ]
        ),
        _fields(
            [
                ("Groups", _list(user.get("groups", []))),
                ("Roles it may assume", _list(user.get("roles", []))),
            ]
        ),
    ]
    if grants:
        blocks.append(_text("*Time-bound grants*\n" + _list(grants)))
    return blocks


def _footer(ticket: str, slack_user: str) -> dict:
    return _context(f"ticket `{escape(ticket)}` · requested by <@{escape(slack_user)}>")


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
        _header(f"{username} {ACTIONS[action].done}"),
        _text(escape(_changed(action, answer, user))),
        *_user_fields(user),
    ]
    revoked = answer.get("sessions_revoked_in") or user.get("sessions_revoked_in")
    if revoked:
        blocks.append(_text("*Sessions revoked in* " + ", ".join(map(escape, revoked))))
    blocks += _revocation_notes({**user, **answer})
    blocks.append(_footer(ticket, slack_user))
    messages = [message(f"{username} {ACTIONS[action].done}", blocks, response_type=IN_CHANNEL)]
    private = _credentials(action, answer, user)
    if not private:
        return messages
    # Sign-in details come before the result; a changed config follows it.
    return [private, *messages] if action in _SIGN_IN else [*messages, private]


# A section's text holds 3000 characters: a chunk of the config plus its lead and fences fits.
_CHUNK = 2900
_CONFIG_SECTIONS = 20  # of the 50 blocks a message may hold
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
            _text(
                f":key: Temporary console password of *{escape(username)}* "
                f"(only you see this; it must be changed at first sign-in):\n"
                f"```{escape(password)}```"
            )
        )
    elif user.get("console") and action in _SIGN_IN:
        blocks.append(
            _text(
                "No temporary password here: it was handed out when this request "
                "first ran and is never stored."
            )
        )
    if config:
        blocks += _config_sections(username, config)
    if to_remove:
        blocks.append(
            _text(
                f":wastebasket: *{escape(username)}* can no longer assume these; "
                "remove their profiles from `~/.aws/config`:\n" + _capped(to_remove)
            )
        )
    elif to_remove is not None:
        blocks.append(_context("No profile to remove."))
    if not blocks:
        return None
    about = "Sign-in details" if action in _SIGN_IN else "New AWS config"
    return message(f"{about} of {username} (only you see this)", blocks)


def _config_sections(
    username: str,
    config: str,
    lead: str = "For `~/.aws/config`:",
    limit: int = _CONFIG_SECTIONS,
    form: str = "text",
) -> list[dict]:
    """The config (or another text) as code, cut between lines into sections Slack accepts."""
    chunks = [""]
    for line in escape(config).splitlines(keepends=True):
        if chunks[-1] and len(chunks[-1]) + len(line) > _CHUNK:
            chunks.append("")
        chunks[-1] += line[:_CHUNK]
    sections = [
        _text((f"{lead}\n" if n == 0 else "") + f"```{chunk}```")
        for n, chunk in enumerate(chunks[:limit])
    ]
    if len(chunks) > limit:
        route = f"GET /users/{escape(username)}/aws-config?format={form}"
        sections.append(_text(f"_…cut here: `{route}` answers the whole of it._"))
    return sections


_WELCOME_CODE = 12  # sections for the config and as many for the merge script: 50 blocks in all


def _welcome(answer: dict, username: str) -> list[dict]:
    """The onboarding's welcome steps in their order, the secrets inline (this message is the
    requester's alone): what to hand the new person."""
    blocks = [
        _header(f"Welcome pack of {username}"),
        _context("Only you see this. Hand it to the person privately; it is shown once."),
    ]
    for number, step in enumerate(answer["welcome"], start=1):
        lead = f"*{number}. {escape(step['title'])}*\n{escape(step['text'])}"
        kind = step["step"]
        if kind == "password":
            password = answer.get("temporary_password")
            blocks.append(
                _text(f"{lead}\n```{escape(password)}```")
                if password
                else _text(
                    f"{lead}\n_Not here: it was handed out when this request first ran and is never stored._"
                )
            )
        elif kind == "access_key":
            key = answer.get("access_key")
            blocks.append(
                _text(
                    f"{lead}\n```"
                    + escape(
                        aws_credentials(
                            step["profile"], key["access_key_id"], key["secret_access_key"]
                        )
                    )
                    + "```"
                )
                if key
                else _text(
                    f"{lead}\n_Not here: it was handed out when this request first ran and is never stored._"
                )
            )
        else:
            blocks += welcome_step(username, step, lead)
    return blocks


def welcome_step(username: str, step: dict, lead: str) -> list[dict]:
    """A welcome step that carries no secret: the config (and its merge script), or a line with
    its command or URL. The requester's pack and the person's direct message both show them."""
    if step["step"] == "aws_config":
        return [
            _text(lead),
            *_config_sections(username, step["config"], limit=_WELCOME_CODE),
            *_config_sections(
                username,
                step["merge"],
                "Or run this script to merge them into an existing `~/.aws/config`:",
                limit=_WELCOME_CODE,
                form="shell",
            ),
        ]
    extra = step.get("command") or step.get("url")
    return [_text(lead + (f"\n`{escape(extra)}`" if extra else ""))]


def _capped(items: list[str], limit: int = _CHUNK) -> str:
    """``items`` one a line, as code, within ``limit`` characters."""
    lines: list[str] = []
    for shown, item in enumerate(items):
        line = f"`{escape(item)}`"
        if sum(len(kept) + 1 for kept in lines) + len(line) > limit - 20:
            lines.append(f"_…and {len(items) - shown} more_")
            break
        lines.append(line)
    return "\n".join(lines)


def _offboarded(answer: dict, ticket: str, slack_user: str) -> dict:
    removed = answer.get("removed", {})
    pairs = [
        (kind.replace("_", " ").capitalize(), _list(ids))
        for kind, ids in sorted(removed.items())
        if kind != "user"
    ]
    blocks = [
        _header(f"{answer['username']} offboarded"),
        _text(
            "Access went first (groups, keys, console, live sessions), then every "
            "dependent object, then the user."
        ),
    ]
    for start in range(0, len(pairs), 10):
        blocks.append(_fields(pairs[start : start + 10]))
    revoked = answer.get("sessions_revoked_in", [])
    blocks.append(_text("*Sessions revoked in* " + (", ".join(map(escape, revoked)) or "_none_")))
    blocks += _revocation_notes(answer)
    blocks.append(_footer(ticket, slack_user))
    return message(f"{answer['username']} offboarded", blocks, response_type=IN_CHANNEL)


def _revocation_notes(answer: dict) -> list[dict]:
    """What a revocation still owes, and where a whole role was cut off: never left unsaid."""
    notes = []
    owed = answer.get("sessions_revocation_pending") or {}
    if owed:
        notes.append(
            _text(
                (
                    ":warning: *Revocation still owed* (retried every 5 minutes): "
                    + "; ".join(f"{escape(a)}: {escape(why)}" for a, why in sorted(owed.items()))
                )[:_CHUNK]
            )
        )
    cut = answer.get("sessions_revoked_by_role_cutoff")
    if cut:
        notes.append(
            _text(
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
        [_header(user["username"]), *_user_fields(user)],
    )


_FINDINGS = 40  # lines of findings in one message; the rest is counted


def hygiene(findings: list[dict], username: str | None = None) -> dict:
    """Credential hygiene findings (``GET /hygiene``), only for the requester."""
    whom = escape(username) if username else "managed users"
    if not findings:
        return message(f":white_check_mark: No credential hygiene findings for {whom}.")
    lines = []
    for f in findings[:_FINDINGS]:
        due = f" on {f['due']}" if f.get("due") else ""
        lines.append(
            f"`{escape(f['username'])}` {escape(f['rule'])} on `{escape(f['credential'])}` "
            f"since {f['since']}: next *{escape(f['next_action'])}*{due}"
        )
    if len(findings) > _FINDINGS:
        lines.append(f"_… and {len(findings) - _FINDINGS} more (GET /hygiene lists them all)_")
    text = f"Credential hygiene findings for {whom}: {len(findings)}"
    return message(text, [_header("Credential hygiene"), _text("\n".join(lines))])


# the one mapping of the app's errors to Slack replies
_LEADS = {
    400: ":warning: Cannot do that",
    401: ":no_entry: Not allowed",
    403: ":no_entry: Refused",
    404: ":mag: Not found",
    409: ":warning: Conflict",
}


def for_error(error: AppError, doing: str, *, will_retry: bool = False, attempts: int = 0) -> dict:
    """What the requester reads when ``doing`` (e.g. "onboard pete") failed with ``error``.

    A rejection (4xx) is final. A failure (5xx) in the queue worker is retried (``will_retry``)
    until the message goes to the dead-letter queue after ``attempts``; one at acknowledgement
    time is simply reported.
    """
    what = f"`{escape(doing)}`"
    if error.status < 500:
        lead = _LEADS.get(error.status, ":warning: Cannot do that")
        return message(f"{lead}: {what}: {escape(error.message)}")
    if will_retry:
        return message(
            f":warning: {what} failed: {escape(error.message)}. It is retried "
            "automatically; the result follows here."
        )
    if attempts:
        return message(
            f":x: {what} failed {attempts} times: {escape(error.message)}. It was set "
            "aside for an operator (dead-letter queue); run the command again to "
            "start over."
        )
    if not error.retryable:  # the message says what an operator must fix first
        return message(f":x: {what} failed: {escape(error.message)}")
    return message(
        f":x: {what} failed: {escape(error.message)}. Nothing was queued; run the command again."
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
        _header(title),
        _text(
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
                _text(f"*Wave {wave['wave']}* · account `{escape(account)}`\n" + "\n".join(lines))
            )
    if len(blocks) > _PLAN_BLOCKS:
        hidden = len(blocks) - _PLAN_BLOCKS
        blocks = blocks[:_PLAN_BLOCKS] + [
            _text(f"_…and {hidden} more; the REST API's `dry_run` answer has all of it._")
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
