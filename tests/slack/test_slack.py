"""The Slack entry point against moto, through the real Chalice app: requests signed as Slack signs
them, the work queue read with boto3, the worker run from that queue as Lambda's event source would,
and its posts received by an HTTP server on loopback."""

from __future__ import annotations

import html
import json
import logging
import queue
import time
from datetime import date, timedelta
from urllib.parse import parse_qs

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from chalicelib import bootstrap
from chalicelib.aws.clients import AwsClients
from chalicelib.edges.slack import grammar, replies
from chalicelib.kernel.catalogue import ACTIONS
from chalicelib.lifecycle.operations import Lifecycle
from chalicelib.settings import Settings, work_queue_name
from devstack.local import REGION, shared_session
from devstack.queue_poller import lambda_event
from devstack.slack_command import (
    button,
    click_body,
    command_body,
    sign,
)
from tests.support import onboard
from tests.support.openapi import SLACK_ROUTES, Caller
from tests.support.slack import (
    ALLOWED,
    NOWHERE,
    QUEUE,
    STRANGER,
    ephemeral,
    everything_in,
    queue_url,
    queued,
    run_worker,
)

FUTURE = (date.today() + timedelta(days=30)).isoformat()


# signatures and replays
def test_a_signed_command_is_acknowledged_at_once_and_queued(slack, sqs):
    response = slack.command(
        "onboard pete ChildDeveloperGroup pete@example.com", trigger_id="111.222.abc"
    )
    assert "Onboarding *pete*" in ephemeral(response)
    assert "slack:111.222.abc" in response.json["text"]
    (work,) = queued(sqs)
    assert work == {
        "kind": "change",
        "action": "onboard",
        "username": "pete",
        "response_url": NOWHERE,
        "slack_user": ALLOWED,
        "request": {
            "username": "pete",
            "groups": ["ChildDeveloperGroup"],
            "ticket": "slack:111.222.abc",
            "requested_by": f"slack:{ALLOWED}",
            "email": "pete@example.com",
            "console": True,
            "external_id": None,
            "access_key": False,
            "slack_user": None,
        },
    }


def test_a_forged_signature_is_a_401_and_queues_nothing(slack, sqs):
    response = slack.command("onboard pete ChildDeveloperGroup", secret="not-the-secret")
    assert response.status_code == 401
    assert json.loads(response.body)["Code"] == "Unauthorized"
    body = command_body("onboard pete ChildDeveloperGroup", user_id=ALLOWED, response_url=NOWHERE)
    headers = sign(slack.secret, body)
    for tampered in (body.replace(b"pete", b"olga"), body + b"&x=1"):
        assert slack.send("/slack/commands", tampered, headers).status_code == 401
    unsigned = {"Content-Type": "application/x-www-form-urlencoded"}
    assert slack.send("/slack/commands", body, unsigned).status_code == 401
    garbled = {**headers, "X-Slack-Request-Timestamp": "yesterday"}
    assert slack.send("/slack/commands", body, garbled).status_code == 401
    assert queued(sqs) == []


def test_a_signature_older_than_five_minutes_is_a_401_and_queues_nothing(slack, sqs):
    stale = int(time.time()) - 5 * 60 - 5
    response = slack.command("onboard pete ChildDeveloperGroup", timestamp=stale)
    assert response.status_code == 401
    assert "5 minutes" in json.loads(response.body)["Message"]
    assert slack.command("status pete", timestamp=int(time.time()) + 400).status_code == 401
    assert queued(sqs) == []
    # within the window it is fine
    assert slack.command("status pete", timestamp=int(time.time()) - 200).status_code == 200


def test_a_replayed_request_queues_nothing_again(slack, sqs):
    body = command_body(
        "onboard pete ChildDeveloperGroup",
        user_id=ALLOWED,
        response_url=NOWHERE,
        trigger_id="333.444.replay",
    )
    headers = sign(slack.secret, body)
    first = slack.send("/slack/commands", body, headers)
    again = slack.send("/slack/commands", body, headers)
    assert "Onboarding" in ephemeral(first)
    assert "received already" in ephemeral(again)
    # the same trigger id freshly signed is the same request too
    assert "received already" in ephemeral(
        slack.command("onboard pete ChildDeveloperGroup", trigger_id="333.444.replay")
    )
    assert len(queued(sqs)) == 1


