"""A bounded burst against the local stack on loopback (moto server with IAM enforced, the app under
``chalice local`` as its own principal): 500 requests from 20 threads mixing GET /health,
GET /users/{name}, onboardings of distinct users and suspend/restore cycles.

No answer is an error (no 5xx, no 4xx that the request did not deserve), and no audit entry is
lost: every change that answered 2xx has exactly one "ok" event under its ticket. Bounded by count
and by a deadline: the workers stop taking requests when it passes, and the test then fails.
Throughput is printed, never asserted.
"""

from __future__ import annotations

import http.client
import json
import queue
import random
import threading
import time
from urllib.parse import urlsplit

import boto3

TOTAL = 500
WORKERS = 20
DEADLINE = 90  # seconds for the burst; it takes about 15 on a laptop
SEEDS = [f"seed{n}" for n in range(5)]
CYCLES = 10  # onboard, suspend, restore: three requests each
ONBOARDINGS = 130
GETS = 150
EXPECTED = {"health": 200, "get": 200, "onboard": 201, "suspend": 200, "restore": 200}


class Connection:
    """One keep-alive HTTP connection per worker, as a client with a pool would use."""

    def __init__(self, stack: dict) -> None:
        url = urlsplit(stack["api_url"])
        self.host, self.port = url.hostname, url.port
        self.token = stack["api_token"]
        self.reconnects = 0
        self._conn = http.client.HTTPConnection(self.host, self.port, timeout=30)

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, dict]:
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Authorization": f"Bearer {self.token}", "Content-Type": "application/json"}
        for attempt in (1, 2):
            try:
                self._conn.request(method, path, body=data, headers=headers)
                response = self._conn.getresponse()
                raw = response.read()
                return response.status, json.loads(raw) if raw else {}
            except (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError):
                # An idle keep-alive connection the server closed: open another. A change sent
                # twice is safe (same ticket, same body: the first answer again).
                self._reopen()
                self.reconnects += 1
                if attempt == 2:
                    raise
            except Exception:
                self._reopen()  # a timeout leaves the connection unusable
                raise
        raise AssertionError("unreachable")

    def _reopen(self) -> None:
        self._conn.close()
        self._conn = http.client.HTTPConnection(self.host, self.port, timeout=30)

    def close(self) -> None:
        self._conn.close()


def onboarding(username: str) -> dict:
    return {
        "username": username,
        "groups": ["ChildDeveloperGroup"],
        "ticket": f"T-ON-{username}",
        "requested_by": "load",
        "console": False,
    }


def plan() -> list[list[tuple[str, str, str, dict | None, str | None]]]:
    """Tasks of one or more requests (kind, method, path, body, ticket), in a fixed shuffle."""
    tasks = [
        [("health", "GET", "/health", None, None)]
        for _ in range(TOTAL - GETS - ONBOARDINGS - 3 * CYCLES)
    ]
    tasks += [[("get", "GET", f"/users/{SEEDS[n % len(SEEDS)]}", None, None)] for n in range(GETS)]
    for n in range(ONBOARDINGS):
        body = onboarding(f"load{n}")
        tasks.append([("onboard", "POST", "/users", body, body["ticket"])])
    for n in range(CYCLES):  # one user's changes in order, by one worker
        user = f"cycle{n}"
        suspend, restore = f"T-SU-{user}", f"T-RE-{user}"
        tasks.append(
            [
                ("onboard", "POST", "/users", onboarding(user), f"T-ON-{user}"),
                (
                    "suspend",
                    "POST",
                    f"/users/{user}/suspend",
                    {"ticket": suspend, "requested_by": "load", "reason": "load test"},
                    suspend,
                ),
                (
                    "restore",
                    "POST",
                    f"/users/{user}/restore",
                    {"ticket": restore, "requested_by": "load"},
                    restore,
                ),
            ]
        )
    random.Random(7).shuffle(tasks)
    assert sum(map(len, tasks)) == TOTAL
    return tasks


