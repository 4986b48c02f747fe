"""The REST API's clients: who may call, by which credential, and which actions each may run.

Clients are named in the secret ``<app>/<stage>/api-clients`` (setting API_CLIENTS_SECRET), a
JSON object of name -> client:

    {"ticketing": {"token_sha256": "<SHA-256 of its bearer token, hex; a list of two to rotate>",
                   "actions": ["onboard", "move", "offboard"]},
     "hr-robot":  {"principal": "arn:aws:iam::123456789012:role/HrRobot",
                   "actions": ["suspend", "restore"]}}

A bearer token is kept only as its SHA-256 and compared in constant time with every client's.
An IAM principal signs its requests with SigV4 and calls the same routes under ``/iam``, where
API Gateway's IAM authorizer checks the signature and puts the caller's ARN in the request
context; a role's client is every session of that role. Actions are the catalogue's names
(chalicelib/kernel/catalogue.py); a change outside a client's actions is a 403 naming the action. Reads
are open to every client.

The shared token of earlier releases (API_TOKEN_SECRET) still lets its holder in for this
release, as the client ``api-token`` with every action, and each answer to it says that it is
deprecated.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass

from chalicelib.kernel import caller
from chalicelib.kernel.catalogue import ACTIONS
from chalicelib.kernel.errors import ConfigurationError, Forbidden, Unauthorized

logger = logging.getLogger(__name__)

LEGACY = "api-token"
# The routes IAM principals call: every protected route again, under this prefix.
IAM_PREFIX = "/iam"
# Names the service gives its own edges; a configured client may not take one.
RESERVED = frozenset({LEGACY, caller.SLACK, caller.SCIM, caller.SCHEDULE})
DEPRECATION = (
    "the shared API token (secret {secret}) is deprecated and will stop working in the next "
    "release: give this caller a client of its own in {clients}"
)

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
_SHA256 = re.compile(r"^[0-9a-f]{64}$")
# A principal in the secret: an IAM role or user (path allowed); the name is its last segment.
_PRINCIPAL = re.compile(
    r"^arn:aws[a-z-]*:iam::(\d{12}):(role|user)/(?:[\x21-\x7e]+/)?([\w+=,.@-]+)$"
)
# What API Gateway puts in requestContext.identity.userArn for a role's session.
_SESSION = re.compile(r"^arn:aws[a-z-]*:sts::(\d{12}):assumed-role/([\w+=,.@-]+)/[^/]+$")


@dataclass(frozen=True)
class Client:
    name: str
    actions: frozenset[str]
    token_sha256: tuple[str, ...] = ()
    principal: tuple[str, str, str] | None = None  # (account, "role" | "user", name lower-cased)
    deprecated: bool = False

    def allow(self, action: str) -> None:
        """403 unless this client may run ``action``."""
        if action not in self.actions:
            granted = ", ".join(sorted(self.actions)) or "none"
            raise Forbidden(
                f"API client {self.name} may not run {action} (its actions: {granted}); "
                f"add {action} to its actions in the API clients secret"
            )


def sha256(token: str) -> str:
    """What the secret keeps of a bearer token (``printf %s TOKEN | sha256sum``)."""
    return hashlib.sha256(token.encode()).hexdigest()


def parse(raw: str, where: str) -> tuple[Client, ...]:
    """The clients of the secret ``where``; a ConfigurationError names what to fix (never a
    hash). Each client has a token, a principal or both, and names only catalogue actions."""
    try:
        document = json.loads(raw)
    except ValueError:
        raise ConfigurationError(
            f"{where} must be a JSON object of client name -> client"
        ) from None
    if not isinstance(document, dict):
        raise ConfigurationError(f"{where} must be a JSON object of client name -> client")
    return tuple(_client(name, entry, where) for name, entry in document.items())


def _client(name: str, entry: object, where: str) -> Client:
    def wrong(what: str) -> ConfigurationError:
        return ConfigurationError(f"{where}: client {name!r} {what}")

    if not _NAME.match(name):
        raise wrong("must be named with 1 to 64 letters, digits, '.', '_' or '-'")
    if name in RESERVED:
        raise wrong(f"takes a name the service keeps for itself ({', '.join(sorted(RESERVED))})")
    if not isinstance(entry, dict):
        raise wrong('must be an object: {"token_sha256" or "principal", "actions": [...]}')
    unknown = set(entry) - {"token_sha256", "principal", "actions", "description"}
    if unknown:
        raise wrong(f"has unknown fields: {', '.join(sorted(unknown))}")
    actions = entry.get("actions")
    if not isinstance(actions, list) or not all(isinstance(a, str) for a in actions):
        raise wrong("needs actions: a list of action names")
    strange = sorted(set(actions) - set(ACTIONS))
    if strange:
        raise wrong(f"names actions the service does not have: {', '.join(strange)}")
    digest, arn = entry.get("token_sha256"), entry.get("principal")
    if digest is None and arn is None:
        raise wrong("needs token_sha256 (the SHA-256 of its bearer token) or principal")
    # Two while a token is rotated: the old one keeps working until the caller has the new one.
    digests = [digest] if isinstance(digest, str) else digest or []
    if not isinstance(digests, list) or not all(
        isinstance(d, str) and _SHA256.match(d.lower()) for d in digests
    ):
        raise wrong("has a token_sha256 that is not 64 hexadecimal digits (or a list of them)")
    principal = None
    if arn is not None:
        found = _PRINCIPAL.match(arn) if isinstance(arn, str) else None
        if not found:
            raise wrong("has a principal that is not an IAM role or user ARN")
        principal = (found[1], found[2], found[3].lower())
    return Client(name, frozenset(actions), tuple(d.lower() for d in digests), principal)


class Gate:
    """Finds the client of a request: by its bearer token, or by the IAM principal API Gateway
    verified. ``read`` reads a secret by name (cached by the secrets store)."""

    def __init__(self, read: Callable[[str], str], clients_secret: str, token_secret: str) -> None:
        self._read = read
        self._clients_secret = clients_secret
        self._token_secret = token_secret
        self._parsed: tuple[str, tuple[Client, ...]] | None = None
        self._lock = threading.Lock()

    def clients(self) -> tuple[Client, ...]:
        raw = self._read(self._clients_secret)
        with self._lock:
            if self._parsed is None or self._parsed[0] != raw:
                try:
                    self._parsed = (raw, parse(raw, f"secret {self._clients_secret}"))
                except ConfigurationError as wrong:
                    # What is wrong goes to the operator's log, not to a caller not yet known.
                    logger.error("%s", wrong.message)
                    raise ConfigurationError(
                        f"the API clients secret {self._clients_secret} is not valid; "
                        "what to fix was logged"
                    ) from None
            return self._parsed[1]

    def by_bearer(self, authorization: str | None) -> Client:
        scheme, _, token = (authorization or "").partition(" ")
        token = token.strip()
        if scheme.lower() != "bearer" or not token:
            raise Unauthorized("send Authorization: Bearer <token>")
        digest = sha256(token).encode()
        found = None
        for client in self.clients():  # every one compared: the time says nothing of which
            for kept in client.token_sha256:
                if hmac.compare_digest(digest, kept.encode()):
                    found = client
        if found:
            return found
        if self._token_secret and hmac.compare_digest(
            token.encode(), self._read(self._token_secret).encode()
        ):
            logger.warning(self.deprecation())
            return Client(LEGACY, frozenset(ACTIONS), deprecated=True)
        raise Unauthorized("the bearer token is not valid")

    def by_principal(self, user_arn: str | None) -> Client:
        """The client of the caller API Gateway's IAM authorizer verified (its ARN), 403 when
        that principal is no client. Without an ARN the request was not verified (``chalice
        local`` runs no IAM authorizer): refused."""
        if not user_arn:
            raise Unauthorized(
                f"routes under {IAM_PREFIX} take requests signed with AWS Signature Version 4, "
                "verified by API Gateway; this request was not"
            )
        for client in self.clients():
            if client.principal and client.principal == _principal_of(user_arn):
                return client
        raise Forbidden(
            f"{user_arn} is not an API client: name its role or user as a client's principal "
            f"in {self._clients_secret}"
        )

    def deprecation(self) -> str:
        return DEPRECATION.format(secret=self._token_secret, clients=self._clients_secret)


def _principal_of(user_arn: str) -> tuple[str, str, str] | None:
    """(account, kind, name) of the caller: a role's session counts as its role."""
    session = _SESSION.match(user_arn)
    if session:
        return session[1], "role", session[2].lower()
    user = _PRINCIPAL.match(user_arn)
    if user and user[2] == "user":
        return user[1], "user", user[3].lower()
    return None
