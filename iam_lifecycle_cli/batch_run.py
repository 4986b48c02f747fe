"""``iam-lifecycle batch run FILE.csv``: every row checked, the whole batch planned (each row a
dry run), the plan's summary shown and confirmed, then the changes made a few at a time with a
progress bar, and a summary of what was done, already done, failed (with the reason) or not run.

A batch run again goes on where it stopped: a row whose ticket the audit trail shows done is
not sent again, and a row cut off mid-way is sent again with its ticket, which the service runs
once (the same ticket and body answer the first answer; docs/rest-api.md#tickets)."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
import time
from collections import Counter, deque
from collections.abc import Callable, Iterable
from concurrent.futures import FIRST_COMPLETED, Future, ThreadPoolExecutor, wait
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import click
from rich.console import Console
from rich.table import Table

from iam_lifecycle_cli.api import Api, ApiError, Unreachable, retry_after
from iam_lifecycle_cli.batch import Row
from iam_lifecycle_cli.context import console, output_option

DONE, ALREADY, FAILED, NOT_RUN = "done", "already done", "failed", "not run"
STATUSES = (DONE, ALREADY, FAILED, NOT_RUN)
# What the audit trail records for a change carried out (revocation_pending: done, a session
# revocation still owed and retried by the service).
DONE_RESULTS = ("ok", "revocation_pending")
SECRET_FIELDS = ("temporary_password", "access_key")
FOLLOW_SECONDS = 600  # how long a change handed to the queue worker (202) is followed


@dataclass
class Outcome:
    row: Row
    status: str = NOT_RUN
    reason: str = ""
    calls: int | None = None  # the plan's changing calls
    note: str = ""  # what the service still owes (a revocation pending)

    def as_json(self) -> dict:
        found: dict[str, Any] = {
            "line": self.row.line,
            "action": self.row.action,
            "username": self.row.username,
            "ticket": self.row.ticket,
            "status": self.status,
        }
        for key in ("reason", "calls", "note"):
            value = getattr(self, key)
            if value not in ("", None):
                found[key] = value
        return found


@dataclass
class Batch:
    """The state of one run: each row's outcome, by line."""

    rows: list[Row]
    outcomes: dict[int, Outcome] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.outcomes = {row.line: Outcome(row) for row in self.rows}

    def of(self, row: Row) -> Outcome:
        return self.outcomes[row.line]

    def counts(self) -> Counter:
        return Counter(outcome.status for outcome in self.outcomes.values())

    def to_run(self) -> list[Row]:
        return [r for r in self.rows if self.of(r).status == NOT_RUN and not self.of(r).reason]


# --- reading what is done, planning, changing: one row each, called a few at a time ---------


def is_done(events: Iterable[dict], row: Row) -> bool:
    """Whether the audit trail of the row's ticket holds its change as carried out."""
    return any(
        event.get("action") == row.action
        and str(event.get("username", "")).lower() == row.username.lower()
        and event.get("result") in DONE_RESULTS
        for event in events
    )


def check_done(api: Api, row: Row) -> bool:
    answer = api.call("GET", "/audit", query={"ticket": row.ticket})
    return is_done((answer.body or {}).get("events", []), row)


def plan(api: Api, row: Row, requested_by: str) -> dict | None:
    """The row's plan, or None when its change turns out to be done: a batch killed while a
    change was under way, run again at once, finds that change finishing in the service (its
    plan then refused: the name is taken, the user is gone), and its ticket done right after."""
    method, path, body = row.request(requested_by, dry_run=True)
    try:
        return api.call(method, path, body=body).body
    except ApiError as error:
        if error.status in (404, 409) and check_done(api, row):
            return None
        raise


def change(
    api: Api, row: Row, requested_by: str, sleep: Callable[[float], None] = time.sleep
) -> dict:
    """The row's change, made; a change the service goes on with in the background (202) is
    asked for again with its ticket until it answers its outcome."""
    method, path, body = row.request(requested_by)
    deadline = time.monotonic() + FOLLOW_SECONDS
    attempt = 0
    while True:
        try:
            answer = api.call(method, path, body=body)
            if answer.status != 202:
                return answer.body or {}
        except ApiError as error:
            if not retry_after(error) or time.monotonic() > deadline:
                raise
        if time.monotonic() > deadline:
            raise ApiError(
                202,
                "Accepted",
                f"still running in the background after {FOLLOW_SECONDS} s; run the batch "
                f"again to see its outcome (or GET /audit?ticket={row.ticket})",
            )
        sleep(api.backoff(min(attempt, 4)) + 1)
        attempt += 1


