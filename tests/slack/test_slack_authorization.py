"""Who may change access through Slack, against moto through the real Chalice app with requests
signed as Slack signs them:

- the edge authorizes exactly the verb the grammar reads, and Slack's markup never makes a verb
  (a link, mention or channel that shows one is refused to a member not listed, and explained to
  one who is);
- the queue worker checks the member again, so a change nobody listed asked for is refused,
  audited and not retried, whatever put it on the queue;
- input Slack never sends (a 400-digit timestamp, Unicode digits) is a 401 or a usage answer,
  never a 500.
"""

from __future__ import annotations

import functools
import hashlib
import hmac
import json
import re
import time
import uuid
from datetime import date, timedelta
from queue import Empty

import boto3
import pytest
from hypothesis import HealthCheck, event, given, settings
from hypothesis import strategies as st

from chalicelib import bootstrap
from chalicelib.edges.slack import grammar, replies
from devstack.slack_command import button, click_body, command_body
from tests.support import onboard
from tests.support.iam_fingerprint import changed_since, iam_fingerprint
from tests.support.slack import ALLOWED, NOWHERE, STRANGER, ephemeral, queue_url, queued, run_worker

GRANT_USAGE = "/access grant <user> <group> <hours> <reason...>"
FUTURE = (date.today() + timedelta(days=30)).isoformat()


def audit(username: str) -> list[tuple[str, str, str]]:
    events = bootstrap.services().lifecycle.state.audit_events(username)
    return [(e["action"], e["requested_by"], e["result"]) for e in events]


@functools.cache
def _iam():
    """One IAM client for the module's reads (the fuzzer reads hundreds of times, and making a
    client costs more than the read): moto serves it in every test, as it serves any client."""
    return boto3.client("iam")


def no_user(username: str) -> bool:
    iam = _iam()
    try:
        iam.get_user(UserName=username)
    except iam.exceptions.NoSuchEntityException:
        return True
    return False


# 1. the edge: the verb authorized is the verb the grammar reads
LINKED = [  # (text as Slack sends it, the verb it shows)
    ("<mailto:onboard|onboard> pete ChildDeveloperGroup", "onboard"),
    ("<mailto:onboard> pete ChildDeveloperGroup", "onboard"),
    ("<https://example.com|onboard> pete ChildDeveloperGroup", "onboard"),
    ("<#C0123ABC|suspend> pete", "suspend"),
    ("<!subteam^S0123ABC|grant> pete BreakGlassGroup 2 incident", "grant"),
    ("<@U0123ABC|Restore> pete", "restore"),
    ("<https://example.com|move pete> BreakGlassGroup", "move"),
    ("<mailto:offboard|offboard> pete", "offboard"),
]


@pytest.mark.parametrize("text, verb", LINKED, ids=[t for t, _ in LINKED])
def test_a_verb_slack_sent_as_markup_is_refused_to_a_member_not_listed(slack, sqs, text, verb):
    response = slack.command(text, user=STRANGER)
    answer = ephemeral(response)
    assert answer.startswith(f":no_entry: You may not use `/access {verb}`"), answer
    assert button(response.json, replies.CONFIRM_ACTION) is None
    assert queued(sqs) == []


@pytest.mark.parametrize("text, verb", LINKED, ids=[t for t, _ in LINKED])
def test_a_verb_slack_sent_as_markup_is_not_taken_from_a_listed_member(slack, sqs, text, verb):
    response = slack.command(text)
    answer = ephemeral(response)
    assert f"type `{verb}` as plain text" in answer, answer
    assert f"/access {verb} {grammar.VERBS[verb][0]}" in answer  # the help of that verb
    assert button(response.json, replies.CONFIRM_ACTION) is None
    assert queued(sqs) == []


@pytest.mark.parametrize(
    "text",
    [
        "onboard",
        "onboard pete",
        "grant pete BreakGlassGroup",
        "suspend pete until tomorrow",
        "ONBOARD pete Admins x@y",
    ],
)
def test_a_change_with_bad_syntax_is_refused_before_its_help(slack, sqs, text):
    answer = ephemeral(slack.command(text, user=STRANGER))
    assert answer.startswith(":no_entry: You may not use `/access "), answer
    assert queued(sqs) == []


