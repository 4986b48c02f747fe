"""The helpers a person runs beside ``make run`` (the Slack sender, the clock, the SCIM identity
provider): ``--help`` on each, one message and exit code 3 when the stack is down (no facts
file, or facts left by a stack that is gone), and only their answer on stdout, the app's log
lines and metrics going to stderr."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from devstack.facts import NOT_RUNNING
from devstack.local import PROJECT, free_port
from tests.support.stack_client import rest

HELPERS = {
    "slack_command": ["status", "pete"],
    "clock": ["report_drift"],
    "scim_idp": ["list"],
}


def helper(name: str, *args: str, stack_file, timeout: float = 120) -> subprocess.CompletedProcess:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    env["STACK_FILE"] = str(stack_file)
    return subprocess.run(
        [sys.executable, "-m", f"devstack.{name}", *args],
        cwd=PROJECT,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


@pytest.mark.parametrize("name", sorted(HELPERS))
def test_each_helper_says_how_it_is_used(name, tmp_path):
    answer = helper(name, "--help", stack_file=tmp_path / "none.json")
    assert answer.returncode == 0, answer.stderr
    assert f"python -m devstack.{name}" in answer.stdout
    assert answer.stderr == ""


@pytest.mark.parametrize("name", sorted(HELPERS))
def test_each_helper_says_start_make_run_when_the_stack_is_down(name, tmp_path):
    missing = tmp_path / "stack.json"
    answer = helper(name, *HELPERS[name], stack_file=missing)
    assert (answer.returncode, answer.stdout) == (3, "")
    assert answer.stderr == f"{NOT_RUNNING} ({missing} not found)\n"

    # Facts left behind by a stack whose processes are gone: nothing answers on their ports.
    gone = f"http://127.0.0.1:{free_port()}"
    missing.write_text(
        json.dumps(
            {
                "api_url": gone,
                "aws_endpoint_url": gone,
                "slack_api_url": f"{gone}/slack/api/",
                "scim_url": f"{gone}/scim/v2",
                "scim_token": "t",
                "slack_signing_secret": "s",
                "clock_file": str(tmp_path / "clock.json"),
                "app_credentials": {"aws_access_key_id": "a", "aws_secret_access_key": "b"},
            }
        )
    )
    answer = helper(name, *HELPERS[name], stack_file=missing)
    assert (answer.returncode, answer.stdout) == (3, "")
    assert answer.stderr.startswith(NOT_RUNNING), answer.stderr
    assert "Traceback" not in answer.stderr


@pytest.fixture(scope="module")
def facts_file(stack, tmp_path_factory):
    """The stack's facts in a file of their own, as .local/stack.json is beside make run."""
    path = tmp_path_factory.mktemp("facts") / "stack.json"
    path.write_text(json.dumps(stack))
    return path


def test_the_slack_sender_and_the_identity_provider_print_their_answers(stack, facts_file):
    # The worker's answer may wait behind another module's queued work on this shared stack.
    sent = helper(
        "slack_command", "--wait", "120", "status", "nobody", stack_file=facts_file, timeout=240
    )
    assert sent.returncode == 0, sent.stderr
    assert sent.stdout.startswith("--- answer (200)\n")
    assert "--- on response_url (ephemeral)" in sent.stdout
    listed = helper("scim_idp", "list", stack_file=facts_file)
    assert listed.returncode == 0, listed.stderr
    assert json.loads(listed.stdout)[0] == 200


def test_the_clock_prints_only_its_answer_and_the_apps_logs_and_metrics_go_to_stderr(
    stack, facts_file
):
    """A grant that has expired: the schedule ends it, which the app logs and counts (an EMF
    metric, printed as Lambda prints it); stdout holds only the handler's answer."""
    rest(
        stack,
        "POST",
        "/users",
        {
            "username": "clara",
            "groups": ["ChildDeveloperGroup"],
            "ticket": "CLK-1",
            "requested_by": "alice",
            "console": False,
        },
    )
    rest(
        stack,
        "POST",
        "/users/clara/grants",
        {
            "group": "BreakGlassGroup",
            "hours": 1,
            "reason": "incident 7",
            "ticket": "CLK-2",
            "requested_by": "alice",
        },
    )
    moved = helper("clock", "advance", "2h", stack_file=facts_file)
    assert moved.returncode == 0, moved.stderr
    fired = helper("clock", "expire_grants", stack_file=facts_file)
    assert fired.returncode == 0, fired.stderr
    lines = fired.stdout.splitlines()
    assert len(lines) == 1, fired.stdout
    assert [g["username"] for g in json.loads(lines[0])["expire_grants"]["expired"]] == ["clara"]
    assert '"_aws"' in fired.stderr  # the metric of the change the schedule made
