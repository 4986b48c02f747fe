"""For each operation, the k-th AWS call fails for every k: throttled past its retries, a 5xx, or
the process dies there (a crash). Under the stage's enforced policy (the app signs as the
principal holding exactly .chalice/policy-dev.json, moto authorizing every call), a retry (the
same ticket over REST, the identity provider's own retry over SCIM) must then leave the right
state, a complete answer and a complete audit trail.

A crash is what a killed Lambda leaves: the k-th call raises something that is not an
``Exception`` and every call after it dies too (the heartbeat's included), so nothing in the
runner cleans up: the user's lease stays held and the ticket stays in progress until they run
out. As in AWS, a user that no longer exists is AccessDenied, not NoSuchEntity, to a principal
whose permissions are scoped to the service's path (devstack/moto_ext.py; "Troubleshoot access
denied error messages", https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html).
"""

from __future__ import annotations

import json
import threading
import time
from typing import Any

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from chalicelib import bootstrap
from chalicelib.aws.clients import AwsClients
from devstack.local import REGION, _Principal
from tests.support import leases, onboard
from tests.support.enforcement import enforced
from tests.support.iam_objects import REMOVED_KINDS, give_every_dependent
from tests.support.world import World

FAULTS = [("Throttling", 400, "Rate exceeded"), ("ServiceFailure", 500, "internal failure")]
CRASH = ("crash", 0, "the process died")
SCIM_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
# Each failure point starts from the same world: the user set up once, the world kept
# (tests/support/world.py), and put back before each point, so no point sees another's leftovers.
# (The role sessions the app was issued meanwhile stay valid, as in AWS.)
USER = "pat"


class Crash(BaseException):
    """The process dies at this call: nothing after it runs, nothing cleans up."""


class Faults:
    """Counts the app's AWS calls and makes the k-th fail, without reaching AWS. The heartbeat's
    renewals are not counted (their timing is not the operation's), but die with a crash."""

    def __init__(self) -> None:
        self.calls = 0
        self.fail_at: int | None = None
        self.fault = FAULTS[0]
        self.dead = False
        self.lock = threading.Lock()

    def __call__(self, model, **_):
        with self.lock:
            if self.dead:
                raise Crash(model.name)
            if threading.current_thread().name == "heartbeat":
                return None
            self.calls += 1
            if self.calls != self.fail_at:
                return None
            if self.fault is CRASH:
                self.dead = True
                raise Crash(model.name)
            code, status, message = self.fault
        if code == "slow":
            time.sleep(status)  # the call takes that long, then goes through
            return None
        response = AWSResponse("https://fault", status, {}, None)
        return response, {
            "Error": {"Code": code, "Message": message},
            "ResponseMetadata": {"HTTPStatusCode": status},
        }

    def arm(self, k: int | None, fault=None) -> None:
        with self.lock:
            self.calls, self.fail_at, self.dead = 0, k, False
            self.fault = fault or self.fault

    def disarm(self) -> None:
        """Calls go through again (a retry runs in a process that is alive); counted still."""
        with self.lock:
            self.fail_at, self.dead = None, False


class _Faulted(_Principal):
    """The app principal's clients, root and child accounts alike, each through the faults."""

    def __init__(self, credentials: dict, faults: Faults) -> None:
        super().__init__(credentials)
        self.faults = faults

    def client(self, service: str, **kwargs: Any) -> Any:
        made = super().client(service, **kwargs)
        made.meta.events.register("before-call", self.faults)
        return made


@pytest.fixture
def faults(aws, client, monkeypatch):
    # The lease (and the ticket in progress) a crashed attempt leaves: held this long.
    monkeypatch.setenv("LEASE_SECONDS", "1")
    monkeypatch.setenv("REVOCATION_LOCK_SECONDS", "1")
    injector = Faults()
    _serve_faulted(aws, injector)
    return injector


def _serve_faulted(aws, injector: Faults) -> None:
    """The app's services built again from the environment, their AWS calls through ``injector``."""
    bootstrap.reset()
    bootstrap.use(
        bootstrap.build(clients=AwsClients(REGION, session=_Faulted(aws.app_credentials, injector)))
    )


def call(api, method, path, body, faults, k=None, fault=None):
    """One request under the stage's enforced policy; a crash is the answer no one got."""
    faults.arm(k, fault)
    try:
        with enforced():
            return api.call(method, path, body)
    except Crash:
        return None
    finally:
        faults.disarm()


