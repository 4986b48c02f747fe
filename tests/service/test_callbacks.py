"""Ticket callbacks against a real HTTP receiver on loopback: signature, retries, allow-list."""

from __future__ import annotations

import hashlib
import hmac
import json
import re
import time

import pytest

from chalicelib.edges.callbacks import delivery as callbacks
from chalicelib.edges.callbacks.delivery import Callbacks, sign, verify
from chalicelib.edges.callbacks.policy import check_url
from chalicelib.kernel.errors import BadRequest
from chalicelib.settings import Settings

SECRET = "s3cr3t-callback-signing-key"
BACKOFF = 0.5
PAYLOAD = {
    "action": "offboard",
    "username": "pete",
    "ticket": "T-5",
    "requested_by": "alice",
    "result": "ok",
    "status": 200,
    "at": "2026-11-25T09:31:00.000+00:00",
    "answer": {
        "username": "pete",
        "removed": {"groups": ["ChildDeveloperGroup"]},
        "sessions_revoked_in": ["222233334444"],
    },
}


class Log:
    def __init__(self) -> None:
        self.lines: list[tuple[str, str, dict]] = []

    def __getattr__(self, level: str):
        return lambda message, extra=None: self.lines.append((level, message, extra or {}))

    def text(self) -> str:
        return json.dumps(self.lines, default=str)


@pytest.fixture(autouse=True)
def log(monkeypatch: pytest.MonkeyPatch) -> Log:
    log = Log()
    monkeypatch.setattr(callbacks, "logger", lambda: log)
    return log


def settings(**env: str) -> Settings:
    return Settings.from_env(
        {
            "ALLOWED_GROUPS": "ChildDeveloperGroup",
            "ROOT_ACCOUNT_ID": "123456789012",
            "CALLBACK_HOSTS": "127.0.0.1",
            "CALLBACK_BACKOFF": str(BACKOFF),
            **env,
        }
    )


class Harness:
    """Callbacks whose audit events and backoff waits are recorded instead of written or slept."""

    def __init__(self, timeout: float = 2.0, secret=lambda: SECRET, audit=None, **env: str) -> None:
        self.events: list[tuple[str, dict]] = []
        self.waits: list[float] = []
        record = audit or (lambda result, detail: self.events.append((result, detail)))
        self.callbacks = Callbacks(
            settings(**env), secret=secret, audit=record, sleep=self.waits.append, timeout=timeout
        )

    def deliver(self, url: str, payload: dict = PAYLOAD, final: bool = True) -> callbacks.Delivery:
        return self.callbacks.deliver(url, payload, final)

    @property
    def event(self) -> tuple[str, dict]:
        [event] = self.events  # exactly one per delivery
        return event


def test_a_delivery_is_signed_so_the_receiver_can_verify_it(receiver, log):
    harness = Harness()
    assert (
        harness.deliver(receiver.url() + "?token=kept-out-of-the-audit", PAYLOAD).delivered is True
    )

    [request] = receiver.requests
    headers, body = request["headers"], request["body"]
    assert request["path"] == "/hooks/T-5?token=kept-out-of-the-audit"
    assert body == json.dumps(PAYLOAD, separators=(",", ":"), sort_keys=True).encode()
    assert headers["content-type"] == "application/json"
    assert headers["user-agent"] == "iam-lifecycle-callback/1"
    timestamp, signature = headers["x-access-request-timestamp"], headers["x-access-signature"]
    assert abs(int(timestamp) - time.time()) < 5
    assert re.fullmatch(r"[0-9a-f]{32}", headers["x-access-delivery"]), headers

    # The receiver's side: our verify, and the same HMAC computed independently.
    assert verify(SECRET, timestamp, body, signature)
    digest = hmac.new(SECRET.encode(), f"v1:{timestamp}:".encode() + body, hashlib.sha256)
    assert signature == "v1=" + digest.hexdigest() == sign(SECRET, timestamp, body)
    assert not verify("another secret", timestamp, body, signature)
    assert not verify(SECRET, timestamp, body.replace(b"pete", b"mallory"), signature)
    assert not verify(SECRET, timestamp, body, signature, now=int(timestamp) + 301)
    assert verify(SECRET, timestamp, body, signature, now=int(timestamp) + 300)

    assert harness.event == (
        "callback delivered",
        {
            "url": receiver.url(),
            "attempts": 1,
            "status": 200,
            "delivery": headers["x-access-delivery"],
        },
    )
    assert harness.waits == []
    assert SECRET not in log.text() and signature not in log.text()


