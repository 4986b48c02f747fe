"""Requests for access in the catalogue: run by the approvals service (``runs="approvals"``)."""

from chalicelib.kernel.catalogue import Action, declare

declare(
    "chalicelib.approvals.commands",
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
            "<group> <hours> <reason...> [--break-glass] [--for @member]",
            "ask for time-bound access for yourself (or, a requester the group names, for "
            "@member); the group's approvers decide in Slack",
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
        "expire_request",
        "ExpireRequest",
        "access.request_expired",
        "had a request expire",
        "Expiring a request of",
        dry_run=False,
        runs="approvals",
    ),
)
