"""The operator's command, installed as ``pip install .`` installs it, against the local stack
as ``make run`` starts it: one command per route with tables or only JSON, clear errors and exit
codes, and a 200-person CSV batch interrupted with Ctrl-C part-way and run again, after which
every person is as the CSV says, each change made exactly once."""

from __future__ import annotations

import csv
import io
import json
import os
import re
import shutil
import signal
import stat
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest

from devstack.local import PROJECT, free_port
from tests.support.stack_client import call, rest

NEW, MOVED, LEAVING = 160, 20, 20  # the big batch: onboardings, moves, offboardings
WITH_CONSOLE = 4  # onboardings whose temporary password goes to the --secrets file
STOP_AFTER = 50  # Ctrl-C once this many rows are done


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> Path:
    """``iam-lifecycle`` as pip installs it from a copy of the checkout (a wheel built with the
    OpenAPI document the package links to); its path."""
    folder = tmp_path_factory.mktemp("operator")
    source = folder / "source"
    (source / "chalicelib" / "edges").mkdir(parents=True)
    shutil.copy(PROJECT / "pyproject.toml", source)
    shutil.copy(PROJECT / "chalicelib" / "edges" / "openapi.yaml", source / "chalicelib" / "edges")
    shutil.copytree(
        PROJECT / "iam_lifecycle_cli",
        source / "iam_lifecycle_cli",
        symlinks=True,
        ignore=shutil.ignore_patterns("__pycache__"),
    )
    prefix = folder / "prefix"
    subprocess.run(
        # --ignore-installed: pip would otherwise uninstall the checkout's own (editable)
        # install from the running environment first, and .venv/bin/iam-lifecycle with it.
        [sys.executable, "-m", "pip", "install", "--quiet", "--no-deps", "--no-build-isolation"]
        + ["--ignore-installed", "--prefix", str(prefix), str(source)],
        check=True,
        capture_output=True,
        cwd=folder,
    )
    script = prefix / "bin" / "iam-lifecycle"
    assert script.exists()
    return script


def run_cli(installed: Path, stack: dict, *args: str, **kwargs) -> subprocess.CompletedProcess:
    return subprocess.run(
        [str(installed), *args],
        env=environment(installed, stack),
        cwd=installed.parent,
        capture_output=True,
        text=True,
        timeout=kwargs.pop("timeout", 600),
        **kwargs,
    )


def environment(installed: Path, stack: dict | None, stack_file: Path | None = None) -> dict:
    """A shell beside ``make run``: the stack found by its facts file, nothing else set."""
    site = sysconfig.get_path("purelib", vars={"base": str(installed.parents[1])})
    env = {k: v for k, v in os.environ.items() if not k.startswith(("IAM_LIFECYCLE_", "AWS_"))}
    env["PYTHONPATH"] = site
    env["STACK_FILE"] = str(stack_file or stack["facts_file"])  # type: ignore[index]
    env["IAM_LIFECYCLE_REQUESTED_BY"] = "alice"
    env.pop("COLUMNS", None)
    return env


@pytest.fixture(scope="module")
def beside(stack, tmp_path_factory) -> dict:
    """The stack's facts, with the file they are in (as .local/stack.json is for a person)."""
    facts_file = tmp_path_factory.mktemp("facts") / "stack.json"
    facts_file.write_text(json.dumps(stack))
    return {**stack, "facts_file": facts_file}


def test_each_route_is_a_command_with_tables_or_only_json(installed, beside):
    help_text = run_cli(installed, beside, "--help")
    assert help_text.returncode == 0
    for command in ("onboard-user", "offboard-user", "access-matrix", "audit", "batch"):
        assert command in help_text.stdout

    made = run_cli(
        installed,
        beside,
        "onboard-user",
        "--username",
        "op-solo",
        "--groups",
        "ChildDeveloperGroup",
        "--ticket",
        "OPS-1",
        "--no-console",
        "-o",
        "json",
    )
    assert made.returncode == 0, made.stderr
    assert json.loads(made.stdout)["user"]["groups"] == ["ChildDeveloperGroup"]

    planned = run_cli(
        installed, beside, "offboard-user", "op-solo", "--ticket", "OPS-2", "--dry-run"
    )
    assert planned.returncode == 0, planned.stderr
    assert "Plan offboard of op-solo (ticket OPS-2)" in planned.stdout
    assert re.search(r"│ 1\s+│ 123456789012 │ iam\s+│ RemoveUserFromGroup", planned.stdout)
    assert "DeleteUser" in planned.stdout

    missing = run_cli(installed, beside, "get-user", "nobody", "--output", "json")
    assert missing.returncode == 1
    assert json.loads(missing.stdout) == {
        "status": 404,
        "Code": "NotFound",
        "Message": "no managed user named nobody",
    }
    assert "error: 404 NotFound: no managed user named nobody" in missing.stderr

    refused = run_cli(installed, beside, "move-user", "op-solo", "--ticket", "OPS-3")
    assert refused.returncode == 2 and "missing --groups" in refused.stderr

    matrix = run_cli(installed, beside, "access-matrix", "--format", "csv")
    assert "op-solo,active,ChildDeveloperGroup,222233334444,DeveloperRole,yes" in matrix.stdout


