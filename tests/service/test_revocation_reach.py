"""Access gone everywhere, and never silently: every path that takes a role away revokes its
sessions, a full deny document falls back to a cutoff of the whole role (named in the answer and
the audit), an owed revocation is never audited as ok and keeps its moment through a restore,
and a suspended user's own credentials are refused in the root account."""

from __future__ import annotations

import dataclasses
import datetime
import json

import boto3
import pytest
from botocore.exceptions import ClientError

from chalicelib import bootstrap
from chalicelib.lifecycle import revocation_policy
from devstack.local import REGION, SETUP_CREDENTIALS, Provisioner
from tests.support import onboard, ticket
from tests.support.enforcement import enforced
from tests.support.revocation import CHILD, revocation_document

ROOT = "123456789012"
T0 = datetime.datetime(2026, 11, 25, 9, 30, 12, tzinfo=datetime.UTC)


def trail(api, **query) -> list[dict]:
    path = "/audit?" + "&".join(f"{k}={v}" for k, v in query.items())
    return api.call("GET", path).json["events"]


# one rule for every path that takes a role away
def test_a_move_out_of_a_group_revokes_the_sessions_of_the_roles_it_alone_allowed(api, clock):
    clock.fixed = T0
    onboard(api, "pete", groups=["ChildDeveloperGroup", "BreakGlassGroup"])
    answer = api.call(
        "PUT", "/users/pete/groups", {"groups": ["ChildDeveloperGroup"], **ticket("T-2")}
    ).json
    assert answer["sessions_revoked_in"] == [CHILD]
    assert revocation_policy.denied_before(revocation_document("BreakGlassRole"), "pete") == (
        datetime.datetime(2026, 11, 25, 9, 31, tzinfo=datetime.UTC)
    )
    assert revocation_document("DeveloperRole") is None  # still his: not denied
    # a move that takes nothing away revokes nothing
    again = api.call(
        "PUT",
        "/users/pete/groups",
        {"groups": ["ChildDeveloperGroup", "BreakGlassGroup"], **ticket("T-3")},
    ).json
    assert again["sessions_revoked_in"] == []
    assert revocation_document("DeveloperRole") is None


# fail closed when the room runs out
def _offboard_one_a_minute(api, clock, monkeypatch, names: list[str], overflow: int = 4) -> dict:
    """Each of ``names`` onboarded and offboarded a minute after the last (a statement each),
    the roles' inline room 1,024 characters and ``overflow`` overflow policies; the answers."""
    clock.fixed = T0
    revoker = bootstrap.services().lifecycle.revoker
    room = dataclasses.replace(revoker.settings, revocation_room=1024, revocation_overflow=overflow)
    monkeypatch.setattr(revoker, "settings", room)
    answers = {}
    iam = boto3.client("iam")
    for n, name in enumerate(names):
        iam.create_user(UserName=name, Path="/managed/")  # quicker than onboarding 30 people
        clock.advance(minutes=1)
        answers[name] = api.call("POST", f"/users/{name}/offboard", ticket(f"T-off-{n}")).json
    return answers


def test_a_full_document_cuts_the_whole_role_off_and_says_so(api, clock, monkeypatch):
    names = [f"person.number{n:02d}@example.com" for n in range(30)]
    answers = _offboard_one_a_minute(api, clock, monkeypatch, names, overflow=0)
    cut = [name for name, a in answers.items() if a.get("sessions_revoked_by_role_cutoff")]
    assert cut, "1,024 characters and no overflow cannot hold 30: a cutoff must have been written"
    for answer in answers.values():
        assert answer["sessions_revoked_in"] == [CHILD], answer  # never pending for want of room
        assert "sessions_revocation_pending" not in answer
    document = revocation_document("DeveloperRole")
    assert revocation_policy.size(document) <= 1024
    assert revocation_policy.cutoff(document) is not None
    for name in names:  # every one of them is denied still, by their statement or the cutoff
        assert revocation_policy.denied_before(document, name) is not None
    (event,) = [e for e in trail(api, ticket=f"T-off-{names.index(cut[0])}")]
    assert event["result"] == "ok"
    assert event["detail"]["sessions_revoked_by_role_cutoff"] == [CHILD]


