"""Property-based tests of the REST API generated from its OpenAPI document (schemathesis).

Schemathesis draws valid and invalid requests for every operation of chalicelib/edges/openapi.yaml; they
are sent, often with a twist (the real token, a known user in the path, a wrong content type, a
malformed or huge body), through the real Chalice app against moto. For every answer:

- no 5xx;
- its status code is one the document lists for that operation, and its body matches the
  documented schema (every error is exactly ``{"Code", "Message"}``);
- a rejected request changed nothing in IAM: every user, group and role and what hangs off them,
  in the root and the child account, is as it was before it (tests/support/iam_fingerprint.py).
"""

from __future__ import annotations

import json
from time import monotonic
from urllib.parse import quote, urlencode

import pytest
import requests
import schemathesis
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_schema_conformance,
    status_code_conformance,
)
from schemathesis.core.transport import Response

from devstack.local import PROJECT
from tests.support import onboard
from tests.support.iam_fingerprint import changed_since, iam_fingerprint
from tests.support.module_app import running_app

SCHEMA = schemathesis.openapi.from_path(str(PROJECT / "chalicelib" / "edges" / "openapi.yaml"))
# SCIM (its own token and error bodies) is checked by tests/api/test_scim.py and scim2-tester.
OPERATIONS = {
    op.label: op
    for op in (result.ok() for result in SCHEMA.get_all_operations())
    if not op.path.startswith("/scim/")
}
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_schema_conformance,
]
GROUPS = ("ChildDeveloperGroup", "BreakGlassGroup")
# Users the path parameter is often swapped for, so that generated bodies reach the operations:
# active, suspended, protected, unknown, and names at IAM's limits.
KNOWN = ("pete", "sam", "break-glass-owner", "nobody", "a" * 64, "a" * 65, "p.e+t=e,@_-")


def examples(label: str) -> int:
    """Per operation, a few hundred requests in all: more for the changes, fewer for reads and
    for the Slack routes (unsigned here: tests/slack/test_fuzz_slack.py signs them)."""
    return 20 if label.startswith(("GET", "POST /slack")) else 60


# the world every example starts from
@pytest.fixture(scope="module")
def world(provisioned):
    """pete active, sam suspended."""
    with running_app(provisioned) as (api, _):
        onboard(api, "pete", ["ChildDeveloperGroup"], "SETUP-1", requested_by="fuzz")
        onboard(api, "sam", ["BreakGlassGroup"], "SETUP-2", requested_by="fuzz")
        suspended = api.call(
            "POST", "/users/sam/suspend", {"ticket": "SETUP-3", "requested_by": "fuzz"}
        )
        assert suspended.status_code == 200, suspended.json
        yield api


# twists on a generated request
CONTENT_TYPES = st.sampled_from(
    [
        None,
        "text/plain",
        "application/json; charset=utf-8",
        "application/x-www-form-urlencoded",
        "multipart/form-data; boundary=x",
        "application/xml",
        "",
        "not a media type",
        "*/*",
        "application/json\u00e9",
    ]
)
ODD_STRINGS = st.one_of(
    st.text(min_size=1, max_size=40),
    st.sampled_from(
        [
            "",
            " ",
            "\t\n",
            "x" * 100_000,
            "é" * 5000,
            "\u202e\u0000\ufeff",
            "😀" * 300,
            "../../etc/passwd",
            "' OR 1=1 --",
            "${jndi:ldap://x}",
            "%00",
            "null",
        ]
    ),
)
RAW_BODIES = st.one_of(
    st.binary(max_size=64),
    st.sampled_from(
        [
            b"",
            b"{",
            b"}",
            b"[]",
            b"null",
            b"1",
            b'"pete"',
            b"{'ticket': 'T'}",
            b'{"ticket": }',
            b"\xff\xfe{\x00}\x00",
            b"\xef\xbb\xbf{}",
            b'{"a": NaN}',
            b'{"hours": 1e999}',
            b"[" * 100_000,
            b'{"a":' * 50_000,
            b'{"ticket": "' + b"x" * 1_000_000 + b'"}',
            b'{"ticket": "\\ud800", "requested_by": "\\udfff"}',
            b"1" * 5000,
            b'{"ticket": "T", "ticket": "T2", "requested_by": "x"}',
        ]
    ),
)


