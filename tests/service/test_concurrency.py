"""Concurrent changes: the same ticket many times at once, and different tickets for one user at
once, through the REST API (the app under chalice local's threaded server, in this process) and
through the queue worker (its Lambda handler called from many threads), against moto.

Each ticket runs once (Powertools idempotency) and one change per user runs at a time (a lease in
the state table): every caller gets the first answer or a 409 that says to retry, and IAM, the
lifecycle record and the audit trail agree afterwards.
"""

from __future__ import annotations

import functools
import json
import queue

import boto3

from chalicelib import bootstrap
from chalicelib.settings import work_queue_name
from devstack.local import REGION
from devstack.queue_poller import lambda_event
from devstack.slack_command import ResponseCatcher, allowed_users
from tests.support.concurrency import CALLERS, all_at_once

GROUPS = ("ChildDeveloperGroup", "BreakGlassGroup")
SLACK_USER = allowed_users()[0]


def managed_users() -> list[str]:
    iam = boto3.client("iam")
    return sorted(u["UserName"] for u in iam.list_users(PathPrefix="/managed/")["Users"])


def iam_groups(username: str) -> list[str]:
    iam = boto3.client("iam")
    return sorted(g["GroupName"] for g in iam.list_groups_for_user(UserName=username)["Groups"])


def audit(username: str) -> list[dict]:
    return bootstrap.services().lifecycle.state.audit_events(username)


def is_retry_conflict(status: int, answer: dict) -> bool:
    return status == 409 and "retry" in answer["Message"] and set(answer) == {"Code", "Message"}


def without_password(answer: dict) -> dict:
    return {key: value for key, value in answer.items() if key != "temporary_password"}


ONBOARD = {
    "username": "pete",
    "groups": ["ChildDeveloperGroup"],
    "ticket": "T-1",
    "requested_by": "alice",
    "console": True,
}


def assert_ran_once(trail: list[dict], action: str, ticket: str) -> None:
    """One change done; every other attempt is in the trail as what it was: refused while the
    first ran, or a replay of its answer."""
    assert [(e["action"], e["ticket"]) for e in trail if e["result"] == "ok"] == [(action, ticket)]
    others = [e["result"] for e in trail if e["result"] != "ok"]
    assert all(
        r == "replayed" or r.startswith(f"rejected: ticket {ticket} is being processed")
        for r in others
    ), others


def test_the_same_onboarding_sent_20_times_at_once_runs_once(local_api):
    answers = all_at_once([lambda: local_api("POST", "/users", ONBOARD)] * CALLERS)

    done = [answer for status, answer in answers if status == 201]
    refused = [(status, answer) for status, answer in answers if status != 201]
    assert done, answers
    assert all(is_retry_conflict(*pair) for pair in refused), refused
    # The first answer, and replays of it; only the first holds the password.
    assert len({json.dumps(without_password(a), sort_keys=True) for a in done}) == 1, done
    assert sum("temporary_password" in a for a in done) == 1
    assert managed_users() == ["pete"] and iam_groups("pete") == ["ChildDeveloperGroup"]
    assert_ran_once(audit("pete"), "onboard", "T-1")
    # And after the rush, the same ticket is a replay.
    status, again = local_api("POST", "/users", ONBOARD)
    assert status == 201 and again == without_password(done[0])


