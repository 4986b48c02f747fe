"""Adoption's rules, pure: whether a user may be adopted (every reason it may not), what
adoption changes and keeps, the access matrix of a set of groups, and what differs between two
readings of a person. Nothing here reads or writes.

Strict by design: the service cannot evaluate every policy as IAM does, so a user whose own
policies could grant more than their groups is refused rather than judged. Every inline policy
is refused, and every attached policy not on the stage's allow-list (``ADOPT_ALLOWED_POLICIES``);
group memberships outside ``ALLOWED_GROUPS`` are refused too (the service could neither read
what they grant nor take them away at a suspension or an offboarding)."""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field

# The tag an administrator puts on a user to let the service read and move it; the stage's
# policy grants UpdateUser outside the service's path only on users carrying it.
MARK_KEY, MARK_VALUE = "iam-lifecycle:adopt", "true"
# IAM allows at most 50 tags on a user.
MAX_TAGS = 50
# A record of these statuses is no longer a managed person's: the name may be adopted.
GONE = ("offboarded", "released")


@dataclass(frozen=True)
class Policy:
    """What the stage allows: its path and groups, who is protected, which attached policies
    an adopted user may keep."""

    managed_path: str
    allowed_groups: tuple[str, ...]
    protected_users: frozenset[str]
    allowed_policies: frozenset[str]
    app_name: str


@dataclass(frozen=True)
class Person:
    """One user as read for adoption or release."""

    username: str
    id: str
    arn: str
    path: str
    tags: dict[str, str] = field(default_factory=dict)
    boundary: str | None = None
    groups: tuple[str, ...] = ()
    inline: tuple[str, ...] = ()
    attached: tuple[str, ...] = ()
    keys: tuple[tuple[str, str], ...] = ()  # (id, status)
    console: bool = False
    mfa: tuple[str, ...] = ()

    @property
    def marked(self) -> bool:
        return self.tags.get(MARK_KEY, "").lower() == MARK_VALUE


def refusals(person: Person, record: dict | None, policy: Policy) -> list[str]:
    """Every reason ``person`` cannot be adopted now (none: it can)."""
    reasons = []
    name = person.username
    if name.lower() in policy.protected_users:
        reasons.append(
            f"{name} is a protected user (PROTECTED_USERS); this service never manages it"
        )
    if person.path == policy.managed_path:
        reasons.append(f"{name} is managed already (its path is {policy.managed_path})")
    elif person.path.startswith(policy.managed_path):
        reasons.append(f"{name}'s path {person.path} lies under the service's own path")
    if not person.marked:
        reasons.append(
            f"{name} is not marked for adoption: an administrator tags it "
            f"{MARK_KEY}={MARK_VALUE} (the service may read and move only such users)"
        )
    foreign = sorted(set(person.groups) - set(policy.allowed_groups))
    if foreign:
        reasons.append(
            f"member of group(s) {', '.join(foreign)}, which this service does not manage "
            f"(ALLOWED_GROUPS: {', '.join(policy.allowed_groups)}); remove the membership or "
            "add the group to the configuration"
        )
    for policy_name in person.inline:
        reasons.append(
            f"inline policy {policy_name}: adoption refuses every inline policy, as it may grant "
            "more than the groups; move what it grants into a managed group, delete it, retry"
        )
    for arn in person.attached:
        if arn not in policy.allowed_policies:
            reasons.append(
                f"attached policy {arn} is not on the allow-list (ADOPT_ALLOWED_POLICIES); "
                "it may grant more than the groups: detach it, or allow it, then retry"
            )
    if record is not None and record.get("status") not in GONE:
        if record.get("user_id") and record["user_id"] != person.id:
            reasons.append(
                f"the name clashes: the service keeps a record of another person named {name} "
                f"({record.get('status')}); offboard or resolve that one first"
            )
        elif record.get("status") == "adopting":
            reasons.append(
                f"an adoption of {name} under ticket {record.get('ticket')} stopped halfway; "
                "send that request again to finish it"
            )
        else:
            reasons.append(f"the service already keeps a record of {name} ({record.get('status')})")
    room = MAX_TAGS - len(set(person.tags) | set(tags_added(person, "-", "-", policy.app_name)))
    if room < 0:
        reasons.append(
            f"{name} has {len(person.tags)} tags; adoption adds its own and IAM allows {MAX_TAGS}"
        )
    return reasons


