"""What hygiene knows of a user's credentials: IAM's credential report as the schedule reads it,
each user's keys where the report found something about keys (it names none), and the one
builder of the facts the rules take (:func:`facts`), fed by a report row (:func:`row_facts`, the
schedule) or by the user's own reads (:func:`user_facts`, an action judged again when it runs).
"""

from __future__ import annotations

from dataclasses import replace
from datetime import date, datetime
from functools import partial
from typing import Any, Protocol

from chalicelib.hygiene import rules
from chalicelib.kernel.identity import key
from chalicelib.kernel.waves import wave

# What the report says of a date it does not have: never, no information, not supported.
_NONE = ("N/A", "no_information", "not_supported", "")
_SLOTS = (1, 2)  # the report's two access key columns


class Credentials(Protocol):
    """What hygiene reads of IAM (the composition root gives it chalicelib/aws/iam.py's gateway)."""

    def credential_report(self, *, reuse_after: datetime | None = None) -> dict: ...

    def key_facts(self, username: str) -> list[dict]: ...

    def last_used(self, key_id: str) -> str | None: ...


def moment(value: str | None) -> datetime | None:
    return None if value is None or value in _NONE else datetime.fromisoformat(value)


def path(arn: str) -> str | None:
    """A user's path, from its ARN (arn:aws:iam::<account>:user/<path>/<name>)."""
    resource = arn.split(":", 5)[-1]
    if not resource.startswith("user/"):
        return None  # the account's root
    return resource[len("user") :].rsplit("/", 1)[0] + "/"


def managed_rows(report: dict, managed_path: str, username: str | None = None) -> dict[str, dict]:
    """The report's rows of the users on the managed path (its ARNs carry the paths): all of
    them, or ``username``'s."""
    return {
        name: row
        for name, row in report["users"].items()
        if path(row.get("arn", "")) == managed_path
        and (username is None or key(name) == key(username))
    }


def facts(
    username: str,
    created: datetime,
    *,
    console: bool,
    password_last_used: datetime | None,
    password_changed: datetime | None,
    mfa: bool,
    keys: tuple[rules.Key, ...],
    record: dict | None,
    item: dict | None = None,
    protected: bool = False,
) -> rules.Facts:
    """What is known of one user's credentials, whatever it was read from. The record gives a
    restore's time (it starts the clocks again) and the keys the service deactivated; without
    it, the hygiene item's copy from the last run. The item also holds an exemption."""
    item = item or {}
    exemption = item.get("exemption") or {}
    taken = (
        ((record.get("hygiene_taken") or {}).get("keys") or {})
        if record is not None
        else (item.get("deactivated") or {})
    )
    return rules.Facts(
        username=username,
        created=created,
        console=console,
        password_last_used=password_last_used,
        password_changed=password_changed,
        mfa=mfa,
        keys=keys,
        restored_at=moment((record or {}).get("restored_at")),
        deactivated={k: date.fromisoformat(d) for k, d in taken.items()},
        protected=protected,
        exempt_until=date.fromisoformat(exemption["until"]) if exemption.get("until") else None,
    )


def row_facts(row: dict, record: dict | None, item: dict, protected: bool) -> rules.Facts:
    """One user's credentials as the report shows them (keys by their slot: it names none)."""
    return facts(
        row["user"],
        datetime.fromisoformat(row["user_creation_time"]),
        console=row.get("password_enabled") == "true",
        password_last_used=moment(row.get("password_last_used")),
        password_changed=moment(row.get("password_last_changed")),
        mfa=row.get("mfa_active") == "true",
        keys=tuple(
            rules.Key(
                f"access_key_{n}",
                row.get(f"access_key_{n}_active") == "true",
                datetime.fromisoformat(row[f"access_key_{n}_last_rotated"]),
                moment(row.get(f"access_key_{n}_last_used_date")),
            )
            for n in _SLOTS
            if row.get(f"access_key_{n}_last_rotated", "N/A") not in _NONE
        ),
        record=record,
        item=item,
        protected=protected,
    )


def user_facts(
    username: str,
    user: dict,
    *,
    login: dict | None,
    mfa: Any,
    keys: list[dict] | None,
    used: dict[str, str | None],
    record: dict,
) -> rules.Facts:
    """One user's credentials as a change reads them: the user (GetUser), its login profile,
    MFA devices, keys (with their creation) and each key's last use (``used``)."""
    return facts(
        str(user.get("username") or username),
        datetime.fromisoformat(user["created"]),
        console=login is not None,
        password_last_used=moment(user.get("password_last_used")),
        password_changed=moment((login or {}).get("created")),
        mfa=bool(mfa),
        keys=tuple(
            rules.Key(
                k["id"],
                k["status"] == "Active",
                datetime.fromisoformat(k.get("created") or user["created"]),
                moment(used.get(k["id"])),
            )
            for k in keys or []
        ),
        record=record,
    )


def live_keys(iam: Credentials, username: str) -> list[rules.Key]:
    """The user's keys as IAM has them now, each with its latest use: one wave."""
    listed = iam.key_facts(username)
    used = wave({k["id"]: partial(iam.last_used, k["id"]) for k in listed})
    return [
        rules.Key(
            k["id"],
            k["status"] == "Active",
            datetime.fromisoformat(k["created"]),
            moment(used[k["id"]]),
        )
        for k in listed
    ]


def with_keys(known: rules.Facts, keys: list[rules.Key]) -> rules.Facts:
    return replace(known, keys=tuple(keys))


def editable_item(item: dict | None, name: str) -> dict:
    """A user's hygiene item (notices, exemption, deactivated keys) to change and put back."""
    item = dict(item or {"username": name})
    item["notices"] = dict(item.get("notices") or {})
    item.pop("at", None)
    return item
