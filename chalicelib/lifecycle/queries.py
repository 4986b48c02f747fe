"""Read-only views of the whole account: every managed user, the access matrix, drift.

Each reads the account once (GetAccountAuthorizationDetails: users, their groups, the managed
groups' policies, in a few pages) beside the state table, instead of a description per user.
What that read lacks (console login, MFA, access keys) comes from IAM's credential report; a
person the report cannot speak for (not in it yet, changed by the service since it was made, or
holding access keys, whose ids it does not give) is read live.
"""

from __future__ import annotations

from datetime import datetime
from functools import partial
from typing import Any

from chalicelib.kernel.csv_cells import table
from chalicelib.kernel.identity import key
from chalicelib.kernel.snapshot import Snapshot
from chalicelib.kernel.waves import wave
from chalicelib.lifecycle.access_map import account_and_role
from chalicelib.lifecycle.operations import Lifecycle

MATRIX_COLUMNS = ("username", "status", "group", "account", "role", "managed")
# A spreadsheet runs a cell that starts with one of these as a formula (CSV injection).
_NONE = ("N/A", "no_information", "not_supported", "")


def read_account(lifecycle: Lifecycle, report: bool = False) -> dict[str, Any]:
    settings = lifecycle.settings
    reads = {
        "account": lambda: lifecycle.iam.account(settings.allowed_groups),
        "records": lambda: {key(r["username"]): r for r in lifecycle.state.records()},
    }
    if report:
        reads["report"] = lifecycle.iam.credential_report
    found = wave(reads)
    found["users"] = [
        u
        for u in found["account"]["users"]
        if u["path"] == settings.managed_path and key(u["username"]) not in settings.protected_users
    ]
    return found


def list_users(lifecycle: Lifecycle) -> list[dict]:
    found = read_account(lifecycle, report=True)
    access, records, report = found["account"]["access"], found["records"], found["report"]
    live = {}
    views = {}
    for user in found["users"]:
        name = user["username"]
        record = records.get(key(name))
        row = report["users"].get(name)
        if row is None or _has_keys(row) or _changed_since(record, report["generated"]):
            live[name] = user
            continue
        snap = Snapshot(
            username=name,
            user=user,
            record=record,
            groups=user["groups"],
            keys=[],
            console=row["password_enabled"] == "true",
            mfa=row["mfa_active"] == "true",
            access=access,
        )
        views[name] = lifecycle.view(snap, {})
    views.update(
        wave(
            {
                name: partial(_view_live, lifecycle, user, records, access)
                for name, user in live.items()
            }
        )
    )
    return [views[u["username"]] for u in found["users"]]


def _live(lifecycle: Lifecycle, user: dict, records: dict, access: dict) -> Snapshot:
    """What the report cannot say, read for one person (one wave)."""
    iam, name = lifecycle.iam, user["username"]
    found = wave(
        {
            "keys": lambda: iam.access_keys(name),
            "console": lambda: iam.has_login_profile(name),
            "mfa": lambda: bool(iam.mfa_devices(name)),
        }
    )
    return Snapshot(
        username=name,
        user=user,
        record=records.get(key(name)),
        groups=user["groups"],
        keys=found["keys"],
        console=found["console"],
        mfa=found["mfa"],
        access=access,
    )


def _view_live(lifecycle: Lifecycle, user: dict, records: dict, access: dict) -> dict:
    snap = _live(lifecycle, user, records, access)
    return lifecycle.view(snap, lifecycle.last_used(snap.keys))


def _has_keys(row: dict) -> bool:
    return any(row.get(f"access_key_{n}_last_rotated", "N/A") not in _NONE for n in (1, 2))


def _changed_since(record: dict | None, generated: datetime) -> bool:
    if not record or not record.get("at"):
        return False
    return datetime.fromisoformat(record["at"]) >= generated


def access_matrix(lifecycle: Lifecycle) -> list[dict]:
    """One row per person, group and role that group lets them assume. A group the service
    does not manage has one row with no account or role, marked unmanaged: its policies are
    not the service's to read, and the row says there is access the matrix cannot show."""
    found = read_account(lifecycle)
    access, records = found["account"]["access"], found["records"]
    roles_of_group: dict[str, list[str]] = {}
    rows = []
    for user in found["users"]:
        status = _status(records.get(key(user["username"])))
        row = {"username": user["username"], "status": status}
        for group in user["groups"]:
            if group not in lifecycle.settings.allowed_groups:
                rows.append({**row, "group": group, "account": "", "role": "", "managed": False})
                continue
            if group not in roles_of_group:
                roles_of_group[group] = lifecycle.roles([group], access)
            for arn in roles_of_group[group]:
                account, role = account_and_role(arn)
                rows.append(
                    {**row, "group": group, "account": account, "role": role, "managed": True}
                )
    return rows


def _status(record: dict | None) -> str:
    return (
        "suspended"
        if (record or {}).get("status") in ("suspending", "suspended", "restoring")
        else "active"
    )


def as_csv(rows: list[dict]) -> str:
    return table(rows, MATRIX_COLUMNS)
