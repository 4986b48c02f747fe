"""IAM throttles in the local AWS as it does on AWS, and the app's changes still all succeed.

AWS throttles IAM and STS per account and publishes no rate ("API calls from the AWS Management
Console, the AWS CLI, and applications contribute to a maximum rate limit for your AWS account";
the error is "Throttling: Rate exceeded, status code: 400",
https://repost.aws/knowledge-center/iam-sts-throttling-error). IAM's answer is the Query API
error ``<ErrorResponse><Error><Type>Sender</Type><Code>Throttling</Code><Message>Rate
exceeded</Message></Error><RequestId>`` with HTTP 400, which botocore counts among throttling
errors (``botocore.retries.standard.ThrottledRetryableChecker``). ``devstack/moto_throttle``
puts a token bucket per account in front of moto's IAM and STS; these tests prove that bucket,
then run the app through it.
"""

from __future__ import annotations

import json
import urllib.request
import xml.etree.ElementTree as ET

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError
from moto import mock_aws

from chalicelib.aws.clients import RETRIES, _config
from devstack import moto_ext, moto_throttle
from devstack.local import free_port
from tests.support.concurrency import all_at_once
from tests.support.iam_objects import give_every_dependent, left_in_iam

NO_RETRIES = Config(retries={"mode": "standard", "total_max_attempts": 1})
IAM_NS = "{https://iam.amazonaws.com/doc/2010-05-08/}"
CHILD = "222233334444"


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def throttle(monkeypatch):
    """The throttle with a clock the test moves; off again afterwards."""
    moto_ext.apply()
    clock = FakeClock()
    monkeypatch.setattr(moto_throttle, "clock", clock)
    moto_throttle.reset_counts()
    yield clock
    moto_throttle.off()
    moto_throttle.reset_counts()


@pytest.fixture
def moto():
    moto_ext.apply()
    with mock_aws():
        yield


def raw_answers(client) -> list[tuple[int, bytes]]:
    """Each HTTP answer the client receives, as sent."""
    seen: list[tuple[int, bytes]] = []
    client.meta.events.register(
        "needs-retry",
        lambda response, **_: (
            seen.append((response[0].status_code, response[0].content)) if response else None
        ),
    )
    return seen


def throttling(call) -> ClientError:
    with pytest.raises(ClientError) as caught:
        call()
    return caught.value


def assert_throttled(error: ClientError) -> None:
    assert error.response["Error"] == {
        "Type": "Sender",
        "Code": "Throttling",
        "Message": "Rate exceeded",
    }
    assert error.response["ResponseMetadata"]["HTTPStatusCode"] == 400


def test_iam_is_not_throttled_unless_a_rate_is_set(moto):
    iam = boto3.client("iam", config=NO_RETRIES)
    moto_throttle.reset_counts()
    for _ in range(50):
        iam.list_users()
    assert moto_throttle.limits() == {} and moto_throttle.counts("iam") == {}


def test_an_empty_bucket_answers_as_iam_does_and_changes_nothing(moto, throttle):
    iam = boto3.client("iam", config=NO_RETRIES)
    answers = raw_answers(iam)
    moto_throttle.set_rate("iam", 1, burst=2)
    iam.create_user(UserName="a")
    iam.create_user(UserName="b")
    assert_throttled(throttling(lambda: iam.create_user(UserName="c")))

    status, body = answers[-1]
    root = ET.fromstring(body)
    assert status == 400 and root.tag == f"{IAM_NS}ErrorResponse"
    assert [(e.tag, e.text) for e in root.find(f"{IAM_NS}Error")] == [
        (f"{IAM_NS}Type", "Sender"),
        (f"{IAM_NS}Code", "Throttling"),
        (f"{IAM_NS}Message", "Rate exceeded"),
    ]
    assert root.find(f"{IAM_NS}RequestId").text
    assert moto_throttle.counts("iam") == {"123456789012": {"served": 2, "throttled": 1}}
    moto_throttle.off()
    assert [u["UserName"] for u in iam.list_users()["Users"]] == ["a", "b"]


def test_the_bucket_refills_at_the_set_rate_up_to_its_burst(moto, throttle):
    iam = boto3.client("iam", config=NO_RETRIES)
    moto_throttle.set_rate("iam", 4, burst=3)

    def served(calls: int) -> int:
        before = moto_throttle.counts("iam").get("123456789012", {"served": 0})["served"]
        for _ in range(calls):
            try:
                iam.list_users()
            except ClientError as error:
                assert_throttled(error)
        return moto_throttle.counts("iam")["123456789012"]["served"] - before

    assert served(5) == 3  # the burst
    throttle.now += 0.24
    assert served(2) == 0  # not yet a whole token at 4 per second
    throttle.now += 0.01
    assert served(2) == 1
    throttle.now += 0.5
    assert served(5) == 2
    throttle.now += 60
    assert served(10) == 3  # never more than the burst
    assert moto_throttle.throttled("iam") == 2 + 2 + 1 + 3 + 7


