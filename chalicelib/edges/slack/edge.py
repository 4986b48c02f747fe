"""The Slack edge: verify, parse, authorize, put the work on the queue, and answer at once.

Nothing here waits on IAM, so the answer comes well within Slack's 3 seconds even on a cold
start; the queue worker does the work and posts the result to ``response_url``. The only AWS calls
are the signing secret (cached), one conditional write and one queue message.

Identities: the ticket of a Slack request is ``slack:<trigger_id>``, its requester
``slack:<user id>`` (Slack user ids are stable; display names are not and can be changed by the
user). A replay of a signed request (same trigger id, within the signature window) queues
nothing again; the ticket would make the operation a replay anyway.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import time
from collections.abc import Callable
from typing import Any
from urllib.parse import parse_qs

from chalice import Response

from chalicelib.aws.slack_state import CONFIRMATION_SECONDS, Outcome
from chalicelib.edges.http import error_response
from chalicelib.edges.slack import blocks, errors, grammar, listeners, replies
from chalicelib.edges.slack import response_url as response_url_policy
from chalicelib.kernel.errors import AppError, BadRequest, Unauthorized

logger = logging.getLogger(__name__)
DEFAULT_COMMAND = "/access"
SIGNATURE_WINDOW = 5 * 60


def signature_valid(secret: str, raw: bytes, timestamp: str, signature: str) -> bool:
    """slack_sdk's SignatureVerifier.is_valid, step for step (and its errors), without importing
    slack_sdk: its package loads its Web API client, ~15 ms of a cold acknowledgement."""
    if not secret.strip():
        raise ValueError("signing_secret must not be empty.")
    if abs(time.time() - int(timestamp)) > SIGNATURE_WINDOW:
        return False
    base = f"v0:{timestamp}:{raw.decode('utf-8')}".encode()
    expected = "v0=" + hmac.new(secret.encode(), base, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature)


def verify(services: Any, raw: bytes, headers: Any) -> None:
    """Slack's v0 signature over ``v0:<timestamp>:<raw body>``, at most 5 minutes old."""
    timestamp = headers.get("x-slack-request-timestamp")
    signature = headers.get("x-slack-signature")
    if not timestamp or not signature:
        raise Unauthorized("send X-Slack-Signature and X-Slack-Request-Timestamp as Slack does")
    secret = services.secrets.get(services.settings.slack_signing_secret)
    # Slack sends seconds in ASCII digits (int() would also take "+1" or other scripts' digits);
    # it is subtracted from a float, which too many digits overflow.
    valid = timestamp.isascii() and timestamp.isdigit()
    try:
        valid = valid and signature_valid(secret, raw, timestamp, signature)
    except (ValueError, TypeError, OverflowError):  # a signature not ASCII; a timestamp too big
        valid = False
    if not valid:
        raise Unauthorized("the Slack signature is not valid or is older than 5 minutes")


