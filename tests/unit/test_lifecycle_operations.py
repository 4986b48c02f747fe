"""The lifecycle operations' rules over in-memory ports (tests/support/memory.py): answers,
records, what is revoked and what is owed, guards, and retries that finish what a failure
halfway left. The same operations through the real app and moto: tests/api, tests/service."""

from __future__ import annotations

from datetime import date, datetime, timedelta

import pytest

from chalicelib.kernel.commands import TicketRequest
from chalicelib.kernel.errors import BadRequest, Conflict, Forbidden, NotFound, UpstreamError
from chalicelib.lifecycle.commands import (
    ExpireGrantRequest,
    GrantRequest,
    MoveRequest,
    OnboardRequest,
    ProfileRequest,
    SuspendRequest,
)
from chalicelib.lifecycle.operations import Lifecycle
from tests.support.memory import CHILD, DEV_ROLE, GLASS_ROLE, OTHER_CHILD, ROOT, Memory

DEV, GLASS, READ = "ChildDeveloperGroup", "BreakGlassGroup", "ReadOnlyGroup"
EVERY_ROLE = {
    CHILD: ["BreakGlassRole", "DeveloperRole"],
    OTHER_CHILD: ["BreakGlassRole", "DeveloperRole"],
}


@pytest.fixture
def world() -> Memory:
    return Memory()


@pytest.fixture
def life(world: Memory) -> Lifecycle:
    return world.lifecycle()


def onboard(life: Lifecycle, name: str = "pete", groups=(DEV,), ticket: str = "T-1", **more):
    request = OnboardRequest(
        username=name, groups=list(groups), ticket=ticket, requested_by="alice", **more
    )
    return life.onboard(name, request)


def ticket(number: str, **more) -> dict:
    return {"ticket": number, "requested_by": "alice", **more}


def move(life: Lifecycle, groups, number: str = "T-2", name: str = "pete") -> dict:
    return life.move(name, MoveRequest(groups=list(groups), **ticket(number)))


def suspend(life: Lifecycle, number: str = "T-2", name: str = "pete", **more) -> dict:
    return life.suspend(name, SuspendRequest(**ticket(number, **more)))


def restore(life: Lifecycle, number: str = "T-3", name: str = "pete") -> dict:
    return life.restore(name, TicketRequest(**ticket(number)))


def offboard(life: Lifecycle, number: str = "T-9", name: str = "pete") -> dict:
    return life.offboard(name, TicketRequest(**ticket(number)))


def grant(life: Lifecycle, hours: int = 2, number: str = "T-4", group: str = GLASS) -> dict:
    request = GrantRequest(group=group, hours=hours, reason="incident 7", **ticket(number))
    return life.grant("pete", request)


def record(world: Memory, name: str = "pete") -> dict:
    found = world.state.get_record(name)
    assert found is not None
    return found


def denied(world: Memory, name: str = "pete") -> dict[str, list[str]]:
    return world.revoker.denied_roles(name)


@pytest.fixture
def pete(world: Memory, life: Lifecycle) -> dict:
    """Pete onboarded into the developers' group, with an access key and his console login."""
    answer = onboard(life, access_key=True)
    world.signin.sign_in(answer["user"]["arn"], sessions=2)
    return answer


# onboarding
def test_onboard_creates_the_user_in_the_managed_path_tagged_with_the_ticket(world, life):
    answer = onboard(life, email="pete@example.com", slack_user="U0PETE")
    user = world.iam.user("pete")
    assert user is not None and user.path == "/managed/"
    assert user.tags == {
        "ticket": "T-1",
        "requested_by": "alice",
        "managed_by": "iam-lifecycle",
        "email": "pete@example.com",
        "slack_user": "U0PETE",
    }
    assert user.groups == {DEV}
    assert user.policies == [world.settings.self_service_policy_arn]
    assert user.login is not None and user.login["password"] == answer["temporary_password"]
    assert answer["user"]["roles"] == [DEV_ROLE]
    assert answer["credentials"] == "login_session" and "access_key" not in answer
    kept = record(world)
    assert kept["status"] == "active" and kept["ticket"] == "T-1" and kept["groups"] == [DEV]
    assert kept["user_id"] == user.id  # the person, not only the name
    assert kept["slack_user"] == "U0PETE"
    assert world.state.links["U0PETE"] == {"username": "pete", "user_id": user.id}


