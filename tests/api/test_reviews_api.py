"""Access reviews over REST: a campaign's snapshot and its query, reviewers' decisions with their
rules, revokes carried out through the change runner, the close, and the evidence in JSON and
CSV matching what IAM and the audit trail say."""

from __future__ import annotations

import csv
import io
from datetime import date, timedelta

import boto3

from devstack.local import REGION
from tests.support import onboard
from tests.support.revocation import CHILD, denied, revocation_document

OWNER, OPERATOR, PETE, SAM = "U0LOCAL0002", "U0LOCAL0001", "U0PETE00001", "U0SAM000001"
DUE = (date.today() + timedelta(days=10)).isoformat()


def start(api, ticket="T-rev-1", **body):
    return api.call(
        "POST", "/reviews", {"due": DUE, "ticket": ticket, "requested_by": "alice", **body}
    )


def groups_of(name):
    iam = boto3.client("iam", region_name=REGION)
    return sorted(g["GroupName"] for g in iam.list_groups_for_user(UserName=name)["Groups"])


def item(review, username, group="ChildDeveloperGroup"):
    [found] = [i for i in review["items"] if i["username"] == username and i["group"] == group]
    return found


def decide(api, review, found, decision, reviewer=OWNER, ticket="T-d"):
    return api.call(
        "POST",
        f"/reviews/{review['id']}/items/{found['id']}/decision",
        {"decision": decision, "reviewer": reviewer, "ticket": ticket},
    )


def test_a_campaign_snapshots_every_managed_member_and_assigns_owners(api):
    onboard(
        api, "pete", ["ChildDeveloperGroup"], ticket="T-on-pete", console=False, slack_user=PETE
    )
    onboard(
        api, "sam", ["ChildDeveloperGroup", "BreakGlassGroup"], ticket="T-on-sam", console=False
    )
    response = start(api)
    assert response.status_code == 201, response.body
    review = response.json
    assert review["status"] == "open" and review["due"] == DUE and review["created_at"]
    assert {(i["username"], i["group"]) for i in review["items"]} == {
        ("pete", "ChildDeveloperGroup"),
        ("sam", "ChildDeveloperGroup"),
        ("sam", "BreakGlassGroup"),
    }
    assert {i["reviewer"] for i in review["items"]} == {OWNER}
    population = review["population"]
    assert population["count"] == 3 and population["users"] == 2
    assert population["query"]["api"] == "iam:GetAccountAuthorizationDetails"
    # The same ticket answers the same campaign; listing and reading show it.
    assert start(api).json["id"] == review["id"]
    assert api.call("GET", f"/reviews/{review['id']}").json == review
    assert [r["id"] for r in api.call("GET", "/reviews?status=open").json["reviews"]] == [
        review["id"]
    ]


def test_the_person_under_review_gets_another_owner(api, monkeypatch):
    onboard(
        api, "pete", ["BreakGlassGroup"], ticket="T-on-pete", console=False, slack_user=OWNER
    )  # pete is the first owner himself
    review = start(api, groups=["BreakGlassGroup"]).json
    assert item(review, "pete", "BreakGlassGroup")["reviewer"] == OPERATOR


def test_bad_input_is_refused_and_nothing_is_made(api):
    onboard(api, "pete", ["ChildDeveloperGroup"], ticket="T-on-pete", console=False)
    past = start(api, due=date.today().isoformat())
    assert past.status_code == 400 and "after today" in past.json["Message"]
    unknown = start(api, ticket="T-2", groups=["NoSuchGroup"])
    assert unknown.status_code == 400 and "unknown group" in unknown.json["Message"]
    reserved = start(api, ticket="review:x")
    assert reserved.status_code == 400
    assert api.call("GET", "/reviews").json["reviews"] == []
    first = start(api, ticket="T-3", groups=["ChildDeveloperGroup"])
    assert first.status_code == 201
    again = start(api, ticket="T-4")
    assert again.status_code == 409 and "under review already" in again.json["Message"]
    assert len(api.call("GET", "/reviews").json["reviews"]) == 1


