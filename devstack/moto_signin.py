"""AWS Sign-In's sessions (console and ``aws login``), which moto 5.2.5 does not have at all.

What AWS documents (the Sign-In API reference, as botocore's ``signin`` model carries it):

- ``ListSessions`` lists an identity's sessions (``principalArn``; the caller's own when omitted;
  ``arn:aws:iam::<account>:*`` for the whole account), filtered by ``status``, ``clientId``,
  ``issuedAfter``/``issuedBefore`` (AND), paged with ``maxResults`` (1-100) and ``nextToken``.
- ``GetSession`` answers one session of that identity; another identity's is "not found".
- ``BatchRevokeSessions`` revokes up to five sessions of that identity; revoking a revoked one
  succeeds; failures for single sessions are listed in ``errors`` and do not fail the request.
  "A revoked session can no longer be refreshed."
- ``CreateOAuth2Token`` (unsigned) exchanges a refresh token for fresh credentials; it refuses
  with ``AccessDeniedException`` and ``error`` one of TOKEN_EXPIRED, AUTHCODE_EXPIRED,
  USER_CREDENTIALS_CHANGED, INSUFFICIENT_PERMISSIONS. A revoked session's refresh is answered
  TOKEN_EXPIRED, which botocore's ``aws login`` provider turns into "reauthenticate".
- A principal ARN names a user or role without its path (the model's pattern
  ``iam::[0-9]{12}:user/[a-zA-Z0-9_+=,.@-]{1,64}``); any other value is a ValidationException.

The service authorization reference for AWS Sign-In maps each operation to the action of its
name (``signin:ListSessions``, ``signin:BatchRevokeSessions``, ``signin:GetSession``); with moto's
authorization enforced, each signed request is authorized against the principal ARN it names (the
caller's own when omitted). ``CreateOAuth2Token`` is unsigned (``smithy.api#noAuth``).

Sessions are kept per account, in a moto backend: a moto reset drops them. A session is issued
(there is no console or browser here) in the process running moto with ``issue_session(account,
principal_arn)``, or on the running server with ``POST /moto-api/signin/sessions`` and
``{"principal_arn": ...}`` or ``{"username": ..., "account_id": ...}``.

botocore ignores a configured endpoint for Sign-In's session operations: a process that calls
the local stack's server needs ``AWS_DATA_PATH`` set to ``endpoint_rules(directory)``. In process,
moto answers them at AWS's own address.
"""

from __future__ import annotations

import base64
import json
import re
import secrets
import threading
import time
import uuid
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import moto.backend_index as backend_index
import moto.backends as moto_backends
from moto.core import DEFAULT_ACCOUNT_ID
from moto.core.base_backend import BackendDict, BaseBackend
from moto.core.exceptions import HTTPException
from moto.core.responses import BaseResponse
from moto.iam.models import iam_backends
from moto.moto_api._internal import urls as moto_api_urls
from moto.moto_server.werkzeug_app import DomainDispatcherApplication
from moto.utilities.utils import PARTITION_NAMES

SERVICE = "signin"
ENDPOINT = "/moto-api/signin/sessions"
# The control plane (signin.<region>.api.aws), the OAuth endpoint (<region>.signin.aws.amazon.com,
# <region>.oauth.signin.aws), and the name the moto server routes a signed request to.
URL_BASES = (
    r"https?://signin\.(.+)\.api\.aws",
    r"https?://(.+)\.signin\.aws\.amazon\.com",
    r"https?://(.+)\.oauth\.signin\.aws",
    r"https?://signin\.(.+)\.amazonaws\.com",
)
# The signin model's PrincipalArn and PrincipalArnFilter patterns, and its ClientId pattern.
PRINCIPAL = re.compile(
    r"arn:aws:((iam::[0-9]{12}:role/[a-zA-Z0-9_+=,.@-]{1,64})"
    r"|(iam::[0-9]{12}:user/[a-zA-Z0-9_+=,.@-]{1,64})"
    r"|(sts::[0-9]{12}:federated-user/[a-zA-Z0-9_+=,.@-]{2,193})|(iam::[0-9]{12}:root))"
)
ACCOUNT_WIDE = re.compile(r"arn:aws:iam::([0-9]{12}):\*")
CLIENT_IDS = {
    "CLI": "arn:aws:signin:::devtools/same-device",
    "MCP": "arn:aws:signin:::devtools/cross-device",
}
MAX_BATCH = 5
DEFAULT_PAGE = 20
SESSION_SECONDS = 12 * 3600
TOKEN_SECONDS = 900  # the model's ExpiresIn maximum
_ACTIONS = {
    "/list-sessions": "ListSessions",
    "/get-session": "GetSession",
    "/batch-revoke-sessions": "BatchRevokeSessions",
    "/v1/token": "CreateOAuth2Token",
}
_UNSIGNED = {"CreateOAuth2Token"}
_lock = threading.Lock()


