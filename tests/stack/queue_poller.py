"""Kept for one release: moved to ``devstack.queue_poller``, which this name now is;
``python -m tests.stack.queue_poller`` runs ``python -m devstack.queue_poller``."""

import sys

if __name__ == "__main__":
    import runpy

    runpy.run_module("devstack.queue_poller", run_name="__main__", alter_sys=True)
else:
    from devstack import queue_poller

    sys.modules[__name__] = queue_poller
