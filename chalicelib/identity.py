"""One person, one name.

IAM user names are unique case-insensitively ("Pete" and "pete" are one user, and CreateUser of
one when the other exists fails), while ``${aws:username}`` and session names carry the name as
IAM stores it. So every key the app keeps (records, leases, idempotency, audit, grants) is derived
from :func:`key`, and what the app writes into policies uses the stored spelling read from IAM.
"""

from __future__ import annotations


def key(username: str) -> str:
    """The canonical form of a user name. Names hold only ASCII (``[\\w+=,.@-]``), so lower()
    is exactly IAM's comparison."""
    return username.lower()


def same(first: str, second: str) -> bool:
    return key(first) == key(second)
