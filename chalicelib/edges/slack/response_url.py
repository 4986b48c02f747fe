"""Where a Slack answer may go. ``response_url`` comes inside the request, so a signed request
could otherwise point the app (and a temporary password) at anything it can reach: only the
stage's Slack hosts are posted to (SLACK_RESPONSE_HOSTS: ``hooks.slack.com``; the local stack
names its Slack stand-in), over https (plain http only to a loopback stand-in), and a redirect
is never followed. The edge refuses any other URL before queuing; the worker checks again
before posting, as anything that may send to the queue could name one.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import urlsplit

from chalicelib.kernel.errors import BadRequest, UpstreamError

logger = logging.getLogger(__name__)
LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})
_DEFAULT_PORTS = {"https": 443, "http": 80}
TIMEOUT = 10


def check(url: Any, hosts: tuple[str, ...]) -> str:
    """``url`` if an answer may be posted to it; otherwise BadRequest saying what is wrong."""
    if not isinstance(url, str) or not url:
        raise BadRequest("the request lacks a response_url")
    if not url.isascii() or any(c.isspace() or c < " " or c in "\\\x7f" for c in url):
        raise BadRequest("response_url is not a URL Slack sends")
    try:
        parts = urlsplit(url)
        port = parts.port
    except ValueError:
        raise BadRequest("response_url is not a URL Slack sends") from None
    host = parts.hostname or ""
    if "@" in parts.netloc or parts.scheme not in _DEFAULT_PORTS or not host:
        raise BadRequest("response_url is not a URL Slack sends")
    if parts.scheme != "https" and host not in LOOPBACK:
        raise BadRequest("response_url must use https")
    if not any(_matches(host, port, parts.scheme, entry) for entry in hosts):
        raise BadRequest(
            f"response_url host {host} is not one of this service's Slack hosts "
            f"({', '.join(hosts) or 'none configured'}: SLACK_RESPONSE_HOSTS)"
        )
    return url


def _matches(host: str, port: int | None, scheme: str, entry: str) -> bool:
    """An entry without a port stands for the scheme's default port only."""
    name, _, wanted = entry.partition(":")
    if host != name:
        return False
    actual = _DEFAULT_PORTS[scheme] if port is None else port
    return actual == (int(wanted) if wanted else _DEFAULT_PORTS[scheme])


class _NoRedirect(urllib.request.HTTPRedirectHandler):
    # A redirect would take the answer (a temporary password, say) where the check never looked.
    def redirect_request(self, *args: Any, **kwargs: Any) -> None:
        return None


_opener = urllib.request.build_opener(_NoRedirect)


def post(url: str, reply: dict) -> None:
    """Send ``reply`` as Slack's response_url takes it (a JSON body). Slack's 5xx, 429 or no
    answer is an UpstreamError (retried); a 4xx (an expired or used-up response_url) or a
    redirect will not get better, so it is logged and dropped. The body is never logged."""
    request = urllib.request.Request(
        url,
        data=json.dumps(reply).encode(),
        headers={"Content-Type": "application/json;charset=utf-8"},
        method="POST",
    )
    try:
        with _opener.open(request, timeout=TIMEOUT) as answer:
            answer.read()
        return
    except urllib.error.HTTPError as error:
        status = error.code
        error.close()
    except Exception as error:
        raise UpstreamError("could not reach Slack to post the answer") from error
    if status >= 500 or status == 429:
        raise UpstreamError(f"Slack answered {status} to the answer's post")
    logger.warning("Slack refused the answer's post: %s (not followed, not retried)", status)