def test_each_account_and_service_has_its_own_bucket(moto, throttle):
    root_iam = boto3.client("iam", config=NO_RETRIES)
    sts = boto3.client("sts", config=NO_RETRIES)
    child = sts.assume_role(RoleArn=f"arn:aws:iam::{CHILD}:role/Admin", RoleSessionName="test")[
        "Credentials"
    ]
    child_iam = boto3.client(
        "iam",
        config=NO_RETRIES,
        aws_access_key_id=child["AccessKeyId"],
        aws_secret_access_key=child["SecretAccessKey"],
        aws_session_token=child["SessionToken"],
    )
    moto_throttle.set_rate("iam", 1, burst=1)
    root_iam.list_users()
    assert_throttled(throttling(root_iam.list_users))
    child_iam.list_users()  # another account
    sts.get_caller_identity()  # another service
    assert set(moto_throttle.counts("iam")) == {"123456789012", CHILD}

    moto_throttle.set_rate("sts", 1, burst=1)
    sts.get_caller_identity()
    error = throttling(sts.get_caller_identity)
    assert_throttled(error)
    moto_throttle.off("iam")
    root_iam.list_users()
    assert moto_throttle.limits() == {"sts": {"rate": 1.0, "burst": 1.0}}


def test_rates_come_from_the_environment():
    try:
        assert moto_throttle.from_environment({"IAM_RATE_LIMIT": "10"}) == {
            "iam": {"rate": 10.0, "burst": 10.0}
        }
        assert moto_throttle.from_environment({"STS_RATE_LIMIT": "2", "STS_RATE_BURST": "5"}) == {
            "iam": {"rate": 10.0, "burst": 10.0},
            "sts": {"rate": 2.0, "burst": 5.0},
        }
        with pytest.raises(ValueError):
            moto_throttle.set_rate("dynamodb", 1)
    finally:
        moto_throttle.off()


def test_the_threaded_server_is_throttled_through_its_endpoint(throttle):
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=free_port(), verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    base = f"http://{host}:{port}"

    def endpoint(body: dict | None = None) -> dict:
        data = json.dumps(body).encode() if body is not None else None
        request = urllib.request.Request(
            base + moto_throttle.ENDPOINT,
            data=data,
            headers={"Content-Type": "application/json"},
            method="POST" if data else "GET",
        )
        with urllib.request.urlopen(request, timeout=10) as response:
            return json.loads(response.read())

    try:
        iam = boto3.client("iam", endpoint_url=base, config=NO_RETRIES)
        assert endpoint({"service": "iam", "rate": 2, "burst": 1})["limits"] == {
            "iam": {"rate": 2.0, "burst": 1.0}
        }
        iam.list_users()
        assert_throttled(throttling(iam.list_users))
        assert endpoint()["counts"]["iam"] == {"123456789012": {"served": 1, "throttled": 1}}
        assert endpoint({"service": "iam", "rate": None})["limits"] == {}
        iam.list_users()
    finally:
        urllib.request.urlopen(
            urllib.request.Request(f"{base}/moto-api/reset", method="POST"), timeout=10
        ).read()
        server.stop()


def test_the_apps_clients_retry_a_throttled_call_until_it_is_served(moto, throttle, monkeypatch):
    assert RETRIES["mode"] == "adaptive"
    iam = boto3.session.Session(region_name="us-east-1").client("iam", config=_config())
    moto_throttle.set_rate("iam", 5, burst=1)

    def ticking() -> float:  # each request finds the bucket 0.1 s later: every other one is served
        throttle.now += 0.1
        return throttle.now

    monkeypatch.setattr(moto_throttle, "clock", ticking)
    for _ in range(4):
        iam.list_users()
    counts = moto_throttle.counts("iam")["123456789012"]
    assert counts["served"] == 4 and counts["throttled"] >= 2, counts


OFFBOARDED = [f"leaver{i:02d}" for i in range(10)]
JOINERS = [f"joiner{i}" for i in range(4)]


def test_concurrent_changes_through_a_throttling_iam_all_succeed(local_api, aws):
    """10 offboardings of users with every dependent and 4 onboardings at once, with IAM at 20
    requests per second per account (a burst of 5): every change succeeds, IAM holds nothing
    of the leavers, and IAM really did throttle."""
    iam = boto3.client("iam")
    for name in OFFBOARDED:
        status, answer = local_api(
            "POST",
            "/users",
            {
                "username": name,
                "groups": ["ChildDeveloperGroup"],
                "ticket": f"on-{name}",
                "requested_by": "alice",
                "console": True,
            },
        )
        assert status == 201, answer
        give_every_dependent(iam, name)

    moto_throttle.reset_counts()
    moto_throttle.set_rate("iam", 20, burst=5)
    try:
        answers = all_at_once(
            [
                lambda name=name: local_api(
                    "POST",
                    f"/users/{name}/offboard",
                    {"ticket": f"off-{name}", "requested_by": "alice"},
                )
                for name in OFFBOARDED
            ]
            + [
                lambda name=name: local_api(
                    "POST",
                    "/users",
                    {
                        "username": name,
                        "groups": ["ChildDeveloperGroup"],
                        "ticket": f"on-{name}",
                        "requested_by": "alice",
                        "console": True,
                    },
                )
                for name in JOINERS
            ]
        )
    finally:
        moto_throttle.off("iam")
    counts = moto_throttle.counts("iam")

    assert [status for status, _ in answers] == [200] * len(OFFBOARDED) + [201] * len(JOINERS), (
        answers
    )
    assert left_in_iam(iam, OFFBOARDED) == []
    managed = {u["UserName"] for u in iam.list_users(PathPrefix="/managed/")["Users"]}
    assert managed == set(JOINERS)
    assert counts["123456789012"]["throttled"] > 0, counts
