"""Helpers of the requests-and-approvals tests: the Slack Web API stand-in beside the in-process
moto, signed commands and clicks as Slack sends them, and the worker run as Lambda's event source
would (the fixtures are ``approvals_env`` and ``flow``; modules import both)."""

from __future__ import annotations

import dataclasses
import html
import json
from typing import Any

import boto3

from chalicelib import bootstrap
from chalicelib.aws.clients import AwsClients
from chalicelib.settings import Settings
from devstack.local import REGION, shared_session
from devstack.queue_poller import Poller
from devstack.slack_api import SlackApiStandIn
from devstack.slack_command import ResponseCatcher, click_body, command_body, sign
from tests.support.slack import ephemeral

OPERATOR, APPROVER, NOBODY = "U0LOCAL0001", "U0LOCAL0002", "U0LOCAL0003"
STRANGER = "U0STRANGER9"
CHANNEL = "C0LOCALAPPROVALS"
GROUP = "BreakGlassGroup"
# What the in-process tiers start from (tests/conftest.py): one approval of either approver.
IN_PROCESS_APPROVAL_POLICIES = json.dumps(
    {
        GROUP: {
            "approvers": [OPERATOR, APPROVER],
            "channel": CHANNEL,
            "break_glass": True,
            "pending_hours": 3,
            "on_call": {"escalation_policy": "PLOCALEP", "max_level": 1},
            "extensions": {"count": 2, "hours": 2, "notice_minutes": 30},
        }
    }
)