def test_an_email_link_must_show_the_address_it_points_to(slack, sqs):
    # What the member reads is the label; an address other than the one shown is not taken.
    answer = ephemeral(
        slack.command(
            "onboard pete ChildDeveloperGroup <mailto:mallory@example.com|pete@example.com>"
        )
    )
    assert "email" in answer and "/access onboard" in answer, answer
    assert queued(sqs) == []
    ephemeral(slack.command("onboard pete ChildDeveloperGroup <mailto:p@example.com>"))
    (work,) = queued(sqs)
    assert work["request"]["email"] == "p@example.com"


# 2. the worker checks the member again
def forged(request: dict | None = None, **fields):
    """The edge's work with ``fields`` and request fields changed (None: left out)."""

    def forge(work: dict) -> dict:
        claim = {k: v for k, v in {**work["request"], **(request or {})}.items() if v is not None}
        return {k: v for k, v in {**work, **fields, "request": claim}.items() if v is not None}

    return forge


FORGED = {
    "member not listed": forged(slack_user=STRANGER, request={"requested_by": f"slack:{STRANGER}"}),
    "no member": forged(slack_user=None),
    "empty member": forged(slack_user="", request={"requested_by": "slack:"}),
    "member not a string": forged(slack_user=[ALLOWED]),
    "another requester": forged(request={"requested_by": "slack:U0OTHER0002"}),
    "requester not from Slack": forged(request={"requested_by": "alice"}),
    "no requester": forged(request={"requested_by": None}),
}


@pytest.mark.parametrize("forge", FORGED.values(), ids=FORGED)
def test_the_worker_refuses_a_change_no_listed_member_asked_for(slack, sqs, poller, catcher, forge):
    ephemeral(
        slack.command(
            "onboard pete ChildDeveloperGroup", response_url=catcher.url(), trigger_id="4.4.4"
        )
    )
    (work,) = queued(sqs)
    sqs.send_message(QueueUrl=queue_url(sqs), MessageBody=json.dumps(forge(dict(work))))
    assert run_worker(poller) == [(1, 0)]  # done: a retry would be refused again
    answer = catcher.next()
    assert answer["response_type"] == "ephemeral"
    assert answer["text"].startswith(":no_entry: Refused: `onboard pete`"), answer["text"]
    assert no_user("pete")
    ((action, _, result),) = audit("pete")
    assert action == "onboard" and result.startswith("rejected: "), result
    assert queued(sqs) == []
    with pytest.raises(Empty):
        catcher.next(timeout=0.2)


def test_the_worker_refuses_an_offboarding_confirmed_by_a_member_not_listed(
    api, sqs, poller, catcher
):
    onboard(api, "pete")
    # What the edge queues for a click, with a clicker the edge would have refused.
    sqs.send_message(
        QueueUrl=queue_url(sqs),
        MessageBody=json.dumps(
            {
                "kind": "change",
                "action": "offboard",
                "username": "pete",
                "request": {"ticket": "slack:8.8.8", "requested_by": f"slack:{STRANGER}"},
                "response_url": catcher.url("/click"),
                "slack_user": STRANGER,
                "prompt": True,
            }
        ),
    )
    assert run_worker(poller) == [(1, 0)]
    answer = catcher.next()
    assert answer["response_type"] == "ephemeral" and "Refused: `offboard pete`" in answer["text"]
    assert not no_user("pete")
    assert audit("pete")[-1] == (
        "offboard",
        f"slack:{STRANGER}",
        "rejected: only the people listed in this service's configuration may change access",
    )


