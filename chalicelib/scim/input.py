"""What an identity provider sends, read as far as it can be: filters within their limits, user
bodies and PATCH operations where a deactivation always goes through.

Microsoft Entra ID sends the enterprise ``manager`` as a bare id where RFC 7643 has a complex
value, extension attributes of its own, and booleans as strings ("False"). A request that
deactivates a person is never refused for what else it carries: what the service keeps is
applied, what it does not keep or cannot read is left out and logged by name (never by value).
"""

from __future__ import annotations

import logging
import re
from typing import Any

from pydantic import ValidationError
from scim2_models import Context, PatchOp, SCIMException

from chalicelib.scim.protocol import CORE_USER, KEPT, KNOWN_SCHEMAS, ScimError

logger = logging.getLogger(__name__)

# A filter is a handful of comparisons (Okta and Entra send one or two); scim2-models parses and
# evaluates it against every resource, so its size bounds the work (RFC 7644 §3.4.2.2).
MAX_FILTER_LENGTH = 1024
MAX_FILTER_TERMS = 16
_QUOTED = re.compile(r'"(?:[^"\\]|\\.)*"')
_COMPARISON = re.compile(r"\b(?:eq|ne|co|sw|ew|gt|ge|lt|le|pr)\b", re.IGNORECASE)


def check_filter(text: Any) -> None:
    """Refuse a filter longer or with more comparisons than served, before it is parsed."""
    if not isinstance(text, str):
        return
    if len(text) > MAX_FILTER_LENGTH:
        raise ScimError(
            400,
            f"the filter has {len(text)} characters; at most {MAX_FILTER_LENGTH} are served",
            "invalidFilter",
        )
    terms = len(_COMPARISON.findall(_QUOTED.sub('""', text)))
    if terms > MAX_FILTER_TERMS:
        raise ScimError(
            400,
            f"the filter has {terms} comparisons; at most {MAX_FILTER_TERMS} are served",
            "invalidFilter",
        )


def _false(value: Any) -> bool:
    return value is False or (isinstance(value, str) and value.strip().lower() == "false")


def _attribute(name: str) -> str:
    """An operation's attribute, lower case, without value filter or sub-attribute."""
    name = name.split("[", 1)[0].strip().lower()
    urn, _, rest = name.rpartition(":")
    return f"{urn}:{rest.split('.', 1)[0]}" if urn else rest.split(".", 1)[0]


def _operation(op: Any) -> tuple[str, str, Any]:
    """(op, path, value) of an operation, op and path lower case ("" when absent)."""
    if not isinstance(op, dict):
        return "", "", None
    return str(op.get("op", "")).lower(), str(op.get("path") or ""), op.get("value")


def deactivates(payload: Any, patch: bool) -> bool:
    """Whether the request sets ``active`` to false (a boolean or Entra's string)."""
    if not isinstance(payload, dict):
        return False
    if not patch:
        return _false(payload.get("active"))
    operations = payload.get("Operations")
    for op in operations if isinstance(operations, list) else []:
        kind, path, value = _operation(op)
        if kind not in ("add", "replace"):
            continue
        if path.lower() == "active" and _false(value):
            return True
        if not path and isinstance(value, dict):
            if any(k.lower() == "active" and _false(v) for k, v in value.items()):
                return True
    return False


def _ignored(what: str, names: list[str]) -> None:
    if names:
        logger.warning("SCIM %s: left out what is not kept or not readable: %s", what, names)


def known_only(payload: dict, known: frozenset[str] = KNOWN_SCHEMAS) -> dict:
    """The body without the extensions this service does not know (Entra's own): left out."""
    unknown = sorted(k for k in payload if k.startswith("urn:") and k not in known)
    body = {k: v for k, v in payload.items() if k not in unknown}
    if isinstance(body.get("schemas"), list):
        body["schemas"] = [s for s in body["schemas"] if s in known]
    _ignored("body", unknown)
    return body


def user_body(model: Any, payload: dict, context: Context) -> Any:
    """The user a POST or PUT describes, its unknown extensions left out; a body that
    deactivates is read with only what is kept if it must be, and at worst as ``active:
    false`` alone."""
    body = known_only(payload)
    try:
        return model.model_validate(body, scim_ctx=context)
    except ValidationError:
        if not deactivates(payload, patch=False):
            raise
    kept = {"schemas", "id", "meta", "userName", "externalId", "emails", "active"}
    kept |= {k for k in body if k.startswith("urn:") and f"{k.lower()}:slackuserid" in KEPT}
    for attempt in (kept, {"schemas", "id", "userName"}):
        trimmed = {k: v for k, v in body.items() if k in attempt}
        try:
            wanted = model.model_validate({**trimmed, "active": False}, scim_ctx=context)
        except ValidationError:
            continue
        _ignored("deactivation", sorted(set(body) - set(trimmed)))
        return wanted
    _ignored("deactivation", sorted(set(body) - {"active"}))
    return model.model_validate({"schemas": [CORE_USER], "active": False})


def _split(operations: list) -> list:
    """A path-less operation per attribute of its value, so that each is kept or left alone."""
    split: list[Any] = []
    for op in operations:
        kind, path, value = _operation(op)
        if kind in ("add", "replace") and not path and isinstance(value, dict) and len(value) > 1:
            split.extend({**op, "value": {k: v}} for k, v in value.items())
        else:
            split.append(op)
    return split


def _names(op: Any) -> list[str]:
    """The attributes an operation touches, by name (lower case, no values)."""
    _, path, value = _operation(op)
    if path:
        return [_attribute(path)]
    if isinstance(value, dict):
        return [_attribute(str(k)) for k in value]
    return ["(no path)"]


def _kept(op: Any) -> bool:
    """Whether the operation touches an attribute this service keeps (else it is let go when
    it cannot be read: nothing here would keep it anyway)."""
    _, path, value = _operation(op)
    if path:
        return _attribute(path) in KEPT
    if isinstance(value, dict):
        return any(
            _attribute(str(k)) in KEPT
            or (isinstance(v, dict) and any(f"{str(k).lower()}:{s.lower()}" in KEPT for s in v))
            for k, v in value.items()
        )
    return True


def patch_user(model: Any, payload: dict, target: Any) -> None:
    """Apply a PATCH to ``target`` operation by operation: an operation on what the service
    does not keep, or any other when the request deactivates, is left out if it cannot be
    read or applied; otherwise the first one that fails refuses the request (nothing applied
    is kept: ``target`` is a view built for this request)."""
    operations = payload.get("Operations")
    if not isinstance(operations, list) or not operations:
        PatchOp[model].model_validate(payload, scim_ctx=Context.RESOURCE_PATCH_REQUEST)
        raise ScimError(400, "Operations must be a list of operations", "invalidSyntax")
    lenient = deactivates(payload, patch=True)
    left_out: list[str] = []
    for op in _split(operations):
        try:
            one = PatchOp[model].model_validate(
                {**payload, "Operations": [op]}, scim_ctx=Context.RESOURCE_PATCH_REQUEST
            )
            one.patch(target)
        except (ValidationError, SCIMException):
            if not lenient and _kept(op):
                raise
            left_out.extend(_names(op))
    _ignored("PATCH", left_out)
    if lenient:
        target.active = False