def why(error: Exception) -> str:
    if isinstance(error, ApiError):
        return f"{error.status} {error.code}: {error.message}"
    return str(error) or type(error).__name__


# --- the run -------------------------------------------------------------------------------


class Interrupted(Exception):
    pass


def each(
    rows: list[Row],
    work: Callable[[Row], Any],
    record: Callable[[Row, Future], None],
    concurrency: int,
) -> None:
    """``work`` on every row, ``concurrency`` at a time, ``record`` called in this thread as
    each ends. On Ctrl-C (or SIGTERM) no row is started any more, the rows under way are waited
    for and recorded, and Interrupted is raised; a second Ctrl-C leaves at once (os._exit),
    their outcomes unknown here but known to the service by their tickets.

    The signals only set a flag, read between two rows: an outcome is never half recorded."""
    queue = deque(rows)
    stop = threading.Event()

    def stopping(signum: int, frame: Any) -> None:
        if stop.is_set():
            click.echo("\nleft at once: run the batch again to see what they did", err=True)
            os._exit(130)
        stop.set()

    before = {s: signal.signal(s, stopping) for s in (signal.SIGINT, signal.SIGTERM)}
    pool = ThreadPoolExecutor(max_workers=concurrency)
    running: dict[Future, Row] = {}
    told = False
    try:
        while running or (queue and not stop.is_set()):
            while queue and not stop.is_set() and len(running) < concurrency:
                row = queue.popleft()
                running[pool.submit(work, row)] = row
            finished, _ = wait(running, timeout=0.2, return_when=FIRST_COMPLETED)
            for future in finished:
                record(running.pop(future), future)
            if stop.is_set() and running and not told:
                click.echo(
                    f"\ninterrupted: waiting for the {len(running)} changes under way "
                    "(Ctrl-C again to leave them to the service)",
                    err=True,
                )
                told = True
    finally:
        for signum, handler in before.items():
            signal.signal(signum, handler)
        pool.shutdown(wait=False, cancel_futures=True)
    if stop.is_set() and queue:
        raise Interrupted


class Progress:
    """Progress on stderr: a Rich bar on a terminal, else one line per row (for logs)."""

    def __init__(self, console: Console, total: int, title: str) -> None:
        self.console, self.total, self.count = console, total, 0
        self.lock = threading.Lock()
        self.bar: Any = None
        if console.is_terminal:
            from rich.progress import (
                BarColumn,
                MofNCompleteColumn,
                TextColumn,
                TimeElapsedColumn,
                TimeRemainingColumn,
            )
            from rich.progress import Progress as Bar

            self.bar = Bar(
                TextColumn("{task.description}"),
                BarColumn(),
                MofNCompleteColumn(),
                TimeElapsedColumn(),
                TimeRemainingColumn(),
                TextColumn("{task.fields[counts]}"),
                console=console,
                transient=False,
            )
            self.task = self.bar.add_task(title, total=total, counts="")

    def __enter__(self) -> Progress:
        if self.bar is not None:
            self.bar.start()
        return self

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.stop()

    def advance(self, outcome: Outcome, counts: Counter) -> None:
        self.count += 1
        row = outcome.row
        what = outcome.status + (f": {outcome.reason}" if outcome.reason else "")
        if self.bar is not None:
            shown = ", ".join(f"{counts[s]} {s}" for s in STATUSES[:3] if counts[s])
            self.bar.update(self.task, advance=1, counts=shown)
            if outcome.status == FAILED:
                self.bar.console.print(f"line {row.line} {row.action} {row.username}: {what}")
            return
        width = len(str(self.total))
        self.console.print(
            f"[{self.count:>{width}}/{self.total}] line {row.line} {row.action} "
            f"{row.username}: {what}",
            highlight=False,
            markup=False,
            soft_wrap=True,
        )


class Secrets:
    """Where the answers' temporary passwords go, as each arrives: a file only its owner reads."""

    def __init__(self, path: str | None) -> None:
        self.path, self.lock = path, threading.Lock()

    def keep(self, row: Row, answer: dict) -> None:
        found = {k: answer[k] for k in SECRET_FIELDS if answer.get(k)}
        if not found or self.path is None:
            return
        line = json.dumps({"username": row.username, "ticket": row.ticket, **found}) + "\n"
        with self.lock:
            handle = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
            try:
                os.write(handle, line.encode())
            finally:
                os.close(handle)