def test_decisions_follow_the_rules_and_a_revoke_is_carried_out_through_the_runner(api):
    onboard(
        api, "pete", ["ChildDeveloperGroup"], ticket="T-on-pete", console=False, slack_user=PETE
    )
    onboard(api, "sam", ["ChildDeveloperGroup"], ticket="T-on-sam", console=False, slack_user=SAM)
    review = start(api).json
    pete, sam = item(review, "pete"), item(review, "sam")
    # Not the reviewer, and the person under review, are refused; nothing changes.
    stranger = decide(api, review, pete, "keep", reviewer="U0STRANGER9")
    assert stranger.status_code == 403 and "not yours to review" in stranger.json["Message"]
    himself = decide(api, review, pete, "keep", reviewer=PETE)
    assert himself.status_code == 403
    assert "decision" not in item(api.call("GET", f"/reviews/{review['id']}").json, "pete")

    kept = decide(api, review, sam, "keep")
    assert kept.status_code == 200 and kept.json["decision"] == "keep"
    revoked = decide(api, review, pete, "revoke", reviewer=f"slack:{OWNER}")
    assert revoked.status_code == 200, revoked.body
    assert revoked.json["decided_by"] == OWNER and revoked.json["removed_at"]
    assert groups_of("pete") == [] and groups_of("sam") == ["ChildDeveloperGroup"]
    ticket = f"review:{review['id']}:{pete['id']}"
    removal = api.call("GET", f"/audit?ticket={ticket}").json["events"]
    assert [(e["action"], e["result"]) for e in removal] == [("move", "ok")]
    # A decision can change until the close, but a carried-out revoke is not undone by a keep.
    assert decide(api, review, pete, "keep").status_code == 409
    assert decide(api, review, sam, "revoke").status_code == 200
    assert groups_of("sam") == []

    closed = api.call(
        "POST", f"/reviews/{review['id']}/close", {"ticket": "T-c", "requested_by": "alice"}
    )
    assert closed.status_code == 200 and closed.json["status"] == "closed"
    late = decide(api, review, sam, "keep")
    assert late.status_code == 409 and "closed" in late.json["Message"]
    story = [
        (e["action"], e["result"])
        for e in api.call("GET", f"/audit?ticket={review['id']}").json["events"]
    ]
    assert ("review", "ok: started") in story and ("review_close", "ok: closed") in story
    assert (
        "review_decide",
        "rejected: pete is you: someone else must review your own access",
    ) in story


def test_the_evidence_matches_iam_and_the_audit_trail(api):
    onboard(
        api, "pete", ["ChildDeveloperGroup"], ticket="T-on-pete", console=False, slack_user=PETE
    )
    onboard(api, "sam", ["ChildDeveloperGroup"], ticket="T-on-sam", console=False)
    review = start(api).json
    decide(api, review, item(review, "pete"), "revoke")
    evidence = api.call("GET", f"/reviews/{review['id']}/evidence").json
    assert evidence["totals"] == {
        "items": 2,
        "kept": 0,
        "revoked": 1,
        "carried_out": 1,
        "undecided": 1,
        "lapsed": 0,
        "escalated": 0,
        "outside": 0,
        "owed_by_hand": 0,
    }
    assert evidence["check"]["every_revoke_carried_out"] and evidence["check"]["every_revoke_holds"]
    [row] = [r for r in evidence["items"] if r["username"] == "pete"]
    assert row["audit"]["action"] == "move" and row["audit"]["ticket"] == row["removal_ticket"]
    assert row["holds"] is True
    # The revoke denied his live DeveloperRole sessions, and the evidence names the account.
    assert row["sessions_revoked_in"] == [CHILD]
    assert "*:pete" in denied(revocation_document("DeveloperRole"))
    assert "*:sam" not in denied(revocation_document("DeveloperRole"))

    # Put pete back by hand (a later change through the service): the check says by which.
    api.call(
        "PUT",
        "/users/pete/groups",
        {"groups": ["ChildDeveloperGroup"], "ticket": "T-back", "requested_by": "bob"},
    )
    again = api.call("GET", f"/reviews/{review['id']}/evidence?rerun=true").json
    assert again["check"]["every_revoke_holds"] is False
    [row] = [r for r in again["items"] if r["username"] == "pete"]
    assert row["holds"] is False and row["back_by"]["ticket"] == "T-back"
    assert again["rerun"]["count"] == 2 and again["rerun"]["added"] == []

    response = api.call("GET", f"/reviews/{review['id']}/evidence?format=csv")
    assert response.headers["Content-Type"].startswith("text/csv")
    rows = list(csv.DictReader(io.StringIO(response.body.decode())))
    assert {r["username"]: r["decision"] for r in rows} == {"pete": "revoke", "sam": ""}
    assert api.call("GET", f"/reviews/{review['id']}/evidence?format=xml").status_code == 400
    assert api.call("GET", "/reviews/rev-nope").status_code == 404


