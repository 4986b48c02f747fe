"""Kept for one release: moved to ``devstack.local``, which this name now is."""

import sys

from devstack import local

sys.modules[__name__] = local
