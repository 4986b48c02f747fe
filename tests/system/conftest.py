"""Fixtures of the system tier.

One local stack per test process, shared by the modules: each module that asks for ``stack``
gets it put back as freshly provisioned (devstack/reset.py) instead of starting one of its own,
which takes seconds of set-up. A module that needs a stack started differently (other settings
or environment) starts its own with ``devstack.process.running_stack``.
"""

from __future__ import annotations

import copy
import json
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from devstack.process import running_stack
from devstack.reset import ENDPOINT


@dataclass
class SharedStack:
    """The process's stack (``python -m devstack``): the facts it wrote and where."""

    facts_file: Path
    facts: dict
    used: bool = False

    def fresh(self) -> dict:
        """The facts, the stack put back as provisioned first if a module has used it."""
        if self.used:
            self.reset()
        self.used = True
        return copy.deepcopy(self.facts)

    def reset(self) -> None:
        request = urllib.request.Request(
            self.facts["aws_endpoint_url"] + ENDPOINT, data=b"", method="POST"
        )
        with urllib.request.urlopen(request, timeout=120) as answer:
            assert json.loads(answer.read()) == {"ok": True}


@pytest.fixture(scope="session")
def shared_stack(tmp_path_factory) -> Iterator[SharedStack]:
    """The local stack as ``make run`` starts it, once per test process; stopped at the end as a
    person stops it (and checked to stop cleanly)."""
    folder = tmp_path_factory.mktemp("stack")
    with running_stack(folder) as facts:
        yield SharedStack(folder / "stack.json", facts)


@pytest.fixture(scope="module")
def stack(shared_stack: SharedStack) -> dict:
    """The local stack, as freshly provisioned when the module starts; the facts it wrote."""
    return shared_stack.fresh()


@pytest.fixture(scope="module")
def stack_file(stack: dict, shared_stack: SharedStack) -> Path:
    """Where the stack wrote its facts (``STACK_FILE`` for the command-line tools)."""
    return shared_stack.facts_file