def test_onboard_without_console_sets_no_password(world, life):
    answer = onboard(life, console=False)
    assert "temporary_password" not in answer and answer["user"]["console"] is False
    assert world.iam.user("pete").login is None


def test_onboard_issues_the_first_access_key_where_the_stage_does(world, life):
    answer = onboard(life, access_key=True)
    issued = answer["access_key"]["access_key_id"]
    assert list(world.iam.user("pete").keys) == [issued]
    assert answer["credentials"] == "access_key"
    assert answer["user"]["access_keys"] == [{"id": issued, "status": "Active", "last_used": None}]


def test_a_stage_that_issues_no_keys_refuses_one_before_anything_is_made():
    world = Memory({"ACCESS_KEYS": "none"})
    with pytest.raises(BadRequest, match="access_key: this stage issues no access keys"):
        onboard(world.lifecycle(), access_key=True)
    assert world.iam.users == {} and world.state.records == {}


@pytest.mark.parametrize(
    "groups, error, message",
    [
        (["AdminsByHand"], Forbidden, "not managed by this service"),
        ([DEV, "Nope"], Forbidden, "Nope are not managed"),
    ],
)
def test_onboard_refuses_groups_the_service_does_not_manage(world, life, groups, error, message):
    with pytest.raises(error, match=message):
        onboard(life, groups=groups)
    assert world.iam.users == {} and world.state.records == {}


def test_onboard_refuses_a_managed_group_missing_from_the_account(world, life):
    del world.iam.groups[READ]
    with pytest.raises(BadRequest, match="ReadOnlyGroup do not exist in the root account"):
        onboard(life, groups=[DEV, READ])
    assert world.iam.users == {}


@pytest.mark.parametrize("name", ["break-glass-owner", "Break-Glass-Owner"])
def test_a_protected_user_is_refused_in_any_spelling(world, life, name):
    with pytest.raises(Forbidden, match="protected user"):
        onboard(life, name=name)
    with pytest.raises(Forbidden, match="protected user"):
        life.describe(name)
    assert world.iam.users == {}


@pytest.mark.parametrize("name", ["pete smith", "pete\n", "", "x" * 65, "pété"])
def test_a_name_iam_would_refuse_is_a_bad_request(world, life, name):
    request = OnboardRequest(username="pete", groups=[DEV], ticket="T-1", requested_by="alice")
    with pytest.raises(BadRequest, match="is not valid"):
        life.onboard(name, request)
    with pytest.raises(BadRequest, match="is not valid"):
        life.suspend(name, SuspendRequest(**ticket("T-2")))
    assert world.iam.users == {}


def test_a_name_taken_in_another_case_is_unavailable_and_makes_no_second_user(world, life):
    onboard(life, name="Pete")
    with pytest.raises(Conflict, match="the name is not available") as refused:
        onboard(life, name="pete", ticket="T-2")
    assert list(world.iam.users) == ["pete"] and world.iam.user("pete").username == "Pete"
    assert record(world)["ticket"] == "T-1"
    # a user outside the managed path is refused in the same words: nothing is told of it
    world.iam.add_user("ops", path="/")
    with pytest.raises(Conflict) as hidden:
        onboard(life, name="ops", ticket="T-3")
    assert hidden.value.message == refused.value.message.replace("pete", "ops")
    assert world.state.get_record("ops") is None


def test_an_existing_managed_user_is_not_onboarded_by_another_ticket(world, life, pete):
    with pytest.raises(Conflict, match="not available"):
        onboard(life, ticket="T-2")
    assert record(world)["ticket"] == "T-1"


def test_an_onboarding_whose_record_was_not_written_is_finished_by_its_retry(world, life):
    world.state.faults.fail("put_record")
    with pytest.raises(UpstreamError):
        onboard(life, access_key=True)
    first = world.iam.user("pete")
    assert first is not None and world.state.get_record("pete") is None
    (lost_key,) = first.keys  # its secret was in the answer that was lost
    answer = onboard(life, access_key=True)
    user = world.iam.user("pete")
    assert user is first and user.groups == {DEV}
    assert list(user.keys) == [answer["access_key"]["access_key_id"]] != [lost_key]
    assert user.login["password"] == answer["temporary_password"]  # a new one that works
    assert record(world)["status"] == "active" and record(world)["user_id"] == user.id


def test_an_onboarding_whose_answer_was_lost_is_answered_again_within_the_window(world, life):
    first = onboard(life)
    again = onboard(life)
    assert again["user"]["username"] == "pete" and again["user"]["groups"] == [DEV]
    assert again["temporary_password"] != first["temporary_password"]
    assert world.iam.user("pete").login["password"] == again["temporary_password"]


