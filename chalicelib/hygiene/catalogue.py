"""Credential hygiene's changes in the catalogue (chalicelib/hygiene/service.py), one credential each."""

from chalicelib.kernel.catalogue import Action, declare

declare(
    "chalicelib.hygiene.commands",
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
