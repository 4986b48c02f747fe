"""Adopting users the service did not create, on moto: a fresh account with people at ``/``,
keys, passwords, MFA, hand-made groups and an inline policy. Plan first; adoption and release
change no permission (the access matrix and every credential read before and after); what
cannot be adopted is refused with every reason."""

from __future__ import annotations

import json

import pytest

from chalicelib.adoption.rules import MARK_KEY, MARK_VALUE
from tests.support import onboard, ticket

MARK = [{"Key": MARK_KEY, "Value": MARK_VALUE}]


def person(iam, name: str, groups=("ChildDeveloperGroup",), marked=True, tags=()) -> dict:
    """A user made by hand, as a company has them: at /, a password, a key, an MFA device."""
    iam.create_user(UserName=name, Tags=[*(MARK if marked else []), *tags])
    iam.create_login_profile(UserName=name, Password="An-old-password-1!")
    key = iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]
    serial = iam.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]
    iam.enable_mfa_device(
        UserName=name,
        SerialNumber=serial["SerialNumber"],
        AuthenticationCode1="123456",
        AuthenticationCode2="654321",
    )
    for group in groups:
        iam.add_user_to_group(UserName=name, GroupName=group)
    user = iam.get_user(UserName=name)["User"]
    return {"id": user["UserId"], "arn": user["Arn"], "key": key}


def state_of(iam, name: str) -> dict:
    """Everything adoption must leave as it was, read with the test's own credentials."""
    return {
        "id": iam.get_user(UserName=name)["User"]["UserId"],
        "keys": iam.list_access_keys(UserName=name)["AccessKeyMetadata"],
        "login": iam.get_login_profile(UserName=name)["LoginProfile"]["CreateDate"],
        "mfa": [d["SerialNumber"] for d in iam.list_mfa_devices(UserName=name)["MFADevices"]],
        "groups": sorted(g["GroupName"] for g in iam.list_groups_for_user(UserName=name)["Groups"]),
        "inline": iam.list_user_policies(UserName=name)["PolicyNames"],
        "attached": iam.list_attached_user_policies(UserName=name)["AttachedPolicies"],
    }


def matrix(api, name: str) -> list[dict]:
    return [r for r in api.call("GET", "/access-matrix").json["rows"] if r["username"] == name]


def test_the_plan_says_what_changes_and_what_stays_and_changes_nothing(api, iam):
    made = person(iam, "ana")
    before = state_of(iam, "ana")

    answer = api.call("POST", "/users/ana/adopt", {**ticket("T-ad-1"), "dry_run": True})

    assert answer.status_code == 200, answer.json
    plan = answer.json["plan"]
    assert plan["changes"]["path"] == {"before": "/", "after": "/managed/"}
    assert plan["changes"]["arn"]["after"].endswith(":user/managed/ana")
    assert plan["changes"]["groups_owned"] == ["ChildDeveloperGroup"]
    assert plan["unchanged"]["access_keys"] == [{"id": made["key"], "status": "Active"}]
    assert plan["unchanged"]["console"] is True and plan["unchanged"]["mfa_devices"]
    rows = plan["access_matrix"]["before"]
    assert rows and rows == plan["access_matrix"]["after"]
    assert {r["role"] for r in rows} == {"DeveloperRole"}
    calls = [
        c["operation"] for w in answer.json["waves"] for cs in w["accounts"].values() for c in cs
    ]
    assert "UpdateUser" in calls and "TagUser" in calls
    # nothing changed
    assert iam.get_user(UserName="ana")["User"]["Path"] == "/"
    assert state_of(iam, "ana") == before