# who may do what
@pytest.mark.parametrize(
    "text",
    [
        "onboard pete ChildDeveloperGroup",
        "move pete BreakGlassGroup",
        "suspend pete",
        "restore pete",
        "offboard pete",
        "grant pete BreakGlassGroup 2 incident",
        "onboard",
    ],
)
def test_only_listed_users_may_change_anything(slack, sqs, text):
    answer = ephemeral(slack.command(text, user=STRANGER))
    assert answer.startswith(":no_entry: You may not use `/access"), answer
    assert queued(sqs) == []


def test_status_and_help_are_open_to_everyone(slack, sqs):
    assert "Usage" in ephemeral(slack.command("help", user=STRANGER))
    looking = ephemeral(slack.command("status pete", user=STRANGER))
    assert "Looking up *pete*" in looking and "ticket" not in looking
    (work,) = queued(sqs)
    assert work["kind"] == "status" and work["slack_user"] == STRANGER


# the grammar
HAPPY = [
    (
        "onboard pete ChildDeveloperGroup",
        "onboard",
        {"username": "pete", "groups": ["ChildDeveloperGroup"], "console": True, "email": None},
    ),
    (
        "onboard pete ChildDeveloperGroup BreakGlassGroup <mailto:p@example.com|p@example.com>",
        "onboard",
        {"groups": ["ChildDeveloperGroup", "BreakGlassGroup"], "email": "p@example.com"},
    ),
    (
        "move pete BreakGlassGroup ChildDeveloperGroup",
        "move",
        {"groups": ["BreakGlassGroup", "ChildDeveloperGroup"]},
    ),
    ("suspend pete", "suspend", {"until": None, "reason": None}),
    (
        f"suspend pete until {FUTURE} parental leave",
        "suspend",
        {"until": FUTURE, "reason": "parental leave"},
    ),
    ("suspend pete on leave", "suspend", {"until": None, "reason": "on leave"}),
    ("restore pete", "restore", {}),
    (
        "grant pete BreakGlassGroup 4 incident INC-42",
        "grant",
        {"group": "BreakGlassGroup", "hours": 4, "reason": "incident INC-42"},
    ),
    ("  MOVE   pete   BreakGlassGroup ", "move", {"groups": ["BreakGlassGroup"]}),
]


@pytest.mark.parametrize("text, action, fields", HAPPY, ids=[h[0] for h in HAPPY])
def test_each_verb_queues_the_request_the_rest_api_would_take(slack, sqs, text, action, fields):
    response = slack.command(text, trigger_id="9.9.9")
    assert ":hourglass_flowing_sand:" in ephemeral(response)
    (work,) = queued(sqs)
    assert (work["kind"], work["action"], work["username"]) == ("change", action, "pete")
    request = work["request"]
    assert request["ticket"] == "slack:9.9.9" and request["requested_by"] == f"slack:{ALLOWED}"
    assert {key: request.get(key) for key in fields} == fields
    ACTIONS[action].request_model().model_validate(request)


def test_status_is_queued_too(slack, sqs):
    assert ":hourglass_flowing_sand: Looking up *pete*" in ephemeral(slack.command("status pete"))
    assert [w["kind"] for w in queued(sqs)] == ["status"]


def test_offboard_asks_for_confirmation_and_queues_nothing(slack, sqs):
    response = slack.command("offboard pete")
    ephemeral(response)
    assert button(response.json, replies.CONFIRM_ACTION)
    assert button(response.json, replies.CANCEL_ACTION)
    assert queued(sqs) == []