def test_the_worker_still_runs_what_a_listed_member_asked_for(slack, sqs, poller, catcher):
    ephemeral(
        slack.command(
            "onboard pete ChildDeveloperGroup", response_url=catcher.url(), trigger_id="4.4.5"
        )
    )
    assert run_worker(poller) == [(1, 0)]
    catcher.next()
    assert catcher.next()["text"] == "pete onboarded"
    assert audit("pete") == [("onboard", f"slack:{ALLOWED}", "ok")]


# 4. timestamps Slack never sends
def slack_headers(secret: str, body: bytes, stamp: str) -> dict[str, str]:
    """Signed as Slack signs, over whatever ``stamp`` is: only the timestamp is wrong."""
    digest = hmac.new(secret.encode(), b"v0:" + stamp.encode() + b":" + body, hashlib.sha256)
    return {
        "X-Slack-Request-Timestamp": stamp,
        "X-Slack-Signature": f"v0={digest.hexdigest()}",
        "Content-Type": "application/x-www-form-urlencoded",
    }


STAMPS = {  # made when the test runs: the ones of now would pass but for how they are written
    "400 digits": lambda now: "9" * 400,
    "negative": lambda now: "-" + "9" * 400,
    "5001 digits": lambda now: "1" + "0" * 5000,
    "plus sign": lambda now: f"+{now}",
    "arabic-indic digits": lambda now: "".join(chr(0x660 + int(d)) for d in str(now)),
}


@pytest.mark.parametrize("stamp", STAMPS.values(), ids=STAMPS)
def test_a_timestamp_slack_never_sends_is_a_401(slack, sqs, stamp):
    stamp = stamp(int(time.time()))
    body = command_body("onboard pete ChildDeveloperGroup", user_id=ALLOWED, response_url=NOWHERE)
    response = slack.send("/slack/commands", body, slack_headers(slack.secret, body, stamp))
    assert response.status_code == 401, response.body
    assert json.loads(response.body)["Code"] == "Unauthorized"
    click = click_body(replies.CONFIRM_ACTION, "x", user_id=ALLOWED, response_url=NOWHERE)
    assert (
        slack.send(
            "/slack/interactions", click, slack_headers(slack.secret, click, stamp)
        ).status_code
        == 401
    )
    assert queued(sqs) == []


# 5. hours and dates are ASCII digits
@pytest.mark.parametrize("hours", ["²", "٣", "４", "𝟐", "3\u0663", "1_0", "+4", "4\u200b"])
def test_hours_must_be_ascii_digits(slack, sqs, hours):
    answer = ephemeral(slack.command(f"grant pete BreakGlassGroup {hours} incident"))
    assert "hours must be a whole number" in answer and GRANT_USAGE in answer, answer
    assert queued(sqs) == []


def test_hours_too_many_to_count_are_out_of_range(slack, sqs):
    answer = ephemeral(slack.command(f"grant pete BreakGlassGroup {'9' * 5000} incident"))
    assert "hours" in answer and "720" in answer and GRANT_USAGE in answer, answer[:300]
    assert queued(sqs) == []


@pytest.mark.parametrize("until", ["٢٠٣٠-٠١-٠١", "２０３０-０１-０１", FUTURE[:-1] + "\u0661"])
def test_the_date_of_a_suspension_must_be_ascii_digits(slack, sqs, until):
    answer = ephemeral(slack.command(f"suspend pete until {until} leave"))
    assert "`until` takes a date as YYYY-MM-DD" in answer, answer
    assert "/access suspend <user> [until YYYY-MM-DD] [reason...]" in answer
    assert queued(sqs) == []


# 3. property: whatever Slack's markup and punctuation, only the verb authorized is queued
def fullwidth(word: str) -> str:
    return "".join(chr(ord(c) + 0xFEE0) for c in word)


def linked(verb: str) -> list[str]:
    """``verb`` inside Slack's markup, as clients send links, mentions, channels, user groups."""
    return [
        f"<mailto:{verb}|{verb}>",
        f"<mailto:{verb}>",
        f"<https://x.example|{verb}>",
        f"<https://{verb}.example>",
        f"<@U0LOCAL0002|{verb}>",
        f"<#C0123ABC|{verb}>",
        f"<!subteam^S0123ABC|{verb}>",
        f"<!here|{verb}>",
        f"<https://x.example|{verb} now>",
    ]