def test_the_same_slack_work_delivered_20_times_at_once_runs_once(client, atomic_dynamodb):
    from chalice.local import LambdaContext

    from app import app

    sqs = boto3.client("sqs", region_name=REGION)
    url = sqs.get_queue_url(QueueName=work_queue_name())["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    with ResponseCatcher() as slack:
        work = {
            "kind": "change",
            "action": "onboard",
            "username": "pete",
            "response_url": slack.url(),
            "slack_user": SLACK_USER,
            "request": {**ONBOARD, "ticket": "slack:1.2.3", "requested_by": f"slack:{SLACK_USER}"},
        }
        for _ in range(CALLERS):
            sqs.send_message(QueueUrl=url, MessageBody=json.dumps(work))
        messages = []
        while len(messages) < CALLERS:
            messages += sqs.receive_message(
                QueueUrl=url, MaxNumberOfMessages=10, AttributeNames=["All"]
            )["Messages"]
        assert len({m["Body"] for m in messages}) == 1
        handler = app.handler_map["worker"]

        def deliver(message: dict) -> dict:  # as Lambda does, one record per invocation
            from aws_lambda_powertools.utilities.batch.exceptions import BatchProcessingError

            try:
                return handler(lambda_event([message], arn), LambdaContext("worker", 512))
            except BatchProcessingError:  # its one record failed: the invocation fails, SQS retries
                return {"retried": True}

        results = all_at_once([functools.partial(deliver, m) for m in messages])
        # Every delivery is done (the result, or a replay of it) or, while the first still runs,
        # handed back to SQS to be tried again: never a final "conflict" for a duplicate.
        retried = [r for r in results if r == {"retried": True}]
        assert all(r == {"batchItemFailures": []} for r in results if r not in retried), results
        assert len(retried) < CALLERS
        posts = []
        while True:
            try:
                posts.append(slack.next(timeout=0.5))
            except queue.Empty:  # every post is in
                break

    texts = [json.dumps(post) for post in posts]
    # A replay posts the welcome pack again, but the temporary password only the first run had.
    packs = [t for t in texts if "Welcome pack of pete" in t]
    replayed = [t for t in packs if "handed out when this request first ran" in t]
    assert len(packs) - len(replayed) == 1, packs
    results_posted = [t for t in texts if "pete onboarded" in t]
    assert results_posted and len(results_posted) + len(packs) == len(texts), texts
    assert not [t for t in texts if "Conflict" in t], texts
    assert managed_users() == ["pete"] and iam_groups("pete") == ["ChildDeveloperGroup"]
    assert_ran_once(audit("pete"), "onboard", "slack:1.2.3")


def check_consistent(username: str, targets: dict[str, list[str]], answers: dict) -> list[dict]:
    """Every ticket was answered, audited once, and the last change that happened is the one that
    IAM and the record show: no lost update."""
    events = [e for e in audit(username) if e["ticket"] in targets]
    assert sorted(e["ticket"] for e in events) == sorted(targets), events
    for event in events:
        status, answer = answers[event["ticket"]]
        if event["result"] == "ok":
            assert status == 200, (event, answer)
        else:
            assert status == 409 and event["result"].startswith("rejected: "), (event, answer)
    applied = [e for e in events if e["result"] == "ok"]
    assert applied, events
    record = bootstrap.services().lifecycle.state.get_record(username)
    last = applied[-1]  # the audit trail is in the order changes happened
    assert record["ticket"] == last["ticket"], (record, applied)
    return applied


def test_different_tickets_for_one_user_at_once_serialize(local_api):
    assert local_api("POST", "/users", ONBOARD)[0] == 201
    subsets = [[], ["BreakGlassGroup"], ["ChildDeveloperGroup"], list(GROUPS)]
    targets = {f"T-MOVE-{n}": subsets[n % len(subsets)] for n in range(10)}

    def move(ticket: str) -> tuple[int, dict]:
        return local_api(
            "PUT",
            "/users/pete/groups",
            {"groups": targets[ticket], "ticket": ticket, "requested_by": "alice"},
        )

    results = all_at_once([functools.partial(move, ticket) for ticket in targets])
    answers = dict(zip(targets, results, strict=True))
    for status, answer in results:
        assert status == 200 or is_retry_conflict(status, answer), answer
        if status == 409:
            assert "in progress" in answer["Message"], answer
    applied = check_consistent("pete", targets, answers)
    final = sorted(targets[applied[-1]["ticket"]])
    assert iam_groups("pete") == final
    assert sorted(bootstrap.services().lifecycle.state.get_record("pete")["groups"]) == final
    status, user = local_api("GET", "/users/pete")
    assert status == 200 and sorted(user["groups"]) == final


def test_a_suspension_and_a_move_at_once_leave_one_consistent_state(local_api):
    assert local_api("POST", "/users", ONBOARD)[0] == 201
    for round_ in range(3):
        suspend, move = f"T-S{round_}", f"T-M{round_}"
        targets = {suspend: [], move: ["BreakGlassGroup"]}
        results = all_at_once(
            [
                functools.partial(
                    local_api,
                    "POST",
                    "/users/pete/suspend",
                    {"ticket": suspend, "requested_by": "alice"},
                ),
                functools.partial(
                    local_api,
                    "PUT",
                    "/users/pete/groups",
                    {"groups": ["BreakGlassGroup"], "ticket": move, "requested_by": "alice"},
                ),
            ]
        )
        answers = dict(zip(targets, results, strict=True))
        for status, answer in results:
            assert status in (200, 409), answer
        applied = check_consistent("pete", targets, answers)
        status, user = local_api("GET", "/users/pete")
        suspended = any(e["ticket"] == suspend for e in applied)
        # A move after the suspension is refused (suspended); one before it is what a restore
        # gives back.
        assert user["status"] == ("suspended" if suspended else "active"), (applied, user)
        assert iam_groups("pete") == ([] if suspended else ["BreakGlassGroup"])
        if suspended:
            restored = local_api(
                "POST", "/users/pete/restore", {"ticket": f"T-R{round_}", "requested_by": "alice"}
            )
            assert restored[0] == 200, restored
            moved = any(e["ticket"] == move for e in applied)
            assert restored[1]["user"]["groups"] == (
                ["BreakGlassGroup"] if moved else ["ChildDeveloperGroup"]
            )
        local_api(
            "PUT",
            "/users/pete/groups",
            {
                "groups": ["ChildDeveloperGroup"],
                "ticket": f"T-RESET{round_}",
                "requested_by": "alice",
            },
        )
