"""Kept for one release: moved to ``devstack.slack_command``, which this name now is;
``python -m tests.stack.slack_command`` runs ``python -m devstack.slack_command``."""

import sys

if __name__ == "__main__":
    import runpy

    runpy.run_module("devstack.slack_command", run_name="__main__", alter_sys=True)
else:
    from devstack import slack_command

    sys.modules[__name__] = slack_command