class SigninError(Exception):
    """An error answer of the signin model: its shape name, HTTP status and OAuth2 error code."""

    def __init__(self, kind: str, status: int, error: str, message: str) -> None:
        super().__init__(message)
        self.kind, self.status, self.error, self.message = kind, status, error, message


def _invalid(message: str) -> SigninError:
    return SigninError("ValidationException", 400, "INVALID_REQUEST", message)


def _not_found(arn: str) -> SigninError:
    return SigninError("ResourceNotFoundException", 404, "RESOURCE_NOT_FOUND", f"{arn} not found")


def principal_of(arn: str) -> str:
    """The ARN Sign-In names an IAM user by: without the user's path."""
    head, sep, rest = arn.partition(":user/")
    return f"{head}{sep}{rest.rsplit('/', 1)[-1]}" if sep else arn


@dataclass
class Session:
    session_arn: str
    principal_arn: str
    client_type: str
    issued_at: int
    refresh_token: str = field(repr=False)
    status: str = "ACTIVE"

    def summary(self) -> dict[str, Any]:
        return {
            "sessionArn": self.session_arn,
            "principalArn": self.principal_arn,
            "status": self.status,
            "issuedAt": self.issued_at,
            "expiresAt": self.issued_at + SESSION_SECONDS,
            "clientId": CLIENT_IDS[self.client_type],
            "clientType": self.client_type,
        }


class SigninBackend(BaseBackend):
    """One account's sessions (one backend per account and partition, as moto keeps IAM's)."""

    def __init__(self, region_name: str, account_id: str) -> None:
        super().__init__(region_name, account_id)
        self.sessions: dict[str, Session] = {}
        self.lock = threading.Lock()

    @property
    def _url_module(self) -> Any:
        # moto finds a backend's URLs in the module beside it; these are the Sign-In API's paths.
        paths = {"{0}" + path + "$": SigninResponse.dispatch for path in _ACTIONS}
        return SimpleNamespace(url_bases=list(URL_BASES), url_paths=paths)

    def issue(self, principal_arn: str, client_type: str = "CLI") -> Session:
        principal = principal_of(principal_arn)
        if not PRINCIPAL.fullmatch(principal):
            raise _invalid(f"principalArn {principal_arn!r} is not a Sign-In principal ARN")
        if client_type not in CLIENT_IDS:
            raise _invalid(f"clientType must be one of {sorted(CLIENT_IDS)}")
        session = Session(
            session_arn=f"arn:aws:signin::{self.account_id}:session/{uuid.uuid4()}",
            principal_arn=principal,
            client_type=client_type,
            issued_at=int(time.time()),
            refresh_token=secrets.token_urlsafe(48),
        )
        with self.lock:
            self.sessions[session.session_arn] = session
        return session

    def owned(self, principal: str) -> list[Session]:
        everyone = ACCOUNT_WIDE.fullmatch(principal)
        with self.lock:
            return [
                s
                for s in self.sessions.values()
                if (everyone and everyone.group(1) == self.account_id)
                or s.principal_arn == principal
            ]

    def list_sessions(self, principal: str, params: dict[str, Any]) -> dict[str, Any]:
        size = params.get("maxResults", DEFAULT_PAGE)
        if not isinstance(size, int) or not 1 <= size <= 100:
            raise _invalid("maxResults must be between 1 and 100")
        after, before = params.get("issuedAfter"), params.get("issuedBefore")
        found = [
            s.summary()
            for s in self.owned(principal)
            if params.get("status") in (None, s.status)
            and params.get("clientId") in (None, CLIENT_IDS[s.client_type])
            and (after is None or s.issued_at >= after)
            and (before is None or s.issued_at < before)
        ]
        start = _offset(params.get("nextToken"))
        page: dict[str, Any] = {"items": found[start : start + size]}
        if start + size < len(found):
            page["nextToken"] = base64.urlsafe_b64encode(str(start + size).encode()).decode()
        return page

    def get_session(self, principal: str, arn: str) -> Session:
        session = {s.session_arn: s for s in self.owned(principal)}.get(arn)
        if session is None:
            raise _not_found(arn)
        return session

    def revoke(self, principal: str, arns: list[str]) -> dict[str, list[dict[str, str]]]:
        if not 1 <= len(arns) <= MAX_BATCH:
            raise _invalid(
                f"1 validation error detected: Value at 'sessionArns' failed to satisfy "
                f"constraint: Member must have length less than or equal to {MAX_BATCH}"
            )
        mine = {s.session_arn: s for s in self.owned(principal)}
        answer: dict[str, list[dict[str, str]]] = {"revokedSessions": [], "errors": []}
        for arn in arns:
            session = mine.get(arn)
            if session is None:
                answer["errors"].append(
                    {"sessionArn": arn, "code": "RESOURCE_NOT_FOUND", "message": "not found"}
                )
                continue
            session.status = "REVOKED"  # already revoked: succeeds again
            answer["revokedSessions"].append({"sessionArn": arn})
        return answer

    def refresh(self, params: dict[str, Any]) -> dict[str, Any]:
        if params.get("clientId") not in CLIENT_IDS.values():
            raise _invalid("clientId is not a Sign-In developer tools client")
        if params.get("grantType") != "refresh_token":
            # Only the refresh of an issued session is emulated: there is no browser sign-in.
            raise SigninError(
                "ValidationException", 400, "unsupported_grant_type", "grant not supported"
            )
        with self.lock:
            found = [
                s for s in self.sessions.values() if s.refresh_token == params.get("refreshToken")
            ]
        if not found or found[0].status != "ACTIVE":
            raise SigninError(
                "AccessDeniedException",
                403,
                "TOKEN_EXPIRED",
                "The session has expired or was revoked",
            )
        return {
            "accessToken": {
                "accessKeyId": "ASIA" + secrets.token_hex(8).upper(),
                "secretAccessKey": secrets.token_urlsafe(30),
                "sessionToken": secrets.token_urlsafe(64),
            },
            "tokenType": "aws_sigv4",
            "expiresIn": TOKEN_SECONDS,
            "refreshToken": found[0].refresh_token,  # refresh is idempotent while valid
        }


