"""``make run`` (``python -m devstack``) as one stack: a busy port stops it at once, naming the
port and who holds it; SIGTERM while it starts stops it starting; its app answers with its own
nonce, so it never takes an earlier stack's app for its own; and its children (``chalice
local``, the queue poller, the clock) end when it ends, even killed (devstack/lifetime.py)."""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

from devstack import lifetime
from devstack.local import PROJECT, free_port


def environment(tmp_path: Path, **ports: int) -> dict[str, str]:
    return {
        **os.environ,
        "AWS_PORT": str(ports.get("aws", free_port())),
        "API_PORT": str(ports.get("api", free_port())),
        "STACK_FILE": str(tmp_path / "stack.json"),
    }


def start(tmp_path: Path, env: dict[str, str]) -> subprocess.Popen:
    with (tmp_path / "stack.log").open("w") as log:
        return subprocess.Popen(
            [sys.executable, "-m", "devstack"],
            cwd=PROJECT,
            env=env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def children(pid: int) -> list[int]:
    found = []
    for proc in Path("/proc").iterdir():
        try:
            if proc.name.isdigit() and (proc / "stat").read_text().rsplit(")", 1)[1].split()[
                1
            ] == str(pid):
                found.append(int(proc.name))
        except OSError:
            continue
    return found


def alive(pid: int) -> bool:
    try:
        state = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()[0]
    except OSError:
        return False
    return state != "Z"  # a zombie has ended; only its parent's reaping is left


def wait_until(condition, timeout: float) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.2)
    return condition()


def test_a_busy_port_stops_it_at_once_naming_the_port_and_its_holder(tmp_path):
    with socket.socket() as held:
        held.bind(("127.0.0.1", 0))
        held.listen()
        port = held.getsockname()[1]
        done = subprocess.run(
            [sys.executable, "-m", "devstack"],
            cwd=PROJECT,
            env=environment(tmp_path, aws=port),
            capture_output=True,
            text=True,
            timeout=120,  # it used to wait for ever for moto's thread, which could not bind
        )
    assert done.returncode == 1, done.stdout + done.stderr
    assert f"AWS_PORT {port} is in use by pid {os.getpid()}: " in done.stderr
    assert "Local stack ready" not in done.stdout
    assert not (tmp_path / "stack.json").exists()


def test_sigterm_while_starting_stops_the_start(tmp_path):
    aws_port = free_port()
    process = start(tmp_path, environment(tmp_path, aws=aws_port))
    try:
        assert wait_until(lambda: lifetime.in_use(aws_port), 120), "moto never listened"
        process.send_signal(signal.SIGTERM)
        process.wait(timeout=60)
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGKILL)
    log = (tmp_path / "stack.log").read_text()
    assert "Local stack ready" not in log, log[-3000:]
    assert not (tmp_path / "stack.json").exists()
    assert wait_until(lambda: not lifetime.in_use(aws_port), 10)


@pytest.fixture(scope="module")
def running(tmp_path_factory):
    """A stack of this module's own, which its last test kills."""
    folder = tmp_path_factory.mktemp("stack")
    process = start(folder, environment(folder))
    facts_file = folder / "stack.json"
    if not wait_until(lambda: facts_file.exists() or process.poll() is not None, 180):
        os.killpg(process.pid, signal.SIGKILL)
    assert facts_file.exists(), (folder / "stack.log").read_text()[-3000:]
    yield process, json.loads(facts_file.read_text())
    if process.poll() is None:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def test_its_app_answers_with_its_nonce_and_another_stacks_app_is_refused(running):
    _, facts = running
    with urllib.request.urlopen(facts["api_url"] + "/health", timeout=10) as answer:
        assert answer.headers.get(lifetime.NONCE_HEADER)
    # What a new stack would meet on a port an earlier stack's app still held.
    stand_in = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        with pytest.raises(RuntimeError, match="answers another app"):
            lifetime.wait_for_app(facts["api_url"], "another stack's", stand_in, timeout=20)
    finally:
        stand_in.kill()
        stand_in.wait()


def test_its_children_end_when_it_is_killed(running):
    process, _ = running
    kids = children(process.pid)
    assert len(kids) >= 3, "chalice local, the queue poller and the clock"
    process.send_signal(signal.SIGKILL)  # as when moto crashes the process, or kill -9
    process.wait()
    try:
        assert wait_until(lambda: not any(alive(pid) for pid in kids), 30), [
            Path(f"/proc/{pid}/cmdline").read_text() for pid in kids if alive(pid)
        ]
    finally:
        for pid in kids:
            if alive(pid):
                os.kill(pid, signal.SIGKILL)