BAD = [
    ("onboard", "onboard", "name the user"),
    ("onboard pete", "onboard", "at least one group"),
    ("onboard pete p@example.com", "onboard", "at least one group"),
    ("onboard pete! ChildDeveloperGroup", "onboard", "is not valid"),
    ("onboard pete ChildDeveloperGroup not-an@email", "onboard", "email"),
    ("move pete", "move", "at least one group"),
    ("suspend", "suspend", "name the user"),
    ("suspend pete until", "suspend", "YYYY-MM-DD"),
    ("suspend pete until tomorrow", "suspend", "YYYY-MM-DD"),
    ("suspend pete until 2020-01-01", "suspend", "after today"),
    ("suspend pete until 2030-02-31", "suspend", "until"),
    ("restore", "restore", "name the user"),
    ("restore pete now", "restore", "unexpected"),
    ("offboard pete olga", "offboard", "unexpected"),
    ("grant pete BreakGlassGroup", "grant", "the number of hours"),
    ("grant pete BreakGlassGroup four incident", "grant", "whole number"),
    ("grant pete BreakGlassGroup 0 incident", "grant", "hours"),
    ("status", "status", "name the user"),
    ("status pete olga", "status", "unexpected"),
]


@pytest.mark.parametrize("text, verb, problem", BAD, ids=[b[0] for b in BAD])
def test_bad_syntax_answers_the_help_of_that_verb(slack, sqs, text, verb, problem):
    response = slack.command(text)
    answer = ephemeral(response)
    assert problem in answer, answer
    usage = f"/access {verb} {grammar.VERBS[verb][0]}"
    assert usage in answer, answer
    others = [v for v in grammar.VERBS if v != verb]
    assert not any(f"/access {v} " in answer for v in others), answer
    assert queued(sqs) == []


def test_help_and_unknown_verbs(slack, sqs):
    everything = ephemeral(slack.command("help"))
    assert all(f"/access {verb} " in everything for verb in grammar.VERBS)
    assert ephemeral(slack.command("")) == everything
    one = ephemeral(slack.command("help suspend"))
    assert "/access suspend <user> [until YYYY-MM-DD] [reason...]" in one and "onboard" not in one
    unknown = ephemeral(slack.command("frobnicate pete"))
    assert "no verb 'frobnicate'" in unknown and "/access onboard" in unknown
    assert queued(sqs) == []


def test_the_answer_uses_the_command_name_slack_sends(slack):
    body = command_body("help move", user_id=ALLOWED, response_url=NOWHERE, command="/iam")
    response = slack.send("/slack/commands", body, sign(slack.secret, body))
    assert "Usage: /iam move <user> <group>..." in ephemeral(response)
    assert "`/iam move &lt;user&gt; &lt;group&gt;...`" in everything_in(response.json)


# the worker
def password_block(message: dict) -> str:
    [text] = [
        block["text"]["text"]
        for block in message["blocks"]
        if "temporary password" in block.get("text", {}).get("text", "")
    ]
    return text


def test_onboarding_posts_the_result_to_the_channel_and_the_password_only_to_the_requester(
    slack, poller, catcher, sqs, caplog, capfd
):
    caplog.set_level(logging.DEBUG)
    ephemeral(
        slack.command(
            "onboard pete ChildDeveloperGroup pete@example.com",
            response_url=catcher.url(),
            trigger_id="5.5.5",
        )
    )
    assert run_worker(poller) == [(1, 0)]
    private, public = catcher.next(), catcher.next()

    assert private["response_type"] == "ephemeral"
    shown = password_block(private).split("```")[1]  # in the welcome's password step
    assert not set("<>") & set(shown)  # escaped for mrkdwn, so Slack shows it as it is
    password = html.unescape(shown)
    assert len(password) >= 20
    assert "[profile" in everything_in(private)  # the ~/.aws/config text

    assert public["response_type"] == "in_channel"
    assert public["text"] == "pete onboarded"
    assert password not in everything_in(public) and shown not in everything_in(public)
    text = everything_in(public)
    for expected in (
        "ChildDeveloperGroup",
        "arn:aws:iam::222233334444:role/DeveloperRole",
        "slack:5.5.5",
        f"<@{ALLOWED}>",
        "Status",
        "Console",
    ):
        assert expected in text, expected
    assert public["blocks"][0]["type"] == "header"

    user = boto3.client("iam").get_user(UserName="pete")["User"]
    assert user["Path"] == "/managed/"
    tags = {t["Key"]: t["Value"] for t in user.get("Tags", [])}
    assert tags["ticket"] == "slack:5.5.5" and tags["requested_by"] == f"slack:{ALLOWED}"
    assert sqs.receive_message(QueueUrl=queue_url(sqs)).get("Messages") is None  # deleted

    logged = caplog.text + "".join(capfd.readouterr())
    assert "onboard done" in logged
    assert password not in logged


