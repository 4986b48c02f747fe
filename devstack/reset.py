"""The running local stack put back as it was provisioned, without restarting it:
``POST /moto-api/stack/reset`` on its AWS endpoint.

The test suite's system tier shares one stack per test process between its modules
(tests/system/conftest.py) and resets it before each: what a new stack would be, in a fraction of
a second rather than the seconds a provisioning and the app's processes take to start.

- AWS (moto): every backend as the provisioning left it (devstack/snapshot.py). The role sessions
  STS issued since stay valid, as they would in AWS, so the app's processes, which keep the child
  accounts' sessions they assumed, go on working; nothing else made since is left.
- Throttling: as the environment set it (``IAM_RATE_LIMIT``, ...), its counts zero.
- The Slack Web API stand-in: no calls, answers, rate limits or user groups.
- The app's clock: the real time again (no offset).
- The work queue: the reset waits (up to ``SETTLE_SECONDS``) until the queue poller has nothing
  left to hand to the app, so that no batch of before is handled after; work that does not settle
  (a message failing over and over) goes with the poller, which is then started anew.

The API (``chalice local``), the queue poller and the schedules' clock keep running: they hold
nothing of their own that the reset would need to undo.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Any

from moto.moto_api._internal import urls as moto_api_urls

from devstack import moto_throttle
from devstack.snapshot import Snapshot

if TYPE_CHECKING:
    from devstack.local import LocalStack

ENDPOINT = "/moto-api/stack/reset"
SETTLE_SECONDS = 30
_lock = threading.Lock()
_kept: tuple[LocalStack, Snapshot] | None = None


def apply() -> None:
    """Idempotent: the moto server answers ``ENDPOINT`` (before its moto-api app is first built)."""
    moto_api_urls.url_paths.setdefault("{0}" + ENDPOINT, endpoint)


def keep(stack: LocalStack) -> None:
    """Take the provisioned state the resets go back to (once the stack is provisioned)."""
    global _kept
    with _lock:
        _kept = (stack, Snapshot())


def reset() -> None:
    """Put the stack kept by :func:`keep` back as it was then."""
    with _lock:
        if _kept is None:
            raise RuntimeError("no provisioned stack to go back to")
        stack, snapshot = _kept
        restart = not _settled(time.monotonic() + SETTLE_SECONDS)
        if restart:
            _stop(stack.worker)
        snapshot.restore(keep_sessions=True)
        moto_throttle.off()
        moto_throttle.reset_counts()
        moto_throttle.from_environment()
        if stack.slack_api is not None:
            stack.slack_api.restore()
        if stack.pagerduty_api is not None:
            stack.pagerduty_api.reset()  # nobody on call, no failure, nothing recorded
        if stack.facts is not None and stack.facts.clock_file:
            Path(stack.facts.clock_file).unlink(missing_ok=True)
        if restart and stack.worker is not None:
            stack.serve_worker()


def _settled(deadline: float) -> bool:
    """Whether every queue the poller reads (one with a dead-letter queue) came to hold nothing
    before ``deadline``: no message waiting and none being handled."""
    from moto.sqs.models import sqs_backends

    while True:
        busy = [
            queue
            for regions in list(sqs_backends.values())
            for backend in list(regions.values())
            for queue in list(backend.queues.values())
            if queue.redrive_policy and queue._messages
        ]
        if not busy:
            return True
        if time.monotonic() > deadline:
            return False
        time.sleep(0.1)


def _stop(process: subprocess.Popen | None) -> None:
    if process is None or process.poll() is not None:
        return
    os.killpg(process.pid, signal.SIGTERM)
    try:
        process.wait(timeout=10)
    except subprocess.TimeoutExpired:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()


def endpoint(request: Any, full_url: str, headers: Any) -> tuple[int, dict, str]:
    if request.method != "POST":
        return 405, {"Allow": "POST"}, ""
    try:
        reset()
    except RuntimeError as error:
        return 409, {"Content-Type": "application/json"}, json.dumps({"error": str(error)})
    return 200, {"Content-Type": "application/json"}, json.dumps({"ok": True})
