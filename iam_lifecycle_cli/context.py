"""What every command shares: the deployment it talks to, how answers are shown, exit codes."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any

import click

from iam_lifecycle_cli.api import Api, ApiError, target

REFUSED, NOT_SENT, INTERRUPTED = 1, 3, 130


@dataclass
class Context:
    options: dict
    output: str
    _api: Api | None = None

    def api(self) -> Api:
        if self._api is None:
            self._api = Api(target(**self.options))
        return self._api

    def show(self, body: Any) -> None:
        """An answer on stdout: only JSON with --output json, else tables."""
        if self.output == "json":
            click.echo(json.dumps(body, indent=2, default=str))
            return
        from iam_lifecycle_cli import render

        shown = render.answer(body)
        if isinstance(shown, str):
            click.echo(shown, nl=not shown.endswith("\n"))
        else:
            console().print(shown)

    def fail(self, error: ApiError) -> None:
        """An error answer: its Message on stderr (and its body on stdout with --output json)."""
        if self.output == "json":
            click.echo(json.dumps({"status": error.status, **_error_body(error)}, indent=2))
        click.echo(f"error: {error.status} {error.code}: {error.message}", err=True)
        raise SystemExit(REFUSED)


def console(stderr: bool = False) -> Any:
    """Rich's console; off a terminal (a pipe, a file) wide enough that tables are not cut."""
    from rich.console import Console

    found = Console(stderr=stderr, highlight=False)
    if not found.is_terminal:
        found = Console(stderr=stderr, highlight=False, width=200)
    return found


def output_option(command: Any) -> Any:
    """--output on a command too, after its name: the last one given wins."""

    def remember(ctx: click.Context, param: click.Parameter, value: str | None) -> None:
        found = ctx.find_object(Context)
        if value is not None and found is not None:
            found.output = value

    return click.option(
        "--output",
        "-o",
        type=click.Choice(["table", "json"]),
        callback=remember,
        expose_value=False,
        is_eager=True,
        help="json prints only JSON on stdout.",
    )(command)


def _error_body(error: ApiError) -> dict:
    return error.body if isinstance(error.body, dict) else {"Message": error.message}
