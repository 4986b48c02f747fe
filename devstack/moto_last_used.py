"""When a person last used a password or an access key, settable in the local stack.

AWS records a console password's last sign-in (GetUser's ``PasswordLastUsed``, the credential
report's ``password_last_used``) and a key's last request (GetAccessKeyLastUsed, the report's
``access_key_N_last_used_date``). moto 5.2.5 never records a password's use (``no_information``
forever, GetUser without ``PasswordLastUsed``) and stamps a key's use with the real time of a
request it signed, whatever the app's clock says. To try dormant credentials, a test or a person
sets them here:

- in process: ``set_last_used("pete", password=datetime, keys={"AKIA...": datetime})``;
- on the local stack's server: ``POST /moto-api/last-used`` with
  ``{"username": "pete", "password": "2026-01-01T00:00:00Z", "keys": {"AKIA...": "..."}}``
  (a value of null forgets the use: the report shows N/A / no_information again).
"""

from __future__ import annotations

import json
import threading
from datetime import datetime
from typing import Any

from moto.iam.models import AccessKeyLastUsed, iam_backends
from moto.moto_api._internal import urls as moto_api_urls

ENDPOINT = "/moto-api/last-used"
ROOT_ACCOUNT = "123456789012"
_UNSET: Any = object()
_lock = threading.Lock()


def set_last_used(
    username: str,
    *,
    password: datetime | None = _UNSET,
    keys: dict[str, datetime | None] | None = None,
    account: str = ROOT_ACCOUNT,
    region: str = "us-east-1",
) -> None:
    backend = iam_backends[account]["aws"]
    user = backend.get_user(username)
    if password is not _UNSET:
        user.password_last_used = password  # type: ignore[assignment]
    by_id = {key.access_key_id: key for key in user.access_keys}
    for key_id, used in (keys or {}).items():
        if key_id not in by_id:
            raise KeyError(f"{username} has no access key {key_id}")
        by_id[key_id].last_used = (
            None
            if used is None
            else AccessKeyLastUsed(timestamp=used, service="iam", region=region)
        )


def _parse(value: str | None) -> datetime | None:
    return None if value is None else datetime.fromisoformat(value.replace("Z", "+00:00"))


def endpoint(request: Any, full_url: str, headers: Any) -> tuple[int, dict, str]:
    try:
        asked = json.loads(request.data or b"{}")
        fields: dict[str, Any] = {}
        if "password" in asked:
            fields["password"] = _parse(asked["password"])
        set_last_used(
            asked["username"],
            keys={k: _parse(v) for k, v in (asked.get("keys") or {}).items()},
            account=asked.get("account", ROOT_ACCOUNT),
            **fields,
        )
    except Exception as error:  # a person's typing: say what was wrong
        return 400, {"Content-Type": "application/json"}, json.dumps({"error": str(error)})
    return 200, {"Content-Type": "application/json"}, json.dumps({"ok": True})


def apply() -> None:
    with _lock:
        moto_api_urls.url_paths.setdefault("{0}" + ENDPOINT, endpoint)
