"""Fixtures of the service tier: a receiver of ticket callbacks, and the app served by chalice
local's threaded server with DynamoDB's conditional writes made atomic in moto."""

from __future__ import annotations

import functools
import json
import threading
import urllib.error
import urllib.request

import pytest

from devstack.local import free_port
from tests.support.concurrency import CALLERS
from tests.support.receiver import Receiver


@pytest.fixture
def receiver():
    receiver = Receiver()
    yield receiver
    receiver.close()


@pytest.fixture
def atomic_dynamodb(monkeypatch):
    """DynamoDB applies a conditional write atomically; moto checks the condition and then writes
    without a lock, so two threads could both pass it. One lock around moto's writes restores
    what the app relies on (and nothing more)."""
    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()
    for name in ("put_item", "update_item", "delete_item", "transact_write_items"):
        original = getattr(DynamoDBBackend, name)

        def locked(*args, _original=original, **kwargs):
            with lock:
                return _original(*args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, functools.wraps(original)(locked))


@pytest.fixture
def local_api(client, aws, atomic_dynamodb):
    """The app served by chalice local's own threaded HTTP server on loopback, in this process
    (so against the same in-process moto as ``client``); returns a JSON caller."""
    from chalice.local import create_local_server

    from app import app

    original_class = app.__class__  # chalice local makes current_request thread-local
    server = create_local_server(app, client._chalice_config, "127.0.0.1", free_port())
    # socketserver listens with a backlog of 5: a burst of more connections is reset.
    server.server.socket.listen(4 * CALLERS)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    base = f"http://{server.host}:{server.port}"

    def call(method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        request = urllib.request.Request(
            base + path,
            method=method,
            data=json.dumps(body).encode() if body else None,
            headers={
                "Authorization": f"Bearer {aws.api_token}",
                "Content-Type": "application/json",
            },
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                return response.status, json.loads(response.read())
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read())

    yield call
    server.shutdown()
    server.server.server_close()
    thread.join(timeout=10)
    app.__class__ = original_class