def test_resending_an_onboarding_after_a_later_change_is_unavailable(world, life, pete):
    move(life, [READ])
    with pytest.raises(Conflict, match="not available"):
        onboard(life)
    assert world.iam.user("pete").groups == {READ}


def test_resending_an_onboarding_past_the_idempotency_window_is_unavailable():
    world = Memory({"IDEMPOTENCY_TTL": "0"})
    life = world.lifecycle()
    onboard(life)
    with pytest.raises(Conflict, match="not available"):
        onboard(life)


def test_a_new_holder_of_a_name_inherits_what_is_owed_for_the_previous_one(world, life):
    world.state.put_record(
        "pete",
        {
            "status": "offboarded",
            "user_id": "AIDAPREVIOUSHOLDER",
            "revocation_pending": [CHILD, ROOT],
            "revocation_why": {CHILD: "throttled", ROOT: "Sign-In down"},
            "revocation_owed_before": "2026-03-01T08:00:00+00:00",
        },
    )
    onboard(life)
    kept = record(world)
    assert kept["user_id"] == world.iam.user("pete").id
    # the child accounts' denies are still owed; the root's Sign-In sessions died with the user
    assert kept["revocation_pending"] == [CHILD]
    assert kept["revocation_why"] == {CHILD: "throttled"}
    assert kept["revocation_owed_before"] == "2026-03-01T08:00:00+00:00"
    assert kept["status"] == "active"


# moving
def test_move_sets_exactly_the_groups_and_revokes_only_the_roles_lost(world, life, pete):
    answer = move(life, [READ, GLASS])
    assert world.iam.user("pete").groups == {READ, GLASS}
    assert answer["groups"] == [GLASS, READ] and answer["roles"] == [GLASS_ROLE]
    assert denied(world) == {CHILD: ["DeveloperRole"]}  # the child role reached no more
    assert answer["sessions_revoked_in"] == [CHILD]
    assert "sessions_revocation_pending" not in answer
    assert answer["profiles_to_remove"] == [f"{CHILD}-DeveloperRole"]
    kept = record(world)
    assert kept["groups"] == [GLASS, READ] and kept["ticket"] == "T-2"
    assert "revocation_pending" not in kept or kept["revocation_pending"] == []


def test_a_move_that_takes_no_role_away_revokes_nothing(world, life, pete):
    answer = move(life, [DEV, READ])
    assert world.revoker.calls == [] and answer["sessions_revoked_in"] == []
    assert answer["profiles_to_remove"] == []


@pytest.mark.parametrize(
    "groups, error, message",
    [
        (["AdminsByHand"], Forbidden, "not managed by this service"),
        ([], None, None),
    ],
)
def test_move_checks_the_groups_asked_for(world, life, pete, groups, error, message):
    if error is None:  # no group at all: the person keeps a user and nothing it reaches
        answer = move(life, groups)
        assert answer["groups"] == [] and world.iam.user("pete").groups == set()
        return
    with pytest.raises(error, match=message):
        move(life, groups)
    assert world.iam.user("pete").groups == {DEV}


def test_move_of_a_group_missing_from_the_account_is_a_bad_request(world, life, pete):
    del world.iam.groups[READ]
    with pytest.raises(BadRequest, match="do not exist"):
        move(life, [READ])
    assert world.iam.user("pete").groups == {DEV}


@pytest.mark.parametrize("path", [None, "/"])
def test_a_user_the_service_does_not_manage_is_not_found(world, life, path):
    if path:
        world.iam.add_user("pete", path=path)
    for change in (
        lambda: move(life, [READ]),
        lambda: suspend(life),
        lambda: grant(life),
        lambda: life.describe("pete"),
    ):
        with pytest.raises(NotFound, match="no managed user named pete"):
            change()
    assert world.state.records == {}


def test_a_member_of_a_group_the_service_does_not_manage_is_not_moved(world, life, pete):
    world.iam.user("pete").groups.add("AdminsByHand")
    with pytest.raises(Conflict, match="AdminsByHand, which this service does not manage"):
        move(life, [READ])
    assert world.iam.user("pete").groups == {DEV, "AdminsByHand"}
    assert world.revoker.calls == []


