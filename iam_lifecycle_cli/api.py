"""Which deployment the command talks to, with which credential, and one call to it.

The deployment: ``--url`` or ``IAM_LIFECYCLE_URL``; without either, the local stack that
``make run`` announces in its facts file (``STACK_FILE``, else ``.local/stack.json`` in this
folder or one above it), with that stack's token.

The credential is an API client's (docs/rest-api.md#authentication): a bearer token, from
``IAM_LIFECYCLE_TOKEN_FILE`` (or ``--token-file``) or ``IAM_LIFECYCLE_TOKEN``, never from the
command line, where other users see it; or, with ``--auth sigv4``, the AWS credentials of a
profile (``--profile``, ``AWS_PROFILE``), the routes then called under ``/iam``."""

from __future__ import annotations

import json
import os
import random
import socket
import time
import urllib.error
import urllib.request
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlencode, urlsplit

NOT_RUNNING = "the local stack is not running: start `make run`"
IAM_PREFIX = "/iam"


class CommandError(Exception):
    """What the operator must fix before anything is sent (exit code 3)."""


class Unreachable(CommandError):
    """The deployment could not be reached."""


class ApiError(Exception):
    """An answer of the API that is not a success: its status, ``Code`` and ``Message``."""

    def __init__(self, status: int, code: str, message: str, body: Any = None) -> None:
        super().__init__(f"{status} {code}: {message}")
        self.status, self.code, self.message = status, code, message
        self.body = body if body is not None else {"Code": code, "Message": message}


@dataclass
class Answer:
    status: int
    body: Any  # JSON, or the text of a text answer
    headers: Mapping[str, str] = field(default_factory=dict)
    text: bool = False


@dataclass(frozen=True)
class Target:
    url: str
    auth: str  # "token" or "sigv4"
    token: str | None = None
    profile: str | None = None
    region: str | None = None
    local: bool = False  # the local stack's, from its facts file


def facts_file(start: Path | None = None) -> Path | None:
    """The local stack's facts: STACK_FILE, else .local/stack.json here or in a folder above."""
    if os.environ.get("STACK_FILE"):
        return Path(os.environ["STACK_FILE"])
    folder = (start or Path.cwd()).resolve()
    for candidate in (folder, *folder.parents):
        if (candidate / ".local" / "stack.json").exists():
            return candidate / ".local" / "stack.json"
    return None


def _local_facts() -> dict | None:
    path = facts_file()
    if path is None or not path.exists():
        return None
    try:
        return json.loads(path.read_text())
    except (OSError, ValueError):
        return None


def target(
    url: str | None = None,
    auth: str | None = None,
    token_file: str | None = None,
    profile: str | None = None,
    region: str | None = None,
) -> Target:
    """The deployment and credential the options and the environment name (CommandError when
    there is none)."""
    url = url or os.environ.get("IAM_LIFECYCLE_URL")
    auth = (auth or os.environ.get("IAM_LIFECYCLE_AUTH") or "token").lower()
    if auth not in ("token", "sigv4"):
        raise CommandError(f"--auth {auth}: give token or sigv4")
    facts = _local_facts()
    local = False
    if not url:
        if facts is None or not facts.get("api_url"):
            raise CommandError(
                "no deployment given: pass --url or set IAM_LIFECYCLE_URL (or, for the local "
                f"stack, {NOT_RUNNING.split(': ', 1)[1]})"
            )
        url, local = facts["api_url"], True
    elif facts is not None and facts.get("api_url", "").rstrip("/") == url.rstrip("/"):
        local = True
    url = url.rstrip("/")
    if urlsplit(url).scheme not in ("http", "https"):
        raise CommandError(f"--url {url}: give the API's http(s) URL")
    if auth == "sigv4":
        return Target(
            url,
            "sigv4",
            profile=profile or os.environ.get("AWS_PROFILE"),
            region=region,
            local=local,
        )
    token = _token(token_file)
    if token is None and local and facts is not None:
        token = facts.get("api_token")
    return Target(url, "token", token=token, local=local)


def _token(token_file: str | None) -> str | None:
    name = token_file or os.environ.get("IAM_LIFECYCLE_TOKEN_FILE")
    if name:
        try:
            token = Path(name).expanduser().read_text().strip()
        except OSError as error:
            raise CommandError(f"cannot read the token file {name}: {error.strerror}") from None
        if not token:
            raise CommandError(f"the token file {name} is empty")
        return token
    return os.environ.get("IAM_LIFECYCLE_TOKEN") or None