def _offset(token: str | None) -> int:
    if not token:
        return 0
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode())
    except ValueError as error:
        raise _invalid("nextToken is not valid") from error


signin_backends: BackendDict[SigninBackend] = BackendDict(
    SigninBackend, SERVICE, use_boto3_regions=False, additional_regions=PARTITION_NAMES
)


class SigninResponse(BaseResponse):
    """The rest-json API: JSON bodies, errors named by ``x-amzn-errortype``."""

    def __init__(self) -> None:
        super().__init__(service_name=SERVICE)

    @property
    def backend(self) -> SigninBackend:
        return signin_backends[self.current_account][self.partition]

    def _get_action(self) -> str:
        return _ACTIONS.get(self.path, "")

    def _params(self) -> dict[str, Any]:
        try:
            params = json.loads(self.body or "{}")
        except ValueError as error:
            raise _invalid("the body is not JSON") from error
        if not isinstance(params, dict):
            raise _invalid("the body is not a JSON object")
        return params

    def _caller(self) -> str:
        """The caller's own principal ARN, as Sign-In names it."""
        from moto.iam.access_control import create_access_key

        try:
            key = create_access_key(
                self.current_account, self.partition, self.access_key, self.headers
            )
            return principal_of(key.arn)
        except Exception:  # unknown keys (moto's defaults) act as the account's root
            return f"arn:aws:iam::{self.current_account}:root"

    def _principal(self, params: dict[str, Any]) -> str:
        principal = params.get("principalArn")
        if principal is None:
            return self._caller()
        if not (PRINCIPAL.fullmatch(principal) or ACCOUNT_WIDE.fullmatch(principal)):
            raise _invalid(
                "1 validation error detected: Value at 'principalArn' failed to satisfy "
                "constraint: Member must satisfy regular expression pattern"
            )
        return principal

    def _determine_resource(self) -> str:
        """A session request is authorized against the identity whose sessions it names: an
        IAM user by its own ARN, with its path, as IAM's ``user`` resource type names it."""
        try:
            principal = self._principal(self._params())
        except SigninError:
            return "*"  # the action itself reports the malformed request
        head, sep, name = principal.partition(":user/")
        if sep and head == f"arn:aws:iam::{self.current_account}":
            try:
                return str(iam_backends[self.current_account][self.partition].get_user(name).arn)
            except Exception:  # no such user: authorized by the ARN as named
                pass
        return principal

    def _authenticate_and_authorize_normal_action(self, resource: str = "*") -> None:
        if self._get_action() in _UNSIGNED:
            return
        try:
            super()._authenticate_and_authorize_normal_action(resource)
        except HTTPException as refused:
            kind = "AccessDeniedException"
            message = getattr(refused, "message", "") or str(refused)
            if getattr(refused, "error_type", "") == "AccessDenied":
                message = f"{message} on resource: {resource}"
            self.response_headers["x-amzn-errortype"] = kind
            refused.description = json.dumps(
                {"error": "INSUFFICIENT_PERMISSIONS", "message": message}
            )
            raise

    def _answer(self, work: Any) -> tuple[str, dict[str, Any]]:
        try:
            body = work()
        except SigninError as error:
            headers = {"status": error.status, "x-amzn-errortype": error.kind}
            body = {"error": error.error, "message": error.message}
            return json.dumps(body), {**headers, "Content-Type": "application/json"}
        return json.dumps(body), {"status": 200, "Content-Type": "application/json"}

    def list_sessions(self) -> tuple[str, dict[str, Any]]:
        return self._answer(
            lambda: self.backend.list_sessions(self._principal(self._params()), self._params())
        )

    def get_session(self) -> tuple[str, dict[str, Any]]:
        def work() -> dict[str, Any]:
            params = self._params()
            if not params.get("sessionArn"):
                raise _invalid("sessionArn is required")
            session = self.backend.get_session(self._principal(params), params["sessionArn"])
            return {**session.summary(), "issuedInRegion": "us-east-1"}

        return self._answer(work)

    def batch_revoke_sessions(self) -> tuple[str, dict[str, Any]]:
        def work() -> dict[str, Any]:
            params = self._params()
            return self.backend.revoke(
                self._principal(params), list(params.get("sessionArns") or [])
            )

        return self._answer(work)

    def create_o_auth2_token(self) -> tuple[str, dict[str, Any]]:
        return self._answer(lambda: self.backend.refresh(self._params()))


