"""Kept for one release: moved to ``devstack.moto_iam_case``, which this name now is."""

import sys

from devstack import moto_iam_case

sys.modules[__name__] = moto_iam_case
