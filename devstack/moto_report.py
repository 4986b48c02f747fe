"""The credential report's time, as AWS gives it.

moto 5.2.5 builds the report's content when it is read, yet stamps it "2015-02-02T20:02:02Z". The
service trusts a report's row only for people it has not changed since the report was made
(chalicelib/queries.py), so with moto's stamp every person looked changed. The report moto hands
out is in fact as of the moment it is read, and that is the time it now carries.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.core.utils import utcnow
from moto.iam.responses import IamResponse

_lock = threading.Lock()
_MARK = "_report_time_applied"


def apply() -> None:
    with _lock:
        if getattr(IamResponse, _MARK, False):
            return
        original = IamResponse.get_credential_report

        def get_credential_report(self: IamResponse) -> Any:
            result = original(self)
            result.result["GeneratedTime"] = utcnow().strftime("%Y-%m-%dT%H:%M:%SZ")  # type: ignore[index]
            return result

        IamResponse.get_credential_report = get_credential_report  # type: ignore[method-assign]
        setattr(IamResponse, _MARK, True)