def _overflow_documents(role: str = "DeveloperRole") -> list[dict]:
    from tests.support.revocation import child_iam

    iam = child_iam()
    documents = []
    for n in range(1, 5):
        arn = f"arn:aws:iam::{CHILD}:policy/access-revocation/{role}Revocation{n}"
        version = iam.get_policy(PolicyArn=arn)["Policy"]["DefaultVersionId"]
        documents.append(
            iam.get_policy_version(PolicyArn=arn, VersionId=version)["PolicyVersion"]["Document"]
        )
        assert len(iam.list_policy_versions(PolicyArn=arn)["Versions"]) <= 2
    return documents


def test_a_full_inline_deny_spills_into_the_overflow_policies_and_comes_back(
    api, clock, monkeypatch
):
    """The inline policy full, the next people go to the role's overflow managed policies, one
    by one (no cutoff); once their sessions have expired, the prune empties them again."""
    names = [f"person.number{n:02d}@example.com" for n in range(30)]
    for answer in _offboard_one_a_minute(api, clock, monkeypatch, names).values():
        assert answer["sessions_revoked_in"] == [CHILD], answer
        assert "sessions_revoked_by_role_cutoff" not in answer  # there was room: one by one
    inline = revocation_document("DeveloperRole")
    overflow = _overflow_documents()
    assert revocation_policy.size(inline) <= 1024
    assert all(revocation_policy.size(d) <= 6_144 for d in overflow)
    assert overflow[0] != revocation_policy.placeholder_document()  # it holds people now
    combined = revocation_policy.combine([inline, *overflow])
    assert revocation_policy.cutoff(combined) is None
    assert all(revocation_policy.denied_before(combined, name) is not None for name in names)
    # The first leaver's older session, decided over every document on the role.
    decisions = _session_decisions_over(
        [inline, *overflow],
        [(names[0], "2026-11-25T09:00:00Z"), ("stayer", "2026-11-25T09:00:00Z")],
    )
    assert decisions == ["ExplicitlyDenied", "Allowed"]

    clock.advance(hours=2)  # MaxSessionDuration (1 hour) has passed for every statement
    bootstrap.services().schedules.prune_revocations()
    assert revocation_document("DeveloperRole") is None
    assert _overflow_documents() == [revocation_policy.placeholder_document()] * 4


# owed, never ok; kept through a restore
def _unreachable_account(monkeypatch, clock) -> str:
    late = "444455556666"  # listed in the configuration before its roles were deployed
    monkeypatch.setenv("CHILD_ACCOUNT_IDS", f"{CHILD},{late}")
    bootstrap.reset()
    from chalicelib.aws.clients import AwsClients
    from devstack.local import shared_session

    bootstrap.use(
        bootstrap.build(clients=AwsClients(REGION, session=shared_session()), clock=clock)
    )
    return late


def test_a_restore_does_not_bring_back_sessions_issued_before_the_suspension(
    api, clock, monkeypatch
):
    late = _unreachable_account(monkeypatch, clock)
    clock.fixed = T0
    onboard(api, "pete")
    suspended = api.call("POST", "/users/pete/suspend", ticket("T-2")).json
    assert list(suspended["sessions_revocation_pending"]) == [late]
    assert trail(api, ticket="T-2")[-1]["result"] == "revocation_pending"
    clock.advance(hours=3)
    restored = api.call("POST", "/users/pete/restore", ticket("T-3"))
    assert restored.status_code == 200, restored.json
    record = bootstrap.services().lifecycle.state.get_record("pete")
    assert record["revocation_pending"] == [late]  # still owed after the restore

    Provisioner(endpoint_url=None, children=(late,)).deploy_child(
        Provisioner(None).child_credentials(SETUP_CREDENTIALS, late)
    )
    clock.advance(minutes=5)
    assert bootstrap.services().schedules.prune_revocations()["retried_for"] == ["pete"]
    # denied from the suspension's minute, not from now: his sessions since the restore work
    owed = revocation_policy.denied_before(revocation_document("DeveloperRole", late), "pete")
    assert owed == datetime.datetime(2026, 11, 25, 9, 31, tzinfo=datetime.UTC)
    assert bootstrap.services().lifecycle.state.get_record("pete")["revocation_pending"] == []


# the root account's channels
def _assume(credentials: dict) -> None:
    boto3.client("sts", region_name=REGION, **credentials).assume_role(
        RoleArn=f"arn:aws:iam::{CHILD}:role/DeveloperRole",
        RoleSessionName="pete",
        SerialNumber=f"arn:aws:iam::{ROOT}:mfa/pete",
        TokenCode="123456",
    )


