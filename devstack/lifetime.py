"""What keeps ``make run``'s processes one stack: its ports checked before anything starts, its
children ended with it, and its app told apart from an earlier stack's.

- A port already taken stops the start at once, naming the port and, on Linux, the process
  holding it (from /proc), instead of a moto thread failing to bind while the rest goes on.
- Each child (``chalice local``, the queue poller, the clock) asks Linux to end it when the
  stack's process ends (``PR_SET_PDEATHSIG``), however that process ends: Ctrl-C, SIGTERM, a
  crash of moto, or SIGKILL. ``make run`` itself ends with ``make``.
- The app answers every request with the stack's own nonce (``X-Local-Stack``): a stack never
  reports ready against an app another stack left on its port.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

NONCE_HEADER = "X-Local-Stack"
PARENT = "STACK_PARENT_PID"  # set for the stack's children: the pid they end with
_PR_SET_PDEATHSIG = 1


def _listening_inodes(port: int) -> set[str]:
    inodes = set()
    for table in ("/proc/net/tcp", "/proc/net/tcp6"):
        try:
            rows = Path(table).read_text().splitlines()[1:]
        except OSError:
            continue
        for row in rows:
            fields = row.split()
            if fields[3] == "0A" and int(fields[1].rsplit(":", 1)[1], 16) == port:  # LISTEN
                inodes.add(fields[9])
    return inodes


def holder(port: int) -> str | None:
    """The process listening on ``port`` ("pid 123: python -m devstack"), where Linux says."""
    sockets = {f"socket:[{inode}]" for inode in _listening_inodes(port)}
    if not sockets:
        return None
    for proc in Path("/proc").iterdir():
        if not proc.name.isdigit():
            continue
        try:
            links = {os.readlink(fd) for fd in (proc / "fd").iterdir()}
            if links & sockets:
                command = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode().strip()
                return f"pid {proc.name}: {command}"
        except OSError:  # gone meanwhile, or not ours to read
            continue
    return None


def in_use(port: int) -> bool:
    with socket.socket() as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # as the servers bind
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return True
    return False


def taken(ports: dict[str, int]) -> list[str]:
    """What to tell a person for each of the named ports that is already in use."""
    said = []
    for name, port in ports.items():
        if port and in_use(port):
            who = holder(port)
            said.append(
                f"{name} {port} is in use"
                + (f" by {who}" if who else " by another process")
                + f": stop it, or choose another port ({name}={port + 1} make run)."
            )
    return said


def _prctl_pdeathsig(signum: int) -> bool:
    if not sys.platform.startswith("linux"):
        return False
    libc = ctypes.CDLL(ctypes.util.find_library("c"), use_errno=True)
    return libc.prctl(_PR_SET_PDEATHSIG, signum, 0, 0, 0) == 0


def end_with_parent() -> None:
    """In a child of the stack (``STACK_PARENT_PID`` set): be sent SIGTERM when the stack's
    process ends, and end now if it already has. Elsewhere (a person's shell): nothing."""
    parent = os.environ.get(PARENT)
    if not parent:
        return
    _prctl_pdeathsig(signal.SIGTERM)
    if os.getppid() != int(parent):  # it ended before we asked
        os.kill(os.getpid(), signal.SIGTERM)


def end_with_make() -> None:
    """``make run``'s own process: end (cleanly, on SIGTERM) when make does."""
    if os.environ.get("MAKELEVEL"):
        _prctl_pdeathsig(signal.SIGTERM)


def mark_answers(nonce: str) -> None:
    """In ``chalice local``: every answer carries the stack's nonce."""
    from chalice.local import ChaliceRequestHandler

    original = ChaliceRequestHandler.end_headers

    def end_headers(self: ChaliceRequestHandler) -> None:
        self.send_header(NONCE_HEADER, nonce)
        original(self)

    ChaliceRequestHandler.end_headers = end_headers


def wait_for_app(url: str, nonce: str, process: subprocess.Popen, timeout: float = 60) -> None:
    """Return once ``url``/health answers with this stack's nonce; refuse another app's."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"chalice local exited with {process.returncode}")
        try:
            with urllib.request.urlopen(f"{url}/health", timeout=2) as answer:
                answered = answer.headers.get(NONCE_HEADER)
        except OSError:
            time.sleep(0.2)
            continue
        if answered != nonce:
            raise RuntimeError(
                f"{url} answers another app (an earlier make run still serving?), not this "
                "stack's: stop it, or choose another API_PORT"
            )
        return
    raise RuntimeError(f"chalice local did not answer {url}/health within {timeout:g} s")
