"""Fuzzing of the slash command with hypothesis: its grammar (chalicelib.edges.slack.grammar), and the
signed ``/slack/commands`` and ``/slack/interactions`` handlers of the real app against moto, with
the SQS work queue read back with boto3 after every request.

- The grammar answers any text with a command or a usage problem, never anything else; what it
  reads from a well-formed command is what was written.
- The handler answers 200 with an ephemeral message to any signed command (an empty 200 for
  Slack's ssl_check) and 401 to anything not signed right, whatever the text or the form.
- It queues exactly one message for well-formed work (a change by a listed Slack user, or a
  status by anyone) and nothing for help, bad syntax, refusals, offboard (a confirmation first),
  a replay or a bad signature; a queued message carries exactly the parsed request.
- No click queues a change unless it confirms an offboarding that was asked for.
"""

from __future__ import annotations

import json
import re
import time
import uuid
from datetime import date, timedelta
from urllib.parse import parse_qs, quote, urlencode

import boto3
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from chalicelib.edges.slack import grammar, replies
from chalicelib.kernel.catalogue import ACTIONS
from chalicelib.kernel.identity import USERNAME_RULE
from chalicelib.settings import work_queue_name
from devstack.local import REGION
from devstack.slack_command import allowed_users, sign
from tests.support.module_app import running_app
from tests.support.slack import queued as queued_messages

ALLOWED = allowed_users()[0]
STRANGER = "U0STRANGER1"
USERNAME = re.compile(USERNAME_RULE, re.ASCII)
RESPONSE_URL = "https://hooks.slack.com/commands/T0/1/x"


def fuzz(examples: int) -> settings:
    return settings(
        max_examples=examples, deadline=None, database=None, suppress_health_check=list(HealthCheck)
    )


# text: anything, the grammar's own words in any order, and very long input
SPACE = st.sampled_from(
    [" ", "  ", "\t", "\n", "\r\n", "\u00a0", "\u3000", "\u2028", "\x1f", "\x0b"]
)
NAMES = st.from_regex(r"\A[A-Za-z0-9_+=,.@-]{1,64}\Z", fullmatch=True)
GROUPS = st.one_of(
    st.sampled_from(["ChildDeveloperGroup", "BreakGlassGroup", "Admins"]),
    st.from_regex(r"\A[A-Za-z0-9_+=,.-]{1,40}\Z", fullmatch=True),
)
FUTURE = st.integers(1, 3000).map(lambda days: (date.today() + timedelta(days=days)).isoformat())
WORD = st.one_of(
    st.sampled_from(
        list(grammar.VERBS)
        + [
            "HELP",
            "Onboard",
            "until",
            "pete",
            "sam",
            "ChildDeveloperGroup",
            "BreakGlassGroup",
            "2020-01-01",
            "2030-02-31",
            "0",
            "4",
            "721",
            "-1",
            "٣",
            "p@x.io",
            "<mailto:p@example.com|p@example.com>",
            "<@U123>",
            "<mailto:>",
            "&amp;",
            "*",
            "`",
            "\u0000",
            "😀",
            "--dry-run",
            "\u2014dry-run",
            "-dry-run",
        ]
    ),
    NAMES,
    GROUPS,
    FUTURE,
    st.integers(-5, 10_000).map(str),
    st.text(min_size=1, max_size=12).filter(lambda w: not w.isspace()),
)
STRUCTURED = st.builds(
    lambda head, words, spaces: "".join(
        w + s for w, s in zip([head, *words], spaces + [" "] * (len(words) + 1), strict=False)
    ),
    st.sampled_from(list(grammar.VERBS)).flatmap(lambda v: st.sampled_from([v, v.upper()])),
    st.lists(WORD, max_size=8),
    st.lists(SPACE, max_size=9),
)
LONG = st.builds(
    lambda verb, word, times: f"{verb} pete " + f"{word} " * times,
    st.sampled_from(["onboard", "move", "suspend", "grant", "status", "frobnicate"]),
    st.sampled_from(["ChildDeveloperGroup", "x", "é" * 50, "😀"]),
    st.integers(500, 20_000),
)
TEXTS = st.one_of(st.text(max_size=200), STRUCTURED, STRUCTURED, LONG)


