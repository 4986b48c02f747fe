"""Each DynamoDB request on its own, so a condition is checked against what the write replaces.

AWS performs a conditional write atomically: of two writes racing with the same condition, only
one succeeds (Amazon DynamoDB Developer Guide, "Condition expressions" and "Optimistic locking
with version number"), and a read returns a whole item as of one moment. moto 5.2.5 reads an
item, evaluates the condition and stores the new item with no lock, and updates items in place
while another request may be copying them, so two threads of the threaded server (or of the
in-process mock) can both pass ``version = :seen`` and both write: two approvers clicking at once
would both approve. Every request that reads or writes items is served under one process-wide
lock; table management and IAM authorization stay concurrent.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from moto.dynamodb.responses import DynamoHandler

_ITEM_ACTIONS = (
    "get_item",
    "put_item",
    "update_item",
    "delete_item",
    "query",
    "scan",
    "batch_get_item",
    "batch_write_item",
    "transact_get_items",
    "transact_write_items",
    "execute_statement",
    "execute_transaction",
    "batch_execute_statement",
)
_MARK = "_one_item_request_at_a_time"
_lock = threading.Lock()
_serving = threading.Lock()


def _alone(action: Any) -> Any:
    @functools.wraps(action)
    def serve(self: DynamoHandler) -> Any:
        with _serving:
            return action(self)

    return serve


def apply() -> None:
    """Idempotent: wrap the handler's item actions once per process."""
    with _lock:
        if getattr(DynamoHandler, _MARK, False):
            return
        for name in _ITEM_ACTIONS:
            setattr(DynamoHandler, name, _alone(getattr(DynamoHandler, name)))
        setattr(DynamoHandler, _MARK, True)