class Flow:
    """Slack's side of the approvals, and the app's worker and schedules, in one process."""

    def __init__(self, client: Any, aws: Any, standin: SlackApiStandIn, clock: Any) -> None:
        from app import app

        self.client = client
        self.aws = aws
        self.standin = standin
        self.clock = clock
        self.sqs = boto3.client("sqs", region_name=REGION)
        self.poller = Poller.for_app(app, client, self.sqs, wait_seconds=0)
        self.catcher = ResponseCatcher().__enter__()

    def close(self) -> None:
        self.catcher.__exit__(None, None, None)

    # the app's settings, for a test that needs another policy
    def policies(self, policies: dict, **settings: Any) -> None:
        current: Settings = bootstrap.services().settings
        changed = dataclasses.replace(
            current,
            capability_env={**current.capability_env, "APPROVAL_POLICIES": json.dumps(policies)},
            **settings,
        )
        bootstrap.use(
            bootstrap.build(changed, AwsClients(REGION, session=shared_session()), clock=self.clock)
        )

    # Slack's requests, signed as Slack signs them
    def command(self, text: str, user: str, trigger_id: str | None = None) -> Any:
        body = command_body(
            text, user_id=user, response_url=self.catcher.url(), trigger_id=trigger_id
        )
        return self._send("/slack/commands", body)

    def click(self, action_id: str, request_id: str, user: str) -> Any:
        body = click_body(action_id, request_id, user_id=user, response_url=self.catcher.url())
        return self._send("/slack/interactions", body)

    def approve(self, request_id: str, user: str) -> Any:
        return self.click("request_approve", request_id, user)

    def deny(self, request_id: str, user: str) -> Any:
        return self.click("request_deny", request_id, user)

    def _send(self, path: str, body: bytes) -> Any:
        response = self.client.http.post(
            path, headers=sign(self.aws.slack_signing_secret, body), body=body
        )
        is_json = response.headers.get("Content-Type", "").startswith("application/json")
        response.json = json.loads(response.body) if is_json and response.body else None
        return response

    # the people
    def onboard(
        self, name: str, member: str | None = None, ticket: str | None = None, console: bool = True
    ) -> None:
        """Onboard ``name`` (linked to Slack's ``member``) through the change runner, as the
        worker runs it; the welcome it sends is delivered, then forgotten by the stand-in."""
        from chalicelib.lifecycle.commands import OnboardRequest

        request = OnboardRequest(
            username=name,
            groups=["ChildDeveloperGroup"],
            ticket=ticket or f"T-{name}",
            requested_by="alice",
            console=console,
            slack_user=member,
        )
        bootstrap.services().operations.change("onboard", name, request)
        self.work()
        self.standin.reset()

    # the worker and the schedules
    def work(self, limit: int = 20) -> int:
        """Run the queued work until none is left; how many messages were done."""
        done = 0
        for _ in range(limit):
            ok, failed = self.poller.poll_once()
            if not ok and not failed:
                return done
            done += ok
        return done

    def fire(self, schedule: str) -> Any:
        event = self.client.events.generate_cw_event(
            source="aws.events",
            detail_type="Scheduled Event",
            detail={},
            resources=[f"rule/{schedule}"],
        )
        return self.client.lambda_.invoke(schedule, event).payload

    def replies(self) -> list[dict]:
        """Everything posted on response_url so far (taken)."""
        import queue

        found = []
        while True:
            try:
                found.append(self.catcher.next(timeout=0.2))
            except queue.Empty:
                return found

    # what the app did
    def calls(self, method: str | None = None) -> list[dict]:
        """The calls the stand-in answered (not those it refused with a rate limit)."""
        return [c for c in self.standin.recorded(method) if "answered" not in c]

    def channel_posts(self) -> list[dict]:
        return [
            c["args"] for c in self.calls("chat.postMessage") if c["args"]["channel"] == CHANNEL
        ]

    def channel_posts_to(self, channel: str) -> list[dict]:
        return [
            c["args"] for c in self.calls("chat.postMessage") if c["args"]["channel"] == channel
        ]

    def dms_to(self, member: str) -> list[dict]:
        channel = "D" + member[1:]
        return [
            c["args"] for c in self.calls("chat.postMessage") if c["args"]["channel"] == channel
        ]

    def updates(self) -> list[dict]:
        return [c["args"] for c in self.calls("chat.update")]

    def requests(self, **query: str) -> list[dict]:
        return bootstrap.services().approvals.search(query.get("status"), query.get("username"))

    def groups_of(self, username: str) -> list[str]:
        iam = boto3.client("iam", region_name=REGION)
        return sorted(g["GroupName"] for g in iam.list_groups_for_user(UserName=username)["Groups"])

    def audit(self, ticket: str) -> list[dict]:
        return bootstrap.services().state.audit_events(ticket=ticket)

    def link(
        self,
        username: str,
        member: str,
        groups: tuple[str, ...] = ("ChildDeveloperGroup",),
        email: str | None = None,
    ):
        """Onboard ``username`` as Slack member ``member`` through the change runner, and send
        the welcome it queues; the stand-in then forgets it, so a test sees what follows."""
        from chalicelib.lifecycle.commands import OnboardRequest

        request = OnboardRequest(
            username=username,
            groups=list(groups),
            ticket=f"T-{username}",
            requested_by="alice",
            slack_user=member,
            email=email,
        )
        answer = bootstrap.services().operations.change("onboard", username, request)
        self.work()
        self.standin.reset()
        return answer


def buttons(message: dict) -> dict[str, str]:
    """action_id -> value of the buttons in a Block Kit message."""
    found = {}
    for block in message.get("blocks", []):
        if block.get("type") == "actions":
            for element in block["elements"]:
                found[element["action_id"]] = element["value"]
    return found


def text_of(message: dict) -> str:
    return html.unescape(json.dumps(message))


def ask(flow, member=NOBODY, text=f"request {GROUP} 2 deploy hotfix INC-1"):
    """``member`` asks in Slack; the worker runs; the answer only they see."""
    answer = ephemeral(flow.command(text, member))
    flow.work()
    return answer


def pending_id(flow) -> str:
    """The id of the one pending request."""
    [request] = flow.requests(status="pending")
    return request["id"]
