"""How the SCIM edge reads an identity provider's requests (no moto): what deactivates, which
operations touch what the service keeps, and the filter limits."""

import pytest

from chalicelib.scim.input import check_filter, deactivates, patch_user
from chalicelib.scim.protocol import LifecycleUser, ScimError, UserModel

PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIFECYCLE = "urn:ietf:params:scim:schemas:extension:iam-lifecycle:2.0:User"


def ops(*operations: dict) -> dict:
    return {"schemas": [PATCH], "Operations": list(operations)}


@pytest.mark.parametrize(
    "payload, patch, expected",
    [
        (ops({"op": "Replace", "path": "active", "value": "False"}), True, True),
        (ops({"op": "replace", "path": "ACTIVE", "value": False}), True, True),
        (ops({"op": "replace", "value": {"Active": "false"}}), True, True),
        (ops({"op": "Replace", "path": "active", "value": "True"}), True, False),
        (ops({"op": "remove", "path": "active"}), True, False),
        ({"userName": "pete", "active": "False"}, False, True),
        ({"userName": "pete", "active": True}, False, False),
    ],
)
def test_what_deactivates(payload, patch, expected):
    assert deactivates(payload, patch=patch) is expected


def user() -> UserModel:
    return UserModel(user_name="pete", active=True, external_id="00u1")


def test_a_deactivation_keeps_what_it_can_read_and_leaves_out_the_rest():
    target = user()
    patch_user(
        UserModel,
        ops(
            {"op": "Replace", "path": "active", "value": "False"},
            {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": "bare-id"},
            {"op": "Replace", "path": "externalId", "value": "00u2"},
            {"op": "Replace", "path": "emails", "value": "not a list"},
            {"op": "Add", "path": f"{LIFECYCLE}:slackUserId", "value": "U0PETE01"},
        ),
        target,
    )
    assert target.active is False and target.external_id == "00u2"
    assert target[LifecycleUser].slack_user_id == "U0PETE01"


def test_without_a_deactivation_only_what_is_not_kept_is_left_out():
    target = user()
    manager = {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": "bare-id"}
    patch_user(UserModel, ops(manager), target)
    assert target.active is True
    with pytest.raises(Exception):  # noqa: B017 - scim2-models' own error for the body
        patch_user(UserModel, ops({"op": "Replace", "path": "emails", "value": "x"}), target)
    with pytest.raises(Exception):  # noqa: B017
        patch_user(UserModel, ops({"op": "bogus", "path": "active"}), target)
    malformed = {"op": "Replace", "path": f"{LIFECYCLE}:slackUserId", "value": {"id": 1}}
    with pytest.raises(Exception):  # noqa: B017 - the extension's attribute is kept
        patch_user(UserModel, ops(malformed), target)


def test_filter_limits_count_comparisons_outside_quoted_values():
    check_filter(" or ".join(["userName pr"] * 16))
    check_filter('userName eq "' + " eq " * 40 + '"')
    check_filter(None)
    with pytest.raises(ScimError, match="17 comparisons"):
        check_filter(" or ".join(["userName pr"] * 17))
    with pytest.raises(ScimError, match="1025 characters"):
        check_filter("x" * 1025)