def retry_after(error: ApiError | None, headers: Mapping[str, str] | None = None) -> bool:
    """Whether the same request later may succeed: throttled (429), the gateway's 503 and 504,
    AWS failing (502 UpstreamError; AccessDenied needs the policy changed), or a change of the
    user or ticket still running (409 whose Message says to retry)."""
    if error is None:
        return False
    if error.status in (429, 503, 504):
        return True
    if error.status == 502:
        return error.code != "AccessDenied"
    if error.status == 409:
        return "retry" in error.message and "new ticket" not in error.message
    return False


class Api:
    """Calls of one deployment; ``retries`` times again, with backoff, what may succeed later."""

    def __init__(
        self,
        target: Target,
        retries: int = 5,
        timeout: float = 60,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        self.target, self.retries, self.timeout, self.sleep = target, retries, timeout, sleep
        self._signer: Any = None

    def call(
        self,
        method: str,
        path: str,
        query: Mapping[str, Any] | None = None,
        body: Any = None,
        public: bool = False,
        retries: int | None = None,
    ) -> Answer:
        """The answer of one call; ApiError for an error answer once retries are spent,
        Unreachable when the deployment does not answer at all."""
        attempts = (self.retries if retries is None else retries) + 1
        for attempt in range(attempts):
            try:
                return self._once(method, path, query, body, public)
            except ApiError as error:
                if attempt + 1 >= attempts or not retry_after(error):
                    raise
                self.sleep(self.backoff(attempt))
            except Unreachable:
                raise
            except (TimeoutError, ConnectionResetError):
                # Sent, perhaps done: every change carries its ticket, so sending it again is
                # safe; a read is.
                if attempt + 1 >= attempts:
                    raise Unreachable(
                        f"{self.target.url} did not answer {method} {path} in time"
                    ) from None
                self.sleep(self.backoff(attempt))
        raise AssertionError("unreachable")

    @staticmethod
    def backoff(attempt: int) -> float:
        """Exponential with full jitter (AWS's advice for retries), at most 20 s."""
        return random.uniform(0, min(20.0, 0.5 * 2**attempt))

    def _once(
        self, method: str, path: str, query: Mapping[str, Any] | None, body: Any, public: bool
    ) -> Answer:
        if not public and self.target.auth == "sigv4":
            path = IAM_PREFIX + path
        url = self.target.url + path
        if query:
            url += "?" + urlencode(
                [(k, v) for k, vs in query.items() for v in (vs if isinstance(vs, list) else [vs])]
            )
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Content-Type": "application/json", "Accept": "application/json"}
        if not public:
            headers.update(self._credentials(method, url, data, headers))
        request = urllib.request.Request(url, data=data, headers=headers, method=method)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                return _answer(response.status, response.read(), response.headers)
        except urllib.error.HTTPError as error:
            answer = _answer(error.code, error.read(), error.headers)
            body = answer.body if isinstance(answer.body, dict) else {}
            raise ApiError(
                error.code,
                str(body.get("Code") or error.reason or "Error"),
                # The service's Message; API Gateway's own refusals say "message".
                str(body.get("Message") or body.get("message") or answer.body or error.reason),
                answer.body,
            ) from None
        except urllib.error.URLError as error:
            reason = error.reason
            if isinstance(reason, ConnectionRefusedError | FileNotFoundError):
                raise Unreachable(
                    NOT_RUNNING
                    if self.target.local
                    else f"{self.target.url} refused the connection"
                ) from None
            if isinstance(reason, TimeoutError | socket.timeout):
                raise TimeoutError from None
            if isinstance(reason, socket.gaierror):
                raise Unreachable(f"{self.target.url}: unknown host") from None
            raise Unreachable(f"{self.target.url}: {reason}") from None

    def _credentials(
        self, method: str, url: str, data: bytes | None, headers: dict[str, str]
    ) -> dict[str, str]:
        if self.target.auth == "sigv4":
            if self._signer is None:
                from iam_lifecycle_cli.sigv4 import Signer

                self._signer = Signer(self.target.profile, self.target.region, self.target.url)
            return self._signer.headers(method, url, data, headers)
        if not self.target.token:
            raise CommandError(
                "no API token: set IAM_LIFECYCLE_TOKEN_FILE (or --token-file) or "
                "IAM_LIFECYCLE_TOKEN, or sign with --auth sigv4"
            )
        return {"Authorization": f"Bearer {self.target.token}"}


def _answer(status: int, raw: bytes, headers: Any) -> Answer:
    kind = (headers.get("Content-Type") or "application/json").split(";")[0].strip()
    text = raw.decode("utf-8", "replace")
    if kind == "application/json" or kind.endswith("+json"):
        try:
            return Answer(status, json.loads(text) if text else None, dict(headers))
        except ValueError:
            pass
    return Answer(status, text, dict(headers), text=True)