def retry(api, method, path, body, expected, faults):
    """A caller's retry, again while the first attempt is still held (409, saying to retry).
    What a dead attempt left held is then let run out (its end brought to now), rather than
    waited out; anything else held is waited for. A lock on a child role that the attempt
    failed to let go is run out at once: the retry would only wait for its end."""
    deadline = time.monotonic() + 15
    leases.run_out_locks()
    while True:
        response = call(api, method, path, body, faults)
        if response.status_code not in (409, 503) or time.monotonic() > deadline:
            break
        assert "retry" in json.dumps(response.json).lower(), response.json
        if not leases.run_out():
            time.sleep(0.25)
    assert response.status_code == expected, response.json
    return response


class Scim:
    """The identity provider's calls, as Chalice's test client sends them."""

    def __init__(self, client, token: str) -> None:
        self.client, self.token = client, token

    def call(self, method: str, path: str, body: Any = None):
        sent = {"Content-Type": "application/scim+json", "Authorization": f"Bearer {self.token}"}
        raw = json.dumps(body).encode() if body is not None else b""
        response = self.client.http.request(method, f"/scim/v2{path}", headers=sent, body=raw)
        response.json = json.loads(response.body) if response.body else None
        return response


@pytest.fixture
def iam(aws):
    """The root account's IAM as the test reads it: one client for the whole test (making one
    costs more than the reads it is made for)."""
    return boto3.client("iam")


def iam_state(iam, username):
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


SUSPENDED = {
    "groups": [],
    "console": False,
    "keys": ["Inactive"],
    # AccessSuspended: every credential of theirs refused until the restore
    "policies": ["AccessSuspended", "ManagedUserSelfService"],
}


def scim_user(env, username):
    """Created by the identity provider (its id is the IAM user's), with an access key."""
    created = env.scim.call(
        "POST",
        "/Users",
        {"schemas": [SCIM_USER], "userName": username, "externalId": f"x-{username}"},
    )
    assert created.status_code == 201, created.json
    boto3.client("iam").create_access_key(UserName=username)
    env.ids[username] = created.json["id"]


# operation -> (set-up of the user, request, expected status, expected IAM state afterwards)
CASES = {
    "onboard": (
        lambda env, u: None,
        lambda env, u: ("POST", "/users", {"username": u, "groups": ["ChildDeveloperGroup"]}),
        201,
        {
            "groups": ["ChildDeveloperGroup"],
            "console": True,
            "keys": [],
            "policies": ["ManagedUserSelfService"],
        },
    ),
    "move": (
        lambda env, u: onboard(env.api, u, ticket=f"setup-{u}"),
        lambda env, u: ("PUT", f"/users/{u}/groups", {"groups": ["BreakGlassGroup"]}),
        200,
        {
            "groups": ["BreakGlassGroup"],
            "console": True,
            "keys": [],
            "policies": ["ManagedUserSelfService"],
        },
    ),
    "suspend": (
        lambda env, u: (
            onboard(env.api, u, ("ChildDeveloperGroup", "BreakGlassGroup"), ticket=f"setup-{u}"),
            boto3.client("iam").create_access_key(UserName=u),
        ),
        lambda env, u: ("POST", f"/users/{u}/suspend", {}),
        200,
        SUSPENDED,
    ),
    "restore": (
        lambda env, u: (
            onboard(env.api, u, ("ChildDeveloperGroup", "BreakGlassGroup"), ticket=f"setup-{u}"),
            boto3.client("iam").create_access_key(UserName=u),
            env.api.call(
                "POST", f"/users/{u}/suspend", {"ticket": f"s-{u}", "requested_by": "alice"}
            ),
        ),
        lambda env, u: ("POST", f"/users/{u}/restore", {}),
        200,
        {
            "groups": ["BreakGlassGroup", "ChildDeveloperGroup"],
            "console": True,
            "keys": ["Active"],
            "policies": ["ManagedUserSelfService"],
        },
    ),
    "offboard": (
        lambda env, u: (
            onboard(env.api, u, ticket=f"setup-{u}"),
            give_every_dependent(boto3.client("iam"), u),
        ),
        lambda env, u: ("POST", f"/users/{u}/offboard", {}),
        200,
        None,
    ),
    "grant": (
        lambda env, u: onboard(env.api, u, ticket=f"setup-{u}"),
        lambda env, u: (
            "POST",
            f"/users/{u}/grants",
            {"group": "BreakGlassGroup", "hours": 2, "reason": "incident"},
        ),
        201,
        {
            "groups": ["BreakGlassGroup", "ChildDeveloperGroup"],
            "console": True,
            "keys": [],
            "policies": ["ManagedUserSelfService"],
        },
    ),
    # The identity provider deactivates (PATCH active=false) and retries the same request.
    "scim_deactivate": (
        scim_user,
        lambda env, u: (
            "PATCH",
            f"/Users/{env.ids[u]}",
            {"schemas": [PATCH], "Operations": [{"op": "replace", "value": {"active": False}}]},
        ),
        200,
        SUSPENDED,
    ),
}
ACTION = {"scim_deactivate": "suspend"}


