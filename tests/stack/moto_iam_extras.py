"""Kept for one release: moved to ``devstack.moto_iam_extras``, which this name now is."""

import sys

from devstack import moto_iam_extras

sys.modules[__name__] = moto_iam_extras