@st.composite
def twists(draw) -> dict:
    twist = {"auth": draw(st.sampled_from(["token"] * 6 + ["generated", "none", "lowercase"]))}
    if draw(st.integers(0, 3)) == 0:
        twist["username"] = draw(st.one_of(st.sampled_from(KNOWN), ODD_STRINGS))
    if draw(st.integers(0, 5)) == 0:
        twist["content_type"] = draw(CONTENT_TYPES)
    body = draw(st.integers(0, 7))
    if body == 0:
        twist["raw_body"] = draw(RAW_BODIES)
    elif body == 1:
        twist["field"] = (
            draw(
                st.sampled_from(
                    [
                        "username",
                        "ticket",
                        "requested_by",
                        "reason",
                        "email",
                        "group",
                        "groups",
                        "until",
                        "hours",
                        "console",
                        "extra",
                    ]
                )
            ),
            draw(
                st.one_of(
                    ODD_STRINGS,
                    st.integers(),
                    st.none(),
                    st.booleans(),
                    st.lists(ODD_STRINGS, max_size=12),
                    st.dictionaries(st.text(max_size=5), st.integers(), max_size=3),
                )
            ),
        )
    elif body == 2:
        twist["groups"] = draw(st.lists(st.sampled_from(GROUPS + ("Admins",)), max_size=3))
    elif body in (3, 4):  # plausible values, so that changes get past validation and happen
        twist["tidy"] = {
            "ticket": draw(st.from_regex(r"\AT-[0-9]{1,4}\Z")),
            "requested_by": "fuzz",
            "groups": draw(st.lists(st.sampled_from(GROUPS), unique=True)),
            "group": "BreakGlassGroup",
            "hours": draw(st.integers(1, 5)),
            "reason": "fuzzing",
            "email": None,
        }
    return twist


def _segment(value: object) -> str:
    """API Gateway hands the handler its path parameters decoded: send them as they are, unless
    they hold a character that would change the route (then the handler sees them encoded)."""
    text = value if isinstance(value, str) else json.dumps(value)
    return quote(text, safe="") if set(text) & set("/?#") else text


def build(case, twist: dict, token: str) -> tuple[str, str, dict[str, str], bytes]:
    if "username" in (case.path_parameters or {}):
        if "username" in twist:
            case.path_parameters["username"] = twist["username"]
        # An empty (or blank: the route matcher strips it) segment routes elsewhere: /users/ is
        # /users, as it would be in API Gateway.
        assume(str(case.path_parameters["username"]).strip() != "")
    body = case.body
    if isinstance(body, dict):
        if "field" in twist:
            name, value = twist["field"]
            body[name] = value
        if "groups" in twist and "groups" in body:
            body["groups"] = twist["groups"]
        for name, value in twist.get("tidy", {}).items():
            if name in body or name in ("ticket", "requested_by"):
                body[name] = value
    sent = case.as_transport_kwargs(base_url="http://api")
    path = case.operation.path.replace(
        "{username}", _segment((case.path_parameters or {}).get("username", ""))
    )
    if sent.get("params"):
        path += "?" + urlencode(sent["params"], doseq=True)
    headers = {
        name: value for name, value in sent["headers"].items() if name.lower() != "authorization"
    }
    generated = sent["headers"].get("Authorization")
    auth = {
        "token": f"Bearer {token}",
        "lowercase": f"bearer {token}",
        "generated": generated,
        "none": None,
    }[twist["auth"]]
    if auth is not None:
        headers["Authorization"] = auth
    if "content_type" in twist:
        headers.pop("Content-Type", None)
        if twist["content_type"] is not None:
            headers["Content-Type"] = twist["content_type"]
    if "raw_body" in twist:
        raw = twist["raw_body"]
    elif "json" in sent:
        raw = json.dumps(sent["json"]).encode()
    else:
        data = sent.get("data", b"")
        if isinstance(data, dict):
            data = urlencode(data, doseq=True)
        raw = data.encode() if isinstance(data, str) else data or b""
    return sent["method"], path, headers, raw