def _lines(rows: list[Row]) -> str:
    numbers = [row.line for row in rows]
    return ", ".join(map(str, numbers[:8])) + (
        f" and {len(numbers) - 8} more" if len(numbers) > 8 else ""
    )


# --- tables --------------------------------------------------------------------------------


def plan_summary(state: Batch) -> Table:
    """Per action: rows, already done, planned with how many changing calls, refused."""
    table = Table("action", "rows", ALREADY, "to run", "changing calls", "refused", title="Plan")
    for action in dict.fromkeys(row.action for row in state.rows):
        outcomes = [state.of(r) for r in state.rows if r.action == action]
        planned = [o for o in outcomes if o.calls is not None and not o.reason]
        table.add_row(
            action,
            str(len(outcomes)),
            str(sum(o.status == ALREADY for o in outcomes)),
            str(len(planned)),
            str(sum(o.calls or 0 for o in planned)),
            str(sum(bool(o.reason) and o.status != ALREADY for o in outcomes)),
        )
    return table


def problems_table(outcomes: list[Outcome], title: str) -> Table:
    table = Table("line", "action", "username", "ticket", "reason", title=title)
    for outcome in outcomes:
        row = outcome.row
        table.add_row(str(row.line), row.action, row.username, row.ticket, outcome.reason)
    return table


def summary(state: Batch) -> Table:
    counts = state.counts()
    table = Table("status", "rows", title="Summary")
    for status in STATUSES:
        if counts[status] or status != NOT_RUN:
            table.add_row(status, str(counts[status]))
    return table


# --- the command ---------------------------------------------------------------------------


@click.group()
def batch() -> None:
    """Changes for many people from one CSV (docs/operator.md#the-batch-csv)."""


@batch.command("run")
@output_option
@click.argument("file", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--yes", "-y", is_flag=True, help="Run without asking, once the plan is shown.")
@click.option("--dry-run", is_flag=True, help="Stop after the plan: nothing is changed.")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 16),
    default=4,
    show_default=True,
    help="Changes sent at once.",
)
@click.option(
    "--requested-by",
    help="requested_by of rows that leave it empty (IAM_LIFECYCLE_REQUESTED_BY, else the login).",
)
@click.option(
    "--secrets",
    type=click.Path(dir_okay=False),
    help="A file the temporary passwords of onboardings and restores are appended to (JSON "
    "lines, mode 0600); needed when a row may answer one.",
)
@click.pass_obj
def run(
    context: Any,
    file: Path,
    yes: bool,
    dry_run: bool,
    concurrency: int,
    requested_by: str | None,
    secrets: str | None,
) -> None:
    """Plan every row of FILE, then make the changes, a few at a time; run it again to go on
    after an interruption."""
    from iam_lifecycle_cli.batch import BatchError, parse
    from iam_lifecycle_cli.commands import requested_by_default

    err, out = console(stderr=True), console()
    try:
        rows = parse(file.read_text())
    except BatchError as error:
        for problem in error.problems:
            err.print(f"{file}: {problem}", markup=False)
        err.print(f"{len(error.problems)} problems: nothing was sent; fix the file and run again")
        raise SystemExit(2) from None
    needing = [row for row in rows if row.gives_secrets]
    if needing and not secrets and not dry_run:
        err.print(
            f"lines {_lines(needing)} may answer a temporary password, answered once only: "
            "name a file for them with --secrets FILE (or set console to false)",
            markup=False,
        )
        raise SystemExit(2)
    requester = requested_by or requested_by_default()
    api: Api = context.api()
    json_output = context.output == "json"
    show = err if json_output else out  # with --output json, stdout holds only the JSON
    state = Batch(rows)
    try:
        api.call("GET", "/health", public=True, retries=1)
        _phase(
            err,
            "Checking the tickets in the audit trail",
            rows,
            concurrency,
            lambda row: check_done(api, row),
            lambda row, done: _mark_done(state, row, done),
        )
        fresh = [row for row in rows if state.of(row).status != ALREADY]
        _phase(
            err,
            "Planning (dry runs)",
            fresh,
            concurrency,
            lambda row: plan(api, row, requester),
            lambda row, p: _planned(state, row, p),
        )
    except Interrupted:
        err.print("interrupted before anything was changed")
        raise SystemExit(130) from None
    except Unreachable as error:
        err.print(f"error: {error}", markup=False)
        raise SystemExit(3) from None

    show.print(plan_summary(state))
    refused = [o for o in state.outcomes.values() if o.reason and o.status != ALREADY]
    if refused:
        show.print(problems_table(refused, "Refused by the plan (not run)"))
    todo = state.to_run()
    if dry_run or not todo:
        for outcome in refused:
            outcome.status = FAILED
        _finish(state, show, json_output, dry_run=dry_run)
        return
    if not yes:
        if not sys.stdin.isatty():
            err.print("nothing was changed: to make these changes without a terminal, add --yes")
            raise SystemExit(1)
        if not click.confirm(f"Make the {len(todo)} changes?", err=True, default=False):
            err.print("nothing was changed")
            raise SystemExit(1)
    for outcome in refused:
        outcome.status = FAILED
    keep = Secrets(secrets)

    def work(row: Row) -> dict:
        return change(api, row, requester)

    try:
        with Progress(err, len(todo), "Changing") as progress:

            def record(row: Row, future: Future) -> None:
                outcome = state.of(row)
                try:
                    answer = future.result()
                except (ApiError, Unreachable) as error:
                    outcome.status, outcome.reason = FAILED, why(error)
                except Exception as error:  # a row's own failure never stops the others
                    outcome.status, outcome.reason = FAILED, why(error)
                else:
                    keep.keep(row, answer)
                    outcome.status = DONE
                    pending = answer.get("sessions_revocation_pending")
                    if pending:
                        outcome.note = (
                            "session revocation owed, retried by the service: "
                            + ", ".join(
                                f"{account} ({reason})" for account, reason in pending.items()
                            )
                        )
                progress.advance(outcome, state.counts())

            each(todo, work, record, concurrency)
    except Interrupted:
        _finish(state, show, json_output, interrupted=True)
        raise SystemExit(130) from None
    _finish(state, show, json_output)


