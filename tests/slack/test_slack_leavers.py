"""A leaver's Slack member acts for nobody, through signed Slack requests: their link goes with
their offboarding, and a link that outlived its person (the name given to someone else outside
the service) is not used either; their pending request is cancelled and grants the new holder of
the name nothing."""

from __future__ import annotations

import boto3

from chalicelib import bootstrap
from chalicelib.lifecycle.commands import OffboardRequest
from devstack.local import REGION
from tests.support.approvals import APPROVER, CHANNEL, GROUP, NOBODY, STRANGER, text_of
from tests.support.slack import ephemeral

LEAVER, NEWCOMER = NOBODY, STRANGER  # U1, U2
NOT_LINKED = "not linked to a managed user"


def offboard(name: str, ticket: str) -> dict:
    request = OffboardRequest(ticket=ticket, requested_by="hr")
    return bootstrap.services().operations.change("offboard", name, request)


def refused_as_not_linked(flow, member: str) -> None:
    """``request``, a break-glass activation and ``done`` from ``member``: each refused at once,
    nothing queued, nothing asked or ended."""
    before = flow.requests()
    for text in (
        f"request {GROUP} 1 deploy hotfix",
        f"request {GROUP} 1 --break-glass prod is down",
        f"done {GROUP}",
        "done ChildDeveloperGroup",
    ):
        assert NOT_LINKED in ephemeral(flow.command(text, member)), text
    assert flow.work() == 0
    assert flow.requests() == before


def test_a_leavers_member_cannot_act_for_the_new_holder_of_the_name(flow):
    flow.link("pete", LEAVER)
    ephemeral(flow.command(f"request {GROUP} 2 deploy hotfix INC-1", LEAVER))
    flow.work()
    [asked] = flow.requests(status="pending")
    offboard("pete", "T-off")
    flow.work()
    [request] = flow.requests()
    assert request["status"] == "cancelled" and request["why"] == "offboarded"
    assert "the user was offboarded" in text_of(flow.updates()[-1])

    flow.onboard("pete", NEWCOMER, "T-rehire")
    refused_as_not_linked(flow, LEAVER)
    # The leaver's request: its approval grants the new pete nothing.
    flow.approve(asked["id"], APPROVER)
    flow.work()
    assert flow.groups_of("pete") == ["ChildDeveloperGroup"]
    assert flow.requests()[0]["status"] == "cancelled"
    # The new pete's own member is the one linked.
    ephemeral(flow.command(f"request {GROUP} 1 on call", NEWCOMER))
    flow.work()
    [mine] = flow.requests(status="pending")
    assert mine["username"] == "pete" and mine["id"] != asked["id"]


def test_a_link_that_outlived_its_person_is_not_used(flow):
    """pete left by hand (deleted in IAM, not offboarded by the service, so nothing let go of
    his link), and a new pete was onboarded: the old link names another person."""
    flow.link("pete", LEAVER)
    iam = boto3.client("iam", region_name=REGION)
    for group in flow.groups_of("pete"):
        iam.remove_user_from_group(UserName="pete", GroupName=group)
    for policy in iam.list_attached_user_policies(UserName="pete")["AttachedPolicies"]:
        iam.detach_user_policy(UserName="pete", PolicyArn=policy["PolicyArn"])
    iam.delete_user(UserName="pete")
    flow.onboard("pete", NEWCOMER, "T-rehire")
    assert bootstrap.services().slack_store.linked_user(LEAVER) is None
    refused_as_not_linked(flow, LEAVER)
    assert flow.channel_posts() == [] and [c for c in flow.calls() if CHANNEL in str(c)] == []