def test_the_same_work_twice_runs_once_and_never_shows_the_password_again(
    slack, poller, catcher, sqs
):
    ephemeral(
        slack.command(
            "onboard pete ChildDeveloperGroup", response_url=catcher.url(), trigger_id="6.6.6"
        )
    )
    (work,) = queued(sqs)
    for _ in range(2):  # as when SQS delivers a message twice
        sqs.send_message(QueueUrl=queue_url(sqs), MessageBody=json.dumps(work))
    assert run_worker(poller, 2) == [(1, 0), (1, 0)]
    first = [catcher.next(), catcher.next()]
    again = [catcher.next(), catcher.next()]
    assert "```" in password_block(first[0])
    assert "never stored" in everything_in(again[0])
    assert again[1]["text"] == "pete onboarded"
    events = bootstrap.services().lifecycle.state.audit_events("pete")
    assert [(e["action"], e["result"]) for e in events] == [
        ("onboard", "ok"),
        ("onboard", "replayed"),
    ]


def test_status_is_posted_only_to_the_requester(api, slack, poller, catcher):
    onboard(api, "pete")
    ephemeral(slack.command("status pete", user=STRANGER, response_url=catcher.url()))
    run_worker(poller)
    answer = catcher.next()
    assert answer["response_type"] == "ephemeral"
    assert "ChildDeveloperGroup" in everything_in(answer) and "active" in everything_in(answer)


@pytest.mark.parametrize(
    "text, expected",
    [
        ("onboard pete Administrators", ":no_entry: Refused: `onboard pete`"),
        ("restore nobody", ":mag: Not found: `restore nobody`"),
        ("move break-glass-owner BreakGlassGroup", ":no_entry: Refused"),
    ],
)
def test_a_rejection_is_posted_and_not_retried(slack, poller, catcher, sqs, text, expected):
    ephemeral(slack.command(text, response_url=catcher.url()))
    assert run_worker(poller) == [(1, 0)]
    answer = catcher.next()
    assert answer["response_type"] == "ephemeral"
    assert answer["text"].startswith(expected), answer["text"]
    assert queued(sqs) == []


def test_a_suspension_and_a_restore_through_slack(api, slack, poller, catcher):
    onboard(api, "pete")
    ephemeral(slack.command(f"suspend pete until {FUTURE} leave", response_url=catcher.url()))
    run_worker(poller)
    suspended = catcher.next()
    assert suspended["response_type"] == "in_channel" and suspended["text"] == "pete suspended"
    assert f"until {FUTURE}" in everything_in(suspended)

    ephemeral(slack.command("restore pete", response_url=catcher.url()))
    run_worker(poller)
    private, public = catcher.next(), catcher.next()
    assert private["response_type"] == "ephemeral" and "```" in everything_in(private)
    assert public["text"] == "pete restored" and "ChildDeveloperGroup" in everything_in(public)

    ephemeral(slack.command("move pete BreakGlassGroup", response_url=catcher.url()))
    run_worker(poller)
    moved = catcher.next()
    assert "exactly: BreakGlassGroup" in everything_in(moved)


@pytest.mark.skipif(not hasattr(Lifecycle, "grant"), reason="Lifecycle.grant is not there yet")
def test_a_grant_through_slack(api, slack, poller, catcher):
    onboard(api, "pete")
    ephemeral(
        slack.command("grant pete BreakGlassGroup 2 incident INC-7", response_url=catcher.url())
    )
    run_worker(poller)
    answer = catcher.next()
    assert answer["response_type"] == "in_channel", answer
    assert answer["text"] == "pete granted access"
    assert "BreakGlassGroup until" in everything_in(answer)


