"""The operator's command without a deployment: a batch CSV read and checked (every problem, by
line, before anything is sent), each row's request, what counts as done in the audit trail,
plans and batch summaries as tables, the commands made from the OpenAPI document, and which
answers are asked again."""

from __future__ import annotations

import json
import re
import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner
from rich.console import Console

from iam_lifecycle_cli import render, spec
from iam_lifecycle_cli.api import Api, ApiError, Target, Unreachable, retry_after
from iam_lifecycle_cli.batch import BatchError, parse
from iam_lifecycle_cli.batch_run import (
    ALREADY,
    DONE,
    FAILED,
    Batch,
    is_done,
    plan,
    plan_summary,
)

HEADER = "action,username,ticket,groups,email,console,reason,until\n"


def text_of(renderable) -> str:
    console = Console(record=True, width=200)
    console.print(renderable)
    return console.export_text()


def problems(csv_text: str) -> list[str]:
    with pytest.raises(BatchError) as raised:
        parse(csv_text)
    return raised.value.problems


def test_rows_become_the_requests_of_their_routes():
    rows = parse(
        HEADER
        + "onboard,pete,HR-1,ChildDeveloperGroup;BreakGlassGroup,pete@example.com,false,,\n"
        + "move,olga,HR-2,BreakGlassGroup,,,,\n"
        + "suspend,sam,HR-3,,,,parental leave,2031-01-31\n"
        + "\n"  # a blank line is no row
        + "Offboard,kim,HR-4,,,,,\n"
    )
    assert [(r.line, r.action, r.username) for r in rows] == [
        (2, "onboard", "pete"),
        (3, "move", "olga"),
        (4, "suspend", "sam"),
        (6, "offboard", "kim"),
    ]
    assert rows[0].request("alice") == (
        "POST",
        "/users",
        {
            "ticket": "HR-1",
            "requested_by": "alice",
            "username": "pete",
            "groups": ["ChildDeveloperGroup", "BreakGlassGroup"],
            "email": "pete@example.com",
            "console": False,
        },
    )
    assert rows[1].request("alice", dry_run=True) == (
        "PUT",
        "/users/olga/groups",
        {"ticket": "HR-2", "requested_by": "alice", "groups": ["BreakGlassGroup"], "dry_run": True},
    )
    assert rows[2].request("alice")[2] == {
        "ticket": "HR-3",
        "requested_by": "alice",
        "reason": "parental leave",
        "until": "2031-01-31",
    }
    assert rows[3].request("alice")[:2] == ("POST", "/users/kim/offboard")
    # A temporary password is answered once: the rows that may get one are known beforehand.
    assert [r.gives_secrets for r in rows] == [False, False, False, False]
    assert parse(HEADER + "onboard,ann,HR-5,ChildDeveloperGroup,,,,\n")[0].gives_secrets
    assert parse(HEADER + "restore,ann,HR-6,,,,,\n")[0].gives_secrets


def test_a_row_names_its_own_requester():
    rows = parse("action,username,ticket,requested_by\noffboard,kim,HR-4,bob\n")
    assert rows[0].request("alice")[2]["requested_by"] == "bob"


def test_every_problem_of_the_file_is_named_with_its_line_before_anything_is_sent():
    found = problems(
        HEADER
        + "onboard,pete,HR-1,,,,,\n"  # no groups
        + "fly,olga,HR-2,,,,,\n"  # no such action
        + "offboard,not*valid,HR-3,,,,,\n"  # a name IAM refuses
        + "offboard,kim,HR-1,,,,,\n"  # the ticket of line 2
        + "offboard,Kim,HR-5,,,,,\n"  # kim again, in another case
        + "offboard,lee,HR-6,,lee@example.com,,,\n"  # a column offboard does not take
        + "suspend,max,slack:T1,,,,,tomorrow\n"  # a reserved ticket, a date that is none
        + "onboard,sue,HR-8,ChildDeveloperGroup,,maybe,,\n"  # console neither true nor false
        + "move,ray,,BreakGlassGroup,,,,\n"  # no ticket
    )
    assert found == [
        "line 2: onboard needs groups",
        "line 3: action 'fly': give one of onboard, move, suspend, restore, offboard",
        "line 4: username 'not*valid': use 1 to 64 letters, digits or +=,.@_- characters",
        "line 5: ticket HR-1 is also on line 2; each change needs a ticket of its own",
        "line 6: Kim is also on line 5; one row per person in a batch",
        "line 7: email does not apply to offboard (it takes: )",
        "line 8: ticket slack:T1: tickets starting slack: or schedule: are the service's",
        "line 8: until 'tomorrow': give a date as YYYY-MM-DD",
        "line 9: console 'maybe': give true or false",
        "line 10: needs a ticket",
    ]