def test_csv_evidence_disarms_formulas(api):
    onboard(api, "=cmd", ["ChildDeveloperGroup"], ticket="T-on-=cmd", console=False)
    review = start(api).json
    body = api.call("GET", f"/reviews/{review['id']}/evidence?format=csv").body.decode()
    assert "'=cmd" in body and ",=cmd" not in body


def _stage(clock, **review_settings):
    """The app's services with other review settings."""
    import dataclasses

    from chalicelib import bootstrap
    from chalicelib.aws.clients import AwsClients
    from devstack.local import shared_session

    current = bootstrap.services().settings
    variables = {f"REVIEW_{k.upper()}": str(v).lower() for k, v in review_settings.items()}
    changed = dataclasses.replace(current, capability_env={**current.capability_env, **variables})
    bootstrap.use(
        bootstrap.build(changed, AwsClients(REGION, session=shared_session()), clock=clock)
    )


def test_at_close_revokes_wait_for_the_close_and_undecided_items_may_be_revoked(api, clock):
    _stage(clock, carry_out="at_close", undecided="revoke")
    onboard(
        api, "pete", ["ChildDeveloperGroup"], ticket="T-on-pete", console=False, slack_user=PETE
    )
    onboard(api, "sam", ["ChildDeveloperGroup"], ticket="T-on-sam", console=False)
    review = start(api).json
    revoked = decide(api, review, item(review, "pete"), "revoke").json
    assert "removed_at" not in revoked and groups_of("pete") == ["ChildDeveloperGroup"]
    # Changeable until the close.
    assert decide(api, review, item(review, "pete"), "keep").json["decision"] == "keep"
    decide(api, review, item(review, "pete"), "revoke")
    clock.advance(days=11)
    fired = api.client.lambda_.invoke(
        "access_reviews",
        api.client.events.generate_cw_event(
            source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
        ),
    ).payload
    assert fired["closed"] == [review["id"]]
    assert groups_of("pete") == [] and groups_of("sam") == []
    closed = api.call("GET", f"/reviews/{review['id']}").json
    sam = item(closed, "sam")
    assert sam["decision"] == "revoke" and sam["lapsed"] and sam["decided_by"] == "schedule"
    evidence = api.call("GET", f"/reviews/{review['id']}/evidence").json
    assert evidence["totals"]["lapsed"] == 1 and evidence["totals"]["carried_out"] == 2
    assert evidence["check"]["every_revoke_holds"]
    # The groups are free again for a new review.
    assert (
        start(
            api, ticket="T-rev-2", due=(clock().date() + timedelta(days=5)).isoformat()
        ).status_code
        == 201
    )


def test_the_quarterly_review_starts_on_the_first_day_of_a_quarter(api, clock):
    import datetime

    _stage(clock, quarterly=True, quarterly_days=14)
    onboard(api, "pete", ["ChildDeveloperGroup"], ticket="T-on-pete", console=False)
    event = api.client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    clock.fixed = datetime.datetime(2027, 1, 2, 8, tzinfo=datetime.UTC)
    assert api.client.lambda_.invoke("access_reviews", event).payload["started"] == []
    clock.fixed = datetime.datetime(2027, 4, 1, 8, tzinfo=datetime.UTC)
    [started] = api.client.lambda_.invoke("access_reviews", event).payload["started"]
    review = api.call("GET", f"/reviews/{started}").json
    assert review["due"] == "2027-04-15" and review["ticket"] == "schedule:review:2027-Q2"
    assert review["groups"] == ["ChildDeveloperGroup", "BreakGlassGroup"]
    # The same day again starts nothing more.
    assert api.client.lambda_.invoke("access_reviews", event).payload["started"] == [started]
    assert len(api.call("GET", "/reviews").json["reviews"]) == 1


def test_a_revoke_that_cannot_be_carried_out_says_so_in_the_evidence(api):
    onboard(api, "pete", ["ChildDeveloperGroup"], ticket="T-on-pete", console=False)
    review = start(api).json
    suspended = api.call("POST", "/users/pete/suspend", {"ticket": "T-s", "requested_by": "alice"})
    assert suspended.status_code == 200
    revoked = decide(api, review, item(review, "pete"), "revoke").json
    assert "removed_at" not in revoked and "restore them" in revoked["carry_out_error"]
    evidence = api.call("GET", f"/reviews/{review['id']}/evidence").json
    assert evidence["check"]["every_revoke_carried_out"] is False
    assert evidence["check"]["problems"] == [
        f"pete in ChildDeveloperGroup: {revoked['carry_out_error']}"
    ]
    html = api.call("GET", f"/reviews/{review['id']}/evidence?format=html").body.decode()
    assert "ATTENTION: 0 of 1 revoke(s) carried out and holding." in html


