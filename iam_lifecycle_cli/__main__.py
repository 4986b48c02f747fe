"""``python -m iam_lifecycle_cli``: the same as the ``iam-lifecycle`` command."""

from iam_lifecycle_cli.main import main

main()