def dressed(verb: str) -> list[str]:
    """``verb`` quoted, formatted or dressed in look-alike characters."""
    return [
        f"\u201c{verb}\u201d",
        f"\u2018{verb}\u2019",
        f'"{verb}"',
        f"`{verb}`",
        f"*{verb}*",
        fullwidth(verb),
        verb[:2] + "\u200b" + verb[2:],
        "\u200b" + verb,
        verb + "\ufeff",
        "\u2060" + verb,
        verb[:3] + "\u00ad" + verb[3:],
        verb.replace("o", "\u043e"),
    ]


VERB = st.sampled_from(list(grammar.VERBS))


def shown(verb: str) -> st.SearchStrategy[str]:
    plain = st.sampled_from([verb, verb.upper(), verb.capitalize(), verb.swapcase()])
    return st.one_of(
        plain,
        plain,
        plain,
        st.sampled_from(linked(verb) + linked(verb.upper())),
        st.sampled_from(dressed(verb)),
    )


VERB_WORD = VERB.flatmap(shown)
PREFIX = st.one_of(
    *[st.just("")] * 4,
    st.sampled_from(
        [
            " ",
            "\u00a0",
            "\u3000",
            "\u200b",
            "<!here> ",
            "<!channel> ",
            "<!everyone> ",
            "<@U0LOCAL0002> ",
            "<#C0123ABC> ",
        ]
    ),
)
ARG = st.one_of(
    st.sampled_from(
        [
            "pete",
            "pete",
            "sam",
            "ChildDeveloperGroup",
            "BreakGlassGroup",
            "2",
            "4",
            "until",
            FUTURE,
            "incident",
            "leave",
        ]
    ),
    st.sampled_from(
        [
            "--dry-run",
            "\u2014dry-run",
            "\u2013dry-run",
            "\u2014-dry-run",
            "-dry-run",
            "²",
            "٣",
            "\u0662\u0660\u0663\u0660-\u0660\u0661-\u0660\u0661",
            "<mailto:p@example.com|p@example.com>",
            "<mailto:onboard|onboard>",
            "<mailto:x@example.com|p@example.com>",
            "<@U0LOCAL0002>",
            "<@U0LOCAL0002|pete>",
            "<#C0123ABC|BreakGlassGroup>",
            "<!here>",
            "<!channel>",
            "<!subteam^S0123ABC|admins>",
            "\u201cpete\u201d",
            fullwidth("pete"),
            "pete\u200b",
            "<https://x.example|pete>",
            "onboard",
            "grant",
            "offboard",
        ]
    ),
    VERB_WORD,
)
SEPARATOR = st.sampled_from(
    [" ", " ", " ", "  ", "\u00a0", "\t", "\u3000", "\u2028", "\u200b", "\u202f"]
)
# What follows the verb: its own well-formed arguments (so that most texts would do something),
# with odd words slipped in, or odd words only.
TAILS = {
    "help": ["", "onboard"],
    "status": ["pete"],
    "hygiene": ["", "pete"],
    "restore": ["pete"],
    "offboard": ["pete"],
    "onboard": ["sam ChildDeveloperGroup", "sam ChildDeveloperGroup <mailto:s@example.com>"],
    "move": ["pete BreakGlassGroup ChildDeveloperGroup"],
    "suspend": ["pete", f"pete until {FUTURE} leave"],
    "grant": ["pete BreakGlassGroup 2 incident"],
    # a member's own (for the user linked to them; neither member here is linked)
    "request": ["BreakGlassGroup 2 incident", "BreakGlassGroup 1 --break-glass outage"],
    "requests": [""],
    "done": ["BreakGlassGroup"],
    "extend": ["BreakGlassGroup", "BreakGlassGroup 1"],
    "review": ["start due 2099-01-01", "start ChildDeveloperGroup due 2099-01-01"],
}


