"""The CSV the service hands out (the access matrix, hygiene's findings, a review's evidence):
every cell as a spreadsheet shows it and never runs it."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence

# What a spreadsheet takes for the start of a formula.
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    """A value as a spreadsheet shows it and never runs it: a leading quote disarms a formula
    (OWASP's advice for CSV injection); names such as "-pete" or "=x" are valid in IAM."""
    text = ("yes" if value else "no") if isinstance(value, bool) else str(value)
    return f"'{text}" if text.startswith(_FORMULA) else text


def table(rows: Iterable[Mapping[str, object]], columns: Sequence[str]) -> str:
    """``rows`` as CSV with a header of ``columns``, every cell disarmed."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows({column: cell(row.get(column, "")) for column in columns} for row in rows)
    return out.getvalue()
