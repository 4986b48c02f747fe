"""Spreadsheets the service hands out (the access matrix, hygiene's findings, a review's
evidence): each cell as a spreadsheet shows it and never runs it."""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Mapping, Sequence

_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def cell(value: object) -> str:
    """A leading quote disarms a formula (OWASP's advice for CSV injection); names such as
    "-pete" or "=x" are valid in IAM."""
    text = ("yes" if value else "no") if isinstance(value, bool) else str(value)
    return f"'{text}" if text.startswith(_FORMULA) else text


def table(rows: Iterable[Mapping[str, object]], columns: Sequence[str], blank: object = "") -> str:
    """``rows`` as CSV with a header of ``columns``; a missing value is ``blank``."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=list(columns), lineterminator="\n")
    writer.writeheader()
    writer.writerows({c: cell(row.get(c, blank)) for c in columns} for row in rows)
    return out.getvalue()
