"""Fixtures of the Slack tier: Slack's side of the app, and a catcher of what the app posts to
``response_url``."""

from __future__ import annotations

import pytest

from devstack.slack_command import ResponseCatcher
from tests.support.slack import Slack


@pytest.fixture
def slack(client, aws) -> Slack:
    return Slack(client, aws.slack_signing_secret)


@pytest.fixture
def catcher():
    with ResponseCatcher() as catcher:
        yield catcher
