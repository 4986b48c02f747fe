"""Kept for one release: moved to ``devstack.moto_report``, which this name now is."""

import sys

from devstack import moto_report

sys.modules[__name__] = moto_report
