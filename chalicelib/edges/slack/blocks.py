"""Block Kit primitives every Slack message is built of: the edge's replies and each capability's
messages. Slack's limits are kept here (a section's 3000 characters, a header's 150, a field's
2000, ten fields), and ``escape`` is what every person's text and value read goes through where
Slack reads mrkdwn, so markup in a reason is shown, never acted on.
"""

from __future__ import annotations

from typing import Any

EPHEMERAL, IN_CHANNEL = "ephemeral", "in_channel"
# A section's text holds 3000 characters: a chunk of a config plus its lead and fences fits.
CHUNK = 2900
CONFIG_SECTIONS = 20  # of the 50 blocks a message may hold


def escape(text: Any) -> str:
    """Slack's mrkdwn treats &, < and > as markup."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def section(text: str) -> dict:
    return {"type": "section", "text": {"type": "mrkdwn", "text": text[:3000]}}


def context(text: str) -> dict:
    return {"type": "context", "elements": [{"type": "mrkdwn", "text": text[:3000]}]}


def header(text: str) -> dict:
    return {"type": "header", "text": {"type": "plain_text", "text": text[:150]}}


def fields(pairs: list[tuple[str, str]]) -> dict:
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
        "blocks": blocks or [section(text)],
        **extra,
    }


def listed(items: list[str], empty: str = "none") -> str:
    """``items`` as code, one a line; ``empty`` in italics when there is none."""
    return "\n".join(f"`{escape(item)}`" for item in items) if items else f"_{empty}_"


def capped(items: list[str], limit: int = CHUNK) -> str:
    """``items`` one a line, as code, within ``limit`` characters."""
    lines: list[str] = []
    for shown, item in enumerate(items):
        line = f"`{escape(item)}`"
        if sum(len(kept) + 1 for kept in lines) + len(line) > limit - 20:
            lines.append(f"_…and {len(items) - shown} more_")
            break
        lines.append(line)
    return "\n".join(lines)


def config_sections(
    username: str,
    config: str,
    lead: str = "For `~/.aws/config`:",
    limit: int = CONFIG_SECTIONS,
    form: str = "text",
) -> list[dict]:
    """The config (or another text) as code, cut between lines into sections Slack accepts."""
    chunks = [""]
    for line in escape(config).splitlines(keepends=True):
        if chunks[-1] and len(chunks[-1]) + len(line) > CHUNK:
            chunks.append("")
        chunks[-1] += line[:CHUNK]
    sections = [
        section((f"{lead}\n" if n == 0 else "") + f"```{chunk}```")
        for n, chunk in enumerate(chunks[:limit])
    ]
    if len(chunks) > limit:
        route = f"GET /users/{escape(username)}/aws-config?format={form}"
        sections.append(section(f"_…cut here: `{route}` answers the whole of it._"))
    return sections


WELCOME_CODE = 12  # sections for the config and as many for the merge script: 50 blocks in all


def welcome_step(username: str, step: dict, lead: str) -> list[dict]:
    """A welcome step that carries no secret: the config (and its merge script), or a line with
    its command or URL. The requester's pack and the person's direct message both show them."""
    if step["step"] == "aws_config":
        return [
            section(lead),
            *config_sections(username, step["config"], limit=WELCOME_CODE),
            *config_sections(
                username,
                step["merge"],
                "Or run this script to merge them into an existing `~/.aws/config`:",
                limit=WELCOME_CODE,
                form="shell",
            ),
        ]
    extra = step.get("command") or step.get("url")
    return [section(lead + (f"\n`{escape(extra)}`" if extra else ""))]