def _mark_done(state: Batch, row: Row, future: Future) -> None:
    try:
        if future.result():
            state.of(row).status = ALREADY
    except (ApiError, Unreachable) as error:
        state.of(row).reason = f"its ticket could not be checked: {why(error)}"


def _planned(state: Batch, row: Row, future: Future) -> None:
    outcome = state.of(row)
    try:
        answer = future.result()
    except (ApiError, Unreachable) as error:
        outcome.reason = why(error)
        return
    if answer is None:
        outcome.status = ALREADY
        return
    outcome.calls = int(answer.get("calls", 0)) if isinstance(answer, dict) else 0


def _phase(
    err: Console,
    title: str,
    rows: list[Row],
    concurrency: int,
    work: Callable[[Row], Any],
    record: Callable[[Row, Future], None],
) -> None:
    if not rows:
        return
    with err.status(f"{title}: {len(rows)} rows") if err.is_terminal else _Note(err, title, rows):
        each(rows, work, record, concurrency)


class _Note:
    def __init__(self, err: Console, title: str, rows: list[Row]) -> None:
        err.print(f"{title}: {len(rows)} rows", markup=False)

    def __enter__(self) -> None:
        return None

    def __exit__(self, *exc: object) -> None:
        return None


def _finish(
    state: Batch,
    show: Console,
    json_out: bool,
    dry_run: bool = False,
    interrupted: bool = False,
) -> None:
    failed = [o for o in state.outcomes.values() if o.status == FAILED]
    owed = [o for o in state.outcomes.values() if o.note]
    if not dry_run:
        show.print(summary(state))
        changed_failed = [o for o in failed if o.calls is not None or o.reason]
        if changed_failed:
            show.print(problems_table(changed_failed, "Failed"))
        for outcome in owed:
            show.print(
                f"line {outcome.row.line} {outcome.row.username}: {outcome.note}", markup=False
            )
    if interrupted:
        show.print(
            "interrupted: run the same command again to go on (rows done are known by their "
            "tickets and not sent again)"
        )
    if json_out:
        counts = state.counts()
        click.echo(
            json.dumps(
                {
                    "dry_run": dry_run,
                    "interrupted": interrupted,
                    "summary": {status: counts[status] for status in STATUSES},
                    "rows": [state.of(r).as_json() for r in state.rows],
                },
                indent=2,
            )
        )
    if failed:
        raise SystemExit(1)
