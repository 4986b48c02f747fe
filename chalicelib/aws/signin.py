"""AWS Sign-In: end a person's console and ``aws login`` sessions when their access ends.

Removing a user's password and keys leaves their open sign-in sessions able to refresh their
credentials until the sessions expire. ``BatchRevokeSessions`` ends them: "A revoked session can
no longer be refreshed" (AWS Sign-In API reference). It takes at most five sessions a call, so a
user's active sessions (``ListSessions``, every page) are revoked in batches of five, together.

Fail closed: a session reported in ``errors`` or a call that fails raises the app's error, saying
how many were revoked and which are left; the count returned is only of sessions AWS revoked.
Another run revokes what is left (revoking a revoked session succeeds).
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial
from typing import Any

from chalicelib.aws.errors import aws_errors
from chalicelib.kernel.errors import AccessDenied, AppError, UpstreamError
from chalicelib.kernel.waves import wave

BATCH = 5  # BatchRevokeSessions' sessionArns: at most five


def principal_arn(user_arn: str) -> str:
    """The ARN Sign-In names a user by: without the user's path (its PrincipalArn pattern,
    ``iam::<account>:user/<name>``, allows no path)."""
    head, sep, rest = user_arn.partition(":user/")
    return f"{head}{sep}{rest.rsplit('/', 1)[-1]}" if sep else user_arn


class SignIn:
    """The root account's Sign-In sessions of the people the app manages."""

    def __init__(self, client: Callable[[], Any]) -> None:
        self._client = client  # made on first use: most invocations never revoke a session

    def revoke_sessions(self, user_arn: str, reason: str | None = None) -> int:
        """Revoke every active session of the user; how many were revoked (0: none was open)."""
        principal = principal_arn(user_arn)
        try:
            active = self._active(principal)
        except AppError as failure:
            raise type(failure)(
                f"{failure.message}; no sign-in session of {principal} was revoked",
                detail={"revoked": [], "left": None},
            ) from failure
        batches = [active[i : i + BATCH] for i in range(0, len(active), BATCH)]
        outcomes = wave(
            {
                f"revoke-{n}": partial(self._revoke, principal, batch, reason)
                for n, batch in enumerate(batches)
            }
        )
        revoked: set[str] = set()
        refused: list[str] = []
        failures: list[AppError] = []
        for done, errors, failed in outcomes.values():
            revoked.update(done)
            refused += errors
            failures += [failed] if failed is not None else []
        left = [arn for arn in active if arn not in revoked]
        if left or refused or failures:
            # A refused permission stays refused on a retry; anything else may pass.
            denied = any(isinstance(f, AccessDenied) for f in failures)
            causes = "; ".join([*refused, *(f.message for f in failures)])
            raise (AccessDenied if denied else UpstreamError)(
                f"revoking the sign-in sessions of {principal}: {len(revoked)} of "
                f"{len(active)} revoked, {len(left)} still active ({causes})",
                detail={"revoked": sorted(revoked), "left": left},
            )
        return len(revoked)

    def _active(self, principal: str) -> list[str]:
        client = self._client()
        arns: list[str] = []
        with aws_errors(f"listing the sign-in sessions of {principal}"):
            pages = client.get_paginator("list_sessions").paginate(
                principalArn=principal, status="ACTIVE"
            )
            for page in pages:
                # Only this user's: the answer is never trusted to revoke someone else's.
                arns += [s["sessionArn"] for s in page["items"] if s["principalArn"] == principal]
        return list(dict.fromkeys(arns))

    def _revoke(
        self, principal: str, batch: list[str], reason: str | None
    ) -> tuple[list[str], list[str], AppError | None]:
        """One call: (revoked, errors as text, the call's failure); never raises, so that one
        failed batch does not hide what the others revoked."""
        params: dict[str, Any] = {"principalArn": principal, "sessionArns": batch}
        if reason:
            params["reason"] = reason
        try:
            with aws_errors(f"revoking {len(batch)} sign-in sessions of {principal}"):
                answer = self._client().batch_revoke_sessions(**params)
        except AppError as failure:
            return [], [], failure
        revoked = [s["sessionArn"] for s in answer.get("revokedSessions", [])]
        errors = [
            f"{e.get('sessionArn')}: {e.get('code')} {e.get('message', '')}".strip()
            for e in answer.get("errors", [])
        ]
        return [arn for arn in revoked if arn in batch], errors, None
