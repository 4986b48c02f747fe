"""Where Slack answers go: only to the stage's Slack hosts (SLACK_RESPONSE_HOSTS; here the Slack
stand-in), checked at the edge before anything is queued and again by the worker, and never by
following a redirect. Requests are signed as Slack signs them; what is posted elsewhere is
caught by an HTTP server on loopback, which must receive nothing."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import boto3
import pytest

from chalicelib.edges.slack import replies, response_url
from chalicelib.kernel.errors import BadRequest
from tests.support.slack import ALLOWED, QUEUE, ephemeral, queue_url, queued, run_worker

SLACK = ("hooks.slack.com",)


class Elsewhere:
    """An HTTP server on loopback that is not a Slack host: it keeps what reaches it, and can
    answer with a redirect."""

    def __init__(self, redirect_to: str | None = None) -> None:
        self.received: list[tuple[str, str, bytes]] = []
        kept = self.received

        class Handler(BaseHTTPRequestHandler):
            def _any(self) -> None:
                length = int(self.headers.get("Content-Length", "0"))
                kept.append((self.command, self.path, self.rfile.read(length)))
                if redirect_to:
                    self.send_response(303)  # urllib would follow it with a GET
                    self.send_header("Location", redirect_to)
                else:
                    self.send_response(200)
                self.send_header("Content-Length", "0")
                self.end_headers()

            do_GET = do_POST = _any  # noqa: N815 - http.server's naming

            def log_message(self, *args: object) -> None:
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    @property
    def host(self) -> str:
        return f"127.0.0.1:{self.server.server_address[1]}"

    def url(self, path: str = "/commands/T0/1/secret") -> str:
        return f"http://{self.host}{path}"

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def elsewhere():
    server = Elsewhere()
    yield server
    server.close()


# the edge: refused before anything is queued
def test_a_command_answering_on_loopback_is_refused_and_nothing_is_queued(slack, sqs, elsewhere):
    answer = ephemeral(
        slack.command(
            "onboard pete ChildDeveloperGroup pete@example.com", response_url=elsewhere.url()
        )
    )
    assert "response_url host 127.0.0.1 is not one of" in answer
    assert queued(sqs) == []
    assert elsewhere.received == []


@pytest.mark.parametrize(
    "url",
    [
        "https://evil.example/commands/T0/1/x",
        "https://hooks.slack.com.evil.example/commands/T0/1/x",
        "https://hooks.slack.com@evil.example/commands/T0/1/x",
        "http://169.254.169.254/latest/meta-data/",
        "file:///etc/passwd",
    ],
)
def test_a_command_answering_anywhere_but_slack_is_refused(slack, sqs, url):
    answer = ephemeral(slack.command("status pete", response_url=url))
    assert "response_url" in answer
    assert queued(sqs) == []


def test_a_click_answering_elsewhere_is_refused_and_nothing_is_queued(slack, sqs, elsewhere):
    answer = slack.click(replies.CANCEL_ACTION, "any", response_url=elsewhere.url())
    assert answer.status_code == 400
    assert "response_url" in json.loads(answer.body)["Message"]
    assert queued(sqs) == []


def test_a_command_answering_on_the_stages_slack_host_is_queued(slack, sqs, catcher):
    ephemeral(slack.command("status pete", response_url=catcher.url()))
    (work,) = queued(sqs)
    assert work["response_url"] == catcher.url()


# the worker: queued work naming another host is not done, and nothing is posted
def test_the_worker_neither_does_nor_answers_work_naming_another_host(
    slack, sqs, poller, elsewhere
):
    """Anything allowed to send to the queue could name a URL the edge would refuse."""
    work = {
        "kind": "change",
        "action": "onboard",
        "username": "pete",
        "response_url": elsewhere.url(),
        "slack_user": ALLOWED,
        "request": {
            "username": "pete",
            "groups": ["ChildDeveloperGroup"],
            "ticket": "slack:1.2.3",
            "requested_by": f"slack:{ALLOWED}",
            "console": True,
        },
    }
    sqs.send_message(QueueUrl=queue_url(sqs, QUEUE), MessageBody=json.dumps(work))
    assert run_worker(poller) == [(1, 0)]  # taken off the queue: a retry would not change it
    assert elsewhere.received == []
    with pytest.raises(boto3.client("iam").exceptions.NoSuchEntityException):
        boto3.client("iam").get_user(UserName="pete")


# the policy and the post
@pytest.mark.parametrize(
    "url",
    [
        "https://hooks.slack.com/commands/T0/1/x",
        "https://HOOKS.slack.com/actions/T0/1/x",
        "https://hooks.slack.com:443/commands/T0/1/x",
    ],
)
def test_slacks_own_urls_are_accepted(url):
    assert response_url.check(url, SLACK) == url


@pytest.mark.parametrize(
    "url, hosts",
    [
        ("http://hooks.slack.com/commands/T0/1/x", SLACK),  # https only
        ("https://hooks.slack.com:8443/commands/T0/1/x", SLACK),  # another port
        ("https://hooks.slack.com./commands/T0/1/x", SLACK),
        ("https://hooks.slack.com\\@evil.example/x", SLACK),
        ("https://hooks.slack.com/commands/T0/1/x\n", SLACK),
        ("https://hooks.slack.com/commands/\u0430", SLACK),
        ("http://127.0.0.1:8001/commands/x", ("127.0.0.1:8000",)),  # the stand-in's port only
        ("http://localhost:8000/commands/x", ("127.0.0.1:8000",)),
        ("", SLACK),
        (None, SLACK),
    ],
)
def test_other_urls_are_refused(url, hosts):
    with pytest.raises(BadRequest):
        response_url.check(url, hosts)


def test_a_redirect_is_not_followed(elsewhere):
    redirecting = Elsewhere(redirect_to=elsewhere.url("/took-the-answer"))
    try:
        response_url.post(redirecting.url(), {"text": "temporary password: hunter2"})
    finally:
        redirecting.close()
    assert [(method, path) for method, path, _ in redirecting.received] == [
        ("POST", "/commands/T0/1/secret")
    ]
    assert elsewhere.received == []