def test_a_suspended_user_is_not_moved_nor_granted(world, life, pete):
    suspend(life)
    with pytest.raises(Conflict, match="is suspended; restore them before moving them"):
        move(life, [READ], number="T-3")
    with pytest.raises(Conflict, match="restore them before granting access"):
        grant(life, number="T-4")
    assert world.iam.user("pete").groups == set()


def test_a_move_whose_revocation_fails_in_a_child_account_says_what_is_owed(world, life, pete):
    world.revoker.unreachable[CHILD] = "AccessRevocationRole is not deployed"
    answer = move(life, [READ])
    assert answer["sessions_revoked_in"] == []
    assert answer["sessions_revocation_pending"] == {
        CHILD: f"{CHILD}: AccessRevocationRole is not deployed"
    }
    kept = record(world)
    assert kept["revocation_pending"] == [CHILD]
    assert kept["revocation_owed_before"] == "2026-03-02T09:00:00+00:00"
    assert world.iam.user("pete").groups == {READ}  # the access itself is gone


def test_a_move_that_failed_halfway_is_finished_by_its_retry(world, life, pete):
    world.iam.faults.fail("remove_from_group")
    with pytest.raises(UpstreamError):
        move(life, [READ])
    assert world.iam.user("pete").groups == {DEV, READ}
    assert record(world)["groups"] == [DEV]  # written after the change, not beside it
    answer = move(life, [READ])
    assert world.iam.user("pete").groups == {READ} and record(world)["groups"] == [READ]
    # what the first attempt reached is still counted as reached before
    assert answer["profiles_to_remove"] == [f"{CHILD}-DeveloperRole"]
    assert denied(world) == {CHILD: ["DeveloperRole"]}


# suspending and restoring
def test_suspend_takes_every_credential_and_session_and_remembers_them(world, life, pete):
    (key_id,) = world.iam.user("pete").keys
    answer = suspend(life, reason="on leave", until=date.today() + timedelta(days=30))
    user = world.iam.user("pete")
    assert user.groups == set() and user.login is None
    assert user.keys[key_id]["status"] == "Inactive"
    assert world.settings.suspended_policy_arn in user.policies  # every credential denied
    assert denied(world) == EVERY_ROLE
    assert world.signin.revoked == ["arn:aws:iam::123456789012:user/pete"]
    assert answer["status"] == "suspended" and answer["signin_sessions_revoked"] == 2
    assert answer["sessions_revoked_in"] == [CHILD, OTHER_CHILD]
    assert answer["suspended_until"] == (date.today() + timedelta(days=30)).isoformat()
    kept = record(world)
    assert kept["status"] == "suspended" and kept["reason"] == "on leave"
    assert kept["saved"] == {"groups": [DEV], "keys": [key_id], "console": True}
    assert kept["sessions_revoked_in"] == [CHILD, OTHER_CHILD]


def test_restore_gives_back_exactly_what_the_suspension_took(world, life, pete):
    user = world.iam.user("pete")
    (active,) = user.keys
    inactive = world.iam.give_key("pete", status="Inactive")
    suspend(life)
    answer = restore(life)
    assert user.groups == {DEV}
    assert user.keys[active]["status"] == "Active" and user.keys[inactive]["status"] == "Inactive"
    assert world.settings.suspended_policy_arn not in user.policies
    assert user.login["password"] == answer["temporary_password"]
    assert answer["user"]["status"] == "active" and answer["user"]["roles"] == [DEV_ROLE]
    assert answer["profiles_to_remove"] == []
    kept = record(world)
    assert kept["status"] == "active" and kept["groups"] == [DEV]
    assert "saved" not in kept and "reason" not in kept
    assert kept["restored_at"] == "2026-03-02T09:00:00+00:00"


def test_restore_without_console_access_before_gives_no_password(world, life):
    onboard(life, console=False)
    suspend(life)
    answer = restore(life)
    assert "temporary_password" not in answer and world.iam.user("pete").login is None


@pytest.mark.parametrize("first", ["suspend", "active"])
def test_wrong_state_transitions_are_conflicts(world, life, pete, first):
    if first == "suspend":
        suspend(life)
        with pytest.raises(Conflict, match="only an active user can be suspended"):
            suspend(life, number="T-5")
    else:
        with pytest.raises(Conflict, match="only a suspended user"):
            restore(life)
    assert world.iam.user("pete").groups == (set() if first == "suspend" else {DEV})


def test_a_suspension_retried_with_its_ticket_is_answered_again(world, life, pete):
    first = suspend(life)
    again = suspend(life)
    assert again["status"] == "suspended" and record(world)["saved"] == record(world)["saved"]
    assert again["sessions_revoked_in"] == first["sessions_revoked_in"]
    assert record(world)["saved"]["groups"] == [DEV]  # the memory is not overwritten by nothing