@pytest.mark.parametrize(
    ("timestamp", "signature"),
    [
        ("", "v1=00"),
        ("12a", "v1=00"),
        ("١٢٣", "v1=00"),
        ("1700000000", None),
        ("1700000000", "v1=é"),
    ],
)
def test_verify_refuses_malformed_input(timestamp, signature):
    assert verify(SECRET, timestamp, b"{}", signature, now=1700000000) is False


@pytest.mark.parametrize(
    "timestamp", ["9" * 400, "1" + "0" * 5000], ids=["too big for a float", "too long for int()"]
)
def test_verify_refuses_an_oversized_timestamp(timestamp):
    signature = sign(SECRET, timestamp, b"{}")  # signed right: only the timestamp is wrong
    assert verify(SECRET, timestamp, b"{}", signature) is False
    assert verify(SECRET, timestamp, b"{}", signature, now=1700000000.5) is False
    assert verify(SECRET, timestamp, b"{}", signature, now=1700000000) is False


def test_a_failed_attempt_is_retried_with_the_same_delivery_id(receiver):
    receiver.fail(1)
    harness = Harness()
    assert harness.deliver(receiver.url()).delivered is True

    first, second = receiver.requests
    assert first["body"] == second["body"]
    assert first["headers"]["x-access-delivery"] == second["headers"]["x-access-delivery"]
    assert harness.waits == [BACKOFF]
    result, detail = harness.event
    assert (result, detail["attempts"], detail["status"]) == ("callback delivered", 2, 200)


def test_backoff_doubles_and_429_is_retried(receiver):
    receiver.answers = [500, 429, 503]
    harness = Harness()
    assert harness.deliver(receiver.url()).delivered is True
    assert len(receiver.requests) == 4
    assert harness.waits == [BACKOFF, 2 * BACKOFF, 4 * BACKOFF]
    assert harness.event[1]["attempts"] == 4


def test_a_host_not_on_the_allow_list_is_never_called(receiver):
    harness = Harness(CALLBACK_HOSTS="hooks.example.com,*.service-now.com")
    assert harness.deliver(receiver.url()).delivered is False
    assert receiver.requests == []
    result, detail = harness.event
    assert result == (
        "callback refused: callback_url host 127.0.0.1 is not allowed; "
        "allowed hosts: hooks.example.com, *.service-now.com"
    )
    assert detail["url"] == receiver.url() and len(detail["delivery"]) == 32


def test_a_refused_url_keeps_its_credentials_out_of_the_audit_trail():
    harness = Harness()
    assert harness.deliver("https://user:pw@127.0.0.1/hook?token=t").delivered is False
    result, detail = harness.event
    assert result.startswith("callback refused: callback_url must not carry credentials")
    assert detail["url"] == "https://127.0.0.1/hook"


def test_a_receiver_that_is_down_gets_every_attempt_and_the_payload_is_kept(receiver, log):
    receiver.close()
    harness = Harness()
    assert harness.deliver(receiver.url()).delivered is False

    assert harness.waits == [BACKOFF, 2 * BACKOFF, 4 * BACKOFF]
    result, detail = harness.event
    assert result.startswith("callback undelivered: no success after 4 attempts")
    assert detail["payload"] == PAYLOAD
    assert detail["attempts"] == 4 and detail["url"] == receiver.url()
    assert "refused" in detail["error"].lower() and "status" not in detail
    assert SECRET not in log.text() and "v1=" not in log.text()


def test_a_try_that_is_not_the_last_says_so_and_asks_for_another(receiver):
    receiver.close()
    harness = Harness()
    assert harness.deliver(receiver.url(), final=False) == callbacks.Delivery(False, True)
    result, detail = harness.event
    assert result.startswith("callback not delivered yet: no success after 4 attempts")
    assert result.endswith("it is tried again later") and detail["payload"] == PAYLOAD


def test_an_answer_that_will_not_change_asks_for_no_other_try(receiver):
    receiver.fail(1, status=404)
    harness = Harness()
    assert harness.deliver(receiver.url(), final=False) == callbacks.Delivery(False, False)
    assert harness.event[0] == "callback undelivered: receiver answered 404"


def test_a_client_error_is_not_retried(receiver):
    receiver.fail(1, status=404)
    harness = Harness()
    assert harness.deliver(receiver.url()).delivered is False
    assert len(receiver.requests) == 1 and harness.waits == []
    result, detail = harness.event
    assert result == "callback undelivered: receiver answered 404"
    assert detail["status"] == 404 and detail["attempts"] == 1 and detail["payload"] == PAYLOAD


def test_a_redirect_is_not_followed(receiver):
    receiver.fail(1, status=302)
    harness = Harness()
    assert harness.deliver(receiver.url()).delivered is False
    assert [r["path"] for r in receiver.requests] == ["/hooks/T-5"]
    result, detail = harness.event
    assert result == "callback undelivered: receiver answered 302 (redirects are not followed)"
    assert detail["status"] == 302


