"""Access reviews in the catalogue: run by the reviews service (``runs="reviews"``)."""

from chalicelib.kernel.catalogue import Action, declare

declare(
    "chalicelib.reviews.commands",
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
