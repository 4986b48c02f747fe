"""The PagerDuty REST API v2 client (chalicelib/edges/pagerduty.py) against the PagerDuty
stand-in on loopback: the request PagerDuty documents, every page read, answers kept a minute,
and every failure an UpstreamError (never an answer)."""

from __future__ import annotations

import socket
import threading

import pytest

from chalicelib.edges.pagerduty import PagerDuty
from chalicelib.kernel.errors import UpstreamError
from chalicelib.kernel.ports import OnCallEntry
from devstack.pagerduty_api import PagerDutyStandIn

TOKEN = "u+local-token"


class Ticking:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def stand_in():
    with PagerDutyStandIn(token=TOKEN) as running:
        yield running


def client(url: str, clock=None, timeout: float = 3.0) -> PagerDuty:
    return PagerDuty(lambda: TOKEN, url, timeout=timeout, clock=clock or Ticking())


def test_it_asks_as_pagerduty_documents_and_reads_every_page(stand_in):
    people = [
        {"email": f"p{n}@example.com", "escalation_policy": "PESC001", "level": 1 + n % 3}
        for n in range(230)
    ]
    stand_in.set_on_call(*people, {"email": "x@example.com", "escalation_policy": "POTHER1"})
    found = client(stand_in.url).on_call(escalation_policy="PESC001")
    assert len(found) == 230
    assert found[0] == OnCallEntry("p0@example.com", 1, "PESC001", "")
    assert [r["query"]["offset"] for r in stand_in.requests] == [["0"], ["100"], ["200"]]
    first = stand_in.requests[0]
    assert first["query"]["escalation_policy_ids[]"] == ["PESC001"]
    assert first["query"]["include[]"] == ["users"] and first["query"]["limit"] == ["100"]
    assert first["accept"] == "application/vnd.pagerduty+json;version=2"


def test_a_schedule_is_asked_by_its_id(stand_in):
    stand_in.set_on_call(
        {"email": "a@example.com", "escalation_policy": "PESC001", "schedule": "PSCHED1"},
        {"email": "b@example.com", "escalation_policy": "PESC001"},
    )
    found = client(stand_in.url).on_call(schedule="PSCHED1")
    assert found == [OnCallEntry("a@example.com", 1, "PESC001", "PSCHED1")]
    assert stand_in.requests[0]["query"]["schedule_ids[]"] == ["PSCHED1"]


def test_an_answer_is_kept_for_a_minute(stand_in):
    clock = Ticking()
    pagerduty = client(stand_in.url, clock)
    stand_in.set_on_call({"email": "a@example.com", "escalation_policy": "PESC001"})
    assert len(pagerduty.on_call(escalation_policy="PESC001")) == 1
    stand_in.set_on_call()
    clock.now += 59
    assert len(pagerduty.on_call(escalation_policy="PESC001")) == 1
    assert len(stand_in.requests) == 1
    clock.now += 2
    assert pagerduty.on_call(escalation_policy="PESC001") == []
    assert len(stand_in.requests) == 2


def test_a_failure_is_not_kept(stand_in):
    pagerduty = client(stand_in.url)
    stand_in.fail(503, times=1)
    with pytest.raises(UpstreamError, match="HTTP 503"):
        pagerduty.on_call(escalation_policy="PESC001")
    assert pagerduty.on_call(escalation_policy="PESC001") == []


def test_a_wrong_token_is_an_upstream_error_that_does_not_show_the_token(stand_in):
    pagerduty = PagerDuty(lambda: "wrong-token", stand_in.url, clock=Ticking())
    with pytest.raises(UpstreamError) as raised:
        pagerduty.on_call(schedule="PSCHED1")
    assert "HTTP 401" in raised.value.message and "wrong-token" not in raised.value.message


def test_nobody_listening_is_an_upstream_error():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    with pytest.raises(UpstreamError, match="could not reach PagerDuty"):
        client(f"http://127.0.0.1:{port}").on_call(schedule="PSCHED1")


def test_a_pagerduty_that_never_answers_times_out():
    with socket.socket() as server:
        server.bind(("127.0.0.1", 0))
        server.listen()
        accepted: list[socket.socket] = []
        threading.Thread(target=lambda: accepted.append(server.accept()[0]), daemon=True).start()
        with pytest.raises(UpstreamError, match="TimeoutError|timeout"):
            client(f"http://127.0.0.1:{server.getsockname()[1]}", timeout=0.3).on_call(
                schedule="PSCHED1"
            )
        for conn in accepted:
            conn.close()


def test_rows_without_an_e_mail_or_a_level_match_nobody():
    from chalicelib.edges.pagerduty import _entry

    policy = {"id": "PESC001", "type": "escalation_policy_reference"}
    good = {"user": {"email": "a@example.com"}, "escalation_level": 1, "escalation_policy": policy}
    assert _entry(good) == OnCallEntry("a@example.com", 1, "PESC001", "")
    # PagerDuty's user reference (no include[]=users) carries no e-mail
    assert _entry({**good, "user": {"id": "PU1", "type": "user_reference"}}) is None
    assert _entry({**good, "escalation_level": "1"}) is None
    assert _entry({**good, "escalation_level": True}) is None
    assert _entry({**good, "user": None}) is None
    assert _entry("row") is None