def test_adoption_changes_the_path_and_nothing_a_person_can_do(api, iam):
    made = person(iam, "ana", tags=[{"Key": "ticket", "Value": "HR-7"}])
    before = state_of(iam, "ana")
    plan = api.call("POST", "/users/ana/adopt", {**ticket("T-ad-2"), "dry_run": True}).json

    answer = api.call("POST", "/users/ana/adopt", ticket("T-ad-2"))

    assert answer.status_code == 200, answer.json
    assert answer.json["username"] == "ana" and answer.json["status"] == "active"
    assert answer.json["groups"] == ["ChildDeveloperGroup"]
    assert answer.json["adopted"]["from_path"] == "/"
    user = iam.get_user(UserName="ana")["User"]
    assert user["Path"] == "/managed/" and user["UserId"] == made["id"]
    assert user["Arn"].endswith(":user/managed/ana")
    assert state_of(iam, "ana") == before  # keys, password, MFA, groups, policies
    # the access matrix the service now shows is the plan's
    rows = [{k: r[k] for k in ("username", "group", "account", "role")} for r in matrix(api, "ana")]
    assert rows == plan["plan"]["access_matrix"]["before"]
    trail = api.call("GET", "/audit?ticket=T-ad-2").json["events"]
    assert [e["result"] for e in trail if e["action"] == "adopt"] == ["planned", "ok"]
    # a managed user like any other: it can be described and moved
    assert api.call("GET", "/users/ana").status_code == 200
    # the same ticket again answers the same, changing nothing
    again = api.call("POST", "/users/ana/adopt", ticket("T-ad-2"))
    assert again.status_code == 200 and again.json["username"] == "ana"


def test_release_gives_the_user_back_as_it_was(api, iam):
    person(iam, "ana", tags=[{"Key": "ticket", "Value": "HR-7"}])
    before = state_of(iam, "ana")
    tags_before = iam.list_user_tags(UserName="ana")["Tags"]
    assert api.call("POST", "/users/ana/adopt", ticket("T-ad-3")).status_code == 200

    plan = api.call("POST", "/users/ana/release", {**ticket("T-rel-3"), "dry_run": True})
    assert plan.status_code == 200, plan.json
    assert iam.get_user(UserName="ana")["User"]["Path"] == "/managed/"

    answer = api.call("POST", "/users/ana/release", ticket("T-rel-3"))

    assert answer.status_code == 200, answer.json
    assert answer.json["released"] is True and answer.json["path"] == "/"
    assert iam.get_user(UserName="ana")["User"]["Path"] == "/"
    assert sorted(iam.list_user_tags(UserName="ana")["Tags"], key=str) == sorted(
        tags_before, key=str
    )
    assert state_of(iam, "ana") == before
    assert api.call("GET", "/users/ana").status_code == 404
    trail = api.call("GET", "/audit?username=ana").json["events"]
    assert ("release", "ok") in [(e["action"], e["result"]) for e in trail]
    # drift sees a user outside management in a managed group, not a record to keep in step
    from chalicelib import bootstrap
    from chalicelib.lifecycle.schedules import drift

    found = [f for f in drift(bootstrap.services().lifecycle) if f["username"] == "ana"]
    assert [f["kind"] for f in found] == ["unmanaged_member"]
    # and it can be adopted again
    assert api.call("POST", "/users/ana/adopt", ticket("T-ad-3b")).status_code == 200


def test_a_user_granted_more_than_their_groups_is_refused_with_every_reason(api, iam):
    person(iam, "bo", groups=("ChildDeveloperGroup",))
    iam.create_group(GroupName="HandMadeAdmins")
    iam.add_user_to_group(UserName="bo", GroupName="HandMadeAdmins")
    iam.put_user_policy(
        UserName="bo",
        PolicyName="everything",
        PolicyDocument=json.dumps(
            {
                "Version": "2012-10-17",
                "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole", "Resource": "*"}],
            }
        ),
    )
    before = state_of(iam, "bo")

    for body in ({**ticket("T-ad-4"), "dry_run": True}, ticket("T-ad-4b")):
        answer = api.call("POST", "/users/bo/adopt", body)
        assert answer.status_code == 409, answer.json
        message = answer.json["Message"]
        assert "inline policy everything" in message
        assert "HandMadeAdmins" in message

    assert iam.get_user(UserName="bo")["User"]["Path"] == "/"
    assert state_of(iam, "bo") == before
    trail = api.call("GET", "/audit?ticket=T-ad-4b").json["events"]
    assert [e["result"].split(":")[0] for e in trail] == ["rejected"]