@st.composite
def texts(draw) -> str:
    verb = draw(VERB)
    args = draw(st.sampled_from(TAILS[verb])).split()
    for _ in range(draw(st.sampled_from([0, 0, 0, 1, 2]))):
        args.insert(draw(st.integers(0, len(args))), draw(ARG))
    if draw(st.integers(0, 5)) == 0:
        args = draw(st.lists(ARG, max_size=5))
    separators = draw(st.lists(SEPARATOR, min_size=len(args), max_size=len(args)))
    return (
        draw(PREFIX)
        + draw(shown(verb))
        + "".join(s + a for s, a in zip(separators, args, strict=True))
    )


TEXT = texts()
REFUSAL = re.compile(r":no_entry: You may not use `/access ([a-z]+)`")


def drain(catcher) -> list[dict]:
    posts = []
    while True:
        try:
            posts.append(catcher.next(timeout=0))
        except Empty:
            return posts


@settings(
    max_examples=200,
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(text=TEXT)
def test_only_a_listed_member_queues_a_change_and_only_the_verb_authorized(
    api, slack, sqs, poller, catcher, text
):
    """One world for all examples (a fresh moto per example would cost more than the example)."""
    if no_user("pete"):
        onboard(api, "pete")
    before = iam_fingerprint()

    # A member not listed: nothing changing is ever queued or offered for confirmation. (Each
    # request has its own response_url: work of an earlier example a failure left for a retry
    # is not this one's.)
    url = catcher.url(f"/{uuid.uuid4().hex}")
    stranger = slack.command(text, user=STRANGER, response_url=url)
    assert stranger.status_code == 200 and stranger.json["response_type"] == "ephemeral"
    assert button(stranger.json, replies.CONFIRM_ACTION) is None, text
    queries = ("status", "hygiene")
    assert all(
        work["kind"] in queries or work.get("action") == "requests"  # queries only
        for work in queued(sqs)
        if work.get("response_url") == url  # a direct message has none
    ), text
    assert not (changes := changed_since(before)), (text, changes)
    refused = REFUSAL.match(stranger.json["text"])

    # A listed member: what the edge lets through is the verb typed as plain text, and the one
    # it refused the other member, by name.
    url = catcher.url(f"/{uuid.uuid4().hex}")
    listed = slack.command(text, response_url=url)
    assert listed.status_code == 200 and listed.json["response_type"] == "ephemeral"
    changes = [
        work
        for work in queued(sqs)
        if work["kind"] in ("change", "review_start") and work["response_url"] == url
    ]
    authorized = [w["action"] for w in changes]
    if button(listed.json, replies.CONFIRM_ACTION):
        authorized.append("offboard")
    assert len(authorized) <= 1, (text, authorized)
    event(
        f"listed member: {authorized[0] if authorized else 'nothing'} queued or confirmed; "
        f"other member: {'refused' if refused else 'not refused'}"
    )
    if authorized:
        (verb,) = authorized
        typed = text.split()[0]
        assert typed.isascii() and typed.lower() == verb, (text, verb)
        assert refused and refused.group(1) == verb, (text, stranger.json["text"])

    for work in changes:
        # The same work claimed by the member not listed: the worker refuses it, and nothing
        # changes in IAM.
        claim = {
            **work,
            "slack_user": STRANGER,
            "request": {**work["request"], "requested_by": f"slack:{STRANGER}"},
        }
        sqs.send_message(QueueUrl=queue_url(sqs), MessageBody=json.dumps(claim))
        assert run_worker(poller) == [(1, 0)]
        assert "Refused" in drain(catcher)[-1]["text"]
        assert not (changes := changed_since(before)), (text, changes)
        # The listed member's own work: the worker does the verb that was authorized.
        sqs.send_message(QueueUrl=queue_url(sqs), MessageBody=json.dumps(work))
        run_worker(poller)
        events = bootstrap.services().lifecycle.state.audit_events(ticket=work["request"]["ticket"])
        assert {e["action"] for e in events} == {work["action"]}, events
    drain(catcher)
