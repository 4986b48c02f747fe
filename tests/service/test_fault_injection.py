"""For each operation, the k-th AWS call fails (throttled past its retries, or a 5xx) for every k;
a retry with the same ticket must then leave the right state and a complete audit trail."""

from __future__ import annotations

import threading
import time

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from chalicelib import bootstrap
from chalicelib.aws.clients import AwsClients
from devstack.local import REGION, shared_session
from tests.support import onboard as onboard_as
from tests.support.iam_objects import REMOVED_KINDS, give_every_dependent

FAULTS = [("Throttling", 400, "Rate exceeded"), ("ServiceFailure", 500, "internal failure")]


class Faults:
    """Counts the app's AWS calls and makes the k-th fail, without reaching AWS."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail_at: int | None = None
        self.fault = FAULTS[0]
        self.lock = threading.Lock()

    def __call__(self, model, **_):
        with self.lock:
            self.calls += 1
            if self.calls != self.fail_at:
                return None
        code, status, message = self.fault
        response = AWSResponse("https://fault", status, {}, None)
        return response, {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }

    def arm(self, k: int | None, fault=None) -> None:
        self.calls, self.fail_at = 0, k
        self.fault = fault or self.fault


@pytest.fixture
def faults(client, monkeypatch):
    # A record left in progress by a failure to save the result may be retried after this.
    monkeypatch.setenv("OPERATION_TIMEOUT", "1")
    monkeypatch.setenv("REVOCATION_LOCK_SECONDS", "1")
    bootstrap.reset()
    services = bootstrap.build(clients=AwsClients(REGION, session=shared_session()))
    bootstrap.use(services)
    injector = Faults()
    for service in ("iam", "dynamodb", "secretsmanager", "sts", "signin"):
        services.clients.root(service).meta.events.register("before-call", injector)
    return injector


def retry(api, method, path, body, expected):
    """A ticketing system's retry: same ticket, again while the first attempt is still held."""
    deadline = time.monotonic() + 10
    while True:
        response = api.call(method, path, body)
        if response.status_code != 409 or time.monotonic() > deadline:
            break
        assert "retry" in response.json["Message"], response.json
        time.sleep(0.5)
    assert response.status_code == expected, response.json
    return response


def onboard(api, username, groups=("ChildDeveloperGroup",)):
    return onboard_as(api, username, groups, ticket=f"setup-{username}")


def iam_state(username):
    iam = boto3.client("iam")
    try:
        iam.get_user(UserName=username)
    except iam.exceptions.NoSuchEntityException:
        # gone, and nothing of theirs left behind in the account
        left = [
            d["SerialNumber"]
            for d in iam.list_virtual_mfa_devices()["VirtualMFADevices"]
            if d["SerialNumber"].endswith(f"mfa/{username}")
        ]
        return left or None
    try:
        iam.get_login_profile(UserName=username)
        console = True
    except iam.exceptions.NoSuchEntityException:
        console = False
    return {
        "groups": sorted(
            g["GroupName"] for g in iam.list_groups_for_user(UserName=username)["Groups"]
        ),
        "console": console,
        "keys": sorted(
            k["Status"] for k in iam.list_access_keys(UserName=username)["AccessKeyMetadata"]
        ),
        "policies": sorted(
            p["PolicyName"]
            for p in iam.list_attached_user_policies(UserName=username)["AttachedPolicies"]
        ),
    }


