"""Adoption's rules, pure: every reason a user cannot be adopted, what it keeps for a release,
the access matrix and the comparison that proves access unchanged. No moto here."""

from __future__ import annotations

from dataclasses import replace

from chalicelib.adoption import rules

POLICY = rules.Policy(
    managed_path="/managed/",
    allowed_groups=("ChildDeveloperGroup", "BreakGlassGroup"),
    protected_users=frozenset({"break-glass-owner"}),
    allowed_policies=frozenset({"arn:aws:iam::123456789012:policy/ManagedUserSelfService"}),
    app_name="iam-lifecycle",
)
ANA = rules.Person(
    username="Ana",
    id="AIDAANA",
    arn="arn:aws:iam::123456789012:user/Ana",
    path="/",
    tags={rules.MARK_KEY: rules.MARK_VALUE, "ticket": "HR-7"},
    groups=("ChildDeveloperGroup",),
    keys=(("AKIA1", "Active"),),
    console=True,
    mfa=("arn:aws:iam::123456789012:mfa/Ana",),
)
ROLES = {
    "ChildDeveloperGroup": ["arn:aws:iam::222233334444:role/DeveloperRole"],
    "BreakGlassGroup": ["arn:aws:iam::222233334444:role/BreakGlassRole"],
}


def roles(groups: list[str]) -> list[str]:
    return [arn for group in groups for arn in ROLES.get(group, [])]


def test_a_marked_user_in_managed_groups_with_no_policies_of_its_own_may_be_adopted():
    assert rules.refusals(ANA, None, POLICY) == []
    # a record of a person who left, or of this one released, does not stand in the way
    assert rules.refusals(ANA, {"status": "offboarded", "user_id": "AIDAOLD"}, POLICY) == []
    assert rules.refusals(ANA, {"status": "released", "user_id": "AIDAANA"}, POLICY) == []


def test_every_reason_is_named_at_once():
    bo = replace(
        ANA,
        username="break-glass-owner",
        path="/managed/",
        tags={},
        groups=("ChildDeveloperGroup", "Admins"),
        inline=("everything",),
        attached=(
            "arn:aws:iam::aws:policy/AdministratorAccess",
            "arn:aws:iam::123456789012:policy/ManagedUserSelfService",
        ),
    )
    reasons = rules.refusals(bo, {"status": "active", "user_id": "AIDAOTHER"}, POLICY)
    text = "\n".join(reasons)
    assert len(reasons) == 7, reasons
    for expected in (
        "protected user",
        "managed already",
        "not marked for adoption",
        "Admins",
        "inline policy everything",
        "AdministratorAccess is not on the allow-list",
        "the name clashes",
    ):
        assert expected in text
    assert "ManagedUserSelfService" not in text  # on the allow-list


def test_a_path_under_the_services_own_and_an_adoption_stopped_halfway_are_refused():
    assert (
        "under the service's own path"
        in rules.refusals(replace(ANA, path="/managed/old/"), None, POLICY)[0]
    )
    [reason] = rules.refusals(
        ANA, {"status": "adopting", "user_id": "AIDAANA", "ticket": "T-1"}, POLICY
    )
    assert "T-1" in reason and "stopped halfway" in reason


def test_no_room_for_the_services_tags_is_a_reason():
    crowded = replace(ANA, tags={**ANA.tags, **{f"k{i}": "v" for i in range(48)}})
    assert any("IAM allows 50" in r for r in rules.refusals(crowded, None, POLICY))


def test_the_mark_must_say_true():
    assert not replace(ANA, tags={rules.MARK_KEY: "yes"}).marked
    assert replace(ANA, tags={rules.MARK_KEY: "TRUE"}).marked


def test_the_groups_a_caller_expects_must_be_the_users():
    assert rules.expected_groups(ANA, POLICY, None) is None
    assert rules.expected_groups(ANA, POLICY, ["ChildDeveloperGroup"]) is None
    assert "changes no membership" in (rules.expected_groups(ANA, POLICY, []) or "")


def test_a_release_gives_back_the_tags_as_they_were():
    added = rules.tags_added(ANA, "T-2", "alice", "iam-lifecycle")
    kept = rules.memory(ANA, added)
    assert kept["path"] == "/" and kept["arn"] == ANA.arn
    assert kept["tags"] == {"managed_by": None, "requested_by": None, "ticket": "HR-7"}
    assert rules.tags_back(kept) == ({"ticket": "HR-7"}, ["managed_by", "requested_by"])


def test_the_matrix_has_a_row_per_group_and_role():
    both = replace(ANA, groups=("BreakGlassGroup", "ChildDeveloperGroup"))
    assert rules.matrix("Ana", both.groups, roles) == [
        {
            "username": "Ana",
            "group": "BreakGlassGroup",
            "account": "222233334444",
            "role": "BreakGlassRole",
        },
        {
            "username": "Ana",
            "group": "ChildDeveloperGroup",
            "account": "222233334444",
            "role": "DeveloperRole",
        },
    ]


def test_any_difference_in_what_a_person_can_do_is_named():
    before = rules.facts(ANA, rules.matrix("Ana", ANA.groups, roles))
    assert rules.differences(before, dict(before)) == []
    changed = replace(ANA, groups=("BreakGlassGroup",), keys=(("AKIA1", "Inactive"),))
    after = rules.facts(changed, rules.matrix("Ana", changed.groups, roles))
    named = "\n".join(rules.differences(before, after))
    for what in ("groups", "access_keys", "access_matrix"):
        assert what in named
    assert "console" not in named


def test_the_plan_shows_the_same_matrix_before_and_after_and_what_stays():
    rows = rules.matrix("Ana", ANA.groups, roles)
    added = rules.tags_added(ANA, "T-3", "alice", "iam-lifecycle")
    plan = rules.plan(ANA, POLICY, added, rows)
    assert plan["changes"]["path"] == {"before": "/", "after": "/managed/"}
    assert plan["changes"]["arn"]["after"] == "arn:aws:iam::123456789012:user/managed/Ana"
    assert plan["changes"]["tags"]["ticket"] == {"before": "HR-7", "after": "T-3"}
    assert plan["changes"]["groups_owned"] == ["ChildDeveloperGroup"]
    assert plan["unchanged"]["access_keys"] == [{"id": "AKIA1", "status": "Active"}]
    assert plan["access_matrix"] == {"before": rows, "after": rows}
