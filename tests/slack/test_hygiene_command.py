"""``/access hygiene [user]``: a query open to the workspace like ``status``, acknowledged at once
and answered only to the requester, through the queue worker."""

from __future__ import annotations

import datetime
import html
import json

import boto3
import pytest

from chalicelib.edges.slack import grammar, replies
from devstack.queue_poller import Poller
from devstack.slack_command import ResponseCatcher, command_body, sign

STRANGER = "U0STRANGER1"


@pytest.fixture
def catcher():
    with ResponseCatcher() as catcher:
        yield catcher


def command(client, secret: str, text: str, url: str) -> dict:
    body = command_body(text, user_id=STRANGER, response_url=url)
    response = client.http.post("/slack/commands", headers=sign(secret, body), body=body)
    assert response.status_code == 200, response.body
    answer = json.loads(response.body)
    assert answer["response_type"] == "ephemeral"
    return answer


def test_the_grammar_takes_an_optional_user():
    assert grammar.parse_command("hygiene") == grammar.Command("hygiene")
    assert grammar.parse_command("hygiene pete").username == "pete"
    assert not grammar.parse_command("hygiene").changes
    with pytest.raises(grammar.Usage):
        grammar.parse_command("hygiene pete olga")
    with pytest.raises(grammar.Usage):
        grammar.parse_command("hygiene --dry-run")
    assert "hygiene" in replies.help_text("/access")["text"]


def test_findings_are_posted_only_to_the_requester(client, aws, api, clock, catcher):
    from app import app

    body = {"username": "pete", "groups": ["ChildDeveloperGroup"], "ticket": "T-1"}
    assert api.call("POST", "/users", {**body, "requested_by": "alice"}).status_code == 201
    clock.fixed = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=50)
    poller = Poller.for_app(app, client, boto3.client("sqs"), wait_seconds=0)

    ack = command(client, aws.slack_signing_secret, "hygiene", catcher.url())
    assert "Looking up the credential hygiene findings" in html.unescape(ack["text"])
    poller.poll_once()
    answer = catcher.next()
    assert answer["response_type"] == "ephemeral"
    shown = html.unescape(json.dumps(answer))
    assert "`pete` console_mfa on `console`" in shown  # due before the unused rule

    command(client, aws.slack_signing_secret, "hygiene olga", catcher.url())
    poller.poll_once()
    assert "No credential hygiene findings for olga" in catcher.next()["text"]
