"""Fixtures of the system tier."""

from __future__ import annotations

import pytest

from devstack.process import running_stack


@pytest.fixture(scope="module")
def stack(tmp_path_factory):
    """The local stack as ``make run`` starts it (``python -m devstack``), one per test module;
    the facts it writes."""
    with running_stack(tmp_path_factory.mktemp("stack")) as facts:
        yield facts