def answer_headers(answer) -> dict[str, str]:
    headers = {name.lower(): value for name, value in answer.headers.items()}
    # Chalice answers a wrong Content-Type (415) itself, without a Content-Type of its own; API
    # Gateway then sends application/json, its default for a proxy integration.
    if answer.status_code == 415:
        headers.setdefault("content-type", "application/json")
    return headers


def as_response(case, method: str, path: str, headers: dict, raw: bytes, answer) -> Response:
    request = requests.Request(
        method=method, url="http://api" + quote(path, safe="/?=&%"), headers=headers, data=raw
    ).prepare()
    return Response(
        status_code=answer.status_code,
        headers={name: [value] for name, value in answer_headers(answer).items()},
        content=answer.body or b"",
        request=request,
        elapsed=0.0,
        verify=False,
    )


def check_error_body(label: str, status: int, answer) -> None:
    if status < 400:
        return
    assert answer_headers(answer).get("content-type", "").startswith("application/json"), (
        label,
        status,
    )
    error = json.loads(answer.body)
    assert set(error) == {"Code", "Message"}, (label, status, error)
    assert all(isinstance(value, str) and value for value in error.values()), (label, error)


@pytest.mark.parametrize("label", sorted(OPERATIONS))
def test_every_operation_holds_its_contract_under_fuzzing(world, label):
    operation = OPERATIONS[label]
    strategy = st.one_of(
        operation.as_strategy(schemathesis.GenerationMode.POSITIVE),
        operation.as_strategy(schemathesis.GenerationMode.NEGATIVE),
    )
    seen: dict[int, int] = {}
    started = monotonic()

    @settings(
        max_examples=examples(label),
        deadline=None,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(case=strategy, twist=twists())
    def holds(case, twist):
        if monotonic() - started > 40:  # a bound on a slow machine; coverage still reported
            return
        method, path, headers, raw = build(case, twist, world.token)
        before = iam_fingerprint()
        answer = world.client.http.request(method, path, headers=headers, body=raw)
        status = answer.status_code
        seen[status] = seen.get(status, 0) + 1
        where = f"{method} {path[:200]!r} {twist!r:.300} -> {status} {answer.body[:300]!r}"
        assert status < 500, where
        case.validate_response(as_response(case, method, path, headers, raw, answer), checks=CHECKS)
        check_error_body(label, status, answer)
        if status >= 400:
            changes = changed_since(before)
            assert not changes, f"a rejected request changed IAM: {where}: {changes}"

    holds()
    assert seen, "no request was sent"
    # Something reached the handlers beyond the token check (unless only the token is checked).
    if not label.startswith(("GET /health", "POST /slack")):
        assert set(seen) - {401}, seen


# Inputs too rare for random generation to hit, each sent to every route that takes a body.
HOSTILE_BODIES = {
    "nested arrays": b"[" * 100_000,
    "nested objects": b'{"a":' * 50_000,
    "not UTF-8": b'{"ticket": "\xff\xfe"}',
    "UTF-16": '{"ticket": "T"}'.encode("utf-16"),
    "lone surrogates": b'{"ticket": "\\ud800", "requested_by": "\\udfff"}',
    "5000 digits": b'{"hours": ' + b"9" * 5000 + b"}",
    "NaN": b'{"hours": NaN, "ticket": NaN}',
    "a megabyte string": b'{"ticket": "' + b"x" * 1_000_000 + b'"}',
    "truncated": b'{"ticket": "T-1", "requested_by": "a',
    "a list": b'[{"ticket": "T-1", "requested_by": "a"}]',
    "a string": b'"ticket"',
}
# Characters IAM refuses in a tag value (moto then writes XML no parser reads back).
HOSTILE_FIELDS = {
    "NUL in ticket": {"ticket": "T\u0000-1"},
    "escape in requester": {"requested_by": "al\u001bice"},
    "newline in ticket": {"ticket": "T-1\nT-2"},
    "control in email": {"email": "p\u0007@example.com"},
    "hash in ticket": {"ticket": "JIRA#12"},
}
BODY_ROUTES = [
    ("POST", "/users"),
    ("PUT", "/users/pete/groups"),
    ("POST", "/users/pete/suspend"),
    ("POST", "/users/sam/restore"),
    ("POST", "/users/pete/offboard"),
    ("POST", "/users/pete/grants"),
]
# Not "pete;rm" nor a raw "pete\n": Chalice's local gateway cuts a segment at ";" and strips
# the path (API Gateway does neither, and the app refuses such names: tests/api/test_api_users.py).
ODD_NAMES = [
    "pete%00",
    "pe te",
    "pète",
    "p\u0000",
    "a" * 65,
    "%2F",
    "😀",
    "<script>",
    "pete\u202e",
    "\ufeffpete",
    "..",
    "*",
    "pete%2500",
]
# ("PETE" is not odd: IAM names ignore case, so it is pete; tests/service/test_guard_rails.py.)


def assert_rejected(world, before, method: str, path: str, answer, allowed: set[int]) -> None:
    where = f"{method} {path!r} -> {answer.status_code} {answer.body[:300]!r}"
    assert answer.status_code in allowed, where
    check_error_body(path, answer.status_code, answer)
    changes = changed_since(before)
    assert not changes, f"a rejected request changed IAM: {where}: {changes}"


def test_hostile_bodies_are_400s_and_change_nothing(world):
    before = iam_fingerprint()
    for method, path in BODY_ROUTES:
        for raw in HOSTILE_BODIES.values():
            answer = world.call(method, path, raw)
            assert_rejected(world, before, method, path, answer, {400})


def test_onboarding_refuses_what_iam_cannot_tag(world):
    before = iam_fingerprint()
    for name, fields in HOSTILE_FIELDS.items():
        body = {
            "username": "tagged",
            "groups": [],
            "ticket": "T-TAG",
            "requested_by": "fuzz",
            "email": "t@example.com",
            **fields,
        }
        answer = world.call("POST", "/users", body)
        assert_rejected(world, before, "POST", f"/users ({name})", answer, {400})
        assert "IAM tag" in answer.json["Message"], answer.json


def test_odd_path_parameters_are_400s_or_404s(world):
    before = iam_fingerprint()
    for name in ODD_NAMES:
        for method, template in [
            ("GET", "/users/{}"),
            *[(m, p.replace("pete", "{}").replace("sam", "{}")) for m, p in BODY_ROUTES[1:]],
        ]:
            path = template.format(_segment(name))
            body = (
                {
                    "ticket": "T-ODD",
                    "requested_by": "fuzz",
                    "groups": [],
                    "group": "BreakGlassGroup",
                    "hours": 1,
                    "reason": "x",
                }
                if method != "GET"
                else None
            )
            if body is not None:  # only the fields each route takes
                body = {
                    k: v
                    for k, v in body.items()
                    if k in ("ticket", "requested_by")
                    or (k == "groups" and path.endswith("/groups"))
                    or (k in ("group", "hours", "reason") and path.endswith("/grants"))
                }
            answer = world.call(method, path, body)
            assert_rejected(world, before, method, path, answer, {400, 403, 404})
