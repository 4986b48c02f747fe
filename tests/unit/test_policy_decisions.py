"""The IAM policy documents of this service, decided in IAM's own semantics.

moto evaluates neither trust policies nor most condition keys (docs/emulator.md): a typo in a
condition key would pass every other tier. Each table here is a list of requests with the
decision IAM makes on them, computed by ``@cloud-copilot/iam-simulate`` (tests/support/iam_eval.py,
one Node.js process per table). docs/policy-proofs.md says what is proven and how each request
context is built.

The request context follows the IAM User Guide, "AWS global condition context keys"
(https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html):
- ``aws:username``: an IAM user's friendly name; absent for a role session.
- ``aws:userid``: an IAM user's unique id; for an assumed-role session ``role-id:role-session-name``.
- ``aws:PrincipalArn``: the user's ARN, path included; for a role session the role's ARN (never the
  session's).
- ``aws:TokenIssueTime``: when temporary credentials were issued; only in requests signed with them.
- ``aws:MultiFactorAuthPresent``: absent for a long-term access key, "true" after MFA (an MFA
  console sign-in, or ``sts:AssumeRole`` called with SerialNumber and TokenCode: "Configuring
  MFA-protected API access"), "false" for temporary credentials issued without MFA.
- ``sts:RoleSessionName``: the session name the caller asks for in ``sts:AssumeRole``
  (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#ck_rolesessionname).
- ``${aws:username}`` in a policy is replaced by the request's ``aws:username`` ("IAM policy
  elements: Variables and tags",
  https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html).
"""

from __future__ import annotations

import json
import random
from datetime import UTC, datetime, timedelta
from functools import cache
from pathlib import Path

import pytest

from chalicelib.lifecycle.revocation_policy import (
    cutoff_statement,
    denied_before,
    fit,
    revoke,
    size,
    statement,
    suspended_user_document,
)
from tests.support import iam_eval
from tests.support.cfn_resolve import policy_document, resolve, trust_policy
from tests.support.iam_eval import request, role_session_context, session_arn, user_context

pytestmark = [
    pytest.mark.process,  # Node.js runs the evaluator
    pytest.mark.skipif(
        iam_eval.missing() is not None,
        reason=f"the IAM policy evaluator is not installed: {iam_eval.missing()}",
    ),
]

PROJECT = Path(__file__).resolve().parents[2]
CHILD_TEMPLATE = PROJECT / "templates/child/access-roles.yaml"
ROOT_TEMPLATE = PROJECT / "templates/root/access-groups.yaml"

ROOT = "123456789012"  # the root account (.chalice/config.json ROOT_ACCOUNT_ID)
CHILD = "222233334444"  # a child account (CHILD_ACCOUNT_IDS)
OTHER = "999988887777"  # an account this service knows nothing of
PATH = "/managed/"  # MANAGED_PATH
ROLE_ID = "AROAEXAMPLEID"

ALLOW_ALL = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}
# AWS's AdministratorAccess managed policy, as BreakGlassRole carries it (BreakGlassPolicyArns).
ADMINISTRATOR_ACCESS = ALLOW_ALL

ALLOWED, EXPLICIT, IMPLICIT = "Allowed", "ExplicitlyDenied", "ImplicitlyDenied"
T0 = datetime(2026, 11, 25, 10, 15, tzinfo=UTC)
HOUR = timedelta(hours=1)


def iso(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def check(table: list[tuple[str, dict, str]]) -> None:
    """Every row's request decided (one evaluator process for the table) as the row expects."""
    decisions = iam_eval.decide([row for _, row, _ in table])
    wrong = [
        f"{label}: expected {expected}, IAM decides {got}"
        for (label, _, expected), got in zip(table, decisions, strict=True)
        if got != expected
    ]
    assert not wrong, f"{len(wrong)} of {len(table)} rows differ:\n" + "\n".join(wrong)


@cache
def child_resources(**parameters: str) -> dict[str, dict]:
    return resolve(CHILD_TEMPLATE, {"RootAccountId": ROOT, **parameters}, account=CHILD)


@cache
def root_resources(access_keys: str = "self_service") -> dict[str, dict]:
    return resolve(ROOT_TEMPLATE, {"ChildAccountIds": CHILD, "AccessKeys": access_keys})


def role_arn(role: str, account: str = CHILD) -> str:
    return f"arn:aws:iam::{account}:role/{role}"


def user_arn(name: str, path: str = PATH, account: str = ROOT) -> str:
    return f"arn:aws:iam::{account}:user{path}{name}"


def stage_policy(stage: str) -> dict:
    return json.loads((PROJECT / f".chalice/policy-{stage}.json").read_text())


# --- The harness itself: a wrong answer must be possible -------------------------------------


def test_the_evaluator_denies_explicitly_and_implicitly():
    deny_all = {
        "Version": "2012-10-17",
        "Statement": [{"Effect": "Deny", "Action": "*", "Resource": "*"}],
    }
    only_pete = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Action": "s3:GetObject",
                "Resource": "*",
                "Condition": {"StringEquals": {"aws:username": "pete"}},
            }
        ],
    }
    obj = "arn:aws:s3:::bucket/key"

    def ask(name: str, policies: list[dict]) -> dict:
        context = user_context(ROOT, PATH, name)
        return request("s3:GetObject", obj, user_arn(name), context, policies)

    check(
        [
            ("allowed by an Allow", ask("pete", [ALLOW_ALL]), ALLOWED),
            ("an explicit Deny wins over an Allow", ask("pete", [ALLOW_ALL, deny_all]), EXPLICIT),
            ("no policy: implicitly denied", ask("pete", []), IMPLICIT),
            ("a condition that matches", ask("pete", [only_pete]), ALLOWED),
            ("a condition that does not match", ask("olga", [only_pete]), IMPLICIT),
        ]
    )


