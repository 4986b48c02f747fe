"""The single factory of AWS sessions and clients: lazy, cached, adaptive retry mode.

botocore is imported on first use, not at import time, so a cold start that serves /health or
rejects a bad token never pays for it. The default session is botocore's own: boto3's session
adds S3 transfer methods and resources, neither of which the app uses, and importing boto3 costs
a cold start about 25 ms (s3transfer, multiprocessing). Any session with ``client()`` (boto3's,
the tests') may be given instead.
"""

from __future__ import annotations

import threading
import time
from typing import Any

from chalicelib.aws import call_hooks

# IAM throttles per account (about 10 requests per second; no published rate) and a burst of
# offboardings sends far more. Adaptive mode adds a client-side rate limiter to standard retries:
# after the first Throttling, the client (one per account and service, shared by the container's
# threads) sends at the rate the account takes rather than retrying blindly. 8 retries (9
# attempts): with several containers at once, the rare call throttled 5 times still succeeds,
# and the longest backoff (1+2+4+8+16+20+20+20 s) stays within the Lambda timeout of 120 s.
RETRIES = {"mode": "adaptive", "max_attempts": 8}
# Refresh a child account's credentials this long before they expire.
_REFRESH_MARGIN = 300


def _config() -> Any:
    from botocore.config import Config

    return Config(retries=dict(RETRIES), max_pool_connections=32)


class AwsClients:
    """Clients for the root account (the app's own credentials) and, by role, for child accounts."""

    def __init__(self, region: str, session: Any = None) -> None:
        self.region = region
        self._session = session
        self._clients: dict[tuple[str, str], Any] = {}
        self._children: dict[tuple[str, str], tuple[Any, float]] = {}
        self._child_clients: dict[tuple[str, str], tuple[Any, Any]] = {}
        self._lock = threading.Lock()

    @property
    def session(self) -> Any:
        """One session for every client: botocore loads each service model once per session."""
        if self._session is None:
            import botocore.session

            self._session = botocore.session.get_session()
        return self._session

    def _client(self, service: str, **credentials: Any) -> Any:
        session = self.session
        make = getattr(session, "client", None) or session.create_client  # boto3's or botocore's
        return make(service, region_name=self.region, config=_config(), **credentials)

    def root(self, service: str) -> Any:
        """A client of the root account; clients are thread-safe and reused."""
        key = ("root", service)
        with self._lock:
            if key not in self._clients:
                self._clients[key] = call_hooks.watch(self._client(service))
            return self._clients[key]

    def child(self, account_id: str, role_name: str, service: str, session_name: str) -> Any:
        """A client in a child account, through ``sts:AssumeRole`` into ``role_name`` there;
        reused while the role's credentials last (across invocations of a warm container)."""
        credentials = self._child_credentials(account_id, role_name, session_name)
        key = (f"{account_id}/{role_name}", service)
        with self._lock:
            made = self._child_clients.get(key)
            if made is None or made[0] is not credentials:  # new credentials: a new client
                # Made from the root session with the role's credentials, so that the service
                # model is loaded once, not once per account: a hundred accounts cost a
                # hundred small clients, not a hundred sessions.
                made = (
                    credentials,
                    call_hooks.watch(
                        self._client(
                            service,
                            aws_access_key_id=credentials["AccessKeyId"],
                            aws_secret_access_key=credentials["SecretAccessKey"],
                            aws_session_token=credentials["SessionToken"],
                        ),
                        account_id,
                    ),
                )
                self._child_clients[key] = made
            return made[1]

    def _child_credentials(self, account_id: str, role_name: str, session_name: str) -> dict:
        key = (account_id, role_name)
        with self._lock:
            cached = self._children.get(key)
            if cached and cached[1] - _REFRESH_MARGIN > time.time():
                return cached[0]
        credentials = self.root("sts").assume_role(
            RoleArn=f"arn:aws:iam::{account_id}:role/{role_name}",
            RoleSessionName=session_name,
        )["Credentials"]
        with self._lock:
            self._children[key] = (credentials, credentials["Expiration"].timestamp())
        return credentials