def test_the_header_is_checked_first():
    assert problems("username,ticket,group\npete,T-1,X\n") == [
        "line 1: the header needs the columns action",
        "line 1: unknown columns group (the columns: action, username, ticket, groups, "
        "requested_by, email, console, reason, until, slack_user)",
    ]
    assert problems("action,username,ticket\n") == ["the file has no rows"]


def test_done_is_what_the_audit_trail_holds_as_carried_out_for_that_row():
    row = parse("action,username,ticket\noffboard,kim,HR-4\n")[0]

    def event(result, action="offboard", username="Kim"):
        return {"action": action, "username": username, "ticket": "HR-4", "result": result}

    assert is_done([event("planned"), event("ok")], row)
    # Done, a session revocation owed and retried by the service.
    assert is_done([event("revocation_pending")], row)
    assert not is_done([event("planned"), event("failed: AWS failed"), event("replayed")], row)
    assert not is_done([event("ok", action="suspend")], row)
    assert not is_done([event("ok", username="kimberly")], row)


PLAN = {
    "dry_run": True,
    "action": "onboard",
    "username": "pete",
    "ticket": "HR-1",
    "state_before": None,
    "calls": 3,
    "waves": [
        {
            "wave": 1,
            "accounts": {
                "123456789012": [
                    {"service": "iam", "operation": "CreateUser", "params": {"UserName": "pete"}}
                ]
            },
        },
        {
            "wave": 2,
            "accounts": {
                "123456789012": [
                    {
                        "service": "iam",
                        "operation": "CreateLoginProfile",
                        # The service answers "(secret)"; the table never shows one either way.
                        "params": {"UserName": "pete", "Password": "Hunter2-Hunter2"},
                    },
                    {
                        "service": "iam",
                        "operation": "AddUserToGroup",
                        "params": {"UserName": "pete", "GroupName": "ChildDeveloperGroup"},
                    },
                ],
                "222233334444": [
                    {
                        "service": "iam",
                        "operation": "PutRolePolicy",
                        "params": {"RoleName": "DeveloperRole", "PolicyDocument": "{" * 300},
                    }
                ],
            },
        },
    ],
}


def test_a_plan_is_a_table_of_its_calls_by_wave_and_account():
    assert render.is_plan(PLAN) and not render.is_plan({"username": "pete"})
    assert render.plan_calls(PLAN) == [
        (1, "123456789012", "iam", "CreateUser", "UserName=pete"),
        (2, "123456789012", "iam", "CreateLoginProfile", "UserName=pete Password=(secret)"),
        (
            2,
            "123456789012",
            "iam",
            "AddUserToGroup",
            "UserName=pete GroupName=ChildDeveloperGroup",
        ),
        (
            2,
            "222233334444",
            "iam",
            "PutRolePolicy",
            "RoleName=DeveloperRole PolicyDocument=(300 characters)",
        ),
    ]
    shown = text_of(render.answer(PLAN))
    assert "Plan onboard of pete (ticket HR-1): 3 changing calls in 2 waves" in shown
    assert "CreateLoginProfile" in shown and "(secret)" in shown
    assert "Hunter2" not in shown
    assert "{{{{" not in shown  # a policy document is summed up, not printed


def test_lists_and_users_are_tables():
    shown = text_of(render.answer({"users": [{"username": "pete", "groups": ["A", "B"]}]}))
    assert "users (1)" in shown and "pete" in shown and "A, B" in shown
    assert render.answer({"users": []}) == "users: none"
    assert "arn" in text_of(render.answer({"username": "pete", "arn": "arn:aws:iam::1:user/p"}))
    assert render.answer("[profile x]\n") == "[profile x]\n"  # a text answer, as it came


