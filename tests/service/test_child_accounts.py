"""Child accounts from AWS Organizations (chalicelib/aws/accounts.py), on moto's Organizations."""

from __future__ import annotations

import functools
from collections.abc import Iterator
from typing import Any

import pytest
from botocore.exceptions import ClientError
from moto import mock_aws

from chalicelib.aws.accounts import ChildAccounts, OrganizationUnavailable, not_deployed
from chalicelib.aws.clients import AwsClients
from chalicelib.aws.errors import aws_errors
from chalicelib.kernel.errors import AccessDenied, ConfigurationError, NotFound, UpstreamError
from chalicelib.settings import Settings
from devstack.local import REGION, ROOT_ACCOUNT, shared_session
from tests.support.app_client import Clock

STATIC = "222233334444"
BASE = {
    "ALLOWED_GROUPS": "ChildDeveloperGroup",
    "ROOT_ACCOUNT_ID": ROOT_ACCOUNT,
    "CHILD_ACCOUNT_IDS": STATIC,
}


class Organization:
    """moto's Organizations in the management account, and every call the app's client makes."""

    def __init__(self) -> None:
        self.clients = AwsClients(REGION, session=shared_session())
        self.admin = shared_session().client("organizations")
        self.admin.create_organization(FeatureSet="ALL")
        self.root = self.admin.list_roots()["Roots"][0]["Id"]
        self.calls: list[str] = []
        self.failure: dict | None = None  # AWS's error answer, while Organizations fails
        self.warnings: list[tuple[str, dict]] = []
        self.app.meta.events.register("before-call.organizations", self._called)

    @property
    def app(self) -> Any:
        return self.clients.root("organizations")

    def _called(self, model: Any, **_: Any) -> None:
        self.calls.append(model.name)
        if self.failure:
            raise ClientError({"Error": self.failure}, model.name)

    def unit(self, name: str, parent: str | None = None) -> str:
        return self.admin.create_organizational_unit(ParentId=parent or self.root, Name=name)[
            "OrganizationalUnit"
        ]["Id"]

    def account(self, name: str, parent: str | None = None) -> str:
        account = self.admin.create_account(AccountName=name, Email=f"{name}@example.com")[
            "CreateAccountStatus"
        ]["AccountId"]
        if parent:
            self.admin.move_account(
                AccountId=account, SourceParentId=self.root, DestinationParentId=parent
            )
        return account

    def children(self, clock: Clock, units: str, ttl: int = 300, **env: str) -> ChildAccounts:
        settings = Settings.from_env(
            {**BASE, "CHILD_ORGANIZATIONAL_UNITS": units, "CHILD_ACCOUNTS_TTL": str(ttl), **env}
        )
        return ChildAccounts(
            settings,
            functools.partial(self.clients.root, "organizations"),
            clock,
            warn=lambda message, **extra: self.warnings.append((message, extra)),
        )


@pytest.fixture
def org() -> Iterator[Organization]:
    with mock_aws():
        yield Organization()


def test_without_organizational_units_the_static_accounts_are_the_children(clock):
    def no_organizations() -> Any:
        raise AssertionError("Organizations is not configured: no client is made")

    settings = Settings.from_env({**BASE, "CHILD_ACCOUNT_IDS": "333344445555,222233334444"})
    assert settings.child_organizational_units == () and settings.child_accounts_ttl == 300
    assert ChildAccounts(settings, no_organizations, clock).current() == [
        "222233334444",
        "333344445555",
    ]


def test_the_active_accounts_of_an_ou_and_of_its_nested_ous_are_children(org, clock):
    workloads = org.unit("workloads")
    teams = org.unit("teams", parent=workloads)
    squad = org.unit("squad", parent=teams)
    direct, nested, deep = (
        org.account("direct", workloads),
        org.account("nested", teams),
        org.account("deep", squad),
    )
    org.account("sandbox", org.unit("sandbox"))  # another OU: not a child
    org.account("loose")  # directly under the root: not a child
    assert org.children(clock, workloads).current() == sorted([STATIC, direct, nested, deep])
    assert org.calls.count("ListAccountsForParent") == 3  # once per OU of the tree
    assert org.calls.count("ListOrganizationalUnitsForParent") == 3


