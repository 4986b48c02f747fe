"""Read-only views: every managed user, the access matrix, the audit trail."""

from __future__ import annotations

import csv
import io

from chalicelib.access_map import account_and_role
from chalicelib.lifecycle import Lifecycle
from chalicelib.waves import wave

MATRIX_COLUMNS = ("username", "status", "group", "account", "role")


def list_users(lifecycle: Lifecycle) -> list[dict]:
    names = lifecycle.iam.list_users(lifecycle.settings.managed_path)
    names = [n for n in names if n not in lifecycle.settings.protected_users]
    described = wave({name: (lambda name=name: lifecycle.describe(name)) for name in names})
    return [described[name] for name in names]


def access_matrix(lifecycle: Lifecycle) -> list[dict]:
    """One row per person, group and role that group lets them assume."""
    rows = []
    roles_of_group: dict[str, list[str]] = {}
    for user in list_users(lifecycle):
        for group in user["groups"]:
            if group not in roles_of_group:
                roles_of_group[group] = lifecycle.roles_for([group])
            for arn in roles_of_group[group]:
                account, role = account_and_role(arn)
                rows.append({"username": user["username"], "status": user["status"],
                             "group": group, "account": account, "role": role})
    return rows


def as_csv(rows: list[dict]) -> str:
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=MATRIX_COLUMNS, lineterminator="\n")
    writer.writeheader()
    writer.writerows(rows)
    return out.getvalue()
