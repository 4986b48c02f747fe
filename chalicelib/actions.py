"""The catalogue: every change the service makes, declared once.

An action's name is its domain method (``Lifecycle.<name>(username, request, snap=None)``), its
metric and its name in the audit trail. REST, Slack, the queue worker, the schedules, the events,
the replies and the alarms all read this table; nothing keeps a list of actions of its own.
Adding an action: an entry here, its method in ``domain/lifecycle.py`` (and its reads in
``READS`` there), its request model in ``api/schemas.py``, its tests.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Action:
    name: str
    model: str  # its request model, by name in chalicelib.api.schemas (pydantic loads on use)
    event: str  # the EventBridge detail type of its completion
    done: str  # "<user> onboarded": replies and notices
    doing: str  # "Onboarding <user>": the acknowledgement while it runs
    creates: bool = False  # REST answers 201 Created
    dry_run: bool = True  # a caller may ask for its plan instead
    # (arguments, what it does) when people may ask for it with the Slack command
    slack: tuple[str, str] | None = None

    @property
    def status(self) -> int:
        return 201 if self.creates else 200

    def request_model(self) -> Any:
        from chalicelib.api import schemas

        return getattr(schemas, self.model)


CATALOGUE = (
    Action(
        "onboard",
        "OnboardRequest",
        "user.onboarded",
        "onboarded",
        "Onboarding",
        creates=True,
        slack=(
            "<user> <group>... [email]",
            "create the user in these groups; the temporary password comes only to you",
        ),
    ),
    Action(
        "move",
        "MoveRequest",
        "user.moved",
        "moved",
        "Moving",
        slack=("<user> <group>...", "set the user's groups to exactly these"),
    ),
    Action(
        "suspend",
        "SuspendRequest",
        "user.suspended",
        "suspended",
        "Suspending",
        slack=(
            "<user> [until YYYY-MM-DD] [reason...]",
            "take groups, keys and console away, remembered for a restore",
        ),
    ),
    Action(
        "restore",
        "RestoreRequest",
        "user.restored",
        "restored",
        "Restoring",
        slack=(
            "<user>",
            "give back what the suspension took; a new temporary password if the "
            "user had console access",
        ),
    ),
    Action(
        "offboard",
        "OffboardRequest",
        "user.offboarded",
        "offboarded",
        "Offboarding",
        slack=("<user>", "delete the user and everything it owns (asks you to confirm)"),
    ),
    Action(
        "grant",
        "GrantRequest",
        "user.granted",
        "granted access",
        "Granting access to",
        creates=True,
        slack=("<user> <group> <hours> <reason...>", "add the user to a group for some hours"),
    ),
    # An identity provider's attributes of a user (SCIM externalId, emails), kept as its tags.
    Action(
        "set_profile",
        "ProfileRequest",
        "user.profile_set",
        "had their profile updated",
        "Updating the profile of",
    ),
    # The schedules' own changes.
    Action(
        "expire_grant",
        "ExpireGrantRequest",
        "grant.expired",
        "lost an expired grant",
        "Ending a grant of",
        dry_run=False,
    ),
    Action(
        "revoke_sessions",
        "RevokeSessionsRequest",
        "user.sessions_revoked",
        "had their sessions revoked",
        "Revoking the sessions of",
        dry_run=False,
    ),
    # Credential hygiene's changes (chalicelib/service/hygiene.py), one credential each.
    Action(
        "deactivate_key",
        "HygieneRequest",
        "credential.key_deactivated",
        "had an access key deactivated",
        "Deactivating an access key of",
    ),
    Action(
        "remove_console",
        "HygieneRequest",
        "credential.console_removed",
        "had their console login removed",
        "Removing the console login of",
    ),
    Action(
        "delete_key",
        "HygieneRequest",
        "credential.key_deleted",
        "had a deactivated access key deleted",
        "Deleting a deactivated access key of",
    ),
)
ACTIONS: dict[str, Action] = {action.name: action for action in CATALOGUE}
# What people may ask for with the Slack command, in the order its help lists them.
SLACK_ACTIONS: dict[str, Action] = {a.name: a for a in CATALOGUE if a.slack is not None}