def test_closed_accounts_are_not_children(org, clock):
    unit = org.unit("workloads")
    kept, closed = org.account("kept", unit), org.account("closed", unit)
    org.admin.close_account(AccountId=closed)
    states = {
        a["Id"]: a["State"] for a in org.admin.list_accounts_for_parent(ParentId=unit)["Accounts"]
    }
    assert states == {kept: "ACTIVE", closed: "SUSPENDED"}  # what moto, like AWS, reports
    assert org.children(clock, unit).current() == sorted([STATIC, kept])


def test_the_whole_organization_leaves_the_management_account_out(org, clock):
    loose, nested = org.account("loose"), org.account("nested", org.unit("workloads"))
    accounts = {a["Id"] for a in org.admin.list_accounts_for_parent(ParentId=org.root)["Accounts"]}
    assert ROOT_ACCOUNT in accounts  # the management account lies in the root ...
    children = org.children(clock, org.root, CHILD_ACCOUNT_IDS="").current()
    assert children == sorted([loose, nested])  # ... and is never a child


def test_every_page_is_read(org, clock):
    unit = org.unit("many")
    for n in range(3):
        org.unit(f"sub{n}", parent=unit)
    accounts = [org.account(f"a{n}", unit) for n in range(25)]  # moto's page: 20 accounts
    assert org.children(clock, unit, CHILD_ACCOUNT_IDS="").current() == sorted(accounts)
    assert org.calls.count("ListAccountsForParent") == 2 + 3


def test_the_listing_is_kept_for_the_ttl_then_read_again(org, clock):
    unit = org.unit("workloads")
    first = org.account("first", unit)
    children = org.children(clock, unit, ttl=300)
    assert children.current() == sorted([STATIC, first])
    calls = len(org.calls)
    later = org.account("later", unit)  # the StackSet's auto-deployment reaches it meanwhile
    clock.advance(seconds=299)
    assert children.current() == sorted([STATIC, first])
    assert len(org.calls) == calls  # within the TTL: no call
    clock.advance(seconds=1)
    assert children.current() == sorted([STATIC, first, later])
    assert len(org.calls) == 2 * calls


def test_a_ttl_of_zero_reads_organizations_every_time(org, clock):
    unit = org.unit("workloads")
    children = org.children(clock, unit, ttl=0)
    children.current()
    children.current()
    assert org.calls.count("ListAccountsForParent") == 2


def test_when_organizations_fails_the_last_listing_is_answered_with_a_warning(org, clock):
    unit = org.unit("workloads")
    account = org.account("workloads", unit)
    children = org.children(clock, unit)
    assert children.current() == sorted([STATIC, account])
    org.failure = {"Code": "TooManyRequestsException", "Message": "Rate exceeded"}
    clock.advance(seconds=301)
    assert children.current() == sorted([STATIC, account])
    [(message, extra)] = org.warnings
    assert message.startswith("AWS Organizations failed")
    assert "TooManyRequestsException" in extra["error"] and extra["accounts"] == [account]
    calls = len(org.calls)
    assert children.current() == sorted([STATIC, account])
    assert len(org.calls) == calls  # asked again only after another TTL
    org.failure = None
    added = org.account("added", unit)
    clock.advance(seconds=301)
    assert children.current() == sorted([STATIC, account, added])


def test_when_organizations_fails_before_any_listing_the_caller_gets_the_static_accounts(
    org, clock
):
    unit = org.unit("workloads")
    children = org.children(clock, unit)
    org.failure = {"Code": "TooManyRequestsException", "Message": "Rate exceeded"}
    with pytest.raises(OrganizationUnavailable) as raised:
        children.current()
    assert raised.value.static == [STATIC]
    assert raised.value.retryable and raised.value.status == 502
    assert unit in raised.value.message and "TooManyRequestsException" in raised.value.message
    assert raised.value.parents == (unit,)
    # What a caller recorded as owed meanwhile (the OU) is expanded once Organizations answers.
    with pytest.raises(OrganizationUnavailable):
        children.resolve([unit])
    org.failure = None
    account = org.account("workloads", unit)
    assert children.resolve([unit, "444455556666"]) == sorted([STATIC, account, "444455556666"])
    assert children.resolve(["444455556666", STATIC]) == [STATIC, "444455556666"]


