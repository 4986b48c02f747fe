"""``chalice package`` as CI and ``make bench`` run it: no AWS account, fake credentials.

Chalice builds the deployment package from requirements.txt with wheels for the Lambda platform
(manylinux, x86_64), which it downloads from PyPI and caches in .chalice/deployments/. Nothing is
sent to AWS: the endpoint points at a closed loopback port, so a call would fail at once.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

PROJECT = Path(__file__).resolve().parents[2]
CHALICE = Path(sys.executable).parent / "chalice"
NO_AWS = {
    "AWS_ACCESS_KEY_ID": "fake",
    "AWS_SECRET_ACCESS_KEY": "fake",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_REGION": "us-east-1",
    "AWS_CONFIG_FILE": "/dev/null",
    "AWS_SHARED_CREDENTIALS_FILE": "/dev/null",
    "AWS_ENDPOINT_URL": "http://127.0.0.1:9",
}


@contextlib.contextmanager
def _cache_lock() -> Iterator[None]:
    """One packaging at a time: parallel test workers would build the same cache file."""
    cache = PROJECT / ".chalice" / "deployments"
    cache.mkdir(parents=True, exist_ok=True)
    with open(cache / ".lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(lock, fcntl.LOCK_UN)


def package(
    stage: str, out: Path, merge_template: Path | None = None, timeout: int = 600
) -> subprocess.CompletedProcess:
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update(NO_AWS)
    command = [str(CHALICE), "--project-dir", str(PROJECT), "package", "--stage", stage]
    if merge_template:
        command += ["--merge-template", str(merge_template)]
    with _cache_lock():
        return subprocess.run(
            [*command, str(out)],
            env=env,
            cwd=PROJECT,
            capture_output=True,
            text=True,
            timeout=timeout,
            check=True,
        )