def test_a_suspension_that_failed_halfway_keeps_its_memory_and_its_retry_finishes(
    world, life, pete
):
    (key_id,) = world.iam.user("pete").keys
    world.iam.faults.fail("delete_login_profile")
    with pytest.raises(UpstreamError):
        suspend(life)
    kept = record(world)
    assert kept["status"] == "suspending"  # not suspended until everything is taken
    assert kept["saved"] == {"groups": [DEV], "keys": [key_id], "console": True}
    assert world.iam.user("pete").login is not None
    suspend(life)
    assert record(world)["status"] == "suspended"
    assert record(world)["saved"] == {"groups": [DEV], "keys": [key_id], "console": True}
    assert world.iam.user("pete").login is None
    restore(life)
    assert world.iam.user("pete").keys[key_id]["status"] == "Active"
    assert world.iam.user("pete").groups == {DEV}


def test_a_stuck_suspension_is_finished_by_any_later_one(world, life, pete):
    world.iam.faults.fail("attach_user_policy")
    with pytest.raises(UpstreamError):
        suspend(life)
    suspend(life, number="T-7")
    kept = record(world)
    assert kept["status"] == "suspended" and kept["ticket"] == "T-2"
    assert kept["saved"]["groups"] == [DEV]


def test_a_suspension_whose_child_revocation_fails_is_suspended_and_owes_it(world, life, pete):
    world.revoker.unreachable[OTHER_CHILD] = "throttled"
    answer = suspend(life)
    assert answer["sessions_revoked_in"] == [CHILD]
    assert answer["sessions_revocation_pending"] == {OTHER_CHILD: f"{OTHER_CHILD}: throttled"}
    kept = record(world)
    assert kept["status"] == "suspended" and kept["revocation_pending"] == [OTHER_CHILD]
    assert kept["revocation_owed_before"] == "2026-03-02T09:00:00+00:00"


def test_a_suspension_whose_signin_revocation_fails_owes_the_root_account(world, life, pete):
    world.signin.faults.fail("revoke_sessions")
    answer = suspend(life)
    assert answer["signin_sessions_revoked"] == 0
    assert list(answer["sessions_revocation_pending"]) == [ROOT]
    assert "AWS Sign-In sessions not revoked" in answer["sessions_revocation_pending"][ROOT]
    assert record(world)["revocation_pending"] == [ROOT]


def test_a_restore_keeps_what_a_revocation_still_owes(world, life, pete):
    world.revoker.unreachable[CHILD] = "throttled"
    suspend(life)
    restore(life)
    kept = record(world)
    assert kept["status"] == "active" and kept["revocation_pending"] == [CHILD]
    assert kept["revocation_owed_before"] == "2026-03-02T09:00:00+00:00"


def test_a_restore_that_failed_halfway_is_finished_by_its_retry(world, life, pete):
    suspend(life)
    world.iam.faults.fail("detach_user_policy")
    with pytest.raises(UpstreamError):
        restore(life)
    assert record(world)["status"] == "restoring"
    answer = restore(life)
    user = world.iam.user("pete")
    assert record(world)["status"] == "active" and user.groups == {DEV}
    assert world.settings.suspended_policy_arn not in user.policies
    assert user.login["password"] == answer["temporary_password"]


def test_a_suspension_ends_grants_which_a_restore_does_not_give_back(world, life, pete):
    grant(life)
    assert world.iam.user("pete").groups == {DEV, GLASS}
    suspend(life, number="T-5")
    assert record(world)["grants"] == [] and record(world)["saved"]["groups"] == [DEV]
    restore(life, number="T-6")
    assert world.iam.user("pete").groups == {DEV}


def test_a_member_of_a_group_the_service_does_not_manage_is_not_suspended(world, life, pete):
    world.iam.user("pete").groups.add("AdminsByHand")
    with pytest.raises(Conflict, match="does not manage"):
        suspend(life)
    assert world.iam.user("pete").groups == {DEV, "AdminsByHand"}
    assert world.revoker.calls == [] and world.signin.revoked == []
    assert all(r.committed is None for r in world.revoker.begun)  # begun, never written


