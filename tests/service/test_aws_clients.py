import boto3
from moto import mock_aws

from chalicelib.aws.clients import AwsClients

CHILD = "222233334444"


def test_root_clients_are_lazy_cached_and_retry_adaptively():
    clients = AwsClients("eu-west-1")
    assert clients._session is None  # nothing built until a client is asked for
    iam = clients.root("iam")
    assert clients.root("iam") is iam
    assert iam.meta.config.retries["mode"] == "adaptive"
    assert clients.root("sts").meta.region_name == "eu-west-1"


def test_child_clients_assume_the_role_and_land_in_the_child_account():
    with mock_aws():
        clients = AwsClients("us-east-1", session=boto3.session.Session(region_name="us-east-1"))
        sts = clients.child(CHILD, "AccessRevocationRole", "sts", "iam-lifecycle")
        identity = sts.get_caller_identity()
        assert identity["Account"] == CHILD
        assert identity["Arn"].endswith(":assumed-role/AccessRevocationRole/iam-lifecycle")
        assert sts.meta.config.retries["mode"] == "adaptive"
        # the role's credentials, and the client, are reused until they near expiry
        assert clients._child_credentials(
            CHILD, "AccessRevocationRole", "x"
        ) is clients._child_credentials(CHILD, "AccessRevocationRole", "y")
        assert clients.child(CHILD, "AccessRevocationRole", "sts", "z") is sts
