"""Kept for one release: moved to ``devstack.clock``, which this name now is;
``python -m tests.stack.clock`` runs ``python -m devstack.clock``."""

import sys

if __name__ == "__main__":
    import runpy

    runpy.run_module("devstack.clock", run_name="__main__", alter_sys=True)
else:
    from devstack import clock

    sys.modules[__name__] = clock