def test_organizations_refused_is_final_and_says_what_to_fix(org, clock):
    org.failure = {
        "Code": "AccessDeniedException",
        "Message": ("You don't have permissions to access this resource."),
    }
    with pytest.raises(OrganizationUnavailable) as raised:
        org.children(clock, org.unit("workloads")).current()
    assert not raised.value.retryable  # a retry cannot help: the policy or the account is wrong
    assert "AWS denied this service" in raised.value.message


def test_an_ou_that_does_not_exist_is_named(org, clock):
    with pytest.raises(OrganizationUnavailable) as raised:
        org.children(clock, "ou-abcd-12345678").current()
    assert "listing the accounts under ou-abcd-12345678" in raised.value.message
    assert "ParentNotFoundException" in raised.value.message


@pytest.mark.parametrize(
    "change, message",
    [
        ({"CHILD_ORGANIZATIONAL_UNITS": "ou-abcd"}, "CHILD_ORGANIZATIONAL_UNITS entry 'ou-abcd'"),
        ({"CHILD_ORGANIZATIONAL_UNITS": "r-abcd,o-abcdefghij"}, "'o-abcdefghij' must be an"),
        ({"CHILD_ORGANIZATIONAL_UNITS": "OU-ABCD-12345678"}, "organizational unit id"),
        ({"CHILD_ACCOUNTS_TTL": "5m"}, "CHILD_ACCOUNTS_TTL '5m' must be a whole number"),
        ({"CHILD_ACCOUNTS_TTL": "-1"}, "CHILD_ACCOUNTS_TTL"),
    ],
)
def test_bad_settings_are_refused_naming_the_variable(change, message):
    with pytest.raises(ConfigurationError, match=message):
        Settings.from_env({**BASE, **change})


def test_settings_take_ous_and_the_root():
    settings = Settings.from_env(
        {
            **BASE,
            "CHILD_ORGANIZATIONAL_UNITS": " ou-ab12-cd34ef56, r-ab12,",
            "CHILD_ACCOUNTS_TTL": "60",
        }
    )
    assert settings.child_organizational_units == ("ou-ab12-cd34ef56", "r-ab12")
    assert settings.child_accounts_ttl == 60


def test_an_account_without_the_roles_yet_is_named_with_the_reason(org):
    late = org.account("late", org.unit("workloads"))  # the StackSet has not reached it
    # AWS refuses AssumeRole into a role that does not exist; these are its words.
    refused = (
        f"User: arn:aws:sts::{ROOT_ACCOUNT}:assumed-role/iam-lifecycle-dev-api_handler/x is "
        f"not authorized to perform: sts:AssumeRole on resource: "
        f"arn:aws:iam::{late}:role/AccessRevocationRole"
    )

    def refuse(**_: Any) -> None:
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": refused}}, "AssumeRole")

    org.clients.root("sts").meta.events.register("before-call.sts.AssumeRole", refuse)
    with (
        pytest.raises(AccessDenied) as raised,
        aws_errors(f"assuming AccessRevocationRole in {late}"),
    ):
        org.clients.child(late, "AccessRevocationRole", "iam", "iam-lifecycle")
    assert not_deployed(late, "AccessRevocationRole", raised.value) == (
        f"AccessRevocationRole not deployed in {late} yet: {refused}"
    )


def test_moto_lets_the_role_be_assumed_and_the_missing_roles_say_it(org):
    late = org.account("late", org.unit("workloads"))
    iam = org.clients.child(late, "AccessRevocationRole", "iam", "iam-lifecycle")  # moto: no check
    with pytest.raises(NotFound) as raised, aws_errors(f"reading role DeveloperRole in {late}"):
        iam.get_role(RoleName="DeveloperRole")
    reason = not_deployed(late, "AccessRevocationRole", raised.value)
    assert reason.startswith(f"AccessRevocationRole not deployed in {late} yet: ")
    assert "DeveloperRole" in reason


def test_other_failures_keep_their_own_reason():
    error = UpstreamError("writing AccessRevocation on X failed in AWS (Throttling)")
    assert not_deployed(STATIC, "AccessRevocationRole", error) == error.message
