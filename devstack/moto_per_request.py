"""Work moto 5.2.5 repeats on every request, done once or not at all, answers unchanged.

1. The moto server finds a request's service among the folders of moto's package: it lists the
   package folder and asks ``isdir`` of each of its 200-odd entries on every request. The
   installed package does not change while the server runs, so the list is read once.
2. A DynamoDB Query sorts every item of the table (``Table.all_items``) before picking the few
   it answers, and does so under the one-request-at-a-time lock (moto_dynamodb_atomic): with a
   few thousand audit rows each query took tens of milliseconds and held every other item
   request back. The query sorts what it picks itself, on keys that tell every item apart (the
   table's keys come last), so it is given the items unsorted; the answer, its order and its
   pages are the same.
3. moto finds a request's handler by listing every function of the response class
   (``inspect.getmembers``) on each request: for IAM's large class, about a tenth of an
   in-process read (a GetUser plus a GetItem: 5.6 ms, 5.0 ms without it, medians of six runs).
   The list only changes when a class gains a method (the patches here add theirs at start-up),
   so it is kept per class and listed again only if the class changed.
"""

from __future__ import annotations

import functools
import threading
from typing import Any

from moto import backends
from moto.core import responses, utils
from moto.dynamodb.models.table import Table

_MARK = "_devstack_per_request"
_lock = threading.Lock()
_querying = threading.local()
_handlers: dict[tuple[type, int], list[str]] = {}


def _modules_once(listing: Any) -> Any:
    modules: tuple[str, ...] | None = None

    @functools.wraps(listing)
    def modules_of_moto() -> tuple[str, ...]:
        nonlocal modules
        if modules is None:
            modules = tuple(listing())
        return modules

    return modules_of_moto


def _unsorted_within_query(all_items: Any) -> Any:
    @functools.wraps(all_items)
    def items(self: Table) -> Any:
        if not getattr(_querying, "active", False):
            return all_items(self)
        if self.range_key_attr:
            return [item for by_range in self.items.values() for item in by_range.values()]
        return list(self.items.values())

    return items


def _picking_unsorted(query: Any) -> Any:
    @functools.wraps(query)
    def picked(self: Table, *args: Any, **kwargs: Any) -> Any:
        outer = getattr(_querying, "active", False)
        _querying.active = True
        try:
            return query(self, *args, **kwargs)
        finally:
            _querying.active = outer

    return picked


def _handler_names(clazz: Any) -> list[str]:
    key = (clazz, sum(len(vars(c)) for c in clazz.__mro__))
    names = _handlers.get(key)
    if names is None:
        names = _handlers[key] = utils.method_names_from_class(clazz)
    return names


def apply() -> None:
    """Idempotent: once per process."""
    with _lock:
        if getattr(Table, _MARK, False):
            return
        backends.list_of_moto_modules = _modules_once(backends.list_of_moto_modules)
        Table.all_items = _unsorted_within_query(Table.all_items)  # type: ignore[method-assign]
        Table.query = _picking_unsorted(Table.query)  # type: ignore[method-assign]
        responses.method_names_from_class = _handler_names
        setattr(Table, _MARK, True)