def test_a_suspended_users_own_credentials_are_refused_until_the_restore(api, clock):
    onboard(api, "pete")
    iam = boto3.client("iam")
    created = iam.create_access_key(UserName="pete")["AccessKey"]
    key = {
        "aws_access_key_id": created["AccessKeyId"],
        "aws_secret_access_key": created["SecretAccessKey"],
    }
    # moto accepts no temporary credentials of a user's (GetSessionToken's) for its own calls:
    # the key itself stands for every credential of his here, MFA given as the CLI gives it.
    session = key
    with enforced():
        _assume(session)  # a member, with MFA: allowed
    api.call("POST", "/users/pete/suspend", ticket("T-2"))
    attached = iam.list_attached_user_policies(UserName="pete")["AttachedPolicies"]
    assert f"arn:aws:iam::{ROOT}:policy/AccessSuspended" in [p["PolicyArn"] for p in attached]
    # Put back in the group by hand (drift, or a race): the explicit deny still refuses the
    # session he already holds, whatever his groups allow.
    iam.add_user_to_group(UserName="pete", GroupName="ChildDeveloperGroup")
    with enforced(), pytest.raises(ClientError) as refused:
        _assume(session)
    assert refused.value.response["Error"]["Code"] == "AccessDenied"
    iam.remove_user_from_group(UserName="pete", GroupName="ChildDeveloperGroup")

    assert api.call("POST", "/users/pete/restore", ticket("T-3")).status_code == 200
    attached = iam.list_attached_user_policies(UserName="pete")["AttachedPolicies"]
    assert [p["PolicyName"] for p in attached] == ["ManagedUserSelfService"]
    with enforced():
        _assume(session)  # given back exactly: allowed again


def test_the_templates_suspended_policy_is_the_document_the_service_relies_on():
    from devstack.cfn import load_template

    template = load_template("templates/root/access-groups.yaml")
    document = template["Resources"]["SuspendedUserPolicy"]["Properties"]["PolicyDocument"]
    assert document == revocation_policy.suspended_user_document()


# the documents the service really wrote, decided in IAM's own semantics
ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def _session_decisions(document: dict, asked: list[tuple[str, str]]) -> list[str]:
    return _session_decisions_over([document], asked)


def _session_decisions_over(documents: list[dict], asked: list[tuple[str, str]]) -> list[str]:
    """(session name, issued at) -> the decision on a DeveloperRole session's s3:ListBucket,
    the role allowed everything but for ``document`` (as read back from the role)."""
    from tests.support import iam_eval

    if iam_eval.missing():
        pytest.skip(iam_eval.missing())
    return iam_eval.decide(
        [
            iam_eval.request(
                "s3:ListBucket",
                "arn:aws:s3:::builds",
                iam_eval.session_arn(CHILD, "DeveloperRole", name),
                iam_eval.role_session_context(CHILD, "DeveloperRole", name, issued),
                [ALLOW_ALL, *documents],
            )
            for name, issued in asked
        ]
    )


def test_the_deny_read_back_from_the_role_denies_exactly_the_persons_older_sessions(api, clock):
    clock.fixed = T0
    onboard(api, "pete")
    onboard(api, "pete.s")
    api.call("POST", "/users/pete/offboard", ticket("T-2"))
    document = revocation_document("DeveloperRole")
    assert _session_decisions(
        document,
        [
            ("pete", "2026-11-25T09:20:00Z"),  # issued before the offboarding: denied
            ("pete", "2026-11-25T09:31:05Z"),  # after the moment (he cannot get one; if he did)
            ("pete.s", "2026-11-25T09:20:00Z"),  # another person whose name extends his
            ("apete", "2026-11-25T09:20:00Z"),
        ],
    ) == ["ExplicitlyDenied", "Allowed", "Allowed", "Allowed"]