def test_a_stack_that_is_down_is_named_and_nothing_is_sent(installed, beside, tmp_path):
    gone = tmp_path / "stack.json"
    gone.write_text(
        json.dumps({**beside, "facts_file": None, "api_url": f"http://127.0.0.1:{free_port()}"})
    )
    env = environment(installed, None, stack_file=gone)
    answer = subprocess.run(
        [str(installed), "list-users"], env=env, capture_output=True, text=True, timeout=60
    )
    assert answer.returncode == 3
    assert answer.stderr.strip() == "error: the local stack is not running: start `make run`"
    assert answer.stdout == ""
    env["STACK_FILE"] = str(tmp_path / "none.json")
    answer = subprocess.run(
        [str(installed), "list-users"], env=env, capture_output=True, text=True, timeout=60
    )
    assert answer.returncode == 3 and "IAM_LIFECYCLE_URL" in answer.stderr


def test_signed_requests_go_to_the_routes_under_iam(installed, beside):
    """As an IAM principal: SigV4 with the profile's credentials, which the local stack's
    gateway verifies as API Gateway's IAM authorizer does; the app then finds no client."""
    env = environment(installed, beside)
    env.update(
        AWS_ACCESS_KEY_ID=beside["admin_credentials"]["aws_access_key_id"],
        AWS_SECRET_ACCESS_KEY=beside["admin_credentials"]["aws_secret_access_key"],
    )
    answer = subprocess.run(
        [str(installed), "--auth", "sigv4", "--region", "us-east-1", "list-users"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert answer.returncode == 1
    assert (
        "error: 403 Forbidden: arn:aws:iam::123456789012:user/stack-admin is not an API client"
        in answer.stderr
    )
    env["AWS_SECRET_ACCESS_KEY"] = "wrong"
    answer = subprocess.run(
        [str(installed), "--auth", "sigv4", "--region", "us-east-1", "list-users"],
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert answer.returncode == 1 and "signature we calculated does not match" in answer.stderr


def write_csv(path: Path, rows: list[dict]) -> Path:
    columns = ["action", "username", "ticket", "groups", "console"]
    out = io.StringIO()
    writer = csv.DictWriter(out, columns)
    writer.writeheader()
    writer.writerows(rows)
    path.write_text(out.getvalue())
    return path


def done_lines(stderr: str, total: int) -> list[str]:
    return re.findall(rf"^\[\s*\d+/{total}\] line \d+ \w+ [\w.-]+: done$", stderr, re.M)


def test_a_batch_of_200_runs_with_progress_and_goes_on_after_ctrl_c(installed, beside, tmp_path):
    old = [f"op-old-{n:02}" for n in range(MOVED + LEAVING)]
    setup = write_csv(
        tmp_path / "setup.csv",
        [
            {
                "action": "onboard",
                "username": name,
                "ticket": f"SET-{name}",
                "groups": "ChildDeveloperGroup",
                "console": "false",
            }
            for name in old
        ],
    )
    first = run_cli(installed, beside, "batch", "run", str(setup), "--yes")
    assert first.returncode == 0, first.stderr + first.stdout
    assert len(done_lines(first.stderr, len(old))) == len(old)

    new = [f"op-new-{n:03}" for n in range(NEW)]
    rows = [
        {
            "action": "onboard",
            "username": name,
            "ticket": f"BIG-{name}",
            "groups": "ChildDeveloperGroup",
            "console": "true" if n < WITH_CONSOLE else "false",
        }
        for n, name in enumerate(new)
    ]
    rows += [
        {"action": "move", "username": name, "ticket": f"BIG-{name}", "groups": "BreakGlassGroup"}
        for name in old[:MOVED]
    ]
    rows += [
        {"action": "offboard", "username": name, "ticket": f"BIG-{name}"} for name in old[MOVED:]
    ]
    big = write_csv(tmp_path / "big.csv", rows)
    total = len(rows)
    assert total == 200
    secrets = tmp_path / "secrets.jsonl"

    # Without a file for the temporary passwords, nothing is sent.
    refused = run_cli(installed, beside, "batch", "run", str(big), "--yes")
    assert refused.returncode == 2 and "--secrets FILE" in refused.stderr
    assert call(beside, "GET", "/users/op-new-000")[0] == 404

    command = [str(installed), "batch", "run", str(big), "--yes", "--secrets", str(secrets)]
    with (tmp_path / "run1.out").open("w") as out:
        process = subprocess.Popen(
            command,
            env=environment(installed, beside),
            cwd=tmp_path,
            stdout=out,
            stderr=subprocess.PIPE,
            text=True,
        )
        seen, interrupted = [], False
        assert process.stderr is not None
        for line in process.stderr:
            seen.append(line)
            if not interrupted and len(done_lines("".join(seen), total)) >= STOP_AFTER:
                process.send_signal(signal.SIGINT)  # Ctrl-C
                interrupted = True
        process.wait(timeout=300)
    assert interrupted, "".join(seen)
    assert process.returncode == 130, "".join(seen)
    first_err, first_out = "".join(seen), (tmp_path / "run1.out").read_text()
    done_first = len(done_lines(first_err, total))
    assert STOP_AFTER <= done_first < total
    assert "Checking the tickets in the audit trail: 200 rows" in first_err
    assert "Planning (dry runs): 200 rows" in first_err
    assert "interrupted: waiting for the" in first_err
    assert "interrupted: run the same command again to go on" in first_out
    assert re.search(rf"│ done\s+│ {done_first}\s+│", first_out), first_err

    second = run_cli(installed, beside, *command[1:], "--output", "json")
    assert second.returncode == 0, second.stderr[-3000:]
    result = json.loads(second.stdout)  # only JSON on stdout
    assert result["summary"] == {
        "done": total - done_first,
        "already done": done_first,
        "failed": 0,
        "not run": 0,
    }
    assert f"Planning (dry runs): {total - done_first} rows" in second.stderr
    assert len(done_lines(second.stderr, total - done_first)) == total - done_first

    # Every person as the CSV says.
    users = {u["username"]: u for u in rest(beside, "GET", "/users")["users"]}
    for name in new:
        assert users[name]["groups"] == ["ChildDeveloperGroup"], name
    for name in old[:MOVED]:
        assert users[name]["groups"] == ["BreakGlassGroup"], name
    for name in old[MOVED:]:
        assert name not in users
    # Each change exactly once: one "ok" per ticket, and nothing else but plans.
    for row in rows:
        events = rest(beside, "GET", f"/audit?ticket={row['ticket']}")["events"]
        results = [e["result"] for e in events if e["result"] != "planned"]
        assert results == ["ok"], (row, events)
    # The temporary passwords, each once, in a file only its owner reads.
    kept = [json.loads(line) for line in secrets.read_text().splitlines()]
    assert sorted(k["username"] for k in kept) == new[:WITH_CONSOLE]
    assert all(k["temporary_password"] for k in kept)
    assert stat.S_IMODE(secrets.stat().st_mode) == 0o600


def test_a_batch_with_a_bad_row_is_refused_whole_and_a_plan_names_what_the_service_refuses(
    installed, beside, tmp_path
):
    broken = tmp_path / "broken.csv"
    broken.write_text("action,username,ticket,groups\nonboard,op-x,X-1,\nfly,op-y,X-2,\n")
    answer = run_cli(installed, beside, "batch", "run", str(broken), "--yes")
    assert answer.returncode == 2
    assert f"{broken}: line 2: onboard needs groups" in answer.stderr
    assert f"{broken}: line 3: action 'fly'" in answer.stderr

    plan = write_csv(
        tmp_path / "plan.csv",
        [
            {
                "action": "onboard",
                "username": "op-p1",
                "ticket": "P-1",
                "groups": "ChildDeveloperGroup",
                "console": "false",
            },
            {
                "action": "onboard",
                "username": "op-p2",
                "ticket": "P-2",
                "groups": "AdminGroup",
                "console": "false",
            },
        ],
    )
    answer = run_cli(installed, beside, "batch", "run", str(plan), "--dry-run", "-o", "json")
    assert answer.returncode == 1
    rows = json.loads(answer.stdout)["rows"]
    assert rows[0]["status"] == "not run" and rows[0]["calls"] >= 2
    assert rows[1]["status"] == "failed"
    assert rows[1]["reason"].startswith("403 Forbidden: group(s) AdminGroup are not managed")
    assert call(beside, "GET", "/users/op-p1")[0] == 404  # a plan changes nothing