# failures
class FailingIam:
    """Makes the app's IAM CreateUser fail as AWS does when it is down (a 5xx)."""

    def __init__(self) -> None:
        self.failures = 0

    def __call__(self, model, **_):
        self.failures += 1
        response = AWSResponse("https://iam.amazonaws.com", 500, {}, None)
        return response, {
            "Error": {"Code": "ServiceFailure", "Message": "internal failure"},
            "ResponseMetadata": {"HTTPStatusCode": 500},
        }


@pytest.fixture
def failing_iam():
    failing = FailingIam()
    events = bootstrap.services().clients.root("iam").meta.events
    events.register("before-call.iam.CreateUser", failing)
    yield failing
    events.unregister("before-call.iam.CreateUser", failing)


def test_a_retryable_failure_is_reported_as_a_batch_item_failure(
    slack, client, sqs, catcher, failing_iam
):
    ephemeral(slack.command("status olga", response_url=catcher.url()))  # a rejection: done
    ephemeral(slack.command("onboard pete ChildDeveloperGroup", response_url=catcher.url()))
    url = queue_url(sqs)
    messages = sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"])[
        "Messages"
    ]
    assert len(messages) == 2
    onboarding = next(m for m in messages if json.loads(m["Body"])["kind"] == "change")
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]
    # Chalice hands back what the handler answers: Lambda's partial batch response.
    answer = client.lambda_.invoke("worker", lambda_event(messages, arn["QueueArn"])).payload
    assert answer == {"batchItemFailures": [{"itemIdentifier": onboarding["MessageId"]}]}
    posts = [catcher.next(), catcher.next()]
    failure = next(p for p in posts if "failed" in p["text"])
    assert "retried automatically" in failure["text"] and failure["response_type"] == "ephemeral"
    assert any(p["text"].startswith(":mag: Not found: `status olga`") for p in posts)