class Env:
    def __init__(self, api, scim) -> None:
        self.api, self.scim = api, scim
        self.ids: dict[str, str] = {}


# The operations with the most points share them among test ids (point k goes to the one of
# k modulo their number), so that parallel workers share them; each does its own clean run.
SHARES = {"offboard": 2}
OPERATIONS = [
    pytest.param(operation, share, id=operation if n == 1 else f"{operation}-{share + 1}of{n}")
    for operation in CASES
    for n in [SHARES.get(operation, 1)]
    for share in range(n)
]


@pytest.mark.parametrize("mode", ["error", "crash"])
@pytest.mark.parametrize(("operation", "share"), OPERATIONS)
def test_every_failure_point_is_finished_by_a_retry(
    api, client, aws, iam, faults, operation, share, mode
):
    set_up, request, expected_status, expected_state = CASES[operation]
    env = Env(api, Scim(client, aws.scim_token))
    over_scim = operation.startswith("scim_")
    caller = env.scim if over_scim else api
    action = ACTION.get(operation, operation)

    def body_of(username, k):
        method, path, body = request(env, username)
        if not over_scim:
            body = {**body, "ticket": f"T-{k}", "requested_by": "alice"}
        return method, path, body

    # a clean run counts the calls an operation makes
    set_up(env, USER)
    # The set-up let go of the user a moment ago, so the clean run's claim would read the user
    # again under its lease (kernel/claim.py); no point's run does, each starting from this world
    # long after. Let go earlier, the clean run makes the points' calls, and counts no point at
    # which no fault could fire.
    leases.let_go_earlier(USER, 1)
    before = World(aws)
    clean = call(caller, *body_of(USER, "clean"), faults)
    assert clean.status_code == expected_status, clean.json
    total = faults.calls
    assert total >= 5

    shares = SHARES.get(operation, 1)
    for k in range(1, total + 1):
        if k % shares != share:
            continue  # another test id's point
        before.restore(keep_sessions=True)
        username = USER
        method, path, body = body_of(username, k)
        fault = CRASH if mode == "crash" else FAULTS[k % 2]
        first = call(caller, method, path, body, faults, k, fault)
        if first is not None:
            assert first.status_code in (expected_status, 409, 502, 503), (k, first.json)

        # a caller retries only what did not succeed
        final = (
            first
            if first is not None and first.status_code == expected_status
            else retry(caller, method, path, body, expected_status, faults)
        )
        assert iam_state(iam, username) == expected_state, (k, mode, final.json)
        if operation in ("onboard", "restore"):
            assert len(final.json["temporary_password"]) >= 20, k
        state = bootstrap.services().state
        record = state.get_record(username)
        if over_scim:
            trail = [e for e in state.audit_events(username) if e["action"] == action]
            trail = trail[-len(trail) :]
        else:
            trail = state.audit_events(ticket=f"T-{k}")
        if operation == "offboard":
            # The answer names everything, what an earlier attempt removed included (from the
            # record's intent, the record, or the attempt's audit event); so does the audit.
            assert set(final.json["removed"]) == REMOVED_KINDS, (k, final.json, trail)
            assert record["status"] == "offboarded", (k, record)
            assert set(trail[-1]["detail"]["removed"]) == REMOVED_KINDS, (k, trail)
        elif operation in ("suspend", "scim_deactivate"):
            assert record["status"] == "suspended", (k, record)
        else:
            assert record["status"] == "active", (k, record)
        outcomes = [e["result"].split(":")[0] for e in trail]
        made = [o for o in outcomes if o in ("ok", "revocation_pending")]
        # Once; twice only when the process died between the audit and saving the answer (the
        # retry finds the change done and says so again, as its event). After the answer was
        # saved, a retry is its replay.
        while outcomes[-1:] == ["replayed"]:
            outcomes.pop()
        assert made and outcomes[-1] == made[-1], (k, trail)
        assert len(made) == 1 or (mode == "crash" and len(made) == 2), (k, trail)
        # (SCIM's answer is a SCIM user: the audit says whether a revocation is owed)
        if final.json.get("sessions_revocation_pending") or made[-1] == "revocation_pending":
            # The change is made, its revocation owed (a lock or a role write failed): audited
            # so, never as ok, and finished by the schedule's retry.
            assert made[-1] == "revocation_pending", (k, trail)
            leases.run_out()  # the schedule runs later: what the attempts left held has ended
            with enforced():
                bootstrap.services().schedules.prune_revocations()
            record = state.get_record(username)
            assert record["revocation_pending"] == [], (k, record)
        else:
            assert set(made) == {"ok"}, (k, trail)
        assert all(e["action"] == action and e["username"] == username for e in trail)


