"""Kept for one release: moved to ``devstack.moto_throttle``, which this name now is."""

import sys

from devstack import moto_throttle

sys.modules[__name__] = moto_throttle