def test_the_batch_plan_sums_up_each_action():
    rows = parse(
        "action,username,ticket,groups\n"
        "onboard,ann,T-1,ChildDeveloperGroup\n"
        "onboard,bob,T-2,ChildDeveloperGroup\n"
        "onboard,cid,T-3,NoSuchGroup\n"
        "offboard,dee,T-4,\n"
    )
    state = Batch(rows)
    state.of(rows[0]).calls = 3
    state.of(rows[1]).status = ALREADY
    state.of(rows[2]).reason = "403 Forbidden: group(s) NoSuchGroup are not managed"
    state.of(rows[3]).calls = 9
    shown = text_of(plan_summary(state))
    assert [
        line.split()
        for line in shown.splitlines()
        if line.split()[1:2] in (["onboard"], ["offboard"])
    ] == [
        ["│", "onboard", "│", "3", "│", "1", "│", "1", "│", "3", "│", "1", "│"],
        ["│", "offboard", "│", "1", "│", "0", "│", "1", "│", "9", "│", "0", "│"],
    ]
    assert state.to_run() == [rows[0], rows[3]]
    state.of(rows[0]).status, state.of(rows[3]).status = DONE, FAILED
    assert state.counts() == {DONE: 1, ALREADY: 1, FAILED: 1, "not run": 1}


def test_what_is_asked_again_and_what_is_not():
    def error(status, code, message="x"):
        return ApiError(status, code, message)

    assert retry_after(error(429, "TooManyRequestsException"))
    assert retry_after(error(502, "UpstreamError"))
    assert retry_after(error(504, "GatewayTimeout"))
    assert retry_after(error(409, "Conflict", "ticket T-1 is being processed; retry in 10 seconds"))
    assert not retry_after(error(502, "AccessDenied"))
    assert not retry_after(
        error(
            409, "Conflict", "ticket T-1 was already used for a different request; use a new ticket"
        )
    )
    assert not retry_after(error(400, "BadRequest"))


