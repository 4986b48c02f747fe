"""Read-only views: every managed user, the access matrix, the audit trail."""

from __future__ import annotations

import csv
import io

from chalicelib.access_map import account_and_role
from chalicelib.identity import key
from chalicelib.lifecycle import Lifecycle
from chalicelib.waves import wave

MATRIX_COLUMNS = ("username", "status", "group", "account", "role", "managed")
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_FORMULA = ("=", "+", "-", "@", "\t", "\r")


def list_users(lifecycle: Lifecycle) -> list[dict]:
    names = lifecycle.iam.list_users(lifecycle.settings.managed_path)
    names = [n for n in names if key(n) not in lifecycle.settings.protected_users]
    described = wave({name: (lambda name=name: lifecycle.describe(name)) for name in names})
    return [described[name] for name in names]


def access_matrix(lifecycle: Lifecycle) -> list[dict]:
    """One row per person, group and role that group lets them assume. A group the service
    does not manage has one row with no account or role, marked unmanaged: its policies are
    not the service's to read, and the row says there is access the matrix cannot show."""
    rows = []
    roles_of_group: dict[str, list[str]] = {}
    for user in list_users(lifecycle):
        row = {"username": user["username"], "status": user["status"]}
        for group in user["groups"]:
            if group in user.get("unmanaged_groups", []):
                rows.append({**row, "group": group, "account": "", "role": "", "managed": False})
                continue
            if group not in roles_of_group:
                roles_of_group[group] = lifecycle.roles_for([group])
            for arn in roles_of_group[group]:
                account, role = account_and_role(arn)
                rows.append({**row, "group": group, "account": account, "role": role,
                             "managed": True})
    return rows


def as_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=MATRIX_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows({column: _cell(row.get(column, "")) for column in MATRIX_COLUMNS}
                     for row in rows)
    return out.getvalue()


def _cell(value: object) -> str:
    """A value as a spreadsheet shows it and never runs it: a leading quote disarms a formula
    (OWASP's advice for CSV injection); names such as "-pete" or "=x" are valid in IAM."""
    text = ("yes" if value else "no") if isinstance(value, bool) else str(value)
    return f"'{text}" if text.startswith(_FORMULA) else text
