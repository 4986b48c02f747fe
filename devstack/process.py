"""``python -m devstack`` as ``make run`` starts it, on free ports, for a test module."""

from __future__ import annotations

import contextlib
import json
import os
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from devstack.local import PROJECT, free_port


@contextlib.contextmanager
def running_stack(folder: Path) -> Iterator[dict]:
    """Yields the facts it writes; stops it with Ctrl-C as a person would, and checks that it
    stopped cleanly and removed its facts file."""
    facts_file, log = folder / "stack.json", folder / "stack.log"
    env = {
        **os.environ,
        "AWS_PORT": str(free_port()),
        "API_PORT": str(free_port()),
        "STACK_FILE": str(facts_file),
    }
    # Its output goes to a file: a pipe nobody reads fills up and stalls the stack.
    with log.open("w") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "devstack"],
            cwd=PROJECT,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    deadline = time.monotonic() + 120
    while not facts_file.exists():
        if process.poll() is not None or time.monotonic() > deadline:
            os.killpg(process.pid, signal.SIGKILL)
            raise RuntimeError(f"the local stack did not start:\n{log.read_text()[-5000:]}")
        time.sleep(0.2)
    try:
        yield json.loads(facts_file.read_text())
    finally:
        os.killpg(process.pid, signal.SIGINT)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()
    assert process.returncode == 0, log.read_text()[-5000:]
    assert not facts_file.exists(), "stopping should remove the facts it wrote"