class _Scripted(BaseHTTPRequestHandler):
    """Answers the statuses of ``script`` in turn, recording each request."""

    script: list[tuple[int, dict]] = []
    seen: list[tuple[str, str, dict]] = []

    def _answer(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        body = json.loads(self.rfile.read(length)) if length else None
        type(self).seen.append((self.command, self.path, dict(self.headers), body))
        status, answer = type(self).script.pop(0)
        data = json.dumps(answer).encode()
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    do_GET = do_POST = do_PUT = _answer

    def log_message(self, *args) -> None:
        pass


@pytest.fixture
def server():
    httpd = ThreadingHTTPServer(("127.0.0.1", 0), _Scripted)
    _Scripted.seen = []
    thread = threading.Thread(target=httpd.serve_forever, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{httpd.server_address[1]}"
    httpd.shutdown()
    httpd.server_close()


def test_a_throttled_call_is_sent_again_after_a_pause_and_a_refusal_is_not(server):
    pauses: list[float] = []
    api = Api(Target(server, "token", token="t0ken"), retries=3, sleep=pauses.append)
    _Scripted.script = [
        (429, {"message": "Too Many Requests"}),
        (
            409,
            {
                "Code": "Conflict",
                "Message": "another change to pete is in progress; retry in a minute",
            },
        ),
        (200, {"status": "suspended"}),
    ]
    answer = api.call("POST", "/users/pete/suspend", body={"ticket": "T-1"})
    assert answer.body == {"status": "suspended"} and len(pauses) == 2
    assert all(seen[3] == {"ticket": "T-1"} for seen in _Scripted.seen)  # the same ticket
    assert _Scripted.seen[0][2]["Authorization"] == "Bearer t0ken"

    _Scripted.script = [(403, {"Code": "Forbidden", "Message": "pete is a protected user"})]
    with pytest.raises(ApiError) as refused:
        api.call("GET", "/users/pete")
    assert (refused.value.status, refused.value.message) == (403, "pete is a protected user")
    assert len(pauses) == 2


def test_a_change_that_finished_after_its_batch_was_killed_is_already_done(server):
    """Killed mid-change, run again at once: the plan is refused (the name is taken now), and
    the ticket's audit trail then holds the change as done."""
    row = parse("action,username,ticket,groups\nonboard,pete,HR-1,ChildDeveloperGroup\n")[0]
    api = Api(Target(server, "token", token="t"), retries=0)
    taken = {"Code": "Conflict", "Message": "pete cannot be onboarded: the name is not available"}
    done = {"events": [{"action": "onboard", "username": "pete", "ticket": "HR-1", "result": "ok"}]}
    _Scripted.script = [(409, taken), (200, done)]
    assert plan(api, row, "alice") is None
    assert [(m, p) for m, p, _, _ in _Scripted.seen] == [
        ("POST", "/users"),
        ("GET", "/audit?ticket=HR-1"),
    ]
    # Not done: the refusal stands.
    _Scripted.script = [(409, taken), (200, {"events": []})]
    with pytest.raises(ApiError, match="name is not available"):
        plan(api, row, "alice")


def test_signed_calls_go_under_iam_and_public_ones_carry_no_credential(server, monkeypatch):
    pytest.importorskip("botocore")
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAEXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "secret")
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    api = Api(Target(server, "sigv4", region="eu-west-1"), retries=0)
    _Scripted.script = [(200, {"users": []}), (200, {"status": "ok"})]
    api.call("GET", "/users")
    api.call("GET", "/health", public=True)
    (_, path, headers, _), (_, public_path, public_headers, _) = _Scripted.seen
    assert path == "/iam/users" and public_path == "/health"
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIAEXAMPLE/")
    assert "/eu-west-1/execute-api/aws4_request" in headers["Authorization"]
    assert "Authorization" not in public_headers


def test_a_local_stack_that_is_down_is_named_as_such():
    with socket.socket() as sock:  # a port nothing listens on once closed
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    down = Api(Target(f"http://127.0.0.1:{port}", "token", token="t", local=True), retries=0)
    with pytest.raises(Unreachable, match=r"the local stack is not running: start `make run`"):
        down.call("GET", "/users")


def test_a_route_added_to_the_document_is_a_command_without_a_change(tmp_path, monkeypatch):
    document = yaml.safe_load(spec.DOCUMENT.read_text())
    document["paths"]["/users/{username}/adopt"] = {
        "parameters": [{"$ref": "#/components/parameters/Username"}],
        "post": {
            "operationId": "adoptUser",
            "summary": "Bring an existing IAM user under management",
            "requestBody": {
                "required": True,
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/TicketRequest"}}
                },
            },
            "responses": {"200": {"description": "adopted"}},
        },
    }
    copy = tmp_path / "openapi.yaml"
    copy.write_text(yaml.safe_dump(document))
    monkeypatch.setenv("IAM_LIFECYCLE_OPENAPI", str(copy))
    spec.document.cache_clear()
    spec.operations.cache_clear()
    try:
        from iam_lifecycle_cli.main import cli

        result = CliRunner().invoke(cli, ["adopt-user", "--help"])
        assert result.exit_code == 0, result.output
        assert "USERNAME" in result.output and "--ticket" in result.output
        assert "--dry-run / --no-dry-run" in result.output
    finally:
        spec.document.cache_clear()
        spec.operations.cache_clear()


def test_every_rest_route_of_the_document_is_a_command():
    document = yaml.safe_load(Path(spec.DOCUMENT).read_text())
    routes = {
        (method.upper(), path)
        for path, item in document["paths"].items()
        for method in item
        if method in spec.METHODS and not path.startswith(("/slack/", "/scim/"))
    }
    assert {(op.method, op.path) for op in spec.operations()} == routes
    names = [op.name for op in spec.operations()]
    assert len(names) == len(set(names))
    assert {"onboard-user", "offboard-user", "audit", "access-matrix"} <= set(names)


def test_the_commands_the_docs_name_are_commands():
    """docs/operator.md names commands; each is one (a new route needs no line there)."""
    text = (Path(__file__).resolve().parents[2] / "docs" / "operator.md").read_text()
    table = text.split("| command | route |", 1)[1].split("\n\n", 1)[0]
    first_cells = [line.split("|")[1] for line in table.splitlines() if line.startswith("| `")]
    named = {n for c in first_cells for n in re.findall(r"`([a-z][a-z-]+)[^`]*`", c)} - {"batch"}
    assert named, table
    assert named <= {op.name for op in spec.operations()}