# the grammar alone
@fuzz(300)
@given(text=TEXTS)
def test_the_grammar_answers_a_command_or_its_usage(text):
    try:
        command = grammar.parse_command(text)
    except grammar.Usage as usage:
        assert usage.verb is None or usage.verb in grammar.VERBS
        assert usage.problem
        return
    assert command.verb in grammar.VERBS
    # The verb is the first word as typed (the edge authorizes it): never one unwrapped from
    # Slack's markup or read from other letters.
    first = text.split()[0] if text.split() else "help"
    assert first.isascii() and command.verb == first.lower()
    if command.verb == "help":
        assert command.fields["verb"] in ("", *grammar.VERBS)
        return
    if command.verb == "hygiene" and not command.username:  # everyone's findings
        return
    if command.verb in grammar.SELF_VERBS:  # for the member's linked user, looked up by the edge
        assert command.username == "", command
        return
    assert USERNAME.match(command.username), command
    if not command.changes:
        return
    try:
        request = grammar.request_for(command, "slack:1.2.3", f"slack:{ALLOWED}")
    except grammar.Usage as usage:
        assert usage.verb == command.verb and usage.problem
        return
    # The request is one the REST API would take as it is.
    model = ACTIONS[command.verb].request_model()
    assert model.model_validate(request.model_dump(mode="json")) == request
    assert (request.ticket, request.requested_by) == ("slack:1.2.3", f"slack:{ALLOWED}")


@st.composite
def well_formed(draw) -> tuple[str, str, str, dict]:
    """A command as the grammar describes it, its text, and the fields it means."""
    verb = draw(
        st.sampled_from(["status", "onboard", "move", "suspend", "restore", "offboard", "grant"])
    )
    username = draw(NAMES)
    # A last word with @ is the email of an onboarding: groups here have none.
    groups = draw(st.lists(GROUPS, min_size=1, max_size=5))
    reason = draw(
        st.lists(
            st.from_regex(r"\A[^\s<@]{1,12}\Z", fullmatch=True).filter(
                lambda w: w.lower() not in ("until", "--dry-run")
            ),
            max_size=4,
        )
    )
    words: list[str] = []
    fields: dict = {}
    if verb in ("onboard", "move"):
        words, fields = list(groups), {"groups": list(groups)}
        if verb == "onboard" and draw(st.booleans()):
            email = draw(st.sampled_from(["p@example.com", "a.b+c@x.io"]))
            linked = draw(st.booleans())
            words.append(f"<mailto:{email}|{email}>" if linked else email)
            fields["email"] = email
    elif verb == "suspend":
        if draw(st.booleans()):
            until = draw(FUTURE)
            words, fields = ["until", until], {"until": until}
        if reason:
            words += reason
            fields["reason"] = " ".join(reason)
    elif verb == "grant":
        hours = draw(st.integers(0, 10_000))
        reason = reason or ["why"]
        words = [groups[0], str(hours), *reason]
        fields = {"group": groups[0], "hours": hours, "reason": " ".join(reason)}
    if verb != "status" and draw(st.booleans()):  # the flag counts wherever it stands
        words.insert(
            draw(st.integers(0, len(words))),
            draw(st.sampled_from(["--dry-run", "--DRY-RUN", "\u2014dry-run"])),
        )
        fields["dry_run"] = True
    spaces = draw(st.lists(SPACE, min_size=len(words) + 2, max_size=len(words) + 2))
    shown = draw(st.sampled_from([verb, verb.upper(), verb.capitalize()]))
    text = (
        spaces[0]
        + shown
        + "".join(s + w for s, w in zip(spaces[1:], [username, *words], strict=True))
    )
    return text, verb, username, fields


@fuzz(300)
@given(meant=well_formed())
def test_a_well_formed_command_reads_as_written(meant):
    text, verb, username, fields = meant
    command = grammar.parse_command(text)
    assert (command.verb, command.username, command.fields) == (verb, username, fields)


# the handlers, through the app
COMMANDS = well_formed().map(lambda meant: meant[0])


@pytest.fixture(scope="module")
def world(provisioned):
    with running_app(provisioned) as (api, facts):
        sqs = boto3.client("sqs", region_name=REGION)
        url = sqs.get_queue_url(QueueName=work_queue_name())["QueueUrl"]
        yield api.client, facts.slack_signing_secret, sqs, url


def send(client, path: str, body: bytes, headers: dict):
    response = client.http.request("POST", path, headers=headers, body=body)
    is_json = response.headers.get("Content-Type", "").startswith("application/json")
    response.json = json.loads(response.body) if is_json and response.body else None
    return response