# operation -> the status its record holds while it is under way
UNDER_WAY = {"suspend": "suspending", "restore": "restoring", "offboard": "offboarding"}


@pytest.mark.parametrize("operation", list(UNDER_WAY))
def test_a_change_that_died_and_was_never_retried_is_finished_by_the_schedule(
    api, client, aws, iam, faults, monkeypatch, operation
):
    """The process dies halfway and nobody retries: the drift report names the record stuck,
    `finish_stuck` finishes it (audited under its own ticket and the stopped one's), and the
    stopped change's own retry, whenever it comes, is answered as done."""
    monkeypatch.setenv("OPERATION_TIMEOUT", "2")  # how long before a record is stuck
    bootstrap.reset()
    bootstrap.use(
        bootstrap.build(clients=AwsClients(REGION, session=_Faulted(aws.app_credentials, faults)))
    )
    set_up, request, expected_status, expected_state = CASES[operation]
    env = Env(api, Scim(client, aws.scim_token))
    state = bootstrap.services().state

    set_up(env, USER)
    before = World(aws)
    method, path, body = request(env, USER)
    clean = call(api, method, path, {**body, "ticket": "T-clean", "requested_by": "a"}, faults)
    assert clean.status_code == expected_status, clean.json
    total = faults.calls

    # The latest call whose crash leaves the change under way.
    for k in range(total, 0, -1):
        before.restore(keep_sessions=True)
        username = USER
        method, path, body = request(env, username)
        body = {**body, "ticket": f"T-{k}", "requested_by": "alice"}
        if call(api, method, path, body, faults, k, CRASH) is not None:
            continue  # this run made fewer calls (a secret read once, kept since)
        if (state.get_record(username) or {}).get("status") == UNDER_WAY[operation]:
            break
    else:
        pytest.fail(f"no crash of {operation} left it {UNDER_WAY[operation]}")
    # Longer than OPERATION_TIMEOUT passes for what the dead change left: stuck.
    leases.run_out()
    leases.let_stand(username, 3)

    with enforced():
        findings = bootstrap.services().schedules.report_drift()
    assert {"kind": "stuck", "username": username, "status": UNDER_WAY[operation]}.items() <= (
        next(f for f in findings if f["username"] == username).items()
    ), findings
    with enforced():
        finished = bootstrap.services().schedules.finish_stuck()
    assert [f["username"] for f in finished] == [username], finished
    assert iam_state(iam, username) == expected_state, k
    record = state.get_record(username)
    assert record["status"] not in UNDER_WAY.values() and record["ticket"] == f"T-{k}", record
    stopped = [e["result"] for e in state.audit_events(ticket=f"T-{k}")]
    assert stopped and stopped[0].startswith("finishing:"), stopped
    finisher = state.audit_events(ticket=finished[0]["ticket"])
    assert [e["result"] for e in finisher] == ["ok"], finisher

    final = retry(api, method, path, body, expected_status, faults)
    if operation == "offboard":
        assert set(final.json["removed"]) == REMOVED_KINDS, final.json
    with enforced():
        assert bootstrap.services().schedules.finish_stuck() == []