def test_the_evaluator_refuses_what_it_cannot_decide():
    context = user_context(ROOT, PATH, "pete")
    with pytest.raises(iam_eval.EvaluatorError, match="s3:GetObjekt|action"):
        iam_eval.decide(
            [request("s3:GetObjekt", "arn:aws:s3:::b/k", user_arn("pete"), context, [ALLOW_ALL])]
        )
    # sts:RoleSessionName does not apply to s3:GetObject: a row relying on it would prove nothing.
    with pytest.raises(iam_eval.EvaluatorError, match="sts:RoleSessionName"):
        iam_eval.decide(
            [
                request(
                    "s3:GetObject",
                    "arn:aws:s3:::b/k",
                    user_arn("pete"),
                    {**context, "sts:RoleSessionName": "pete"},
                    [ALLOW_ALL],
                )
            ]
        )


# --- a. The child roles' trust policies -------------------------------------------------------
# Context: aws:username, aws:PrincipalArn (the user's ARN with its path) and
# aws:MultiFactorAuthPresent of an IAM user (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html),
# sts:RoleSessionName (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_iam-condition-keys.html#ck_rolesessionname),
# ${aws:username} (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_variables.html);
# for AccessRevocationRole, aws:PrincipalArn of a role session is the role's ARN.


def assume_role(
    role: str,
    trust: dict,
    identity: list[dict],
    *,
    username: str = "pete",
    session: str = "pete",
    mfa: bool | None = True,
    account: str = ROOT,
) -> dict:
    """``sts:AssumeRole`` into the child account's ``role`` by an IAM user of ``account`` (a
    cross-account request: the user's identity policies and the role's trust policy must both
    allow it)."""
    context = {**user_context(account, PATH, username, mfa=mfa), "sts:RoleSessionName": session}
    return request(
        "sts:AssumeRole",
        role_arn(role),
        user_arn(username, account=account),
        context,
        identity,
        trust,
    )


def group_policies() -> list[dict]:
    """What ChildDeveloperGroup and BreakGlassGroup grant (templates/root/access-groups.yaml)."""
    resources = root_resources()
    return [
        policy_document(resources, "ChildDeveloperPolicy"),
        policy_document(resources, "BreakGlassPolicy"),
    ]


@pytest.mark.parametrize(
    ("role", "parameter"),
    [("DeveloperRole", "DeveloperMfaRequired"), ("BreakGlassRole", "BreakGlassMfaRequired")],
)
def test_child_role_trust_admits_only_the_user_of_the_session_name(role, parameter):
    """StringLike is case-sensitive (IAM User Guide, "Condition operators": "Case-sensitive
    matching"), and the evaluator matches so: a session named ``Pete`` by user ``pete`` is refused.
    IAM user names are unique regardless of case and ``${aws:username}`` is the name as IAM stores
    it, so the app must hand out the stored spelling as the session name (it does: DESIGN.md,
    "Identity: one person, one name")."""
    groups = group_policies()
    table = []
    for required in ("true", "false"):
        trust = trust_policy(child_resources(**{parameter: required}), role)
        where = f"{role} ({parameter}={required})"
        without_mfa = IMPLICIT if required == "true" else ALLOWED

        specs: list[tuple[str, str, dict]] = [
            ("pete as pete, with MFA", ALLOWED, {}),
            ("pete as pete, long-term key without MFA (key absent)", without_mfa, {"mfa": None}),
            ("pete as pete, temporary credentials without MFA", without_mfa, {"mfa": False}),
            ("olga as olga, with MFA", ALLOWED, {"username": "olga", "session": "olga"}),
            ("olga as pete", IMPLICIT, {"username": "olga", "session": "pete"}),
            ("pete of another account as pete", IMPLICIT, {"account": OTHER}),
        ]
        specs += [
            (f"pete as {other!r}", IMPLICIT, {"session": other})
            for other in ("olga", "pete2", "Pete", "pet", "PETE", "pete.s", "xpete")
        ]
        for label, expected, kwargs in specs:
            table.append(
                (f"{where}: {label}", assume_role(role, trust, groups, **kwargs), expected)
            )
        # The identity side counts too: the group policy is what lets pete ask at all.
        table.append(
            (f"{where}: pete as pete without a group", assume_role(role, trust, []), IMPLICIT)
        )
    # A role session of the root account has no aws:username: ${aws:username} has no value, and
    # the condition does not match whatever the session name.
    trust = trust_policy(child_resources(**{parameter: "false"}), role)
    session_context = role_session_context(ROOT, "SomeRole", "pete", iso(T0))
    table.append(
        (
            f"{role}: a root-account role session named pete",
            request(
                "sts:AssumeRole",
                role_arn(role),
                session_arn(ROOT, "SomeRole", "pete"),
                {**session_context, "sts:RoleSessionName": "pete"},
                [ALLOW_ALL],
                trust,
            ),
            IMPLICIT,
        )
    )
    check(table)


def app_session(role: str, account: str = ROOT) -> tuple[str, dict[str, str]]:
    """A Lambda function's session: its role is ``<app>-<stage>-<function>`` (Chalice with
    autogen_policy off), the session named after the function."""
    return session_arn(account, role, role), role_session_context(
        account, role, role, iso(T0), role_id="AROAAPPROLEID"
    )


def test_only_the_apps_roles_may_assume_the_revocation_role():
    table = []
    for prefix in ("iam-lifecycle-prod", "iam-lifecycle-dev"):
        stage = prefix.rsplit("-", 1)[1]
        trust = trust_policy(child_resources(AppRolePrefix=prefix), "AccessRevocationRole")
        target = role_arn("AccessRevocationRole")

        specs: list[tuple[str, str, dict, list[dict], str]] = []
        for function in ("api_handler", "handle_work", "revocation_prune"):
            principal, context = app_session(f"{prefix}-{function}")
            specs.append(
                (f"the app's {function} role", principal, context, [stage_policy(stage)], ALLOWED)
            )
        other = "iam-lifecycle-dev" if stage == "prod" else "iam-lifecycle-prod"
        for label, (principal, context) in (
            ("the other stage's app role", app_session(f"{other}-api_handler")),
            ("a role whose name only starts alike", app_session(f"{prefix}uction-api_handler")),
            ("another role of the root account", app_session("OrganizationAccountAccessRole")),
            (
                "the app's role name in another account",
                app_session(f"{prefix}-api_handler", account=OTHER),
            ),
            (
                "an IAM user of the root account",
                (user_arn("pete"), user_context(ROOT, PATH, "pete", mfa=True)),
            ),
            (
                "an administrator user",
                (user_arn("admin", "/"), user_context(ROOT, "/", "admin", mfa=True)),
            ),
        ):
            specs.append((label, principal, context, [ALLOW_ALL], IMPLICIT))
        for label, principal, context, identity, expected in specs:
            table.append(
                (
                    f"AppRolePrefix={prefix}: {label}",
                    request("sts:AssumeRole", target, principal, context, identity, trust),
                    expected,
                )
            )
    check(table)


