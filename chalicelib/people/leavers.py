"""What the service lets go of a person once they are offboarded, so that nothing kept for them
acts for whoever is given their name next: their Slack member link here, and what each
capability keeps for them (pending requests, open review items), through the forgetters the
composition root gives (each ``(name, record, request, answer) -> Any``).

A failure here fails the offboarding's answer (its user is gone; what is left is named) and a
retry of the same ticket does it again: every step tolerates being done already.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping
from typing import Any

from chalicelib.kernel.errors import AppError, UpstreamError
from chalicelib.kernel.identity import PERSON
from chalicelib.kernel.waves import wave

Forgetter = Callable[[str, dict, Any, dict], Any]


class Leavers:
    def __init__(
        self,
        unlink_member: Callable[[str, str, str | None], Any],
        forgetters: Mapping[str, Forgetter],
    ) -> None:
        self.unlink_member = unlink_member  # the state store's: the Slack member link
        self.forgetters = forgetters  # what each capability lets go of, by name

    def forget(self, name: str, record: dict, request: Any, answer: dict) -> None:
        """Let go of what is kept for ``name``, offboarded by ``request`` (``record``: their
        final record; ``answer``: the offboarding's, naming where sessions were revoked)."""
        tasks: dict[str, Callable[[], Any]] = {
            what: functools.partial(forget, name, record, request, answer)
            for what, forget in self.forgetters.items()
        }
        member = record.get("slack_user")
        if member:
            tasks["link"] = lambda: self.unlink_member(member, name, record.get(PERSON))
        try:
            wave(tasks)
        except AppError as error:
            raise UpstreamError(
                f"{name} was offboarded, but what is kept for them was not all let go "
                f"({error.message}); retry with the same ticket"
            ) from error
