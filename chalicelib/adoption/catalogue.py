"""Adoption's changes in the catalogue (chalicelib/adoption/service.py): bring an existing IAM
user under management without changing what they can do, and let one go again."""

from chalicelib.kernel.catalogue import Action, declare

declare(
    "chalicelib.adoption.commands",
    Action(
        "adopt",
        "AdoptRequest",
        "user.adopted",
        "adopted",
        "Adopting",
    ),
    Action(
        "release",
        "ReleaseRequest",
        "user.released",
        "released from management",
        "Releasing",
    ),
)
