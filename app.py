"""Routes, schedules and queue handlers: each parses input, calls one service function, returns."""

from chalice import Chalice

from chalicelib.bootstrap import services
from chalicelib.schemas import OnboardRequest, parse
from chalicelib.web import rest

app = Chalice(app_name="iam-lifecycle")


def _token() -> str:
    return services().secrets.get(services().settings.api_token_secret)


def _body(model):  # type: ignore[no-untyped-def]
    return parse(model, app.current_request.raw_body)


@app.route("/health", methods=["GET"])
@rest(app, public=True)
def health() -> dict:
    return {"status": "ok"}


@app.route("/users", methods=["POST"], content_types=["application/json"])
@rest(app, status=201, token=_token)
def create_user() -> dict:
    return services().lifecycle.onboard(_body(OnboardRequest))


@app.route("/users/{username}", methods=["GET"])
@rest(app, token=_token)
def get_user(username: str) -> dict:
    return services().lifecycle.describe(username)
