"""One person, one name.

IAM user names are unique case-insensitively ("Pete" and "pete" are one user, and CreateUser of
one when the other exists fails), while ``${aws:username}`` and session names carry the name as
IAM stores it. So every key the app keeps (records, leases, idempotency, audit, grants) is derived
from :func:`key`, and what the app writes into policies uses the stored spelling read from IAM.

A name is not a person: a leaver's name may be given to a new hire. What the app keeps for a
person also carries their IAM UserId (:data:`PERSON`), and is acted on only for the user who
holds that UserId now (:func:`same_person`).
"""

from __future__ import annotations

import re

from chalicelib.kernel.errors import BadRequest

# The attribute that binds what is kept for a person (their record, Slack link, requests) to
# them: IAM's UserId, which a later user of the same name never shares.
PERSON = "user_id"

# IAM's rule for user names; \w is ASCII there (re.ASCII). Kept apart from the request models so
# that checking a name does not load pydantic.
USERNAME_RULE = r"^[\w+=,.@-]{1,64}$"
_USERNAME = re.compile(USERNAME_RULE, re.ASCII)


def key(username: str) -> str:
    """The canonical form of a user name. Names hold only ASCII (``[\\w+=,.@-]``), so lower()
    is exactly IAM's comparison."""
    return username.lower()


def same(first: str, second: str) -> bool:
    return key(first) == key(second)


def same_person(kept: dict | None, live_id: str | None) -> bool:
    """Whether ``kept`` (a record, a link, a request) is of the person IAM holds under the name
    now, whose UserId is ``live_id``. What was kept before ids were (no ``user_id``), or while
    nobody holds the name (no ``live_id``), cannot be told apart and is taken as theirs."""
    kept_id = (kept or {}).get(PERSON)
    return not kept_id or not live_id or kept_id == live_id


def check_username(username: str) -> str:
    if not _USERNAME.fullmatch(username or ""):  # match() would let "pete\n" through
        raise BadRequest(
            f"username {username!r} is not valid: use 1 to 64 letters, digits or +=,.@_- characters"
        )
    return username
