"""Which callback URLs may be called: only hosts on the allow-list (CALLBACK_HOSTS), https
(plain http for loopback only), no credentials in the URL. A callback URL comes from the request,
so without the list the service could be pointed at anything it can reach."""

from __future__ import annotations

from urllib.parse import urlsplit, urlunsplit

from chalicelib.kernel.errors import BadRequest

LOOPBACK = frozenset({"127.0.0.1", "::1", "localhost"})


def check_url(url: str, hosts: tuple[str, ...]) -> str:
    """``url`` if it may be called back; otherwise BadRequest saying what to fix."""
    if not url.isascii() or any(c.isspace() or c < " " or c == "\x7f" for c in url):
        # http.client would refuse them when sending, too late to tell the caller.
        raise BadRequest(
            "callback_url must be ASCII without spaces: percent-encode the rest "
            "(and punycode a host name)"
        )
    try:
        parts = urlsplit(url)
        _ = parts.port  # raises ValueError on a port that is not a number
    except ValueError as error:
        raise BadRequest(f"callback_url is not a valid URL ({error})") from None
    if parts.scheme not in ("http", "https") or not parts.hostname:
        raise BadRequest("callback_url must be an absolute URL such as https://host/path")
    if "@" in parts.netloc:
        raise BadRequest(
            "callback_url must not carry credentials (user:password@); "
            "callbacks are authenticated by their signature"
        )
    host = parts.hostname
    if parts.scheme == "http" and host not in LOOPBACK:
        raise BadRequest(
            "callback_url must use https (plain http only for 127.0.0.1, ::1 and localhost)"
        )
    if not hosts:
        raise BadRequest(
            "callback_url cannot be used: no callback hosts are configured (CALLBACK_HOSTS)"
        )
    if not any(_matches(host, entry.lower()) for entry in hosts):
        raise BadRequest(
            f"callback_url host {host} is not allowed; allowed hosts: {', '.join(hosts)}"
        )
    return url


def _matches(host: str, entry: str) -> bool:
    if entry.startswith("*."):  # any subdomain, not the domain itself
        return host.endswith(entry[1:])
    return host == entry


def shown(url: str) -> str:
    """The URL for logs and the audit trail: no credentials, query or fragment (tokens live
    there)."""
    try:
        parts = urlsplit(url)
        return urlunsplit((parts.scheme, parts.netloc.rpartition("@")[2], parts.path, "", ""))
    except ValueError:
        return url.split("?")[0].split("#")[0].rpartition("@")[2][:200]