def _form(raw: bytes) -> dict[str, str]:
    try:
        fields = parse_qs(raw.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        raise BadRequest("the body must be form-encoded UTF-8") from None
    return {key: values[0] for key, values in fields.items()}


def _answer(reply: dict | None) -> Response:
    if reply is None:  # Slack reads nothing in the answer to a click; response_url carries it
        return Response(body="", status_code=200, headers={"Content-Type": "text/plain"})
    return Response(
        body=json.dumps(reply), status_code=200, headers={"Content-Type": "application/json"}
    )


def _edge(
    request: Any,
    services: Any,
    handle: Callable[[Any, dict[str, str]], dict | None],
    *,
    as_reply: bool,
) -> Response:
    """Signature first (401), then ``handle``. Its errors become a message the user reads
    (``as_reply``: a slash command shows the answer) or an HTTP error (a click's answer is not
    shown; Slack marks the click as failed)."""
    try:
        raw = request.raw_body or b""
        verify(services, raw, request.headers)
        form = _form(raw)
    except AppError as error:
        return error_response(error)
    try:
        return _answer(handle(services, form))
    except Exception as error:
        if not isinstance(error, AppError):
            logger.exception("unexpected error in a Slack request")
            error = AppError("internal error; the failure was logged")
        elif error.status >= 500:
            logger.exception("Slack request failed: %s", error.code)
        if not as_reply:
            return error_response(error)
        doing = " ".join(form.get("text", "").split()) or "the request"
        return _answer(errors.for_error(error, doing))


# slash commands
def command(request: Any, services: Any) -> Response:
    return _edge(request, services, _command, as_reply=True)


def _command(services: Any, form: dict[str, str]) -> dict | None:
    if form.get("ssl_check") == "1":  # Slack checking the certificate: nothing to do
        return None
    name = form.get("command") or DEFAULT_COMMAND
    text = form.get("text", "")
    slack_user = form.get("user_id", "")

    def refused(verb: str | None) -> dict | None:
        """The refusal of ``verb`` to this member, if it changes something and they are not
        listed; checked on the verb the grammar read, the one the worker would run."""
        if (
            verb is None
            or listeners.VERBS[verb].who != listeners.OPERATORS  # open, or for one's own user
            or slack_user in services.settings.slack_allowed_users
        ):
            return None
        logger.warning("refused %s to Slack user %s", verb, slack_user)
        return replies.refused(name, verb)

    try:
        parsed = grammar.parse_command(text)
    except grammar.Usage as usage:  # a change's grammar is explained only to who may use it
        return refused(usage.verb) or replies.help_text(name, usage.verb or "", usage.problem)
    if refusal := refused(parsed.verb):
        return refusal
    try:
        if parsed.verb == "help":
            return replies.help_text(name, parsed.fields["verb"])
        trigger_id, response_url = form.get("trigger_id", ""), form.get("response_url", "")
        if not (trigger_id and response_url and slack_user):
            raise BadRequest("the request lacks trigger_id, response_url or user_id")
        # Before anything is queued: the answer goes only where Slack's answers may go.
        response_url_policy.check(response_url, services.settings.slack_response_hosts)
        ticket, requested_by = f"slack:{trigger_id}", f"slack:{slack_user}"
        verb = listeners.VERBS[parsed.verb]
        if verb.who == listeners.SELF:
            return _self_service(services, name, verb, parsed, form, ticket, requested_by)
        request = None
        if parsed.changes:
            request = grammar.request_for(parsed, ticket, requested_by)
    except grammar.Usage as usage:
        return replies.help_text(name, usage.verb or "", usage.problem)

    if not services.slack_store.claim_trigger(trigger_id):
        return replies.already_received()
    if verb.campaign and request is not None:
        services.work_queue.send(
            {
                "kind": verb.kind,
                "action": parsed.verb,
                "request": request.model_dump(mode="json"),
                "response_url": response_url,
                "slack_user": slack_user,
            }
        )
        return blocks.message(
            f":hourglass_flowing_sand: {verb.doing}… the answer follows here "
            f"(ticket `{blocks.escape(ticket)}`)."
        )
    dry_run = bool(parsed.fields.get("dry_run"))
    if verb.confirm and not dry_run:  # a plan changes nothing: no confirmation
        confirmation = services.slack_store.create_confirmation(
            parsed.verb, parsed.username, slack_user, ticket
        )
        return replies.confirm_offboard(
            parsed.username, confirmation.id, CONFIRMATION_SECONDS // 60
        )
    work: dict[str, Any] = {
        "kind": verb.kind,
        "action": parsed.verb,
        "username": parsed.username,
        "response_url": response_url,
        "slack_user": slack_user,
    }
    if request is not None:
        # Slack gives no callback URL; a plan is marked only when asked for.
        work["request"] = request.model_dump(
            mode="json", exclude={"callback_url"} if dry_run else {"callback_url", "dry_run"}
        )
    services.work_queue.send(work)
    return replies.acknowledged(
        parsed.verb, parsed.username, ticket if parsed.changes else None, dry_run=dry_run
    )


def _self_service(
    services: Any,
    name: str,
    verb: listeners.Verb,
    parsed: grammar.Command,
    form: dict[str, str],
    ticket: str,
    requested_by: str,
) -> dict:
    """A ``SELF`` verb (``request``, ``requests``, ``done``): for the user linked to the member,
    whoever they are; a member linked to nobody is told at once, unless the verb only asks (an
    approver need not be a managed user). With ``--for @member``, for the user linked to that
    member (the capability decides who may ask for another)."""
    slack_user = form["user_id"]
    fields = dict(parsed.fields)
    other = fields.pop(grammar.FOR_MEMBER, "")  # ``--for @member``: that member's user
    username = services.slack_store.linked_user(other or slack_user) or ""
    if other and not username:
        return replies.not_linked(other)
    if not username and not verb.query:
        return replies.no_link(name)
    if other:
        fields["for"] = username
    parsed = grammar.Command(parsed.verb, username, fields)
    work: dict[str, Any] = {
        "kind": verb.kind,
        "action": parsed.verb,
        "username": username,
        "slack_user": slack_user,
        "response_url": form["response_url"],
        "ticket": ticket,
    }
    if verb.sends == "request":  # a request for others to decide: no change yet, no ticket shown
        work["request"] = grammar.request_for(parsed, ticket, requested_by).model_dump(mode="json")
    else:
        work.update(parsed.fields)
    if not services.slack_store.claim_trigger(form["trigger_id"]):
        return replies.already_received()
    services.work_queue.send(work)
    if verb.query:
        return blocks.message(
            f":hourglass_flowing_sand: Looking up {verb.name}… the answer follows."
        )
    return replies.acknowledged(parsed.verb, username, None if verb.sends == "request" else ticket)


# interactions (the buttons of a confirmation, and of a request's channel message)
def interaction(request: Any, services: Any) -> Response:
    return _edge(request, services, _interaction, as_reply=False)


def _interaction(services: Any, form: dict[str, str]) -> dict | None:
    try:
        payload = json.loads(form.get("payload", ""))
        actions = (payload.get("actions") or []) if payload.get("type") == "block_actions" else []
        slack_user = payload["user"]["id"] if actions else ""
        response_url = payload.get("response_url", "")
        # Signed but malformed (Slack never sends it): refused, not a 500.
        if not (
            isinstance(actions, list)
            and all(isinstance(a, dict) for a in actions)
            and isinstance(slack_user, str)
            and isinstance(response_url, str)
        ):
            raise TypeError
    except (ValueError, TypeError, KeyError, AttributeError, RecursionError):
        raise BadRequest("the body must hold a Slack interaction payload") from None
    if actions:  # every click queues work answered on response_url
        response_url_policy.check(response_url, services.settings.slack_response_hosts)
    for action in actions:
        if action.get("action_id") in (replies.CONFIRM_ACTION, replies.CANCEL_ACTION):
            _confirmation_click(services, action, slack_user, response_url)
        elif action.get("action_id") in listeners.BUTTONS:
            # The member Slack signed for clicked; the worker decides whether they may.
            trigger = payload.get("trigger_id") or action.get("action_ts") or ""
            click = listeners.Click(action, slack_user, response_url, str(trigger))
            services.work_queue.send(listeners.BUTTONS[action["action_id"]](click))
    return None


def _confirmation_click(services: Any, action: dict, slack_user: str, response_url: str) -> None:
    def tell(text: str, replace_original: bool = True) -> None:
        services.work_queue.send(
            {
                "kind": "notice",
                "text": text,
                "response_url": response_url,
                "replace_original": replace_original,
            }
        )

    confirming = action["action_id"] == replies.CONFIRM_ACTION
    if confirming and slack_user not in services.settings.slack_allowed_users:
        tell(
            ":no_entry: Only the people listed in this service's configuration may offboard.",
            replace_original=False,
        )
        return
    outcome, confirmation = services.slack_store.consume_confirmation(
        str(action.get("value", "")), slack_user
    )
    if outcome is Outcome.USED or confirmation is None:
        return  # a second click: the first one is being (or was) acted on
    username = blocks.escape(confirmation.username)
    if outcome is Outcome.NOT_YOURS:
        tell(
            ":no_entry: Only the person who asked may confirm this offboarding.",
            replace_original=False,
        )
    elif outcome is Outcome.EXPIRED:
        tell(
            f"This confirmation to offboard *{username}* expired; nothing was done. Run the "
            "command again."
        )
    elif not confirming:
        tell(f"Offboarding of *{username}* cancelled; nothing was done.")
    else:
        logger.info("offboarding of %s confirmed by %s", confirmation.username, slack_user)
        services.work_queue.send(
            {
                "kind": "change",
                "action": "offboard",
                "username": confirmation.username,
                "request": {"ticket": confirmation.ticket, "requested_by": f"slack:{slack_user}"},
                "response_url": response_url,
                "slack_user": slack_user,
                "prompt": True,
            }
        )
