"""Kept for one release: moved to ``devstack.cfn``, which this name now is."""

import sys

from devstack import cfn

sys.modules[__name__] = cfn
