"""Access reviews end to end through signed Slack requests: an operator's `/access review start`,
each reviewer's direct message with Keep / Revoke per item and "Keep all undecided" (clicked as
Slack sends the interaction), the worker run from the queue, reminders and the close fired as
the schedule fires them with the clock advanced, and the escalation to the operators' channel."""

from __future__ import annotations

import html
from datetime import timedelta

from tests.support.approvals import APPROVER, NOBODY, OPERATOR, STRANGER, text_of

CHANNEL = "C0LOCALREVIEWS"  # REVIEW_CHANNEL of the dev stage


def ephemeral(response) -> str:
    assert response.status_code == 200, response.body
    return html.unescape(response.json["text"])


def values(message: dict) -> dict[str, list[str]]:
    found: dict[str, list[str]] = {}
    for block in message.get("blocks", []):
        if block.get("type") == "actions":
            for element in block["elements"]:
                found.setdefault(element["action_id"], []).append(element["value"])
    return found


def started(flow, due, items=3):
    answer = ephemeral(flow.command(f"review start ChildDeveloperGroup due {due}", OPERATOR))
    assert "Starting an access review" in answer
    flow.work()
    [reply] = flow.replies()
    assert f"started: {items} item(s)" in html.unescape(reply["text"])
    from chalicelib import bootstrap

    [review] = bootstrap.services().reviews.search("open")
    return review


def review_items(review_id: str) -> list[dict]:
    from chalicelib import bootstrap

    return bootstrap.services().reviews.read(review_id)[1]


def item_value(message: dict, username: str) -> str:
    for block in message["blocks"]:
        if block.get("type") == "section" and f"*{username}*" in block["text"]["text"]:
            following = message["blocks"][message["blocks"].index(block) + 1]
            return following["elements"][0]["value"]
    raise AssertionError(username)


def test_a_campaign_runs_in_slack_from_start_to_close(flow):
    flow.onboard("pete", NOBODY, console=False)
    flow.onboard("sam", console=False)  # no linked member: a keep of his takes two reviewers
    flow.onboard("ana", "U0ANA000001", console=False)
    due = (flow.clock().date() + timedelta(days=10)).isoformat()
    # Only the listed operators start a review.
    assert "only" in ephemeral(flow.command(f"review start due {due}", NOBODY)).lower()
    assert flow.work() == 0
    review = started(flow, due)

    [dm] = flow.dms_to(APPROVER)
    assert "3 item(s) for you" in text_of(dm)
    buttons = values(dm)
    assert len(buttons["review_keep"]) == 3 and buttons["review_keep_all"] == [f"{review['id']}:0"]

    pete = item_value(dm, "pete")
    # The person under review, and a stranger, may not decide it; nothing changes.
    flow.click("review_keep", pete, NOBODY)
    flow.click("review_keep", pete, STRANGER)
    flow.work()
    refusals = [html.unescape(r["text"]) for r in flow.replies()]
    assert any("your own access" in r for r in refusals), refusals
    assert any("not yours to review" in r for r in refusals), refusals

    flow.click("review_revoke", pete, APPROVER)
    flow.work()
    [redrawn] = flow.replies()
    assert redrawn["replace_original"] is True
    assert f"revoke by <@{APPROVER}>" in text_of(redrawn) and "removed at" in text_of(redrawn)
    assert flow.groups_of("pete") == []
    flow.click("review_keep", item_value(redrawn, "sam"), APPROVER)
    flow.work()
    [first] = flow.replies()
    assert "a second reviewer must keep it too" in text_of(first)
    # The operator, his second reviewer, was asked too, and keeps him.
    [theirs] = flow.dms_to(OPERATOR)
    flow.click("review_keep", item_value(theirs, "sam"), OPERATOR)
    flow.work()
    [second] = flow.replies()
    assert f"keep by <@{OPERATOR}>" in text_of(second) and "second reviewer" not in text_of(second)

    # Two days before the due date: a reminder of what is left (ana).
    flow.clock.advance(days=8)
    flow.fire("access_reviews")
    flow.work()
    reminder = flow.dms_to(APPROVER)[-1]
    assert "Reminder: 1 item(s) still wait" in text_of(reminder)

    # After the due date: closed, ana escalated to the operators' channel.
    flow.clock.advance(days=3)
    assert flow.fire("access_reviews")["closed"] == [review["id"]]
    flow.work()
    [post] = [c for c in flow.channel_posts_to(CHANNEL)]
    assert "closed: 1 kept, 1 revoked (1 carried out), 1 undecided" in text_of(post)
    assert "Escalated to the operators" in text_of(post)
    late = flow.click("review_keep", item_value(redrawn, "sam"), APPROVER)
    assert late.status_code == 200
    flow.work()
    assert "closed" in html.unescape(flow.replies()[-1]["text"])
    # An operator decides the escalated item from the channel message.
    [ana] = values(post)["review_keep"]
    flow.click("review_keep", ana, OPERATOR)
    flow.work()
    [decided] = flow.replies()
    assert f"keep by <@{OPERATOR}>" in text_of(decided)

    from chalicelib import bootstrap

    evidence = bootstrap.services().reviews.evidence(review["id"])
    assert evidence["totals"]["kept"] == 2 and evidence["totals"]["revoked"] == 1
    assert evidence["totals"]["undecided"] == 0 and evidence["check"]["every_revoke_holds"]
    story = [(e["action"], e["result"]) for e in flow.audit(review["id"])]
    assert ("review_close", "ok: escalated") in story and ("review_close", "ok: closed") in story


def test_the_grammar_explains_a_review_start(flow):
    answer = ephemeral(flow.command("review start ChildDeveloperGroup", OPERATOR))
    assert "due YYYY-MM-DD" in answer
    answer = ephemeral(flow.command("review start due 2020-01-01", OPERATOR))
    flow.work()
    [reply] = flow.replies()
    assert "after today" in html.unescape(reply["text"])


def test_an_operator_revokes_a_back_door_and_records_its_removal_by_hand(flow):
    import boto3

    from devstack.local import REGION

    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName="backdoor", Path="/")
    iam.add_user_to_group(GroupName="ChildDeveloperGroup", UserName="backdoor")
    review = started(flow, (flow.clock().date() + timedelta(days=10)).isoformat(), items=1)
    # Only an operator can remove a member outside the path: an operator reviews it (the
    # group's owner is asked as its second reviewer, a keep of an unlinked user taking two).
    [backdoor] = review_items(review["id"])
    assert (backdoor["reviewer"], backdoor["second_reviewer"]) == (OPERATOR, APPROVER)
    [dm] = flow.dms_to(OPERATOR)
    flow.click("review_revoke", item_value(dm, "backdoor"), OPERATOR)
    flow.work()
    [owed] = flow.replies()
    assert "owed by hand" in text_of(owed) and "remove-user-from-group" in text_of(owed)
    assert flow.groups_of("backdoor") == ["ChildDeveloperGroup"]  # the service never changes it
    [removed_button] = values(owed)["review_removed"]
    flow.click("review_removed", removed_button, OPERATOR)
    flow.work()
    assert "still in ChildDeveloperGroup" in html.unescape(flow.replies()[-1]["text"])
    iam.remove_user_from_group(GroupName="ChildDeveloperGroup", UserName="backdoor")
    flow.click("review_removed", removed_button, OPERATOR)
    flow.work()
    [done] = flow.replies()
    assert "removed at" in text_of(done) and "owed by hand" not in text_of(done)
    from chalicelib import bootstrap

    evidence = bootstrap.services().reviews.evidence(review["id"])
    assert evidence["check"]["verdict"] == "PASS", evidence["check"]