def test_a_revoke_takes_only_the_reviewed_group_from_what_the_user_holds_now(api):
    # pete's record says ChildDeveloperGroup only; someone added him to BreakGlassGroup by hand
    # (drift). The review covers ChildDeveloperGroup: its revoke must leave BreakGlassGroup,
    # which nobody reviewed, where it is.
    onboard(api, "pete", ["ChildDeveloperGroup"], ticket="T-on-pete", console=False)
    boto3.client("iam", region_name=REGION).add_user_to_group(
        GroupName="BreakGlassGroup", UserName="pete"
    )
    review = start(api, groups=["ChildDeveloperGroup"]).json
    revoked = decide(api, review, item(review, "pete"), "revoke")
    assert revoked.status_code == 200 and revoked.json["removed_at"], revoked.body
    assert groups_of("pete") == ["BreakGlassGroup"]
    # Through the same change: his DeveloperRole sessions (the role he lost) are revoked.
    assert revoked.json["sessions_revoked_in"] == [CHILD]
    assert "*:pete" in denied(revocation_document("DeveloperRole"))


def test_members_outside_management_are_reviewed_removed_by_hand_and_never_pass(api):
    iam = boto3.client("iam", region_name=REGION)
    onboard(api, "pete", ["BreakGlassGroup"], ticket="T-on-pete", console=False, slack_user=PETE)
    # A back door at the root path, and a protected owner under the managed path.
    for name, path in (("backdoor", "/"), ("break-glass-owner", "/managed/")):
        iam.create_user(UserName=name, Path=path)
        iam.add_user_to_group(GroupName="BreakGlassGroup", UserName=name)
    review = start(api, groups=["BreakGlassGroup"]).json
    backdoor = item(review, "backdoor", "BreakGlassGroup")
    owner = item(review, "break-glass-owner", "BreakGlassGroup")
    assert (backdoor["outside"], backdoor["path"], owner["outside"]) == ("path", "/", "protected")
    assert backdoor["reviewer"] == owner["reviewer"] == OPERATOR  # not the group's owner
    assert review["population"]["outside"] == 2
    evidence = api.call("GET", f"/reviews/{review['id']}/evidence?rerun=true").json
    assert evidence["check"]["verdict"] == "ATTENTION" and evidence["rerun"]["added"] == []
    assert {m["username"] for m in evidence["check"]["outside_management"]} == {
        "backdoor",
        "break-glass-owner",
    }

    # A revoke of one changes nothing in IAM: it is owed by hand, and says what to do.
    revoked = decide(api, review, backdoor, "revoke", reviewer=OPERATOR)
    assert revoked.status_code == 200, revoked.body
    assert "removed_at" not in revoked.json and "by hand" in revoked.json["removal_owed"]
    assert groups_of("backdoor") == ["BreakGlassGroup"]
    removed = f"/reviews/{review['id']}/items/{backdoor['id']}/removed"
    record = {"operator": OPERATOR, "ticket": "T-by-hand"}
    early = api.call("POST", removed, record)
    assert early.status_code == 409 and "still in BreakGlassGroup" in early.json["Message"]
    assert api.call("POST", removed, {**record, "operator": OWNER}).status_code == 403
    iam.remove_user_from_group(GroupName="BreakGlassGroup", UserName="backdoor")
    done = api.call("POST", removed, record)
    assert done.status_code == 200, done.body
    assert done.json["removed_at"] and done.json["removed_by"] == f"slack:{OPERATOR}"
    assert "removal_owed" not in done.json

    # The protected owner is revoked too; removed by hand before the close, the close sees it.
    decide(api, review, owner, "revoke", reviewer=OPERATOR)
    iam.remove_user_from_group(GroupName="BreakGlassGroup", UserName="break-glass-owner")
    api.call("POST", f"/reviews/{review['id']}/close", {"ticket": "T-c", "requested_by": "alice"})
    closed = api.call("GET", f"/reviews/{review['id']}").json
    closed_owner = item(closed, "break-glass-owner", "BreakGlassGroup")
    assert closed_owner["removed_at"] and closed_owner["removed_by"] == "alice"
    story = [
        (e["username"], e["result"].split(":")[0])
        for e in api.call("GET", f"/audit?ticket={review['id']}").json["events"]
        if e["action"] == "review_carry_out"
    ]
    assert ("backdoor", "owed") in story and ("backdoor", "ok") in story
    evidence = api.call("GET", f"/reviews/{review['id']}/evidence").json
    assert evidence["check"]["verdict"] == "PASS", evidence["check"]

    # A back door added since: the query run again finds it, and the verdict is no PASS.
    iam.create_user(UserName="latecomer", Path="/")
    iam.add_user_to_group(GroupName="BreakGlassGroup", UserName="latecomer")
    again = api.call("GET", f"/reviews/{review['id']}/evidence?rerun=true").json
    assert again["rerun"]["added"] == [{"username": "latecomer", "group": "BreakGlassGroup"}]
    assert again["check"]["verdict"] == "ATTENTION"
    html = api.call("GET", f"/reviews/{review['id']}/evidence?format=html").body.decode()
    assert "ATTENTION" in html and "latecomer in BreakGlassGroup: at path /" in html


