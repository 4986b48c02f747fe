"""``iam-lifecycle``: the entry point. Exit codes: 0 done, 1 the API refused or failed (its
``Message`` on stderr), 2 a wrong command line, 3 nothing sent (no deployment, no credential,
not reachable), 130 interrupted."""

from __future__ import annotations

import sys
from typing import Any

import click

from iam_lifecycle_cli import spec
from iam_lifecycle_cli.api import ApiError, CommandError
from iam_lifecycle_cli.context import INTERRUPTED, NOT_SENT, REFUSED, Context, output_option


class Commands(click.Group):
    """The hand-written commands, then one per route of the OpenAPI document, made when asked."""

    def list_commands(self, ctx: click.Context) -> list[str]:
        return [*super().list_commands(ctx), *(op.name for op in _operations(ctx))]

    def get_command(self, ctx: click.Context, name: str) -> click.Command | None:
        found = super().get_command(ctx, name)
        if found is not None:
            return found
        for operation in _operations(ctx):
            if operation.name == name:
                from iam_lifecycle_cli.commands import build

                return output_option(build(operation, _send))
        return None

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except CommandError as error:
            click.echo(f"error: {error}", err=True)
            raise SystemExit(NOT_SENT) from None
        except KeyboardInterrupt:
            click.echo("interrupted", err=True)
            raise SystemExit(INTERRUPTED) from None


def _operations(ctx: click.Context) -> tuple[spec.Operation, ...]:
    try:
        return spec.operations()
    except OSError as error:
        raise click.ClickException(f"cannot read the OpenAPI document: {error}") from None


def _send(operation: spec.Operation, path: str, query: dict, body: dict | None) -> None:
    context: Context = click.get_current_context().find_object(Context)  # type: ignore[assignment]
    try:
        answer = context.api().call(
            operation.method, path, query=query, body=body, public=operation.public
        )
    except ApiError as error:
        context.fail(error)
        return
    context.show(answer.body)


@click.group(cls=Commands, context_settings={"help_option_names": ["-h", "--help"]})
@click.option("--url", help="The API's URL (IAM_LIFECYCLE_URL); default: the local stack's.")
@click.option(
    "--auth",
    type=click.Choice(["token", "sigv4"]),
    help="token (default; IAM_LIFECYCLE_TOKEN_FILE or IAM_LIFECYCLE_TOKEN) or sigv4 (the "
    "routes under /iam, signed with an AWS profile's credentials). IAM_LIFECYCLE_AUTH.",
)
@click.option("--token-file", help="A file holding the bearer token (IAM_LIFECYCLE_TOKEN_FILE).")
@click.option("--profile", help="With --auth sigv4: the AWS profile (AWS_PROFILE).")
@click.option("--region", help="With --auth sigv4: the API's region (default: from its URL).")
@click.option(
    "--output",
    "-o",
    type=click.Choice(["table", "json"]),
    default="table",
    show_default=True,
    help="json prints only the API's JSON on stdout.",
)
@click.pass_context
def cli(ctx: click.Context, output: str, **options: Any) -> None:
    """Operate an iam-lifecycle deployment through its REST API: one command per route, and
    batches of onboardings, moves and offboardings from a CSV (`batch run`)."""
    ctx.obj = Context(options=options, output=output)


def _register() -> None:
    from iam_lifecycle_cli.batch_run import batch

    cli.add_command(batch)


_register()


def main() -> None:
    # Progress and messages go to stderr; a closed stdout (| head) ends quietly.
    try:
        cli(prog_name="iam-lifecycle")
    except BrokenPipeError:
        sys.stderr.close()
        raise SystemExit(REFUSED) from None


if __name__ == "__main__":
    main()
