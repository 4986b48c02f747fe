"""Kept for one release: the local stack moved to ``devstack/`` (``python -m devstack``).

Each ``tests.stack.<name>`` is ``devstack.<name>`` itself (the same module object, so state such
as ``moto_throttle``'s limits is shared), and ``python -m tests.stack[.<name>]`` runs
``python -m devstack[.<name>]``. Import from ``devstack`` instead.
"""