def test_a_previous_holders_record_is_not_the_new_holders(world, life):
    world.state.put_record(
        "pete", {"status": "suspended", "user_id": "AIDAPREVIOUSHOLDER", "groups": [GLASS]}
    )
    user_id = world.iam.add_user("pete")["id"]
    world.iam.add_to_group("pete", DEV)
    shown = life.describe("pete")
    assert shown["status"] == "active" and shown["grants"] == []
    answer = suspend(life)  # as an active user: the old record's status is not theirs
    assert answer["status"] == "suspended"
    assert record(world)["user_id"] == user_id and record(world)["saved"]["groups"] == [DEV]


def test_a_request_in_another_case_acts_under_the_name_as_iam_spells_it(world, life):
    onboard(life, name="Pete")
    answer = suspend(life, name="PETE")
    assert answer["username"] == "Pete"
    assert denied(world, "Pete") == EVERY_ROLE and denied(world, "PETE") == {}
    assert record(world, "pete")["username"] == "Pete"


# offboarding
def test_offboard_removes_the_user_and_every_dependent(world, life, pete):
    (key_id,) = world.iam.user("pete").keys
    serial = world.iam.give_mfa("pete")
    world.iam.user("pete").inline.append("ByHand")
    forgotten = []
    life.forget = lambda name, kept, request, answer: forgotten.append((name, kept["status"]))
    answer = offboard(life)
    assert world.iam.user("pete") is None and serial not in world.iam.virtual_mfa
    assert answer["removed"] == {
        "access_keys": [key_id],
        "attached_policies": [world.settings.self_service_policy_arn],
        "groups": [DEV],
        "inline_policies": ["ByHand"],
        "login_profile": ["pete"],
        "mfa_devices": [serial],
        "user": ["pete"],
    }
    assert answer["sessions_revoked_in"] == [CHILD, OTHER_CHILD]
    assert answer["signin_sessions_revoked"] == 2
    assert denied(world) == EVERY_ROLE
    kept = record(world)
    assert kept["status"] == "offboarded" and kept["groups"] == [] and kept["grants"] == []
    assert kept["removed"] == answer["removed"] and "removing" not in kept
    assert forgotten == [("pete", "offboarded")]


def test_an_offboarding_retried_with_its_ticket_answers_again_and_another_is_not_found(
    world, life, pete
):
    first = offboard(life)
    assert offboard(life) == first
    with pytest.raises(NotFound, match="already offboarded"):
        offboard(life, number="T-10")


def test_offboard_refuses_a_member_of_a_group_the_service_does_not_manage(world, life, pete):
    world.iam.user("pete").groups.add("AdminsByHand")
    with pytest.raises(Conflict, match="does not manage"):
        offboard(life)
    assert world.iam.user("pete") is not None and record(world)["status"] == "active"
    assert world.signin.revoked == []


def test_the_user_is_kept_until_their_signin_sessions_are_revoked(world, life, pete):
    world.signin.faults.fail("revoke_sessions", times=2)  # the first try and the one before
    with pytest.raises(UpstreamError, match="pete is kept, every credential removed"):
        offboard(life)
    user = world.iam.user("pete")
    assert user is not None  # its sessions could not be revoked once it is gone
    assert user.groups == set() and user.login is None and user.keys == {}
    assert record(world)["status"] == "offboarding"
    answer = offboard(life)
    assert world.iam.user("pete") is None and answer["signin_sessions_revoked"] == 2
    assert "groups" in answer["removed"]  # what the first attempt removed is named too


def test_an_offboarding_that_failed_halfway_is_finished_and_names_everything(world, life, pete):
    world.iam.faults.fail("remove_dependent", when=lambda kind, *_: kind == "attached_policies")
    with pytest.raises(UpstreamError):
        offboard(life)
    assert world.iam.user("pete").groups == set()
    answer = offboard(life)
    assert world.iam.user("pete") is None
    assert answer["removed"]["groups"] == [DEV]
    assert answer["removed"]["attached_policies"] == [world.settings.self_service_policy_arn]
    assert record(world)["status"] == "offboarded" and record(world)["ticket"] == "T-9"


def test_an_offboarding_whose_child_revocation_fails_deletes_the_user_and_owes_it(
    world, life, pete
):
    world.revoker.unreachable[CHILD] = "throttled"
    answer = offboard(life)
    assert world.iam.user("pete") is None
    assert answer["sessions_revocation_pending"] == {CHILD: f"{CHILD}: throttled"}
    assert answer["sessions_revoked_in"] == [OTHER_CHILD]
    kept = record(world)
    assert kept["revocation_pending"] == [CHILD]
    assert kept["revocation_owed_before"] == "2026-03-02T09:00:00+00:00"