# --- b. The per-person session deny on each access role ----------------------------------------
# Context of a role session: aws:userid is role-id:role-session-name, aws:TokenIssueTime the time
# its credentials were issued (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-userid,
# #condition-keys-tokenissuetime); StringLike's wildcards are * and ? only, case-sensitive
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_elements_condition_operators.html).

OBJECT = "arn:aws:s3:::child-bucket/report.csv"


def in_session(
    document: dict | None,
    name: str,
    issued: datetime,
    *,
    role: str = "DeveloperRole",
    action: str = "s3:GetObject",
    resource: str = OBJECT,
) -> dict:
    """A request of ``name``'s session of ``role`` (issued at ``issued``), the role allowed
    everything, with the revocation ``document`` as the role's inline policy."""
    policies = [ALLOW_ALL] + ([document] if document else [])
    return request(
        action,
        resource,
        session_arn(CHILD, role, name),
        role_session_context(CHILD, role, name, iso(issued), role_id=ROLE_ID),
        policies,
        resource_account=CHILD,
    )


def test_a_persons_deny_holds_their_sessions_issued_before_the_moment():
    document = revoke(None, ["pete"], T0, HOUR)
    minute = timedelta(minutes=1)
    second = timedelta(seconds=1)
    table = [
        ("pete, issued an hour before", in_session(document, "pete", T0 - HOUR), EXPLICIT),
        ("pete, issued a second before", in_session(document, "pete", T0 - second), EXPLICIT),
        ("pete, issued at the moment", in_session(document, "pete", T0), ALLOWED),
        ("pete, issued after it", in_session(document, "pete", T0 + minute), ALLOWED),
        (
            "pete's BreakGlassRole session before",
            in_session(document, "pete", T0 - minute, role="BreakGlassRole"),
            EXPLICIT,
        ),
        (
            "pete deleting the deny from his own session",
            in_session(
                document,
                "pete",
                T0 - minute,
                action="iam:DeleteRolePolicy",
                resource=role_arn("DeveloperRole"),
            ),
            EXPLICIT,
        ),
        (
            "pete listing buckets (no resource)",
            in_session(document, "pete", T0 - minute, action="s3:ListAllMyBuckets", resource="*"),
            EXPLICIT,
        ),
    ]
    # Other people, and names that contain, extend or are contained in "pete": the pattern is
    # "*:pete", and a session name cannot hold ":" (AssumeRole's RoleSessionName is [\w+=,.@-]*).
    for name in ("olga", "pet", "xpete", "pete2", "pete.s", "apete", "Pete", "pete-", "petepete"):
        table.append((f"{name}, issued before", in_session(document, name, T0 - minute), ALLOWED))
    # A revocation in the middle of a minute denies up to the next minute (fails closed).
    late = revoke(None, ["pete"], T0 + timedelta(seconds=30), HOUR)
    table += [
        (
            "revoked at :30, pete issued at :45",
            in_session(late, "pete", T0 + 45 * second),
            EXPLICIT,
        ),
        (
            "revoked at :30, pete issued at the next minute",
            in_session(late, "pete", T0 + minute),
            ALLOWED,
        ),
    ]
    check(table)


def test_an_email_style_name_is_denied_exactly():
    name = "pete.smith+ops@example.com"
    document = revoke(None, [name], T0, HOUR)
    before = T0 - timedelta(minutes=5)
    table = [(name, in_session(document, name, before), EXPLICIT)]
    # "." and "+" are no wildcards in StringLike; only "*" and "?" are.
    for other in (
        "pete.smith",
        "pete",
        "pete.smith+ops@example.co",
        "pete.smith+ops@example.com.au",
        "xpete.smith+ops@example.com",
        "pete.smith+ops@exampleXcom",
        "pete.smithXops@example.com",
    ):
        table.append((other, in_session(document, other, before), ALLOWED))
    check(table)


def test_several_people_and_moments_in_one_document():
    t1, t2 = T0, T0 + timedelta(minutes=20)
    document = revoke(revoke(None, ["pete", "olga"], t1, HOUR), ["ivan", "pete"], t2, HOUR)
    assert document is not None
    # pete appears once, at his later moment; a statement written directly holds the same way.
    by_hand = {
        "Version": "2012-10-17",
        "Statement": [statement(["olga"], t1), statement(["ivan", "pete"], t2)],
    }
    table = []
    for label, doc in (("revoke()", document), ("statement()", by_hand)):
        table += [
            (f"{label}: olga before t1", in_session(doc, "olga", t1 - HOUR / 2), EXPLICIT),
            (f"{label}: olga between", in_session(doc, "olga", t1 + HOUR / 6), ALLOWED),
            (
                f"{label}: pete between (moved to t2)",
                in_session(doc, "pete", t1 + HOUR / 6),
                EXPLICIT,
            ),
            (f"{label}: pete after t2", in_session(doc, "pete", t2), ALLOWED),
            (
                f"{label}: ivan before t2",
                in_session(doc, "ivan", t2 - timedelta(seconds=1)),
                EXPLICIT,
            ),
            (f"{label}: ivan after t2", in_session(doc, "ivan", t2 + HOUR / 6), ALLOWED),
            (f"{label}: anna before both", in_session(doc, "anna", t1 - HOUR / 2), ALLOWED),
        ]
    check(table)