def test_a_failing_message_is_retried_then_set_aside_on_the_dead_letter_queue(
    slack, poller, sqs, catcher, failing_iam
):
    url = queue_url(sqs)
    # Redelivery at once and a small maxReceiveCount, so the test need not wait.
    dlq = queue_url(sqs, f"{QUEUE}-dlq")
    dlq_arn = sqs.get_queue_attributes(QueueUrl=dlq, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    sqs.set_queue_attributes(
        QueueUrl=url,
        Attributes={
            "VisibilityTimeout": "0",
            "RedrivePolicy": json.dumps({"deadLetterTargetArn": dlq_arn, "maxReceiveCount": 3}),
        },
    )

    ephemeral(slack.command("onboard pete ChildDeveloperGroup", response_url=catcher.url()))
    assert run_worker(poller, 4) == [(0, 1), (0, 1), (0, 1), (0, 0)]
    assert failing_iam.failures >= 3
    first, last = catcher.next(), catcher.next()
    assert "retried automatically" in first["text"]
    assert "failed 3 times" in last["text"] and "dead-letter" in last["text"]
    with pytest.raises(queue.Empty):
        catcher.next(timeout=0.2)  # nothing on the attempts in between
    (dead,) = queued(sqs, f"{QUEUE}-dlq")
    assert dead["action"] == "onboard" and dead["username"] == "pete"
    assert queued(sqs) == []


def test_slack_unreachable_leaves_the_work_for_a_retry(slack, poller, sqs):
    ephemeral(slack.command("onboard pete ChildDeveloperGroup"))  # response_url: nothing listens
    assert run_worker(poller) == [(0, 1)]
    # the onboarding itself is done; the retry answers from the ticket's record
    assert boto3.client("iam").get_user(UserName="pete")["User"]["UserName"] == "pete"
    counts = sqs.get_queue_attributes(QueueUrl=queue_url(sqs), AttributeNames=["All"])["Attributes"]
    assert counts["ApproximateNumberOfMessagesNotVisible"] == "1"  # back after the timeout


# confirmations
def offboard_prompt(slack, user: str = ALLOWED, username: str = "pete") -> str:
    response = slack.command(f"offboard {username}", user=user, trigger_id="7.7.7")
    ephemeral(response)
    return button(response.json, replies.CONFIRM_ACTION)


def test_a_click_queues_the_offboarding_once(api, slack, sqs):
    onboard(api, "pete")
    confirmation = offboard_prompt(slack)
    first = slack.click(replies.CONFIRM_ACTION, confirmation)
    assert (first.status_code, first.body) == (200, b"")
    second = slack.click(replies.CONFIRM_ACTION, confirmation)
    assert second.status_code == 200
    (work,) = queued(sqs)
    assert work["action"] == "offboard" and work["username"] == "pete" and work["prompt"]
    assert work["request"] == {"ticket": "slack:7.7.7", "requested_by": f"slack:{ALLOWED}"}


def test_a_confirmed_offboarding_is_done_by_the_worker(api, slack, poller, catcher):
    onboard(api, "pete")
    confirmation = offboard_prompt(slack)
    slack.click(replies.CONFIRM_ACTION, confirmation, response_url=catcher.url("/click"))
    assert run_worker(poller) == [(1, 0)]
    result, tidy = catcher.next(), catcher.next()
    assert result["response_type"] == "in_channel" and result["replace_original"] is False
    assert result["text"] == "pete offboarded" and "ChildDeveloperGroup" in everything_in(result)
    assert tidy == {"delete_original": True}
    with pytest.raises(boto3.client("iam").exceptions.NoSuchEntityException):
        boto3.client("iam").get_user(UserName="pete")


def test_an_expired_confirmation_is_refused(slack, sqs):
    confirmation = offboard_prompt(slack)
    boto3.client("dynamodb").update_item(
        TableName="iam-lifecycle-dev-state",
        Key={"pk": {"S": f"CONFIRM#{confirmation}"}, "sk": {"S": "CONFIRM"}},
        UpdateExpression="SET #e = :past",
        ExpressionAttributeNames={"#e": "expires"},
        ExpressionAttributeValues={":past": {"N": str(int(time.time()) - 1)}},
    )
    assert slack.click(replies.CONFIRM_ACTION, confirmation).status_code == 200
    (notice,) = queued(sqs)
    assert notice["kind"] == "notice" and "expired" in notice["text"]
    assert slack.click(replies.CONFIRM_ACTION, confirmation).status_code == 200
    assert queued(sqs) == []  # spent


@pytest.fixture
def two_allowed(client):
    """The dev stage with a second Slack user allowed."""
    import os

    settings = Settings.from_env({**os.environ, "SLACK_ALLOWED_USERS": f"{ALLOWED},U0OTHER0002"})
    bootstrap.use(
        bootstrap.build(settings=settings, clients=AwsClients(REGION, session=shared_session()))
    )
    return "U0OTHER0002"


def test_only_the_person_who_asked_may_confirm(slack, sqs, two_allowed):
    confirmation = offboard_prompt(slack)
    assert slack.click(replies.CONFIRM_ACTION, confirmation, user=two_allowed).status_code == 200
    assert slack.click(replies.CONFIRM_ACTION, confirmation, user=STRANGER).status_code == 200
    notices = queued(sqs)
    assert [n["kind"] for n in notices] == ["notice", "notice"]
    assert "Only the person who asked" in notices[0]["text"]
    assert "Only the people listed" in notices[1]["text"]
    # still good for the one who asked
    slack.click(replies.CONFIRM_ACTION, confirmation)
    assert [w["action"] for w in queued(sqs)] == ["offboard"]


def test_cancel_spends_the_confirmation(slack, sqs):
    confirmation = offboard_prompt(slack)
    slack.click(replies.CANCEL_ACTION, confirmation)
    slack.click(replies.CONFIRM_ACTION, confirmation)
    (notice,) = queued(sqs)
    assert notice["kind"] == "notice" and "cancelled" in notice["text"]
    assert notice["replace_original"] is True


def test_notices_are_posted_by_the_worker(slack, poller, catcher):
    confirmation = offboard_prompt(slack)
    slack.click(replies.CANCEL_ACTION, confirmation, response_url=catcher.url())
    run_worker(poller)
    assert catcher.next() == replies.notice(
        "Offboarding of *pete* cancelled; nothing was done.", replace_original=True
    )


def test_forged_or_malformed_clicks_are_refused(slack, sqs):
    confirmation = offboard_prompt(slack)
    assert slack.click(replies.CONFIRM_ACTION, confirmation, secret="wrong").status_code == 401
    body = b"payload=not-json"
    response = slack.send("/slack/interactions", body, sign(slack.secret, body))
    assert response.status_code == 400
    other = click_body("something_else", "x", user_id=ALLOWED, response_url=NOWHERE)
    assert slack.send("/slack/interactions", other, sign(slack.secret, other)).status_code == 200
    unknown = slack.click(replies.CONFIRM_ACTION, "no-such-confirmation")
    assert unknown.status_code == 200
    assert queued(sqs) == []
    slack.click(replies.CONFIRM_ACTION, confirmation)  # the real one still works
    assert len(queued(sqs)) == 1


# configuration
def test_settings_of_the_slack_entry_point():
    base = {"ALLOWED_GROUPS": "G", "ROOT_ACCOUNT_ID": "123456789012"}
    settings = Settings.from_env({**base, "SLACK_ALLOWED_USERS": " U1, U2 ,", "STAGE": "prod"})
    assert settings.slack_allowed_users == {"U1", "U2"}
    assert settings.work_queue == "iam-lifecycle-prod-work"
    assert Settings.from_env(base).slack_allowed_users == frozenset()
    assert work_queue_name({"STAGE": "prod", "WORK_QUEUE": "other"}) == "other"


def test_the_queue_handler_is_declared_for_the_stage_queue():
    from app import app
    from devstack.queue_poller import sqs_sources

    (source,) = sqs_sources(app)
    assert (source.queue, source.batch_size, source.name) == (
        "iam-lifecycle-dev-work",
        1,
        "worker",
    )


def test_the_form_slack_sends_is_what_the_test_helpers_send():
    body = command_body("status pete", user_id="U1", response_url="https://hooks.slack.com/x")
    fields = parse_qs(body.decode())
    assert {"command", "text", "user_id", "trigger_id", "response_url", "team_id"} <= set(fields)


# the OpenAPI document
def test_the_slack_routes_answer_as_documented(api, slack):
    call = Caller(api)

    def signed(text: str = "help", **fields) -> tuple[bytes, dict]:
        body = command_body(text, user_id=ALLOWED, response_url=NOWHERE, **fields)
        return body, sign(slack.secret, body)

    for text in ("help", "onboard pete ChildDeveloperGroup", "offboard pete", "bad!", "status"):
        body, headers = signed(text)
        call("POST", "/slack/commands", body, token=None, headers=headers, status=200)
    body, headers = signed()
    call(
        "POST",
        "/slack/commands",
        body,
        token=None,
        headers={**headers, "X-Slack-Signature": "v0=0"},
        status=401,
    )
    call(
        "POST",
        "/slack/commands",
        b"\xff",
        token=None,
        headers=sign(slack.secret, b"\xff"),
        status=401,
    )  # not UTF-8: not what Slack signs
    call(
        "POST",
        "/slack/commands",
        body,
        token=None,
        headers={**headers, "Content-Type": "application/json"},
        status=415,
    )
    ssl_check = b"ssl_check=1&token=x"
    call(
        "POST",
        "/slack/commands",
        ssl_check,
        token=None,
        headers=sign(slack.secret, ssl_check),
        status=200,
    )

    click = click_body(replies.CONFIRM_ACTION, "unknown", user_id=ALLOWED, response_url=NOWHERE)
    call(
        "POST",
        "/slack/interactions",
        click,
        token=None,
        headers=sign(slack.secret, click),
        status=200,
    )
    call(
        "POST",
        "/slack/interactions",
        click,
        token=None,
        headers={**sign(slack.secret, click), "X-Slack-Request-Timestamp": "1"},
        status=401,
    )
    call(
        "POST",
        "/slack/interactions",
        b"payload=%7B",
        token=None,
        headers=sign(slack.secret, b"payload=%7B"),
        status=400,
    )
    assert call.called == SLACK_ROUTES