# operation -> (set-up of the user, request, expected status, expected IAM state afterwards)
CASES = {
    "onboard": (
        lambda api, u: None,
        lambda u: ("POST", "/users", {"username": u, "groups": ["ChildDeveloperGroup"]}),
        201,
        {
            "groups": ["ChildDeveloperGroup"],
            "console": True,
            "keys": [],
            "policies": ["ManagedUserSelfService"],
        },
    ),
    "move": (
        lambda api, u: onboard(api, u),
        lambda u: ("PUT", f"/users/{u}/groups", {"groups": ["BreakGlassGroup"]}),
        200,
        {
            "groups": ["BreakGlassGroup"],
            "console": True,
            "keys": [],
            "policies": ["ManagedUserSelfService"],
        },
    ),
    "suspend": (
        lambda api, u: (
            onboard(api, u, ("ChildDeveloperGroup", "BreakGlassGroup")),
            boto3.client("iam").create_access_key(UserName=u),
        ),
        lambda u: ("POST", f"/users/{u}/suspend", {}),
        200,
        {
            "groups": [],
            "console": False,
            "keys": ["Inactive"],
            # AccessSuspended: every credential of theirs refused until the restore
            "policies": ["AccessSuspended", "ManagedUserSelfService"],
        },
    ),
    "restore": (
        lambda api, u: (
            onboard(api, u, ("ChildDeveloperGroup", "BreakGlassGroup")),
            boto3.client("iam").create_access_key(UserName=u),
            api.call("POST", f"/users/{u}/suspend", {"ticket": f"s-{u}", "requested_by": "alice"}),
        ),
        lambda u: ("POST", f"/users/{u}/restore", {}),
        200,
        {
            "groups": ["BreakGlassGroup", "ChildDeveloperGroup"],
            "console": True,
            "keys": ["Active"],
            "policies": ["ManagedUserSelfService"],
        },
    ),
    "offboard": (
        lambda api, u: (onboard(api, u), give_every_dependent(boto3.client("iam"), u)),
        lambda u: ("POST", f"/users/{u}/offboard", {}),
        200,
        None,
    ),
}


@pytest.mark.parametrize("operation", list(CASES))
def test_every_failure_point_is_finished_by_a_retry(api, faults, operation):
    set_up, request, expected_status, expected_state = CASES[operation]

    # a clean run counts the calls an operation makes
    set_up(api, "clean")
    method, path, body = request("clean")
    faults.arm(None)
    clean = api.call(method, path, {**body, "ticket": "T-clean", "requested_by": "alice"})
    assert clean.status_code == expected_status, clean.json
    total = faults.calls
    assert total >= 5

    for k in range(1, total + 1):
        username = f"user{k}"
        faults.arm(None)
        set_up(api, username)
        method, path, body = request(username)
        body = {**body, "ticket": f"T-{k}", "requested_by": "alice"}
        faults.arm(k, FAULTS[k % 2])
        first = api.call(method, path, body)
        faults.arm(None)
        assert first.status_code in (expected_status, 409, 502), (k, first.json)

        # a caller retries only what did not succeed
        final = (
            first
            if first.status_code == expected_status
            else retry(api, method, path, body, expected_status)
        )
        assert iam_state(username) == expected_state, (k, first.json)
        if operation in ("onboard", "restore"):
            assert len(final.json["temporary_password"]) >= 20, k
        trail = api.call("GET", f"/audit?ticket=T-{k}").json["events"]
        if operation == "offboard":
            # The answer names everything, what an earlier attempt removed included (from the
            # record, or where that could not be written, from the attempt's audit event).
            assert set(final.json["removed"]) == REMOVED_KINDS, (k, final.json, trail)
        outcomes = [e["result"].split(":")[0] for e in trail]
        made = [o for o in outcomes if o in ("ok", "revocation_pending")]
        assert len(made) == 1 and outcomes[-1] == made[0], (k, trail)
        if final.json.get("sessions_revocation_pending"):
            # The change is made, its revocation owed (a lock or a role write failed): audited
            # so, never as ok, and finished by the schedule's retry.
            assert made == ["revocation_pending"], (k, trail)
            bootstrap.services().schedules.prune_revocations()
            record = bootstrap.services().lifecycle.state.get_record(username)
            assert record["revocation_pending"] == [], (k, record)
        else:
            assert made == ["ok"], (k, trail)
        assert all(e["action"] == operation and e["username"] == username for e in trail)
