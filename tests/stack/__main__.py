"""Kept for one release: ``python -m tests.stack`` starts the local stack as ``python -m devstack``
(what ``make run`` runs) does."""

import runpy

if __name__ == "__main__":
    runpy.run_module("devstack", run_name="__main__", alter_sys=True)
