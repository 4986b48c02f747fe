"""Kept for one release: moved to ``devstack.process``, which this name now is."""

import sys

from devstack import process

sys.modules[__name__] = process