def owned_groups(person: Person, policy: Policy) -> list[str]:
    """The groups of the person the service will own: every one it manages."""
    return sorted(set(person.groups) & set(policy.allowed_groups))


def expected_groups(person: Person, policy: Policy, expected: list[str] | None) -> str | None:
    """Why the groups a caller expects differ from the person's (None: they do not)."""
    if expected is None:
        return None
    owned = owned_groups(person, policy)
    if sorted(set(expected)) != owned:
        return (
            f"{person.username} is in {', '.join(owned) or 'no managed group'}, not "
            f"{', '.join(sorted(set(expected))) or 'no group'}: adoption changes no membership; "
            "adopt as they are, then move them"
        )
    return None


def tags_added(person: Person, ticket: str, requested_by: str, app_name: str) -> dict[str, str]:
    """The tags adoption writes, as onboarding writes them."""
    return {"managed_by": app_name, "ticket": ticket, "requested_by": requested_by}


def memory(person: Person, added: dict[str, str]) -> dict:
    """What a release gives back: the path and, for each tag adoption writes, its value before
    (None: the user had no such tag)."""
    return {
        "path": person.path,
        "arn": person.arn,
        "tags": {k: person.tags.get(k) for k in sorted(added)},
    }


def tags_back(kept: dict) -> tuple[dict[str, str], list[str]]:
    """A release's tag changes: the values to put back, and the keys to remove."""
    tags = kept.get("tags") or {}
    return (
        {k: v for k, v in tags.items() if v is not None},
        sorted(k for k, v in tags.items() if v is None),
    )


def matrix(
    username: str, groups: Iterable[str], roles: Callable[[list[str]], list[str]]
) -> list[dict]:
    """The access matrix rows of a person in ``groups``: one per group and role it reaches."""
    rows = []
    for group in sorted(groups):
        for arn in roles([group]):
            account, role = arn.split(":")[4], arn.rsplit("/", 1)[-1]
            rows.append({"username": username, "group": group, "account": account, "role": role})
    return rows


def facts(person: Person, rows: list[dict]) -> dict:
    """What adoption and release must leave exactly as it was."""
    return {
        "user_id": person.id,
        "groups": sorted(person.groups),
        "inline_policies": sorted(person.inline),
        "attached_policies": sorted(person.attached),
        "permissions_boundary": person.boundary,
        "access_keys": [{"id": k, "status": s} for k, s in sorted(person.keys)],
        "console": person.console,
        "mfa_devices": sorted(person.mfa),
        "access_matrix": rows,
    }


def differences(before: dict, after: dict) -> list[str]:
    """What differs between two readings of :func:`facts` (none: access is unchanged)."""
    return [
        f"{what}: {before.get(what)!r} before, {after.get(what)!r} after"
        for what in sorted(set(before) | set(after))
        if before.get(what) != after.get(what)
    ]


def plan(person: Person, policy: Policy, added: dict[str, str], rows: list[dict]) -> dict:
    """What an adoption changes, what it keeps exactly as it was, and the access matrix before
    and after (the same rows: adoption changes no permission)."""
    kept = facts(person, rows)
    return {
        "username": person.username,
        "changes": {
            "path": {"before": person.path, "after": policy.managed_path},
            "arn": {
                "before": person.arn,
                "after": person.arn.rsplit(":", 1)[0]
                + f":user{policy.managed_path}{person.username}",
            },
            "tags": {k: {"before": person.tags.get(k), "after": v} for k, v in added.items()},
            "record": "written: the service manages the user from now on",
            "groups_owned": owned_groups(person, policy),
        },
        "unchanged": {
            **{k: v for k, v in kept.items() if k != "access_matrix"},
            "user_id_note": (
                "the same user: its UserId, access keys, password and MFA devices stay; "
                "policies naming its old ARN as a resource stop matching it"
            ),
        },
        "access_matrix": {"before": rows, "after": rows},
    }