# --- c. The whole-role cutoff, and fit() ---------------------------------------------------------
# Context as in b.; the cutoff is the statement of AWS's "Revoke active sessions" (DateLessThan on
# aws:TokenIssueTime, https://docs.aws.amazon.com/IAM/latest/UserGuide/id_roles_use_revoke-sessions.html).


def test_the_cutoff_denies_every_session_of_the_role_issued_before_it():
    document = {"Version": "2012-10-17", "Statement": [cutoff_statement(T0)]}
    table = []
    for name in ("pete", "olga", "someone-never-revoked", "AccessRevocationRole"):
        table += [
            (f"{name} before", in_session(document, name, T0 - timedelta(seconds=1)), EXPLICIT),
            (f"{name} at", in_session(document, name, T0), ALLOWED),
            (f"{name} after", in_session(document, name, T0 + HOUR / 4), ALLOWED),
        ]
    check(table)


def test_a_fitted_document_that_took_a_cutoff_denies_everyone_before_its_moment():
    names = [f"person{index:03d}.with-a-long-name@example.com" for index in range(200)]
    document = None
    for index, name in enumerate(names):
        document = revoke(document, [name], T0 + timedelta(minutes=index % 50), 12 * HOUR)
    fitted = fit(document, limit=2_000)
    assert fitted.role_cutoff, "a document this large must take the role's cutoff"
    latest = T0 + timedelta(minutes=49)
    table = []
    for name in (names[0], names[-1], "pete", "never-named"):
        table += [
            (
                f"{name} before",
                in_session(fitted.document, name, latest - timedelta(seconds=1)),
                EXPLICIT,
            ),
            (f"{name} at the moment", in_session(fitted.document, name, latest), ALLOWED),
        ]
    check(table)