@pytest.mark.parametrize(
    ("name", "arrange", "reason"),
    [
        ("cy", lambda iam: person(iam, "cy", marked=False), "not marked for adoption"),
        ("break-glass-owner", lambda iam: None, "protected"),
        ("nobody", lambda iam: None, "no IAM user named nobody"),
    ],
)
def test_what_cannot_be_adopted_says_why(api, iam, name, arrange, reason):
    arrange(iam)
    answer = api.call("POST", f"/users/{name}/adopt", ticket("T-ad-5"))
    assert answer.status_code in (403, 404, 409), answer.json
    assert reason in answer.json["Message"]


def test_a_managed_user_is_not_adopted_again_nor_an_onboarded_one_released(api):
    onboard(api, "pete", ticket="T-on-6")
    assert (
        "managed already" in api.call("POST", "/users/pete/adopt", ticket("T-ad-6")).json["Message"]
    )
    answer = api.call("POST", "/users/pete/release", ticket("T-rel-6"))
    assert answer.status_code == 409 and "not adopted" in answer.json["Message"]


def test_groups_expected_by_the_caller_must_be_the_users(api, iam):
    person(iam, "ana")
    answer = api.call(
        "POST", "/users/ana/adopt", {**ticket("T-ad-7"), "groups": ["BreakGlassGroup"]}
    )
    assert answer.status_code == 409 and "changes no membership" in answer.json["Message"]
    answer = api.call(
        "POST", "/users/ana/adopt", {**ticket("T-ad-7b"), "groups": ["ChildDeveloperGroup"]}
    )
    assert answer.status_code == 200, answer.json


def test_a_batch_names_each_outcome_and_resumes_by_its_ticket(api, iam):
    person(iam, "ana")
    person(iam, "bo", groups=("BreakGlassGroup",))
    person(iam, "cy", marked=False)

    plan = api.call("POST", "/adoptions", {**ticket("T-b-8"), "all": True, "dry_run": True})
    assert plan.status_code == 200, plan.json
    outcomes = {r["username"]: r["result"] for r in plan.json["results"]}
    # the world's own administrator is at / too, and not marked: refused like cy
    assert outcomes == {
        "ana": "planned",
        "bo": "planned",
        "cy": "refused",
        "stack-admin": "refused",
    }
    assert iam.get_user(UserName="ana")["User"]["Path"] == "/"

    done = api.call("POST", "/adoptions", {**ticket("T-b-8"), "usernames": ["ana", "bo", "cy"]})
    assert done.status_code == 200, done.json
    assert done.json["progress"] == {
        "total": 3,
        "done": 3,
        "adopted": 2,
        "refused": 1,
        "remaining": 0,
    }
    refused = next(r for r in done.json["results"] if r["username"] == "cy")
    assert "not marked for adoption" in refused["reasons"][0]
    assert iam.get_user(UserName="bo")["User"]["Path"] == "/managed/"
    # the same batch again changes nothing and answers the same outcomes
    again = api.call("POST", "/adoptions", {**ticket("T-b-8"), "usernames": ["ana", "bo", "cy"]})
    assert {r["username"]: r["result"] for r in again.json["results"]} == {
        "ana": "adopted",
        "bo": "adopted",
        "cy": "refused",
    }


def test_a_batch_needs_names_or_all_and_room_in_its_ticket(api):
    answer = api.call("POST", "/adoptions", ticket("T-b-9"))
    assert answer.status_code == 400 and "usernames" in answer.json["Message"]
    answer = api.call("POST", "/adoptions", {**ticket("T" * 191), "all": True})
    assert answer.status_code == 400 and "ticket" in answer.json["Message"]


def test_a_batch_out_of_time_answers_202_with_its_progress_and_goes_on_when_sent_again(api, iam):
    from chalicelib import bootstrap

    for name in ("ana", "bo", "cy"):
        person(iam, name, marked=name != "cy")
    bootstrap.services().adoption.deadline = 0  # out of time after each new user
    body = {**ticket("T-b-10"), "usernames": ["ana", "bo", "cy"]}

    first = api.call("POST", "/adoptions", body)
    assert first.status_code == 202, first.json
    assert first.json["progress"] == {"total": 3, "done": 1, "adopted": 1, "remaining": 2}
    assert first.json["remaining"] == ["bo", "cy"] and "same request" in first.json["message"]
    assert iam.get_user(UserName="bo")["User"]["Path"] == "/"

    second = api.call("POST", "/adoptions", body)
    assert second.status_code == 202
    assert [r["username"] for r in second.json["results"]] == ["ana", "bo"]
    assert second.json["remaining"] == ["cy"]

    third = api.call("POST", "/adoptions", body)
    assert third.status_code == 200, third.json
    assert third.json["progress"] == {
        "total": 3,
        "done": 3,
        "adopted": 2,
        "refused": 1,
        "remaining": 0,
    }
    adopts = [
        e for e in api.call("GET", "/audit?ticket=T-b-10/ana").json["events"] if e["result"] == "ok"
    ]
    assert len(adopts) == 1  # answered again twice, adopted once


