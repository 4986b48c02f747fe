"""The deep health check (``GET /health?deep=true``, behind the token): one live read of each
thing the app needs (IAM's managed path, the state table, the work queue, each secret), all at
once, each with its result and how long it took. Any failure makes the whole answer failing
(503); no secret's value, only its name, is ever part of it."""

from __future__ import annotations

import time
from collections.abc import Callable
from functools import partial
from typing import TYPE_CHECKING, Any

from chalicelib.kernel.errors import AppError
from chalicelib.kernel.waves import wave

if TYPE_CHECKING:
    from chalicelib.aws.health import Probes
    from chalicelib.settings import Settings


def checks(settings: Settings, probes: Probes) -> dict[str, Callable[[], None]]:
    """Every read the check makes, by the name the answer gives it."""
    secrets = {
        "api_token": settings.api_token_secret,
        "slack_signing_secret": settings.slack_signing_secret,
        "slack_bot_token": settings.slack_bot_token_secret,
        "scim_token": settings.scim_token_secret,
        "callback_secret": settings.callback_secret,
        **(
            {"drift_webhook": settings.drift_webhook_secret}
            if settings.drift_webhook_secret
            else {}
        ),
    }
    return {
        "iam": partial(probes.iam, settings.managed_path),
        "state_table": partial(probes.table, settings.state_table),
        "work_queue": partial(probes.queue, settings.work_queue),
        **{f"secret:{name}": partial(probes.secret, secret) for name, secret in secrets.items()},
    }


def deep(settings: Settings, probes: Probes) -> tuple[int, dict[str, Any]]:
    """(200 or 503, the answer): ``{"status": "ok"|"failing", "version", "checks": {name:
    {"ok", "ms", "error"?}}}``."""
    results = wave({name: partial(_timed, read) for name, read in checks(settings, probes).items()})
    failing = any(not result["ok"] for result in results.values())
    return (503 if failing else 200), {
        "status": "failing" if failing else "ok",
        "version": settings.version,
        "checks": dict(sorted(results.items())),
    }


def _timed(read: Callable[[], None]) -> dict[str, Any]:
    started = time.perf_counter()
    try:
        read()
    except AppError as error:  # the app's own words: an action and a resource, no value
        return {"ok": False, "ms": _ms(started), "error": f"{error.code}: {error.message}"}
    except Exception as error:
        return {"ok": False, "ms": _ms(started), "error": type(error).__name__}
    return {"ok": True, "ms": _ms(started)}


def _ms(started: float) -> float:
    return round((time.perf_counter() - started) * 1000, 1)
