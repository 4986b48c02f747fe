"""``chalice local`` (and Chalice's test client) routing requests as API Gateway does: a greedy
path variable (``/{proxy+}``) takes whatever no other route of the API matches, at any depth,
and hands the rest of the path over as that parameter.

Chalice's local router matches one segment per variable, so without this a path the API lacks
got chalice local's imitation of API Gateway's default 403 (which echoes the Authorization
header) instead of the app's own answer.
https://docs.aws.amazon.com/apigateway/latest/developerguide/api-gateway-set-up-simple-proxy.html
"""

from __future__ import annotations

import re
from urllib.parse import parse_qs, urlparse

import chalice.local

_GREEDY = re.compile(r"/\{(\w+)\+\}$")


class GreedyRouteMatcher(chalice.local.RouteMatcher):
    """Every other route first, as chalice local matches them; then the greedy ones, the
    longest prefix first."""

    def __init__(self, route_urls: list[str]) -> None:
        self.greedy = sorted(
            ((url, match) for url in route_urls if (match := _GREEDY.search(url))),
            key=lambda pair: -len(pair[0]),
        )
        greedy = {url for url, _ in self.greedy}
        super().__init__([url for url in route_urls if url not in greedy])

    def match_route(self, url: str) -> chalice.local.MatchResult:
        try:
            return super().match_route(url)
        except ValueError:
            parsed = urlparse(url)
            for route, match in self.greedy:
                prefix = route[: match.start()] + "/"
                if parsed.path.startswith(prefix) and len(parsed.path) > len(prefix):
                    return chalice.local.MatchResult(
                        route,
                        {match.group(1): parsed.path[len(prefix) :]},
                        parse_qs(parsed.query, keep_blank_values=True),
                    )
            raise


def apply() -> None:
    """Route as API Gateway does in this process (idempotent)."""
    chalice.local.RouteMatcher = GreedyRouteMatcher  # type: ignore[misc]