def test_a_slow_receiver_times_out_and_is_retried(receiver):
    receiver.delay = 0.5
    harness = Harness(timeout=0.1, CALLBACK_ATTEMPTS="2")
    assert harness.deliver(receiver.url()).delivered is False
    assert len(receiver.requests) == 2 and harness.waits == [BACKOFF]
    assert "timed out" in harness.event[1]["error"]


def test_an_unreadable_secret_or_audit_trail_never_raises(receiver, log):
    def missing() -> str:
        raise RuntimeError("AccessDenied")

    harness = Harness(secret=missing)
    assert harness.deliver(receiver.url()).delivered is False
    assert receiver.requests == []
    result, detail = harness.event
    assert result == "callback undelivered: the signing secret could not be read"
    assert detail["payload"] == PAYLOAD

    def broken(result: str, detail: dict) -> None:
        raise RuntimeError("DynamoDB down")

    assert Harness(audit=broken).deliver(receiver.url()).delivered is True
    [(level, message, extra)] = [line for line in log.lines if line[0] == "error"]
    assert message == "could not audit: callback delivered" and extra["status"] == 200


def test_a_payload_that_is_not_json_is_audited_not_raised(receiver):
    circular: dict = {}
    circular["self"] = circular
    harness = Harness()
    assert harness.deliver(receiver.url(), circular).delivered is False
    assert receiver.requests == []
    assert harness.event[0].startswith("callback undelivered: payload is not JSON")


def test_numbers_dynamodb_refuses_are_kept_as_decimals(receiver):
    receiver.close()
    harness = Harness(CALLBACK_ATTEMPTS="1")
    assert harness.deliver(receiver.url(), {**PAYLOAD, "ratio": 0.25}).delivered is False
    kept = harness.event[1]["payload"]["ratio"]
    assert type(kept).__name__ == "Decimal" and kept == 0.25


def test_an_unexpected_error_is_audited_not_raised(receiver, monkeypatch):
    def broken(*args: object) -> str:
        raise RuntimeError("bug")

    monkeypatch.setattr(callbacks, "sign", broken)
    harness = Harness()
    assert harness.deliver(receiver.url()).delivered is False
    result, detail = harness.event
    assert result == "callback undelivered: internal error"
    assert detail["payload"] == PAYLOAD and detail["error"] == "RuntimeError"


ALLOWED = ("hooks.example.com", "*.service-now.com", "127.0.0.1", "::1", "localhost")


@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.example.com/automation/webhooks/abc?x=1",
        "https://HOOKS.Example.COM:8443/x",
        "https://acme.service-now.com/api/x_acme/access_callback",
        "https://eu.acme.service-now.com/x",
        "http://127.0.0.1:8080/cb",
        "http://[::1]:8080/cb",
        "http://localhost/cb",
        "https://localhost/cb",
    ],
)
def test_check_url_accepts(url):
    assert check_url(url, ALLOWED) == url


@pytest.mark.parametrize(
    ("url", "hosts", "message"),
    [
        ("http://hooks.example.com/x", ALLOWED, "must use https"),
        ("https://user:pw@hooks.example.com/x", ALLOWED, "must not carry credentials"),
        ("https://token@hooks.example.com/x", ALLOWED, "must not carry credentials"),
        ("https://hooks.example.com/x", (), "no callback hosts are configured (CALLBACK_HOSTS)"),
        ("https://service-now.com/x", ALLOWED, "host service-now.com is not allowed"),
        ("https://evilservice-now.com/x", ALLOWED, "is not allowed"),
        (
            "https://hooks.example.com.evil.io/x",
            ALLOWED,
            "allowed hosts: hooks.example.com, *.service",
        ),
        ("https://hooks.example.com/x", ("other.example.com",), "allowed hosts: other.example.com"),
        ("ftp://hooks.example.com/x", ALLOWED, "must be an absolute URL"),
        ("/hooks/x", ALLOWED, "must be an absolute URL"),
        ("https:///x", ALLOWED, "must be an absolute URL"),
        ("https://hooks.example.com:port/x", ALLOWED, "is not a valid URL"),
        ("https://hooks.example.com/a b", ALLOWED, "must be ASCII without spaces"),
        ("https://hooks.example.com/ticket\n", ALLOWED, "must be ASCII without spaces"),
        ("https://hööks.example.com/x", ALLOWED, "punycode"),
    ],
)
def test_check_url_refuses_and_says_what_to_fix(url, hosts, message):
    with pytest.raises(BadRequest) as refused:
        check_url(url, hosts)
    assert message in refused.value.message