def test_offboarding_an_unknown_user_is_not_found(world, life):
    with pytest.raises(NotFound, match="no managed user named ghost"):
        offboard(life, name="ghost")
    assert world.signin.revoked == [] and world.state.records == {}


# time-bound access
def test_grant_adds_the_group_until_its_expiry(world, life, pete):
    answer = grant(life, hours=3)
    assert world.iam.user("pete").groups == {DEV, GLASS}
    assert answer["grants"] == [{"group": GLASS, "expires_at": "2026-03-02T12:00:00+00:00"}]
    assert answer["roles"] == sorted([DEV_ROLE, GLASS_ROLE])
    assert answer["profiles_to_remove"] == []
    (kept,) = record(world)["grants"]
    assert kept["ticket"] == "T-4" and kept["reason"] == "incident 7"
    assert kept["requested_by"] == "alice"
    assert record(world)["groups"] == [DEV]  # a grant is not a membership of its own


@pytest.mark.parametrize(
    "group, hours, error, message",
    [
        (DEV, 1, Forbidden, "cannot be granted for a time; grantable groups: BreakGlassGroup"),
        (GLASS, 5, BadRequest, "at most 4 hours"),
    ],
)
def test_grant_refuses_what_its_limits_forbid(world, life, pete, group, hours, error, message):
    with pytest.raises(error, match=message):
        grant(life, hours=hours, group=group)
    assert record(world)["grants"] == [] and world.iam.user("pete").groups == {DEV}


def test_a_group_held_without_expiry_is_not_granted_again():
    world = Memory({"GRANT_MAX_HOURS": "BreakGlassGroup=4,ChildDeveloperGroup=8"})
    life = world.lifecycle()
    onboard(life)
    with pytest.raises(Conflict, match="member of ChildDeveloperGroup already"):
        grant(life, group=DEV)
    assert record(world)["grants"] == []


def test_a_grant_retried_keeps_the_expiry_of_its_first_attempt(world, life, pete):
    first = grant(life)
    world.clock.advance(minutes=30)
    assert grant(life)["grants"] == first["grants"]
    world.clock.advance(minutes=30)  # another ticket starts a new expiry
    assert grant(life, number="T-5")["grants"][0]["expires_at"] == "2026-03-02T12:00:00+00:00"


def test_an_expired_grant_takes_the_group_and_the_sessions_only_it_allowed(world, life, pete):
    grant(life)
    answer = life.expire_grant("pete", ExpireGrantRequest(group=GLASS, **ticket("T-5")))
    assert world.iam.user("pete").groups == {DEV}
    assert denied(world) == {CHILD: ["BreakGlassRole"]}
    assert answer == {"username": "pete", "group": GLASS, "sessions_revoked_in": [CHILD]}
    assert record(world)["grants"] == []


def test_an_expired_grant_whose_revocation_fails_adds_to_what_is_owed(world, life, pete):
    world.revoker.unreachable[CHILD] = "throttled"
    move(life, [READ])  # owes the developers' role
    grant(life)
    world.clock.advance(hours=2)
    answer = life.expire_grant("pete", ExpireGrantRequest(group=GLASS, **ticket("T-5")))
    assert answer["sessions_revocation_pending"] == {CHILD: f"{CHILD}: throttled"}
    kept = record(world)
    assert kept["revocation_pending"] == [CHILD]
    assert kept["revocation_owed_before"] == "2026-03-02T11:00:00+00:00"  # the latest: more
    assert world.iam.user("pete").groups == {READ}


def test_a_grant_of_a_previous_holder_leaves_the_new_holders_membership(world, life):
    world.state.put_record(
        "pete",
        {
            "status": "active",
            "user_id": "AIDAPREVIOUSHOLDER",
            "groups": [],
            "grants": [{"group": GLASS, "expires_at": "2026-03-02T08:00:00+00:00"}],
        },
    )
    world.iam.add_user("pete")
    world.iam.add_to_group("pete", GLASS)
    life.expire_grant("pete", ExpireGrantRequest(group=GLASS, **ticket("T-5")))
    assert world.iam.user("pete").groups == {GLASS}
    assert record(world)["grants"] == []
    # ending one's own access is refused: the grant is not the new holder's
    with pytest.raises(Conflict, match="holds no time-bound access"):
        life.end_grant("pete", ExpireGrantRequest(group=GLASS, **ticket("T-6")))


