"""The lifecycle's actions in the catalogue: the changes of a person's IAM user, run by the
change runner (REST, Slack, SCIM, the schedules)."""

from chalicelib.kernel.catalogue import Action, declare

declare(
    "chalicelib.lifecycle.commands",
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
    # One's own grant made longer, as its group's approval policy allows (the approvals run
    # it: they know the policy).
    Action(
        "extend",
        "ExtendGrantRequest",
        "grant.extended",
        "had their access extended",
        "Extending the access of",
        slack=(
            "<group> [hours]",
            "make your own time-bound access longer, as the group's policy allows",
        ),
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
    # The ticketing system's word that a ticket closed: the grants made under it end.
    Action(
        "close_ticket",
        "CloseTicketRequest",
        "grant.ticket_closed",
        "lost the grants of a closed ticket",
        "Ending the grants of a closed ticket of",
    ),
    Action(
        "revoke_sessions",
        "RevokeSessionsRequest",
        "user.sessions_revoked",
        "had their sessions revoked",
        "Revoking the sessions of",
        dry_run=False,
    ),
)
