"""The catalogue: every change the service makes, declared once.

An action's name is its domain method (``Lifecycle.<name>(username, request, snap=None)``), its
metric and its name in the audit trail. REST, Slack, the queue worker, the schedules, the events,
the replies and the alarms all read this table; nothing keeps a list of actions of its own.
Adding an action: an entry here, its method in ``lifecycle/operations.py`` (and its reads in
``READS`` there), its request model in ``edges/schemas.py``, its tests.

Requests and approvals (``runs="approvals"``) are run by ``approvals/service.py`` instead of the
change runner: their audit events carry the request's id as ticket, so that one ticket tells a
request's whole story, while the grant an approval leads to goes through the runner under that
same id. Their domain rules are ``approvals/rules.py``.

Access reviews (``runs="reviews"``) are run by ``reviews/service.py``: their audit events carry
the campaign's id as ticket; a revoke is carried out through the runner as a ``move`` out of the
group (or an ``end_grant``) under the ticket ``review:<campaign>:<item>``. Their domain rules are
``reviews/rules.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Action:
    name: str
    model: str  # its request model, by name in chalicelib.edges.schemas (pydantic loads on use)
    event: str  # the EventBridge detail type of its completion
    done: str  # "<user> onboarded": replies and notices
    doing: str  # "Onboarding <user>": the acknowledgement while it runs
    creates: bool = False  # REST answers 201 Created
    dry_run: bool = True  # a caller may ask for its plan instead
    # (arguments, what it does) when people may ask for it with the Slack command
    slack: tuple[str, str] | None = None
    verb: str = ""  # its Slack verb, when not its name
    # "lifecycle": the change runner; "approvals": the approvals service; "reviews": the reviews
    runs: str = "lifecycle"
    # Open to every linked member for their own user (not only to the listed operators).
    self_service: bool = False

    @property
    def slack_verb(self) -> str:
        return self.verb or self.name

    @property
    def status(self) -> int:
        return 201 if self.creates else 200

    def request_model(self) -> Any:
        from chalicelib.edges import schemas

        return getattr(schemas, self.model)


CATALOGUE: tuple[Action, ...] = (
    Action(
        "onboard",
        "OnboardRequest",
        "user.onboarded",
        "onboarded",
        "Onboarding",
        creates=True,
        slack=(
            "<user> <group>... [@member] [email]",
            "create the user in these groups (as that Slack member, for their own requests); "
            "the temporary password comes only to you",
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
    # Requests and approvals: a person asks for their own linked user, approvers decide.
    Action(
        "request",
        "AccessRequest",
        "access.requested",
        "asked for access",
        "Asking for access for",
        creates=True,
        dry_run=False,
        slack=(
            "<group> <hours> <reason...> [--break-glass]",
            "ask for time-bound access for yourself; the group's approvers decide in Slack",
        ),
        runs="approvals",
        self_service=True,
    ),
    Action(
        "decide",
        "DecisionRequest",
        "access.decided",
        "had a request decided",
        "Deciding a request of",
        dry_run=False,
        runs="approvals",
    ),
    Action(
        "end_grant",
        "ExpireGrantRequest",
        "grant.ended",
        "ended their access",
        "Ending the access of",
        dry_run=False,
        slack=("<group>", "end your own time-bound access now, or cancel your pending request"),
        verb="done",
        self_service=True,
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
    # Credential hygiene's changes (chalicelib/hygiene/service.py), one credential each.
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
    Action(
        "expire_request",
        "TicketRequest",
        "access.request_expired",
        "had a request expire",
        "Expiring a request of",
        dry_run=False,
        runs="approvals",
    ),
)
# Access reviews (chalicelib/reviews/service.py).
CATALOGUE += (
    Action(
        "review",
        "ReviewRequest",
        "review.started",
        "had an access review started",
        "Starting an access review of",
        creates=True,
        dry_run=False,
        slack=(
            "start [group...] due YYYY-MM-DD",
            "start an access review of these groups (all when none is named); each item's "
            "reviewer is asked in Slack",
        ),
        runs="reviews",
    ),
    Action(
        "review_decide",
        "ReviewDecisionRequest",
        "review.decided",
        "had a review item decided",
        "Deciding a review item of",
        dry_run=False,
        runs="reviews",
    ),
    Action(
        "review_close",
        "ReviewCloseRequest",
        "review.closed",
        "had an access review closed",
        "Closing an access review of",
        dry_run=False,
        runs="reviews",
    ),
)
ACTIONS: dict[str, Action] = {action.name: action for action in CATALOGUE}
# What people may ask for with the Slack command, in the order its help lists them.
SLACK_ACTIONS: dict[str, Action] = {a.slack_verb: a for a in CATALOGUE if a.slack is not None}