def test_nobody_reviews_their_own_access_whichever_side_is_linked(api):
    from chalicelib import bootstrap

    # olga came from the identity provider: no Slack member on her user. But the owner's own
    # Slack member is linked to olga (MEMBER# link): the owner is olga, and may not keep her.
    onboard(api, "olga", ["ChildDeveloperGroup"], ticket="T-on-olga", console=False)
    onboard(api, "sam", ["ChildDeveloperGroup"], ticket="T-on-sam", console=False)
    person = boto3.client("iam").get_user(UserName="olga")["User"]["UserId"]
    bootstrap.services().state.link_member(OWNER, "Olga", person)  # any spelling is one person
    review = start(api).json
    olga, sam = item(review, "olga"), item(review, "sam")
    himself = decide(api, review, olga, "keep", reviewer=OWNER)
    assert himself.status_code == 403 and "is you" in himself.json["Message"], himself.body
    assert "first_keep" not in item(api.call("GET", f"/reviews/{review['id']}").json, "olga")

    # sam has no linked member either: nobody can show that his reviewer is not sam, so his
    # keep takes two reviewers (his owner and an operator, both asked).
    assert (sam["reviewer"], sam["second_reviewer"]) == (OWNER, OPERATOR)
    first = decide(api, review, sam, "keep", reviewer=OWNER)
    assert first.status_code == 200 and "decision" not in first.json, first.body
    assert first.json["first_keep"]["by"] == OWNER
    assert "decision" not in decide(api, review, sam, "keep", reviewer=OWNER).json
    second = decide(api, review, sam, "keep", reviewer=OPERATOR)
    assert second.json["decision"] == "keep" and second.json["decided_by"] == OPERATOR
    evidence = api.call("GET", f"/reviews/{review['id']}/evidence").json
    [row] = [r for r in evidence["items"] if r["username"] == "sam"]
    assert row["how"] == f"keep by {OWNER} and {OPERATOR} (two reviewers: no linked member)"
    # A revoke keeps nobody's access: one reviewer is enough.
    revoked = decide(api, review, olga, "revoke", reviewer=OPERATOR)
    assert revoked.status_code == 200 and revoked.json["removed_at"]


def test_after_the_close_the_schedule_records_a_removal_made_by_hand(api):
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName="backdoor", Path="/")
    iam.add_user_to_group(GroupName="ChildDeveloperGroup", UserName="backdoor")
    review = start(api, groups=["ChildDeveloperGroup"]).json
    decide(api, review, item(review, "backdoor"), "revoke", reviewer=OPERATOR)
    api.call("POST", f"/reviews/{review['id']}/close", {"ticket": "T-c", "requested_by": "alice"})
    event = api.client.events.generate_cw_event(
        source="aws.events", detail_type="Scheduled Event", detail={}, resources=[]
    )
    # Still in the group: still owed, and the evidence says so.
    assert api.client.lambda_.invoke("access_reviews", event).payload["removed_by_hand"] == []
    evidence = api.call("GET", f"/reviews/{review['id']}/evidence").json
    assert evidence["check"]["verdict"] == "ATTENTION" and evidence["totals"]["owed_by_hand"] == 1
    # Removed by hand, and nobody said so: the next run reads IAM and records it.
    iam.remove_user_from_group(GroupName="ChildDeveloperGroup", UserName="backdoor")
    backdoor = item(review, "backdoor")
    fired = api.client.lambda_.invoke("access_reviews", event).payload
    assert fired["removed_by_hand"] == [backdoor["id"]]
    done = item(api.call("GET", f"/reviews/{review['id']}").json, "backdoor")
    assert done["removed_at"] and done["removed_by"] == "schedule"
    assert api.client.lambda_.invoke("access_reviews", event).payload["removed_by_hand"] == []
    evidence = api.call("GET", f"/reviews/{review['id']}/evidence").json
    assert evidence["check"]["verdict"] == "PASS", evidence["check"]