def test_the_cutoff_read_back_from_the_role_denies_every_older_session(api, clock, monkeypatch):
    names = [f"someone.number{n:02d}@example.com" for n in range(25)]
    _offboard_one_a_minute(api, clock, monkeypatch, names, overflow=0)
    document = revocation_document("DeveloperRole")
    cut = revocation_policy.cutoff(document)
    assert cut is not None
    before = (cut - datetime.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    after = (cut + datetime.timedelta(seconds=1)).strftime("%Y-%m-%dT%H:%M:%SZ")
    decisions = _session_decisions(
        document,
        [(name, "2026-11-25T09:00:00Z") for name in names]  # every leaver's old session
        + [("never.revoked", before), ("never.revoked", after)],
    )
    assert decisions == ["ExplicitlyDenied"] * len(names) + ["ExplicitlyDenied", "Allowed"]


def test_a_burst_at_once_on_a_full_role_is_revoked_and_every_answer_says_how(client, clock):
    """30 revocations at once queue on the role's lock; the document cannot hold them, so the
    role is cut off: everyone is denied, nothing is owed, and each result covered by the cutoff
    (those written by another's write included) names it, and only those."""
    from tests.support.concurrency import all_at_once

    clock.fixed = T0
    revoker = bootstrap.services().lifecycle.revoker
    revoker.settings = dataclasses.replace(
        revoker.settings, revocation_room=1024, revocation_overflow=0
    )
    names = [f"burst.person{n:02d}@example.com" for n in range(30)]
    results = all_at_once(
        [lambda name=name: revoker.revoke([name], {CHILD: ["DeveloperRole"]}) for name in names]
    )
    assert all(r.done == [CHILD] and not r.pending for r in results)
    document = revocation_document("DeveloperRole")
    cut = revocation_policy.cutoff(document)
    assert cut is not None and revocation_policy.size(document) <= 1024
    listed = {n for n in names if f'"*:{n}"' in json.dumps(document)}
    told = {n for n, r in zip(names, results, strict=True) if r.role_cutoff == [CHILD]}
    # Those told were revoked by the cutoff (their names are not in the document one by one):
    # those who queued behind another's write included. Someone written one by one before the
    # cutoff came was told so truthfully then, and is covered by it since.
    assert len(told) > 1 and not told & listed
    assert all(revocation_policy.denied_before(document, n) is not None for n in names)


def test_a_revocation_whose_lock_ran_out_never_writes_over_another(client, clock):
    """A revocation begun beside a change's reads holds the role's lock until it commits. If
    the change took longer than the lock, another revocation may have written meanwhile: the
    first must not write its stale document over that one (the other person would be lost)."""
    import time

    revoker = bootstrap.services().lifecycle.revoker
    revoker.settings = dataclasses.replace(revoker.settings, revocation_lock_seconds=1)
    targets = {CHILD: ["DeveloperRole"]}
    slow = revoker.begin(targets)  # read the document, the lock taken
    time.sleep(2.1)  # the change goes on; the lock runs out
    assert revoker.revoke(["olga"], targets).done == [CHILD]  # another takes it and writes
    assert slow.commit(["pete"]).done == [CHILD]
    document = revocation_document("DeveloperRole")
    assert revocation_policy.denied_before(document, "olga") is not None
    assert revocation_policy.denied_before(document, "pete") is not None


def test_a_suspension_and_an_offboarding_end_the_persons_sign_in_sessions(api):
    """`aws login` and console sessions: listed and revoked (AWS Sign-In's BatchRevokeSessions,
    "a revoked session can no longer be refreshed"), counted in the answer; another person's
    session is left alone."""
    from devstack import moto_signin

    signin = boto3.client("signin", region_name=REGION)

    def refresh(token: str) -> dict:
        return signin.create_o_auth2_token(
            tokenInput={
                "clientId": "arn:aws:signin:::devtools/same-device",
                "grantType": "refresh_token",
                "refreshToken": token,
            }
        )["tokenOutput"]

    for name in ("pete", "olga"):
        onboard(api, name)
    pete = moto_signin.issue_session(ROOT, f"arn:aws:iam::{ROOT}:user/managed/pete")
    moto_signin.issue_session(ROOT, f"arn:aws:iam::{ROOT}:user/managed/pete", "MCP")
    olga = moto_signin.issue_session(ROOT, f"arn:aws:iam::{ROOT}:user/managed/olga")

    suspended = api.call("POST", "/users/pete/suspend", ticket("T-2")).json
    assert suspended["signin_sessions_revoked"] == 2
    with pytest.raises(ClientError) as refused:
        refresh(pete["refreshToken"])
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert refresh(olga["refreshToken"])["accessToken"]  # hers still works

    again = moto_signin.issue_session(ROOT, f"arn:aws:iam::{ROOT}:user/managed/olga")
    offboarded = api.call("POST", "/users/olga/offboard", ticket("T-3")).json
    assert offboarded["signin_sessions_revoked"] == 2
    with pytest.raises(ClientError):
        refresh(again["refreshToken"])
