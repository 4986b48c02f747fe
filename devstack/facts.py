"""The running local stack as the command-line helpers beside ``make run`` find it: the facts
file it writes, and the one message for a stack that is not running.

Light on purpose (the standard library only): the Slack sender, the clock and the SCIM identity
provider answer in well under two seconds because importing them starts nothing of moto."""

from __future__ import annotations

import json
import os
import sys
import urllib.error
import urllib.request
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[1]
STAGE = "dev"
NOT_RUNNING = "the local stack is not running: start `make run`"


class StackDown(Exception):
    """The local stack's facts are missing, or its servers do not answer."""

    def __init__(self, detail: str = "") -> None:
        super().__init__(NOT_RUNNING + (f" ({detail})" if detail else ""))


def facts_file() -> Path:
    return Path(os.environ.get("STACK_FILE", PROJECT / ".local" / "stack.json"))


def read() -> dict:
    """The facts ``make run`` wrote; StackDown when there are none."""
    path = facts_file()
    try:
        return json.loads(path.read_text())
    except FileNotFoundError:
        raise StackDown(f"{path} not found") from None
    except (OSError, ValueError) as error:
        raise StackDown(f"{path} cannot be read: {error}") from None


def refused(error: BaseException) -> bool:
    """Whether ``error`` is a connection nobody accepted: the stack's servers are gone."""
    return isinstance(getattr(error, "reason", error), ConnectionRefusedError)


def check(url: str) -> None:
    """StackDown unless something answers at ``url`` (any HTTP status counts)."""
    try:
        urllib.request.urlopen(url, timeout=5).close()
    except urllib.error.HTTPError:
        return
    except OSError as error:
        raise StackDown(f"nothing answers at {url}") from error


def say_down(error: StackDown) -> int:
    """The message on stderr, and the exit code of a helper that found the stack down."""
    print(error, file=sys.stderr, flush=True)
    return 3