def generated_documents(count: int, seed: int = 20261125) -> list[tuple[dict, int]]:
    """Documents as the app builds them (one revoke() after another: several people per moment,
    people revoked again later), each with a room too small for it."""
    rng = random.Random(seed)
    pool = [f"user{index:02d}" for index in range(20)] + ["pete.smith+ops@example.com"]
    made: list[tuple[dict, int]] = []
    while len(made) < count:
        document = None
        for _ in range(rng.randint(3, 9)):
            moment = T0 + timedelta(minutes=rng.randint(0, 90), seconds=rng.choice([0, 0, 17]))
            document = revoke(document, rng.sample(pool, rng.randint(1, 4)), moment, 12 * HOUR)
        if document is None or len(document["Statement"]) < 3:
            continue
        limit = rng.randint(size(document) // 4, size(document) - 1)
        made.append((document, limit))
    return made


def _moment(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)


def test_fitting_never_allows_a_session_the_unfitted_document_denied():
    """For every person of each generated document (and one never named), sessions issued just
    before and at their moment in the unfitted and in the fitted document, and long before and
    after every moment: IAM's decision is what ``denied_before()`` says for each document, and
    wherever the unfitted document denies, the fitted one denies too."""
    table = []
    cutoffs = 0
    count = 12
    for number, (document, limit) in enumerate(generated_documents(count)):
        fitted = fit(document, limit)
        assert size(fitted.document) <= limit
        cutoffs += fitted.role_cutoff
        statements = document["Statement"]
        moments = sorted(
            _moment(s["Condition"]["DateLessThan"]["aws:TokenIssueTime"]) for s in statements
        )
        names = {
            u.split(":", 1)[1]
            for s in statements
            for u in s["Condition"]["StringLike"]["aws:userid"]
        }
        kind = "cutoff" if fitted.role_cutoff else "merged"
        for name in sorted(names) + ["nobody"]:
            was, now = denied_before(document, name), denied_before(fitted.document, name)
            issued = {moments[0] - HOUR, moments[-1] + HOUR}
            for moment in (was, now):
                if moment is not None:
                    issued |= {moment - timedelta(seconds=1), moment}
            for at in sorted(issued):
                label = f"document {number} ({kind}): {name} issued {iso(at)}"
                before = EXPLICIT if was is not None and at < was else ALLOWED
                after = EXPLICIT if now is not None and at < now else ALLOWED
                table.append((f"{label}, unfitted", in_session(document, name, at), before))
                table.append((f"{label}, fitted", in_session(fitted.document, name, at), after))
    assert 0 < cutoffs < count, "the generated rooms should give both merged documents and cutoffs"
    decisions = iam_eval.decide([row for _, row, _ in table])
    wrong = [
        f"{label}: expected {expected}, IAM decides {got}"
        for (label, _, expected), got in zip(table, decisions, strict=True)
        if got != expected
    ]
    # Fitting only ever denies more: a fitted row is denied wherever its unfitted twin is.
    for index in range(0, len(table), 2):
        if decisions[index] == EXPLICIT and decisions[index + 1] != EXPLICIT:
            wrong.append(
                f"{table[index + 1][0]}: the unfitted document denies it, the fitted one does not"
            )
    assert not wrong, f"{len(wrong)} of {len(table)} rows:\n" + "\n".join(wrong)


# --- d. A suspended user's deny -------------------------------------------------------------------
# Context of an IAM user as in a. (aws:MultiFactorAuthPresent present or absent); GetSessionToken:
# https://docs.aws.amazon.com/IAM/latest/UserGuide/id_credentials_temp_control-access_getsessiontoken.html


def suspended_rows(extra: list[dict], mfa: bool | None, label: str) -> list[tuple[str, dict]]:
    """pete's requests with the self-service policy, both groups' policies and ``extra``."""
    resources = root_resources("self_service")
    identity = [policy_document(resources, "SelfServicePolicy"), *group_policies(), *extra]
    context = user_context(ROOT, PATH, "pete", mfa=mfa)
    me = user_arn("pete")
    trust = trust_policy(child_resources(DeveloperMfaRequired="false"), "DeveloperRole")

    def ask(action: str, resource: str, **more) -> dict:
        return request(action, resource, me, context, identity, **more)

    return [
        (f"{label}: iam:CreateAccessKey on their own user", ask("iam:CreateAccessKey", me)),
        (f"{label}: iam:ChangePassword", ask("iam:ChangePassword", me)),
        (f"{label}: iam:GetUser of their own user", ask("iam:GetUser", me)),
        (f"{label}: iam:EnableMFADevice", ask("iam:EnableMFADevice", me)),
        (
            f"{label}: sts:AssumeRole into DeveloperRole",
            request(
                "sts:AssumeRole",
                role_arn("DeveloperRole"),
                me,
                {**context, "sts:RoleSessionName": "pete"},
                identity,
                trust,
            ),
        ),
        (
            f"{label}: signin:CreateOAuth2Token (aws login)",
            ask(
                "signin:CreateOAuth2Token",
                f"arn:aws:signin:us-east-1:{ROOT}:oauth2/public-client/localhost",
            ),
        ),
        (f"{label}: s3:ListAllMyBuckets", ask("s3:ListAllMyBuckets", "*")),
        (f"{label}: sts:GetSessionToken", ask("sts:GetSessionToken", "*")),
    ]


def suspension_documents() -> list[tuple[str, dict]]:
    documents = [("suspended_user_document()", suspended_user_document())]
    template = resolve(ROOT_TEMPLATE, {"ChildAccountIds": CHILD})
    for logical_id, resource in template.items():
        props = resource["Properties"]
        if resource["Type"] == "AWS::IAM::ManagedPolicy" and "Suspend" in logical_id:
            documents.append(
                (f"{logical_id} ({props.get('ManagedPolicyName')})", props["PolicyDocument"])
            )
    return documents


def test_a_suspended_user_is_denied_everything_whatever_else_they_hold():
    """The deny beside the self-service policy and both groups' policies: every request of the
    user, with MFA or without, is explicitly denied.

    sts:GetSessionToken is decided here as the document says; AWS itself does not authorize
    GetSessionToken with policies ("Permissions for GetSessionToken": no permissions are required
    and policies cannot control it), so a suspended user with an active key still gets a session
    token, and every call made with it is denied by the same deny (the token carries the user's
    permissions). Suspension deactivates the keys as well."""
    table = []
    for name, document in suspension_documents():
        for mfa in (True, None):
            label = f"{name}, MFA {'present' if mfa else 'absent'}"
            table += [(lbl, row, EXPLICIT) for lbl, row in suspended_rows([document], mfa, label)]
    check(table)


def test_without_the_suspension_the_same_requests_are_as_the_self_service_policy_says():
    rows = dict(suspended_rows([], True, "MFA"))
    expected = {
        "iam:CreateAccessKey on their own user": ALLOWED,
        "iam:ChangePassword": ALLOWED,
        "iam:GetUser of their own user": ALLOWED,
        "iam:EnableMFADevice": ALLOWED,
        "sts:AssumeRole into DeveloperRole": ALLOWED,
        "signin:CreateOAuth2Token (aws login)": ALLOWED,
        "s3:ListAllMyBuckets": IMPLICIT,  # nothing grants it
        "sts:GetSessionToken": IMPLICIT,  # nothing grants it (AWS does not ask: see above)
    }
    check([(label, row, expected[label.split(": ", 1)[1]]) for label, row in rows.items()])


def test_the_templates_suspension_policy_is_the_domains_document():
    documents = suspension_documents()
    if len(documents) == 1:
        pytest.skip("templates/root/access-groups.yaml has no suspension managed policy")
    for name, document in documents[1:]:
        assert document["Statement"] == suspended_user_document()["Statement"], name


# --- e. The self-service policy's MFA block ----------------------------------------------------
# aws:MultiFactorAuthPresent: absent for a long-term key, "false" for temporary credentials issued
# without MFA, "true" after MFA (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_condition-keys.html#condition-keys-multifactorauthpresent);
# BoolIfExists matches an absent key. ${aws:username} is the user's name as IAM stores it.


def self_service(access_keys: str) -> dict:
    return policy_document(root_resources(access_keys), "SelfServicePolicy")


def test_without_mfa_a_user_may_only_enrol_mfa_and_change_their_password():
    me = user_arn("pete")
    mfa_device = f"arn:aws:iam::{ROOT}:mfa/pete"
    signin = f"arn:aws:signin:us-east-1:{ROOT}:oauth2/public-client/localhost"
    allowed_without_mfa = [
        ("iam:ChangePassword", me),
        ("iam:GetUser", me),
        ("iam:CreateVirtualMFADevice", mfa_device),
        ("iam:EnableMFADevice", me),
        ("iam:ListMFADevices", me),
        ("iam:ResyncMFADevice", me),
        ("iam:GetMFADevice", me),
        ("iam:GetAccountPasswordPolicy", "*"),
        ("iam:ListVirtualMFADevices", "*"),
        ("signin:AuthorizeOAuth2Access", signin),
        ("signin:CreateOAuth2Token", signin),
    ]
    # Granted by the policy, but only once signed in with MFA.
    allowed_with_mfa_only = [
        ("iam:CreateAccessKey", me),
        ("iam:ListAccessKeys", me),
        ("iam:UpdateAccessKey", me),
        ("iam:DeleteAccessKey", me),
        ("iam:GetAccessKeyLastUsed", me),
        ("iam:DeactivateMFADevice", me),
        ("iam:DeleteVirtualMFADevice", mfa_device),
    ]
    never = [  # nothing in the self-service policy grants these
        ("s3:ListAllMyBuckets", "*"),
        ("iam:ListUsers", "*"),
        ("iam:CreateLoginProfile", me),
        ("iam:AttachUserPolicy", me),
        ("sts:AssumeRole", role_arn("DeveloperRole")),
    ]
    # Another person's user and device, and users outside the managed path: never granted.
    # Without MFA, the actions the block leaves out (its NotAction: enrolment, the password) are
    # refused for want of an allow, the others by the block itself.
    others = [
        ("iam:ChangePassword", user_arn("olga"), IMPLICIT),
        ("iam:GetUser", user_arn("olga"), IMPLICIT),
        ("iam:EnableMFADevice", user_arn("olga"), IMPLICIT),
        ("iam:CreateVirtualMFADevice", f"arn:aws:iam::{ROOT}:mfa/olga", IMPLICIT),
        ("iam:CreateAccessKey", user_arn("olga"), EXPLICIT),
        ("iam:DeactivateMFADevice", user_arn("olga"), EXPLICIT),
        ("iam:DeleteVirtualMFADevice", f"arn:aws:iam::{ROOT}:mfa/olga", EXPLICIT),
        ("iam:CreateAccessKey", user_arn("pete", "/"), EXPLICIT),
        ("iam:ChangePassword", user_arn("pete", "/other/"), IMPLICIT),
        ("iam:GetUser", user_arn("pete", "/other/"), IMPLICIT),
    ]
    table = []
    policy = self_service("self_service")
    for mfa in (None, False, True):
        context = user_context(ROOT, PATH, "pete", mfa=mfa)
        where = {None: "MFA key absent", False: "MFA false", True: "MFA true"}[mfa]

        def row(action: str, resource: str, expected: str, context=context, where=where) -> None:
            table.append(
                (
                    f"{where}: {action} on {resource}",
                    request(action, resource, me, context, [policy]),
                    expected,
                )
            )

        for action, resource in allowed_without_mfa:
            row(action, resource, ALLOWED)
        for action, resource in allowed_with_mfa_only:
            row(action, resource, ALLOWED if mfa else EXPLICIT)
        for action, resource in never:
            row(action, resource, IMPLICIT if mfa else EXPLICIT)
        for action, resource, without_mfa in others:
            row(action, resource, IMPLICIT if mfa else without_mfa)
    # Where the stage allows no keys (ACCESS_KEYS=none, the default), not even with MFA.
    no_keys = self_service("none")
    context = user_context(ROOT, PATH, "pete", mfa=True)
    for action in ("iam:CreateAccessKey", "iam:ListAccessKeys", "iam:DeleteAccessKey"):
        table.append(
            (
                f"AccessKeys=none, MFA true: {action}",
                request(action, me, me, context, [no_keys]),
                IMPLICIT,
            )
        )
    check(table)


# --- f. The break-glass guard -----------------------------------------------------------------
# Context of a BreakGlassRole session as in b.; iam:PolicyARN names the policy attached or detached
# (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html).


def access_guard() -> tuple[str, dict, dict[str, dict]]:
    """The customer managed policy of templates/child/access-roles.yaml that carries the explicit
    deny and is attached to BreakGlassRole."""
    resources = child_resources()
    found = []
    for logical_id, resource in resources.items():
        props = resource["Properties"]
        statements = props.get("PolicyDocument", {}).get("Statement", [])
        attached = "BreakGlassRole" in props.get("Roles", [])
        # The overflow policies of the session denies are attached too; they deny nothing
        # until the app writes people into them (the revocation tables decide those).
        overflow = "Revocation" in str(props.get("ManagedPolicyName", ""))
        if (
            resource["Type"] == "AWS::IAM::ManagedPolicy"
            and attached
            and not overflow
            and any(s.get("Effect") == "Deny" for s in statements)
        ):
            found.append((logical_id, props["PolicyDocument"]))
    if not found:
        pytest.fail(
            "templates/child/access-roles.yaml has no customer managed policy attached to "
            "BreakGlassRole with a Deny (AccessGuardPolicy): break-glass sessions could remove the "
            "revocation deny written against them (DESIGN.md, 'The access model')"
        )
    [(logical_id, document)] = found
    return logical_id, document, resources


def test_break_glass_cannot_change_the_access_roles_or_their_policies():
    logical_id, guard, resources = access_guard()
    guard_arn = f"arn:aws:iam::{CHILD}:policy{resources[logical_id]['Properties'].get('Path', '/')}{logical_id}"
    developer_policy = f"arn:aws:iam::{CHILD}:policy/DeveloperPolicy"  # as the resolver names it
    identity = [ADMINISTRATOR_ACCESS, guard]
    principal = session_arn(CHILD, "BreakGlassRole", "pete")
    context = role_session_context(CHILD, "BreakGlassRole", "pete", iso(T0))

    def ask(action: str, resource: str, keys: dict[str, str] | None = None) -> dict:
        return request(
            action,
            resource,
            principal,
            {**context, **(keys or {})},
            identity,
            resource_account=CHILD,
        )

    table = []
    guarded_roles = ("DeveloperRole", "BreakGlassRole", "AccessRevocationRole")
    for role in guarded_roles:
        for action in (
            "iam:PutRolePolicy",
            "iam:DeleteRolePolicy",
            "iam:UpdateAssumeRolePolicy",
            "iam:DeleteRole",
            "iam:AttachRolePolicy",
        ):
            table.append((f"{action} on {role}", ask(action, role_arn(role)), EXPLICIT))
        table.append(
            (
                f"iam:DetachRolePolicy of DeveloperPolicy from {role}",
                ask("iam:DetachRolePolicy", role_arn(role), {"iam:PolicyARN": developer_policy}),
                EXPLICIT,
            )
        )
    for policy_arn, name in ((developer_policy, "DeveloperPolicy"), (guard_arn, logical_id)):
        for action in (
            "iam:CreatePolicyVersion",
            "iam:SetDefaultPolicyVersion",
            "iam:DeletePolicy",
        ):
            table.append((f"{action} on {name}", ask(action, policy_arn), EXPLICIT))
    table.append(
        (
            f"iam:DetachRolePolicy of {logical_id} from another role",
            ask("iam:DetachRolePolicy", role_arn("AdminRole"), {"iam:PolicyARN": guard_arn}),
            EXPLICIT,
        )
    )
    # Elsewhere an administrator is still one.
    admin_policy = "arn:aws:iam::aws:policy/AdministratorAccess"
    table += [
        (
            "iam:CreateRole of another role",
            ask("iam:CreateRole", role_arn("IncidentRole")),
            ALLOWED,
        ),
        (
            "iam:PutRolePolicy on another role",
            ask("iam:PutRolePolicy", role_arn("IncidentRole")),
            ALLOWED,
        ),
        (
            "iam:DetachRolePolicy of another policy from another role",
            ask("iam:DetachRolePolicy", role_arn("IncidentRole"), {"iam:PolicyARN": admin_policy}),
            ALLOWED,
        ),
        ("iam:GetRole of DeveloperRole", ask("iam:GetRole", role_arn("DeveloperRole")), ALLOWED),
        (
            "iam:GetRolePolicy of BreakGlassRole",
            ask("iam:GetRolePolicy", role_arn("BreakGlassRole")),
            ALLOWED,
        ),
        ("s3:GetObject", ask("s3:GetObject", OBJECT), ALLOWED),
        ("ec2:DescribeInstances", ask("ec2:DescribeInstances", "*"), ALLOWED),
    ]
    check(table)


# --- g. The app's own policy ---------------------------------------------------------------------
# Context of a Lambda function's role session as in b. (aws:PrincipalArn its role's ARN); the
# resource each IAM action is authorized against: the Service Authorization Reference for IAM
# (https://docs.aws.amazon.com/service-authorization/latest/reference/list_awsidentityandaccessmanagementiam.html).


# The tag an administrator marks a user for adoption with, as IAM puts it in the request context.
ADOPT_MARK = "aws:ResourceTag/iam-lifecycle:adopt"


def app_rows(stage: str) -> list[tuple[str, dict, str]]:
    principal, context = app_session(f"iam-lifecycle-{stage}-api_handler")
    identity = [stage_policy(stage)]

    revocation_trust = trust_policy(
        child_resources(AppRolePrefix=f"iam-lifecycle-{stage}"), "AccessRevocationRole"
    )
    trusts_root = {
        "Version": "2012-10-17",
        "Statement": [
            {
                "Effect": "Allow",
                "Principal": {"AWS": f"arn:aws:iam::{ROOT}:root"},
                "Action": "sts:AssumeRole",
            }
        ],
    }

    def ask(
        action: str, resource: str, keys: dict[str, str] | None = None, trust: dict | None = None
    ) -> dict:
        return request(action, resource, principal, {**context, **(keys or {})}, identity, trust)

    self_service_arn = f"arn:aws:iam::{ROOT}:policy/ManagedUserSelfService"
    pete = user_arn("pete")
    group = f"arn:aws:iam::{ROOT}:group/"
    rows = [
        ("iam:CreateUser under /managed/", ask("iam:CreateUser", pete), ALLOWED),
        ("iam:DeleteUser under /managed/", ask("iam:DeleteUser", pete), ALLOWED),
        ("iam:CreateLoginProfile under /managed/", ask("iam:CreateLoginProfile", pete), ALLOWED),
        ("iam:UpdateAccessKey under /managed/", ask("iam:UpdateAccessKey", pete), ALLOWED),
        ("iam:TagUser under /managed/", ask("iam:TagUser", pete), ALLOWED),
        (
            "iam:AddUserToGroup ChildDeveloperGroup",
            ask("iam:AddUserToGroup", group + "ChildDeveloperGroup"),
            ALLOWED,
        ),
        (
            "iam:AddUserToGroup BreakGlassGroup",
            ask("iam:AddUserToGroup", group + "BreakGlassGroup"),
            ALLOWED,
        ),
        (
            "iam:RemoveUserFromGroup BreakGlassGroup",
            ask("iam:RemoveUserFromGroup", group + "BreakGlassGroup"),
            ALLOWED,
        ),
        (
            "iam:AttachUserPolicy ManagedUserSelfService",
            ask("iam:AttachUserPolicy", pete, {"iam:PolicyARN": self_service_arn}),
            ALLOWED,
        ),
        (
            "sts:AssumeRole AccessRevocationRole in a child (with its trust policy)",
            ask("sts:AssumeRole", role_arn("AccessRevocationRole"), trust=revocation_trust),
            ALLOWED,
        ),
        # Adoption: a user outside the path, marked by an administrator, may be read and moved.
        (
            "iam:UpdateUser user/ada marked for adoption",
            ask("iam:UpdateUser", user_arn("ada", "/"), {ADOPT_MARK: "true"}),
            ALLOWED,
        ),
        (
            "iam:ListUserPolicies user/ada marked for adoption",
            ask("iam:ListUserPolicies", user_arn("ada", "/"), {ADOPT_MARK: "true"}),
            ALLOWED,
        ),
        # What it may not do.
        (
            "iam:UpdateUser user/admin (not marked)",
            ask("iam:UpdateUser", user_arn("admin", "/")),
            IMPLICIT,
        ),
        (
            "iam:UpdateUser user/admin marked otherwise",
            ask("iam:UpdateUser", user_arn("admin", "/"), {ADOPT_MARK: "false"}),
            IMPLICIT,
        ),
        (
            "iam:GetUser user/admin (not marked)",
            ask("iam:GetUser", user_arn("admin", "/")),
            IMPLICIT,
        ),
        (
            "iam:DeleteUser user/ada, marked for adoption only",
            ask("iam:DeleteUser", user_arn("ada", "/"), {ADOPT_MARK: "true"}),
            IMPLICIT,
        ),
        (
            "iam:TagUser user/admin: the service cannot mark a user itself",
            ask("iam:TagUser", user_arn("admin", "/")),
            IMPLICIT,
        ),
        (
            "iam:CreateAccessKey user/ada, marked for adoption only",
            ask("iam:CreateAccessKey", user_arn("ada", "/"), {ADOPT_MARK: "true"}),
            IMPLICIT,
        ),
        ("iam:DeleteUser user/admin", ask("iam:DeleteUser", user_arn("admin", "/")), IMPLICIT),
        ("iam:DeleteUser user/other/x", ask("iam:DeleteUser", user_arn("x", "/other/")), IMPLICIT),
        ("iam:CreateUser user/admin", ask("iam:CreateUser", user_arn("admin", "/")), IMPLICIT),
        (
            "iam:CreateAccessKey user/admin",
            ask("iam:CreateAccessKey", user_arn("admin", "/")),
            IMPLICIT,
        ),
        (
            "iam:UpdateLoginProfile user/other/x",
            ask("iam:UpdateLoginProfile", user_arn("x", "/other/")),
            IMPLICIT,
        ),
        (
            "iam:DeleteUser under a path that only starts alike (/managed-admins/)",
            ask("iam:DeleteUser", user_arn("x", "/managed-admins/")),
            IMPLICIT,
        ),
        (
            "iam:AttachUserPolicy AdministratorAccess to a managed user",
            ask(
                "iam:AttachUserPolicy",
                pete,
                {"iam:PolicyARN": "arn:aws:iam::aws:policy/AdministratorAccess"},
            ),
            IMPLICIT,
        ),
        (
            "iam:AttachUserPolicy ManagedUserSelfService to user/admin",
            ask(
                "iam:AttachUserPolicy",
                user_arn("admin", "/"),
                {"iam:PolicyARN": self_service_arn},
            ),
            IMPLICIT,
        ),
        ("iam:PutUserPolicy on a managed user", ask("iam:PutUserPolicy", pete), IMPLICIT),
        ("iam:AddUserToGroup Admins", ask("iam:AddUserToGroup", group + "Admins"), IMPLICIT),
        (
            "iam:RemoveUserFromGroup Admins",
            ask("iam:RemoveUserFromGroup", group + "Admins"),
            IMPLICIT,
        ),
        ("iam:CreateGroup", ask("iam:CreateGroup", group + "ChildDeveloperGroup2"), IMPLICIT),
        (
            "sts:AssumeRole OrganizationAccountAccessRole",
            ask("sts:AssumeRole", role_arn("OrganizationAccountAccessRole")),
            IMPLICIT,
        ),
        (
            "sts:AssumeRole BreakGlassRole",
            ask("sts:AssumeRole", role_arn("BreakGlassRole")),
            IMPLICIT,
        ),
        (
            "iam:DeleteRole of its own role",
            ask("iam:DeleteRole", role_arn(f"iam-lifecycle-{stage}-api_handler", ROOT)),
            IMPLICIT,
        ),
        (
            "iam:DeleteRole AccessRevocationRole",
            ask("iam:DeleteRole", role_arn("AccessRevocationRole")),
            IMPLICIT,
        ),
        ("iam:CreateRole", ask("iam:CreateRole", role_arn("Anything", ROOT)), IMPLICIT),
        (
            "iam:PutRolePolicy on DeveloperRole directly",
            ask("iam:PutRolePolicy", role_arn("DeveloperRole")),
            IMPLICIT,
        ),
        (
            "iam:CreatePolicyVersion of ManagedUserSelfService",
            ask("iam:CreatePolicyVersion", self_service_arn),
            IMPLICIT,
        ),
        # What the policy alone cannot refuse (docs/policy-proofs.md): the app refuses these.
        (
            "iam:DeleteUser of a protected user under /managed/ (refused by the app only)",
            ask("iam:DeleteUser", user_arn("break-glass-owner")),
            ALLOWED,
        ),
        (
            "iam:DeleteVirtualMFADevice of anyone's device (mfa/*; IAM refuses an assigned one)",
            ask("iam:DeleteVirtualMFADevice", f"arn:aws:iam::{ROOT}:mfa/admin"),
            ALLOWED,
        ),
        (
            "sts:AssumeRole AccessRevocationRole of any account that trusts the root account",
            ask("sts:AssumeRole", role_arn("AccessRevocationRole", OTHER), trust=trusts_root),
            ALLOWED,
        ),
    ]
    # The app attaches the suspension policy where the root template defines one.
    for name, _ in suspension_documents()[1:]:
        policy_name = name.split("(")[1].rstrip(")")
        rows.append(
            (
                f"iam:AttachUserPolicy {policy_name}",
                ask(
                    "iam:AttachUserPolicy",
                    pete,
                    {"iam:PolicyARN": f"arn:aws:iam::{ROOT}:policy/{policy_name}"},
                ),
                ALLOWED,
            )
        )
    return [(f"policy-{stage}.json: {label}", row, expected) for label, row, expected in rows]


def test_the_apps_policy_reaches_only_its_users_groups_and_revocation_role():
    """IAM authorizes AddUserToGroup and RemoveUserFromGroup against the group alone (Service
    Authorization Reference, IAM: their only resource type is ``group``), so the policy cannot
    tell a managed user from an administrator there; nor can it tell a protected user under the
    managed path from another. Both are refused by the app (chalicelib/lifecycle/operations.py)."""
    check(app_rows("dev") + app_rows("prod"))


def test_the_revocation_role_may_only_write_the_access_roles_inline_policies():
    document = policy_document(child_resources(), "AccessRevocationPolicy")
    principal = session_arn(CHILD, "AccessRevocationRole", "iam-lifecycle-prod-api_handler")
    context = role_session_context(
        CHILD, "AccessRevocationRole", "iam-lifecycle-prod-api_handler", iso(T0)
    )

    def ask(action: str, role: str) -> dict:
        return request(action, role_arn(role), principal, context, [document])

    table = []
    for role in ("DeveloperRole", "BreakGlassRole"):
        for action in (
            "iam:PutRolePolicy",
            "iam:DeleteRolePolicy",
            "iam:GetRolePolicy",
            "iam:GetRole",
        ):
            table.append((f"{action} on {role}", ask(action, role), ALLOWED))
        for action in ("iam:UpdateAssumeRolePolicy", "iam:AttachRolePolicy", "iam:DeleteRole"):
            table.append((f"{action} on {role}", ask(action, role), IMPLICIT))
    for role in ("AccessRevocationRole", "OrganizationAccountAccessRole", "AdminRole"):
        table.append((f"iam:PutRolePolicy on {role}", ask("iam:PutRolePolicy", role), IMPLICIT))
    check(table)
