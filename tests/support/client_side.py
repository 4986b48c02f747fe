"""botocore's client side, made cheaper in the test processes with the same results.

The suite makes a few hundred thousand in-process AWS calls, and what botocore repeats for each
of them is a large part of its time.
"""

from __future__ import annotations

import datetime
import functools
import re
import time
from typing import Any

import botocore.loaders
import botocore.parsers
import botocore.session
import botocore.utils

# An ISO 8601 time in UTC as AWS (and moto) write it: 2026-12-06T22:38:31Z,
# 2026-12-06T22:38:31.123456+00:00.
_UTC_ISO = re.compile(
    r"(\d{4})-(\d\d)-(\d\d)T(\d\d):(\d\d):(\d\d)(?:\.(\d{1,6}))?(Z|\+00:00)", re.ASCII
)


def parse_timestamp(value: Any) -> datetime.datetime:
    """``botocore.utils.parse_timestamp``, without dateutil's general parser for the form every
    response here uses, where the machine's zone is UTC (as Lambda's is): the same datetime with
    the same zone botocore gives (dateutil's local zone for "Z", its UTC for "+00:00")."""
    if isinstance(value, str) and (found := _UTC_ISO.fullmatch(value)) and _local_is_utc():
        *fields, fraction, suffix = found.groups()
        numbers = [int(field) for field in fields] + [int((fraction or "").ljust(6, "0"))]
        return datetime.datetime(*numbers, tzinfo=_zone(suffix))
    return botocore.utils.parse_timestamp(value)


def _local_is_utc() -> bool:
    # (elsewhere dateutil's choice of zone for "Z" can depend on the date: left to it)
    return set(time.tzname) == {"UTC"}


@functools.cache
def _zone(suffix: str) -> Any:
    """The zone botocore gives a time written with ``suffix``, as it gives it."""
    return botocore.utils.parse_timestamp(f"2000-01-01T00:00:00{suffix}").tzinfo


def apply() -> None:
    # moto gives each test a new default boto3 session (it patches boto3.DEFAULT_SESSION), and a
    # new session would parse each service's model files again (~20 ms a client): every session
    # of this process reads them through one loader, whose cache keeps what it parsed.
    botocore.session.create_loader = functools.cache(botocore.loaders.create_loader)
    # dateutil's parser took about 1.5% of the suite's CPU, mostly on IAM's CreateDate fields.
    botocore.parsers.DEFAULT_TIMESTAMP_PARSER = parse_timestamp