def audit_events(stack: dict) -> list[dict]:
    """Every audit event in the state table, read as the root account's administrator."""
    dynamodb = boto3.session.Session(region_name="us-east-1", **stack["admin_credentials"]).client(
        "dynamodb", endpoint_url=stack["aws_endpoint_url"]
    )
    pages = dynamodb.get_paginator("query").paginate(
        TableName="iam-lifecycle-dev-state",
        IndexName="by-entity",
        KeyConditionExpression="#e = :audit",
        ExpressionAttributeNames={"#e": "entity"},
        ExpressionAttributeValues={":audit": {"S": "audit"}},
    )
    return [
        {key: value["S"] for key, value in item.items() if "S" in value}
        for page in pages
        for item in page["Items"]
    ]


def test_a_burst_of_500_requests_from_20_threads(stack):
    setup = Connection(stack)
    for seed in SEEDS:
        assert setup.call("POST", "/users", onboarding(seed))[0] == 201
    setup.close()

    tasks: queue.Queue = queue.Queue()
    for task in plan():
        tasks.put(task)
    results: list[tuple[str, str | None, int, dict]] = []
    failures: list[str] = []
    lock = threading.Lock()
    stop_at = time.monotonic() + DEADLINE
    reconnects = []

    def worker() -> None:
        connection = Connection(stack)
        try:
            while time.monotonic() < stop_at:
                try:
                    task = tasks.get_nowait()
                except queue.Empty:
                    return
                for kind, method, path, body, ticket in task:
                    try:
                        status, answer = connection.call(method, path, body)
                    except Exception as error:  # noqa: BLE001 - recorded, asserted below
                        with lock:
                            failures.append(f"{method} {path}: {error!r}")
                        break
                    with lock:
                        results.append((kind, ticket, status, answer))
                    if status != EXPECTED[kind]:
                        break  # the rest of a cycle depends on this step
        finally:
            connection.close()
            with lock:
                reconnects.append(connection.reconnects)

    started = time.monotonic()
    threads = [threading.Thread(target=worker, daemon=True) for _ in range(WORKERS)]
    for thread in threads:
        thread.start()
        time.sleep(0.02)  # a ramp: chalice local listens with a backlog of 5
    for thread in threads:
        thread.join(timeout=DEADLINE + 60)
    elapsed = time.monotonic() - started
    print(
        f"\n{len(results)} requests in {elapsed:.1f} s from {WORKERS} threads "
        f"({len(results) / elapsed:.0f}/s), {sum(reconnects)} reconnects"
    )

    assert not any(thread.is_alive() for thread in threads), "a worker is stuck"
    assert not failures, failures[:10]
    assert len(results) == TOTAL, f"only {len(results)} of {TOTAL} requests within {DEADLINE} s"
    unexpected = [
        (kind, ticket, status, answer)
        for kind, ticket, status, answer in results
        if status != EXPECTED[kind]
    ]
    assert not unexpected, unexpected[:10]

    # No lost audit entry, and none twice: one "ok" event per change, under its ticket.
    changes = {ticket: kind for kind, ticket, _, _ in results if ticket}
    events: dict[str, list[dict]] = {}
    for event in audit_events(stack):
        events.setdefault(event["ticket"], []).append(event)
    for ticket, kind in changes.items():
        assert [(e["action"], e["result"]) for e in events.get(ticket, [])] == [(kind, "ok")], (
            ticket,
            events.get(ticket),
        )

    iam = boto3.session.Session(region_name="us-east-1", **stack["admin_credentials"]).client(
        "iam", endpoint_url=stack["aws_endpoint_url"]
    )
    users = {
        user["UserName"]
        for page in iam.get_paginator("list_users").paginate(PathPrefix="/managed/")
        for user in page["Users"]
    }
    assert users == set(SEEDS) | {f"load{n}" for n in range(ONBOARDINGS)} | {
        f"cycle{n}" for n in range(CYCLES)
    }
