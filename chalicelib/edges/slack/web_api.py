"""Slack's Web API, as the approvals use it: channel messages and their updates, direct messages,
and the members of a user group. Through slack_sdk's WebClient with the bot token (a secret) and
a configurable base URL (the local stack's stand-in). Slack's rate limits (HTTP 429 with
Retry-After) are waited out and retried by slack_sdk's retry handler; a method Slack still
refuses is an UpstreamError, so queued work is retried and finally set aside.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from chalicelib.kernel.errors import UpstreamError

# Its own logger, never below INFO: slack_sdk logs request bodies at DEBUG.
_sdk_logger = logging.getLogger("chalicelib.edges.slack.web_api.sdk")
_sdk_logger.setLevel(logging.INFO)
logger = logging.getLogger(__name__)
RATE_LIMIT_RETRIES = 3


class SlackApi:
    def __init__(self, token: Callable[[], str], base_url: str, timeout: int = 10) -> None:
        self._token = token
        self.base_url = base_url
        self.timeout = timeout
        self._client: Any = None

    @property
    def client(self) -> Any:
        if self._client is None:
            from slack_sdk import WebClient
            from slack_sdk.http_retry.builtin_handlers import (
                ConnectionErrorRetryHandler,
                RateLimitErrorRetryHandler,
            )

            self._client = WebClient(
                token=self._token(),
                base_url=self.base_url,
                timeout=self.timeout,
                logger=_sdk_logger,
                retry_handlers=[
                    ConnectionErrorRetryHandler(),
                    RateLimitErrorRetryHandler(max_retry_count=RATE_LIMIT_RETRIES),
                ],
            )
        return self._client

    def _call(self, method: str, form: bool = False, **args: Any) -> dict:
        """Slack's ``method``: JSON for the methods that write, a form for those that read
        (Slack takes JSON bodies only for the former)."""
        from slack_sdk.errors import SlackApiError

        body = {"data": args} if form else {"json": args}
        try:
            response = self.client.api_call(method, **body)
        except SlackApiError as error:
            answer = getattr(error.response, "data", {}) or {}
            raise UpstreamError(
                f"Slack refused {method}: {answer.get('error', error.response.status_code)}"
            ) from None
        except Exception as error:  # no answer at all
            raise UpstreamError(f"could not reach Slack's {method}") from error
        return dict(response.data) if isinstance(response.data, dict) else {}

    def post_message(self, channel: str, text: str, blocks: list[dict]) -> dict:
        """A message in ``channel``: its channel id and ``ts`` (what chat.update needs)."""
        answer = self._call("chat.postMessage", channel=channel, text=text, blocks=blocks)
        return {"channel": answer.get("channel", channel), "ts": answer.get("ts", "")}

    def update_message(self, channel: str, ts: str, text: str, blocks: list[dict]) -> None:
        self._call("chat.update", channel=channel, ts=ts, text=text, blocks=blocks)

    def direct_message(self, member: str, text: str, blocks: list[dict]) -> None:
        opened = self._call("conversations.open", users=member)
        channel = (opened.get("channel") or {}).get("id") or member
        self._call("chat.postMessage", channel=channel, text=text, blocks=blocks)

    def user_group_members(self, user_group: str) -> list[str]:
        answer = self._call("usergroups.users.list", form=True, usergroup=user_group)
        return [str(member) for member in answer.get("users", [])]
