"""A scim2-client engine over ``requests`` (what the local stack's tests already have): the SCIM
client that scim2-tester drives, talking HTTP to the local stack's /scim/v2."""

from __future__ import annotations

from typing import Any
from urllib.parse import urljoin, urlsplit

import requests
from scim2_client import BaseSyncSCIMClient


class RequestsSCIMClient(BaseSyncSCIMClient):
    def __init__(self, base_url: str, token: str, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.base_url = base_url.rstrip("/") + "/"
        self.session = requests.Session()
        self.session.headers.update(
            {"Authorization": f"Bearer {token}", "Content-Type": "application/scim+json"}
        )

    def _url(self, url: str) -> str:
        return urljoin(self.base_url, url.lstrip("/"))

    def _stays_under_base_url(self, endpoint: str) -> bool:
        url, base = urlsplit(self._url(endpoint)), urlsplit(self.base_url)
        return (url.scheme, url.netloc) == (base.scheme, base.netloc) and url.path.startswith(
            base.path
        )

    def request(self, method: str, url: str, **kwargs: Any) -> requests.Response:
        return self.session.request(method, self._url(url), timeout=60, **kwargs)
