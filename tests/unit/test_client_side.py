"""The test processes' cheaper timestamp parsing gives exactly what botocore's gives."""

from __future__ import annotations

import datetime
import time

import botocore.parsers
import botocore.utils
from hypothesis import example, given
from hypothesis import strategies as st

from tests.support import client_side

TIMES = st.datetimes(
    min_value=datetime.datetime(1, 1, 1), max_value=datetime.datetime(9999, 12, 31)
).map(lambda t: t.replace(tzinfo=datetime.UTC))


# How AWS (and moto) write a time: seconds or microseconds, Z or +00:00; milliseconds too. The
# year always has four digits (glibc's %Y writes year 31 as "31", which no one parses as a year).
def _seconds(t: datetime.datetime) -> str:
    return f"{t.year:04d}-" + t.strftime("%m-%dT%H:%M:%S")


WRITERS = [
    lambda t: _seconds(t) + "Z",
    lambda t: _seconds(t) + t.strftime(".%fZ"),
    lambda t: t.isoformat(),
    lambda t: _seconds(t) + f".{t.microsecond // 1000:03d}Z",
    lambda t: _seconds(t) + t.strftime(".%f")[:-4] + "+00:00",
]


def same(value: str) -> None:
    mine, theirs = client_side.parse_timestamp(value), botocore.utils.parse_timestamp(value)
    assert (mine, repr(mine), type(mine.tzinfo)) == (theirs, repr(theirs), type(theirs.tzinfo))


@given(TIMES, st.sampled_from(WRITERS))
@example(datetime.datetime(31, 2, 1, tzinfo=datetime.UTC), WRITERS[0])
def test_an_aws_time_is_parsed_as_botocore_parses_it(time, written):
    same(written(time))


def test_every_other_form_is_left_to_botocore():
    for value in [
        "1700000000",
        "1700000000.5",
        "2026-12-06T22:38:31+01:00",
        "2026-12-06T22:38:31",
        "2026-12-06T22:38:31.1234567Z",
        "Sun, 06 Dec 2026 22:38:31 GMT",
        "2026-12-06 22:38:31Z",
        "２０２６-12-06T22:38:31Z",  # other digits: not AWS's form
    ]:
        same(value)


def test_the_test_processes_parse_responses_with_it():
    assert botocore.parsers.DEFAULT_TIMESTAMP_PARSER is client_side.parse_timestamp


def test_where_the_machine_is_not_in_utc_botocore_parses_every_time(monkeypatch):
    monkeypatch.setenv("TZ", "Europe/London")
    time.tzset()
    try:
        for value in ["2026-01-06T22:38:31Z", "2026-07-06T22:38:31Z", "2026-07-06T22:38:31+00:00"]:
            same(value)
    finally:
        monkeypatch.undo()
        time.tzset()