def expected_work(form: dict[str, str]) -> dict | str | None:
    """What the command should queue: the work, "confirm" for an offboarding (a button, nothing
    queued), or None. The grammar's own answer decides what is well-formed (it is fuzzed above)."""
    if form.get("ssl_check") == "1":
        return None
    text, user = form.get("text", ""), form.get("user_id", "")
    try:
        command = grammar.parse_command(text)
        if command.changes and user != ALLOWED:
            return None  # refused
        if command.verb == "help" or not (
            form.get("trigger_id") and form.get("response_url") and user
        ):
            return None
        ticket = f"slack:{form['trigger_id']}"
        if command.verb in grammar.SELF_VERBS:  # nobody is linked here: only `requests` queues
            if command.verb != "requests":
                return None
            return {
                "kind": "self",
                "action": "requests",
                "username": "",
                "slack_user": user,
                "response_url": form["response_url"],
                "ticket": ticket,
            }
        request = grammar.request_for(command, ticket, f"slack:{user}") if command.changes else None
    except grammar.Usage:
        return None
    if command.verb == "offboard" and not request.dry_run:
        return "confirm"
    work = {
        "kind": "change" if command.changes else command.verb,
        "action": command.verb,
        "username": command.username,
        "response_url": form["response_url"],
        "slack_user": user,
    }
    if request is not None:  # Slack never gives a callback; a plan says so, a change need not
        dumped = request.model_dump(mode="json", exclude={"callback_url"})
        work["request"] = (
            dumped if request.dry_run else {k: v for k, v in dumped.items() if k != "dry_run"}
        )
    return work


def trigger() -> str:
    return f"{int(time.time())}.{uuid.uuid4().int % 10**10}.{uuid.uuid4().hex}"


BAD_SIGNATURES = [
    "wrong secret",
    "stale",
    "future",
    "no signature",
    "no timestamp",
    "tampered",
    "not ascii",
    "not a number",
    "v1",
]


def signed_headers(secret: str, body: bytes, how: str | None) -> tuple[bytes, dict]:
    if how is None:
        return body, sign(secret, body)
    if how == "wrong secret":
        return body, sign(secret + "x", body)
    if how in ("stale", "future"):
        return body, sign(secret, body, int(time.time()) + (-301 if how == "stale" else 301))
    headers = sign(secret, body)
    if how == "no signature":
        del headers["X-Slack-Signature"]
    elif how == "no timestamp":
        del headers["X-Slack-Request-Timestamp"]
    elif how == "tampered":
        return body + b"&user_id=" + ALLOWED.encode(), headers
    elif how == "not ascii":
        headers["X-Slack-Signature"] = "v0=" + "é" * 64
    elif how == "not a number":
        headers["X-Slack-Request-Timestamp"] = "١٢٣"
    elif how == "v1":
        headers["X-Slack-Signature"] = headers["X-Slack-Signature"].replace("v0=", "v1=")
    return body, headers


@fuzz(150)
@given(
    text=st.one_of(TEXTS, COMMANDS, COMMANDS),
    user=st.sampled_from([ALLOWED, ALLOWED, ALLOWED, STRANGER, "", ALLOWED.lower()]),
    drop=st.one_of(
        st.just(set()),
        st.just(set()),
        st.just(set()),
        st.sets(st.sampled_from(["trigger_id", "response_url", "user_id", "command"]), max_size=2),
    ),
    bad=st.one_of(st.none(), st.none(), st.none(), st.none(), st.sampled_from(BAD_SIGNATURES)),
    replay=st.integers(0, 9).map(lambda n: n == 0),
)
def test_a_command_gets_one_answer_and_queues_exactly_its_work(
    world, text, user, drop, bad, replay
):
    client, secret, sqs, url = world
    form = {
        "token": "x",
        "team_id": "T0",
        "command": "/access",
        "text": text,
        "user_id": user,
        "response_url": RESPONSE_URL,
        "trigger_id": trigger(),
        "channel_id": "C0",
    }
    form = {key: value for key, value in form.items() if key not in drop}
    body, headers = signed_headers(secret, urlencode(form).encode(), bad)
    response = send(client, "/slack/commands", body, headers)
    queued = queued_messages(sqs)
    if bad:
        assert response.status_code == 401, response.body
        assert set(json.loads(response.body)) == {"Code", "Message"}
        assert queued == []
        return
    assert response.status_code == 200, response.body
    assert response.json["response_type"] == "ephemeral" and response.json["text"], response.json
    expected = expected_work(form)
    if expected == "confirm":
        assert queued == [] and replies.CONFIRM_ACTION in json.dumps(response.json)
    elif expected is None:
        assert queued == [], (text, queued)
    else:
        assert queued == [expected], (text, queued)
    if replay:  # the same signed request again: received already, nothing more queued
        again = send(client, "/slack/commands", body, headers)
        assert again.status_code == 200 and again.json["response_type"] == "ephemeral"
        assert queued_messages(sqs) == []
        if expected is not None:
            assert "received already" in again.json["text"]


