"""Kept for one release: moved to ``devstack.moto_ext``, which this name now is."""

import sys

from devstack import moto_ext

sys.modules[__name__] = moto_ext