def test_ending_ones_own_grant_takes_it_away_now(world, life, pete):
    with pytest.raises(Conflict, match="holds no time-bound access to BreakGlassGroup"):
        life.end_grant("pete", ExpireGrantRequest(group=GLASS, **ticket("T-5")))
    grant(life)
    life.end_grant("pete", ExpireGrantRequest(group=GLASS, **ticket("T-6")))
    assert world.iam.user("pete").groups == {DEV} and record(world)["grants"] == []


# the profile kept on a user
def test_set_profile_sets_and_removes_tags_and_nothing_else(world, life):
    onboard(life, email="old@example.com", external_id="okta-1")
    request = ProfileRequest(email="new@example.com", external_id=None, **ticket("T-2"))
    answer = life.set_profile("pete", request)
    assert answer == {
        "username": "pete",
        "external_id": None,
        "email": "new@example.com",
        "slack_user": None,
        "changed": ["email", "external_id"],
    }
    tags = world.iam.user("pete").tags
    assert tags["email"] == "new@example.com" and "external_id" not in tags
    assert world.iam.user("pete").groups == {DEV}


def test_set_profile_moves_the_slack_link_to_the_new_member(world, life):
    onboard(life, slack_user="U0OLD")
    life.set_profile("pete", ProfileRequest(slack_user="U0NEW", **ticket("T-2")))
    user_id = world.iam.user("pete").id
    assert world.state.links == {"U0NEW": {"username": "pete", "user_id": user_id}}
    assert record(world)["slack_user"] == "U0NEW"
    assert world.iam.user("pete").tags["slack_user"] == "U0NEW"
    life.set_profile("pete", ProfileRequest(slack_user="", **ticket("T-3")))
    assert world.state.links == {} and "slack_user" not in record(world)
    assert "slack_user" not in world.iam.user("pete").tags


# reading
def test_describe_shows_the_user_its_keys_last_use_and_groups_it_does_not_manage(world, life, pete):
    (key_id,) = world.iam.user("pete").keys
    world.iam.used[key_id] = "2026-03-01T10:00:00+00:00"
    world.iam.user("pete").groups.add("AdminsByHand")
    shown = life.describe("pete")
    assert shown["access_keys"] == [
        {"id": key_id, "status": "Active", "last_used": "2026-03-01T10:00:00+00:00"}
    ]
    assert shown["unmanaged_groups"] == ["AdminsByHand"]
    assert shown["roles"] == [DEV_ROLE]  # an unmanaged group's policies are not read
    assert shown["console"] is True and shown["mfa"] is False
    assert life.describe_if_exists("nobody") is None


# revoking again what is owed
def test_revoking_again_denies_what_is_owed_from_the_moment_it_was_owed(world, life, pete):
    world.revoker.unreachable[CHILD] = "throttled"
    suspend(life)
    world.clock.advance(hours=1)
    del world.revoker.unreachable[CHILD]
    answer = life.revoke_sessions("pete", TicketRequest(**ticket("T-8")))
    usernames, targets, before = world.revoker.calls[-1]
    assert usernames == ["pete"] and targets == {CHILD: ["DeveloperRole", "BreakGlassRole"]}
    assert before == datetime.fromisoformat("2026-03-02T09:00:00+00:00")  # not a later one
    assert answer["sessions_revoked_in"] == [CHILD]
    assert "sessions_revocation_pending" not in answer
    kept = record(world)
    assert kept["revocation_pending"] == [] and "revocation_owed_before" not in kept
    assert kept["sessions_revoked_in"] == [CHILD, OTHER_CHILD]


def test_revoking_again_what_still_fails_keeps_it_owed(world, life, pete):
    world.revoker.unreachable[CHILD] = "throttled"
    world.signin.faults.fail("revoke_sessions", times=2)
    suspend(life)
    world.clock.advance(hours=1)
    answer = life.revoke_sessions("pete", TicketRequest(**ticket("T-8")))
    assert sorted(answer["sessions_revocation_pending"]) == [ROOT, CHILD]
    kept = record(world)
    assert kept["revocation_pending"] == [ROOT, CHILD]
    assert kept["revocation_owed_before"] == "2026-03-02T09:00:00+00:00"
    # once Sign-In answers, the root account's sessions are revoked and settled
    answer = life.revoke_sessions("pete", TicketRequest(**ticket("T-9")))
    assert list(answer["sessions_revocation_pending"]) == [CHILD]
    assert ROOT in answer["sessions_revoked_in"]