def test_a_user_changed_between_the_read_and_the_move_is_put_back_and_refused(api, iam):
    """The change reads the user again once moved: what a person can do must be what was read
    before, else everything is undone and the difference named."""
    from chalicelib import bootstrap
    from chalicelib.adoption.commands import AdoptRequest
    from chalicelib.kernel.errors import Conflict

    person(iam, "ana", tags=[{"Key": "ticket", "Value": "HR-7"}])
    tags = sorted(iam.list_user_tags(UserName="ana")["Tags"], key=str)
    actions = bootstrap.services().adoption_actions
    read = actions.read("adopt", "ana")
    iam.add_user_to_group(UserName="ana", GroupName="BreakGlassGroup")  # someone else, meanwhile

    with pytest.raises(Conflict) as refused:
        actions.adopt("ana", AdoptRequest(ticket="T-ad-11", requested_by="alice"), read)

    assert "groups" in refused.value.message and "access_matrix" in refused.value.message
    assert iam.get_user(UserName="ana")["User"]["Path"] == "/"
    assert sorted(iam.list_user_tags(UserName="ana")["Tags"], key=str) == tags
    assert bootstrap.services().state.get_record("ana")["status"] == "released"
    assert api.call("GET", "/users/ana").status_code == 404


def test_adoption_and_release_are_published_and_a_refusal_is_not(api, iam):
    import boto3

    sqs = boto3.client("sqs")
    queue = sqs.create_queue(QueueName="adoption-events")["QueueUrl"]
    arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    events = boto3.client("events")
    events.put_rule(Name="adoption", EventPattern=json.dumps({"source": ["iam-lifecycle"]}))
    events.put_targets(Rule="adoption", Targets=[{"Id": "queue", "Arn": arn}])
    person(iam, "ana")
    person(iam, "cy", marked=False)

    api.call("POST", "/users/cy/adopt", ticket("T-ev-1"))  # refused: nothing published
    api.call("POST", "/users/ana/adopt", {**ticket("T-ev-2"), "dry_run": True})  # a plan: nor
    api.call("POST", "/users/ana/adopt", ticket("T-ev-2"))
    api.call("POST", "/users/ana/release", ticket("T-ev-3"))

    messages = sqs.receive_message(QueueUrl=queue, MaxNumberOfMessages=10).get("Messages", [])
    published = [json.loads(m["Body"]) for m in messages]
    assert [(e["detail-type"], e["detail"]["ticket"]) for e in published] == [
        ("user.adopted", "T-ev-2"),
        ("user.released", "T-ev-3"),
    ]


def test_a_release_that_stopped_after_its_move_back_is_finished_by_its_ticket(api, iam):
    from chalicelib import bootstrap

    person(iam, "ana")
    assert api.call("POST", "/users/ana/adopt", ticket("T-ad-12")).status_code == 200
    state = bootstrap.services().state
    record = state.get_record("ana")
    # what a release had done when its process died: its record, the tags, the move back
    state.put_record("ana", {**record, "status": "releasing", "release_ticket": "T-rel-12"})
    iam.untag_user(UserName="ana", TagKeys=["managed_by", "ticket", "requested_by"])
    iam.update_user(UserName="ana", NewPath="/")

    answer = api.call("POST", "/users/ana/release", ticket("T-rel-12"))

    assert answer.status_code == 200, answer.json
    assert answer.json["path"] == "/"
    assert state.get_record("ana")["status"] == "released"
    # another ticket finds nothing to release
    again = api.call("POST", "/users/ana/release", ticket("T-rel-12b"))
    assert again.status_code == 409 and "released" in again.json["Message"]
