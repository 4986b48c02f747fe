"""The API clients secret, read and checked, and how a caller is matched to a client (no moto)."""

from __future__ import annotations

import hashlib
import json

import pytest

from chalicelib.edges.clients import Gate, parse
from chalicelib.kernel.errors import ConfigurationError, Forbidden, Unauthorized

TOKEN = "a" * 64
DIGEST = hashlib.sha256(TOKEN.encode()).hexdigest()


def _gate(clients: dict, legacy: str | None = "old-shared-token") -> Gate:
    secrets = {"clients": json.dumps(clients), "token": legacy or ""}
    return Gate(secrets.__getitem__, "clients", "token" if legacy else "")


@pytest.mark.parametrize(
    ("clients", "problem"),
    [
        ([], "JSON object"),
        ({"slack": {"token_sha256": DIGEST, "actions": []}}, "keeps for itself"),
        ({"api-token": {"token_sha256": DIGEST, "actions": []}}, "keeps for itself"),
        ({"has space": {"token_sha256": DIGEST, "actions": []}}, "must be named"),
        ({"t": {"token_sha256": DIGEST}}, "needs actions"),
        ({"t": {"token_sha256": DIGEST, "actions": ["fly"]}}, "does not have: fly"),
        ({"t": {"actions": ["onboard"]}}, "needs token_sha256"),
        ({"t": {"token_sha256": TOKEN[:10], "actions": []}}, "64 hexadecimal"),
        ({"t": {"principal": "arn:aws:iam::1:role/x", "actions": []}}, "role or user ARN"),
        ({"t": {"token_sha256": DIGEST, "actions": [], "token": TOKEN}}, "unknown fields: token"),
    ],
)
def test_a_wrong_secret_says_what_to_fix_and_never_echoes_a_hash(clients, problem):
    with pytest.raises(ConfigurationError) as raised:
        parse(json.dumps(clients), "secret x")
    assert problem in raised.value.message and DIGEST not in raised.value.message


def test_a_token_finds_its_client_by_its_hash():
    gate = _gate({"t": {"token_sha256": DIGEST.upper(), "actions": ["onboard"]}})
    client = gate.by_bearer(f"Bearer {TOKEN}")
    assert (client.name, client.actions, client.deprecated) == ("t", {"onboard"}, False)
    for wrong in (None, "", f"Basic {TOKEN}", "Bearer ", f"Bearer {DIGEST}", "Bearer x"):
        with pytest.raises(Unauthorized):
            gate.by_bearer(wrong)


def test_the_shared_token_is_a_deprecated_client_with_every_action_until_turned_off():
    from chalicelib.kernel.catalogue import ACTIONS

    client = _gate({}).by_bearer("Bearer old-shared-token")
    assert client.name == "api-token" and client.deprecated and client.actions == set(ACTIONS)
    with pytest.raises(Unauthorized):
        _gate({}, legacy=None).by_bearer("Bearer old-shared-token")


def test_a_role_is_every_session_of_it_in_its_own_account_and_a_user_is_itself():
    gate = _gate(
        {
            "robot": {"principal": "arn:aws:iam::123456789012:role/ops/Robot", "actions": []},
            "person": {"principal": "arn:aws:iam::123456789012:user/Ci", "actions": ["move"]},
        }
    )
    assert gate.by_principal("arn:aws:sts::123456789012:assumed-role/Robot/run-1").name == "robot"
    assert gate.by_principal("arn:aws:iam::123456789012:user/ci").name == "person"
    for other in (
        "arn:aws:sts::999999999999:assumed-role/Robot/run-1",
        "arn:aws:sts::123456789012:assumed-role/Robot2/run-1",
        "arn:aws:iam::123456789012:role/ops/Robot",  # a role never calls as itself
        "arn:aws:sts::123456789012:federated-user/Robot",
    ):
        with pytest.raises(Forbidden):
            gate.by_principal(other)
    with pytest.raises(Unauthorized):
        gate.by_principal(None)


def test_a_change_outside_the_clients_actions_is_a_403_naming_it():
    client = _gate({"t": {"token_sha256": DIGEST, "actions": ["onboard"]}}).by_bearer(
        f"Bearer {TOKEN}"
    )
    client.allow("onboard")
    with pytest.raises(Forbidden, match="t may not run offboard"):
        client.allow("offboard")


def test_a_client_may_hold_two_tokens_while_one_is_rotated():
    new = "b" * 64
    both = [DIGEST, hashlib.sha256(new.encode()).hexdigest()]
    gate = _gate({"t": {"token_sha256": both, "actions": []}})
    assert gate.by_bearer(f"Bearer {TOKEN}").name == gate.by_bearer(f"Bearer {new}").name == "t"
    with pytest.raises(ConfigurationError, match="list of them"):
        parse(json.dumps({"t": {"token_sha256": [DIGEST, 3], "actions": []}}), "x")


def test_a_wrong_secret_is_a_500_that_names_no_client_and_logs_what_to_fix(caplog):
    gate = _gate({"ticketing": {"token_sha256": DIGEST, "actions": ["fly"]}})
    with pytest.raises(ConfigurationError) as raised:
        gate.by_bearer(f"Bearer {TOKEN}")
    assert "ticketing" not in raised.value.message and "what to fix was logged" in (
        raised.value.message
    )
    assert any("'ticketing' names actions" in r.getMessage() for r in caplog.records)