# the form itself: Slack's encoding, and what else a signed body could hold
FORM_PIECES = st.sampled_from(
    [
        "text=onboard+pete+ChildDeveloperGroup",
        "text=status%20pete",
        "text=help",
        "text=",
        "text=%zz",
        "text=%",
        "text=%e9t%E9",
        "text=%00",
        "text=move+pete+%F0%9F%98%80",
        "text=a&text=b",
        "text",
        "=",
        "&",
        "&&",
        ";",
        "text=suspend+pete;user_id=U0LOCAL0001",
        "user_id=U0LOCAL0001",
        "user_id=U0STRANGER1",
        "user_id=",
        "user_id=U0LOCAL0001&user_id=x",
        "trigger_id=1.2.3",
        "trigger_id=",
        "trigger_id=" + "9" * 3000,
        "response_url=x",
        "response_url=" + quote(RESPONSE_URL, safe=""),
        "ssl_check=1",
        "ssl_check=0",
        "command=%2Fiam",
        "command=",
        "payload=%7B%7D",
        "text=" + "x" * 50_000,
    ]
)


PIECES = st.lists(st.one_of(FORM_PIECES, st.text(max_size=30)), max_size=4)


@fuzz(100)
@given(
    before=PIECES,
    text=st.one_of(COMMANDS, STRUCTURED),
    after=PIECES,
    separator=st.sampled_from(["&", "&", ";", "&&"]),
)
def test_any_signed_form_gets_a_200_and_queues_at_most_its_work(
    world, before, text, after, separator
):
    """Slack's fields around odd pieces: the first of a repeated field counts."""
    client, secret, sqs, url = world
    slack = urlencode(
        {
            "command": "/access",
            "text": text,
            "user_id": ALLOWED,
            "response_url": RESPONSE_URL,
            "trigger_id": trigger(),
        }
    )
    body = separator.join([*before, slack, *after]).encode()
    response = send(client, "/slack/commands", body, sign(secret, body))
    queued = queued_messages(sqs)
    assert response.status_code == 200, response.body
    fields = parse_qs(body.decode(), keep_blank_values=True)
    form = {key: values[0] for key, values in fields.items()}
    if form.get("ssl_check") == "1":
        assert response.body == b"" and queued == []
        return
    assert response.json["response_type"] == "ephemeral", response.json
    assert len(queued) <= 1, queued
    expected = expected_work(form)
    # A trigger id too long to record is answered as a failure, with nothing queued.
    assert queued in ([], [expected]) if isinstance(expected, dict) else queued == [], (
        form,
        queued,
    )


# clicks
JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers() | st.text(max_size=20),
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=8), children, max_size=3)
    ),
    max_leaves=10,
)
ACTION = st.one_of(
    st.fixed_dictionaries(
        {
            "action_id": st.sampled_from([replies.CONFIRM_ACTION, replies.CANCEL_ACTION, "other"]),
            "value": st.one_of(st.text(max_size=30), JSON_VALUES),
        }
    ),
    JSON_VALUES,
)
PAYLOADS = st.one_of(
    *[
        st.fixed_dictionaries(
            {
                "type": st.sampled_from(["block_actions"] * 3 + ["other", 5]),
                "user": st.one_of(
                    *[
                        st.fixed_dictionaries(
                            {"id": st.one_of(st.sampled_from([ALLOWED, STRANGER]), JSON_VALUES)}
                        )
                    ]
                    * 3,
                    JSON_VALUES,
                ),
                "response_url": st.one_of(st.just(RESPONSE_URL), JSON_VALUES),
                "actions": st.one_of(st.lists(ACTION, max_size=3), JSON_VALUES),
            }
        )
    ]
    * 3,
    JSON_VALUES,
)


@fuzz(100)
@given(payload=st.one_of(PAYLOADS.map(json.dumps), st.text(max_size=50), st.just("[" * 50_000)))
def test_no_click_queues_a_change_it_was_not_asked_for(world, payload):
    client, secret, sqs, url = world
    body = urlencode({"payload": payload}).encode()
    response = send(client, "/slack/interactions", body, sign(secret, body))
    queued = queued_messages(sqs)
    assert response.status_code in (200, 400), response.body
    if response.status_code == 400:
        assert set(json.loads(response.body)) == {"Code", "Message"} and queued == []
    # No confirmation was ever asked for here: at most a notice that the click is refused.
    assert all(work["kind"] == "notice" for work in queued), queued
