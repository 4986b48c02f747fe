"""X-Ray tracing of every invocation with Powertools Tracer.

One Chalice middleware registered for every event type opens a subsegment per invocation, so a
route, queue or schedule handler added later is traced without being touched. Powertools turns
tracing off outside Lambda (``chalice local``, the test client) and wherever
``POWERTOOLS_TRACE_DISABLED=true``; the middleware then only passes the event on.

Nothing of a request or an answer is put into a trace: onboarding and restore answers carry
temporary passwords. AWS calls show up as subsegments through the X-Ray SDK's botocore patch,
which records only the parameters it allow-lists (table names, queue URLs), never IAM payloads;
posts to Slack and ticket callbacks (urllib) through its httplib patch. Those are the only
libraries the app calls out with: patching every module the SDK supports would import requests
(and whatever else is installed) on a cold start for nothing.

The X-Ray SDK is imported only where tracing is on: where it is off, the middleware passes the
event on without loading it.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from typing import Any

_cold = True
PATCHED = ("botocore", "httplib")


class _Off:
    """What :func:`tracer` gives where tracing is off."""

    disabled = True


@functools.cache
def tracer() -> Any:
    """Built on the first event, not at import (the X-Ray SDK pulls in botocore)."""
    from aws_lambda_powertools.tracing.tracer import Tracer

    # Powertools' own rule (POWERTOOLS_TRACE_DISABLED, outside Lambda, SAM or chalice local),
    # asked before Tracer() would import the X-Ray SDK even to switch it off.
    if Tracer._is_tracer_disabled():
        return _Off()
    return Tracer(patch_modules=PATCHED)  # service name from POWERTOOLS_SERVICE_NAME


def handler_name(event: Any) -> str:
    """``GET /users/{username}`` for a route; the Lambda function's name for anything else."""
    method = getattr(event, "method", None)
    context = getattr(event, "context", None)
    if method and isinstance(context, dict):
        return f"{method} {context.get('resourcePath', '?')}"
    return getattr(context, "function_name", None) or type(event).__name__


def trace(event: Any, get_response: Callable[[Any], Any]) -> Any:
    """Chalice middleware: one subsegment per invocation, annotated with the handler."""
    global _cold
    cold, _cold = _cold, False
    active = tracer()
    if active.disabled:
        return get_response(event)
    with active.provider.in_subsegment(name=f"## {handler_name(event)}") as subsegment:
        subsegment.put_annotation("ColdStart", cold)
        subsegment.put_annotation("handler", handler_name(event))
        response = get_response(event)
        status = getattr(response, "status_code", None)
        if status is not None:
            subsegment.put_annotation("status", status)
        return response