def test_a_change_running_for_several_leases_keeps_its_ticket_and_user(api, iam, faults):
    """The heartbeat: a change slower than its one-second lease renews it (and its ticket's
    in-progress record), so the same ticket sent again meanwhile is told to retry instead of
    running the change a second time beside the first."""
    onboard(api, "slow", ticket="setup-slow")
    body = {"ticket": "T-slow", "requested_by": "alice"}
    faults.arm(12, ("slow", 4.0, ""))  # a call halfway sleeps for four leases
    answers: dict = {}
    first = threading.Thread(
        target=lambda: answers.update(first=api.call("POST", "/users/slow/suspend", body))
    )
    first.start()
    time.sleep(2.5)  # past two leases of the first change
    again = api.call("POST", "/users/slow/suspend", body)
    first.join()
    assert again.status_code == 409 and "being processed" in again.json["Message"], again.json
    assert answers["first"].status_code == 200, answers["first"].json
    assert iam_state(iam, "slow") == {**SUSPENDED, "keys": []}
    trail = [
        e["result"].split(":")[0] for e in bootstrap.services().state.audit_events(ticket="T-slow")
    ]
    assert trail.count("ok") == 1, trail


def test_an_identity_providers_delete_retried_after_iam_deleted_the_user_is_finished(
    api, client, aws, iam, faults
):
    """SCIM's DELETE dies after IAM deleted the user, before the record was written: the
    identity provider's retry (same request) finishes it (204: record, audit, event), where a
    404 would have counted it done while the record said offboarding."""
    env = Env(api, Scim(client, aws.scim_token))
    state = bootstrap.services().state

    def set_up(username):
        created = env.scim.call("POST", "/Users", {"schemas": [SCIM_USER], "userName": username})
        assert created.status_code == 201, created.json
        env.ids[username] = created.json["id"]
        give_every_dependent(iam, username)

    set_up(USER)
    before = World(aws)
    clean = call(env.scim, "DELETE", f"/Users/{env.ids[USER]}", None, faults)
    assert clean.status_code == 204
    total = faults.calls
    kinds = set(state.get_record(USER)["removed"])
    for k in range(total, 0, -1):  # the latest crash that leaves the user gone, the record not
        before.restore(keep_sessions=True)
        username = USER
        if call(env.scim, "DELETE", f"/Users/{env.ids[username]}", None, faults, k, CRASH):
            continue
        if (
            iam_state(iam, username) is None
            and state.get_record(username)["status"] == "offboarding"
        ):
            break
    else:
        pytest.fail("no crash left the user deleted and the offboarding unfinished")

    again = retry(env.scim, "DELETE", f"/Users/{env.ids[username]}", None, 204, faults)

    assert again.status_code == 204
    record = state.get_record(username)
    assert record["status"] == "offboarded" and set(record["removed"]) == kinds, record
    done = [e for e in state.audit_events(username) if e["action"] == "offboard"]
    assert done[-1]["result"] == "ok", done
    # and the request after that is the 404 of a user that is gone
    assert call(env.scim, "DELETE", f"/Users/{env.ids[username]}", None, faults).status_code == 404


def test_a_dead_attempts_lease_run_out_lets_its_retry_through_at_once(
    api, faults, aws, iam, monkeypatch
):
    """What the retries above rely on (tests/support/leases.py): a crashed attempt leaves its
    user and ticket held, a retry is told to retry, and once their ends are brought to now the
    same retry goes through, with no sleep between."""
    # Held far longer than this test takes, however slow the machine: only run_out() ends them.
    monkeypatch.setenv("LEASE_SECONDS", "120")
    _serve_faulted(aws, faults)
    onboard(api, USER, ticket=f"setup-{USER}")
    body = {"ticket": "T-dead", "requested_by": "alice"}
    assert call(api, "POST", f"/users/{USER}/suspend", body, faults, 3, CRASH) is None
    held = call(api, "POST", f"/users/{USER}/suspend", body, faults)
    assert held.status_code == 409 and "retry" in held.json["Message"], held.json
    assert leases.run_out() == 2  # the user's lease and the ticket's in-progress record
    assert call(api, "POST", f"/users/{USER}/suspend", body, faults).status_code == 200
    assert iam_state(iam, USER) == SUSPENDED | {"keys": []}
