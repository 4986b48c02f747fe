"""The lifecycle's guards: pure checks over settings and a snapshot, raising the app's errors."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

from chalicelib.kernel.errors import BadRequest, Conflict, Forbidden, unavailable
from chalicelib.kernel.snapshot import Snapshot
from chalicelib.settings import Settings

# A suspension in progress, done, or being undone: the person shows as suspended.
SUSPENDED = ("suspending", "suspended", "restoring")


def check_groups(settings: Settings, groups: list[str], snap: Snapshot) -> None:
    """Every group is the service's to manage, and exists in the root account."""
    refused = sorted(set(groups) - set(settings.allowed_groups))
    if refused:
        raise Forbidden(
            f"group(s) {', '.join(refused)} are not managed by this service; "
            f"allowed: {', '.join(settings.allowed_groups)}"
        )
    missing = [group for group in groups if group not in snap.access]
    if missing:
        raise BadRequest(f"group(s) {', '.join(missing)} do not exist in the root account")


def foreign(settings: Settings, groups: list[str]) -> list[str]:
    """The groups among ``groups`` that this service does not manage (nor may read)."""
    return sorted(set(groups) - set(settings.allowed_groups))


def managed_groups(settings: Settings, name: str, groups: list[str]) -> list[str]:
    """``groups``, if the service manages every one: a change never leaves one behind."""
    others = foreign(settings, groups)
    if others:
        raise Conflict(
            f"{name} is also in group(s) {', '.join(others)}, which this service does "
            "not manage; remove them there by hand, then retry"
        )
    return groups


def check_resumable(
    settings: Settings, username: str, ticket: str, existing: dict, record: dict | None
) -> None:
    """Whether ``existing`` is this ticket's own onboarding, to be finished; any other user
    under the name (in another case, outside the managed path, onboarded by another ticket,
    changed since) makes the name unavailable, in the one wording that tells nothing of it."""
    if (
        existing["username"] != username
        or existing["path"] != settings.managed_path
        or existing["tags"].get("ticket") != ticket
    ):
        raise unavailable(username)
    if record is None:
        return  # created by this ticket, its record not yet written
    if (
        record.get("ticket") == ticket
        and record.get("status") == "active"
        and _written_within(record, settings.idempotency_ttl)
    ):
        return  # nothing changed the user since this ticket's onboarding
    raise unavailable(username)


def _written_within(record: dict, seconds: int) -> bool:
    written = datetime.fromisoformat(record.get("at") or "1970-01-01T00:00:00+00:00")
    return (datetime.now(UTC) - written).total_seconds() < seconds


# Time-bound grants. A record keeps one entry per grant (``group``, ``expires_at``,
# ``granted_at``, ``ticket``, ...), several per group when grants of it overlap or follow each
# other; the group is held while any of them covers now, so no grant ends another early.
def covering(grants: list[dict], group: str, now: str) -> list[dict]:
    """The grants of ``group`` that cover ``now`` (ISO-8601 timestamps compare as text)."""
    return [g for g in grants if g["group"] == group and str(g["expires_at"]) > now]


def shown_grants(grants: list[dict]) -> list[dict]:
    """What a caller sees: each granted group once, until the last of its grants ends (every
    grant began at or before now, so the ones that cover now hold the group without a gap)."""
    until: dict[str, str] = {}
    for grant in grants:
        until[grant["group"]] = max(until.get(grant["group"], ""), str(grant["expires_at"]))
    return [{"group": group, "expires_at": until[group]} for group in sorted(until)]


def ordered(grants: list[dict]) -> list[dict]:
    return sorted(grants, key=lambda g: (g["group"], str(g["expires_at"])))


def ending(
    grants: list[dict], ends: Callable[[dict], bool], permanent: list[str], now: str
) -> tuple[list[dict], list[dict], list[str]]:
    """``(kept, ended, lost)``: the grants ``ends`` picks end, and the groups none of the kept
    grants (nor a membership without an expiry) covers now are lost; their grants that no longer
    cover now end with them, so no later expiry takes a group away a second time."""
    ended = [g for g in grants if ends(g)]
    rest = [g for g in grants if not ends(g)]
    held = set(permanent) | {g["group"] for g in rest if str(g["expires_at"]) > now}
    lost = sorted({g["group"] for g in ended} - held)
    kept = [g for g in rest if g["group"] not in lost]
    ended += [g for g in rest if g["group"] in lost]
    return ordered(kept), ordered(ended), lost