def issue_session(account_id: str, principal_arn: str, client_type: str = "CLI") -> dict[str, str]:
    """A new active session of ``principal_arn`` (a user's ARN may carry its path): its ARN and
    the refresh token ``CreateOAuth2Token`` takes."""
    session = signin_backends[account_id]["aws"].issue(principal_arn, client_type)
    return {"sessionArn": session.session_arn, "refreshToken": session.refresh_token}


def endpoint(request: Any, full_url: str, headers: Any) -> tuple[int, dict, str]:
    """``POST /moto-api/signin/sessions``: issue a session for a principal or an IAM user."""
    try:
        asked = json.loads(request.data or b"{}")
        account = asked.get("account_id", DEFAULT_ACCOUNT_ID)
        principal = asked.get("principal_arn")
        if principal is None:
            user = iam_backends[account]["aws"].get_user(asked["username"])
            principal = f"arn:aws:iam::{account}:user/{user.name}"
        issued = issue_session(account, principal, asked.get("client_type", "CLI"))
    except Exception as error:  # a person's typing: say what was wrong
        return 400, {"Content-Type": "application/json"}, json.dumps({"error": str(error)})
    return 200, {"Content-Type": "application/json"}, json.dumps(issued)


def endpoint_rules(directory: str | Path) -> str:
    """A botocore data directory, for ``AWS_DATA_PATH``, in which ``signin`` honours a configured
    endpoint (``AWS_ENDPOINT_URL``, ``endpoint_url``) for every operation; returns its path.

    botocore's own rules for signin send ListSessions, GetSession and BatchRevokeSessions (its
    "control plane") to ``https://signin.<region>.api.aws`` whatever endpoint is configured, so
    a client of the local stack would leave the machine. Only processes that talk to the local
    stack are given this directory; the rules are otherwise botocore's, rewritten per version.
    """
    from botocore.loaders import Loader

    # botocore's own data only, never a directory this function wrote.
    loader = Loader(
        extra_search_paths=[Loader.BUILTIN_DATA_PATH], include_default_search_paths=False
    )
    version = loader.determine_latest_version(SERVICE, "service-2")
    rules = loader.load_service_model(SERVICE, "endpoint-rule-set-1", version)
    configured = {"fn": "isSet", "argv": [{"ref": "Endpoint"}]}
    rules["rules"].insert(
        0,
        {
            "conditions": [configured],
            "endpoint": {"url": {"ref": "Endpoint"}, "properties": {}, "headers": {}},
            "type": "endpoint",
        },
    )
    target = Path(directory) / SERVICE / version / "endpoint-rule-set-1.json"
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(rules))
    return str(directory)


def _get_backend(name: str) -> Any:
    return signin_backends if name == SERVICE else _original["get_backend"](name)


def _unsigned_path(path_info: str) -> tuple[str | None, str | None]:
    # CreateOAuth2Token carries no signature to route by: its path names the service.
    if path_info.rstrip("/") == "/v1/token":
        return SERVICE, "us-east-1"
    return _original["unsigned_path"](path_info)


_original: dict[str, Any] = {}


def apply() -> None:
    """Idempotent: make moto (in process and its server) answer the ``signin`` service."""
    with _lock:
        if _original:
            return
        _original["get_backend"] = moto_backends.get_backend
        _original["unsigned_path"] = DomainDispatcherApplication.get_service_from_unsigned_path
        moto_backends.get_backend = _get_backend
        DomainDispatcherApplication.get_service_from_unsigned_path = staticmethod(_unsigned_path)  # type: ignore[method-assign]
        backend_index.backend_url_patterns.extend((SERVICE, re.compile(b)) for b in URL_BASES)
        moto_api_urls.url_paths.setdefault("{0}" + ENDPOINT, endpoint)
