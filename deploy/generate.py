"""What a deployment file generates, into a build directory (never over the repository's files):

    <build>/app.py, chalicelib/, requirements.txt   the app, copied: a Chalice project directory
    <build>/.chalice/config.json                    the repository's, with the file's stages
    <build>/.chalice/policy-<stage>.json            each stage's policy, scoped to its names
    <build>/templates/                              the templates (the groups stack's names
                                                    prefixed where a stage has a name_prefix)
    <build>/parameters/<stage>/<stack>.json         each stack's parameters
    <build>/commands-<stage>.sh                     the commands that deploy the stage, in order

``chalice deploy --project-dir <build> --stage <stage>`` then deploys what was generated. Chalice
keeps what it deployed in ``<build>/.chalice/deployed/``, which a new build leaves in place: keep
the build directory (or that folder) with the deployment file.
"""

from __future__ import annotations

import copy
import json
import shlex
import shutil
from pathlib import Path
from typing import Any

from deploy.model import (
    APP_NAME,
    SELF_SERVICE_POLICY,
    SUSPENDED_POLICY,
    Deployment,
    DeploymentError,
    Stage,
    dump_json,
)

PROJECT = Path(__file__).resolve().parents[1]
# The statements' source: policy-prod.json is this with the stage swapped (test_permissions.py).
POLICY_SOURCE = PROJECT / ".chalice" / "policy-dev.json"
SOURCE_STAGE = "dev"
APP_FILES = ("app.py", "requirements.txt")
# The variables the deployment file sets by a key of its own: `environment` may not set them.
OWNED = {
    "STAGE": "the stage's name",
    "APP_NAME": "(fixed)",
    "APP_VERSION": "(pyproject.toml)",
    "ROOT_ACCOUNT_ID": "accounts.root",
    "CHILD_ACCOUNT_IDS": "accounts.children",
    "CHILD_ORGANIZATIONAL_UNITS": "accounts.organizational_units",
    "CHILD_ACCOUNTS_TTL": "accounts.children_ttl",
    "MANAGED_PATH": "managed_path",
    "ACCESS_KEYS": "access_keys",
    "ALLOWED_GROUPS": "allowed_groups",
    "GRANT_MAX_HOURS": "grant_max_hours",
    "PROTECTED_USERS": "protected_users",
    "APPROVAL_POLICIES": "approval_policies",
    "SELF_SERVICE_POLICY": "name_prefix",
    "SUSPENDED_POLICY": "name_prefix",
    "STATE_TABLE": "(the service stack's name)",
    "IDEMPOTENCY_TABLE": "(the service stack's name)",
    "WORK_QUEUE": "(the service stack's name)",
    "API_TOKEN_SECRET": "api.token_secret",
    "API_CLIENTS_SECRET": "api.clients_secret",
    "SLACK_SIGNING_SECRET": "slack.signing_secret",
    "SLACK_BOT_TOKEN_SECRET": "slack.bot_token_secret",
    "SLACK_ALLOWED_USERS": "slack.allowed_users",
    "SLACK_API_URL": "slack.api_url",
    "SLACK_RESPONSE_HOSTS": "slack.response_hosts",
    "SCIM_TOKEN_SECRET": "scim.token_secret",
    "PAGERDUTY_API_URL": "pagerduty.api_url",
    "PAGERDUTY_TOKEN_SECRET": "pagerduty.token_secret",
    "PAGERDUTY_TIMEOUT_SECONDS": "pagerduty.timeout_seconds",
    "PAGERDUTY_CACHE_SECONDS": "pagerduty.cache_seconds",
    "SCIM_CONSOLE": "scim.console",
    "SCIM_OFFBOARD_AFTER_DAYS": "scim.offboard_after_days",
    "SCIM_GROUPS": "scim.groups",
    "SCIM_BASE_URL": "scim.base_url",
    "SCIM_MAX_BODY": "scim.max_body",
    "CALLBACK_HOSTS": "callbacks.hosts",
    "CALLBACK_SECRET": "callbacks.secret",
    "CALLBACK_ATTEMPTS": "callbacks.attempts",
    "CALLBACK_BACKOFF": "callbacks.backoff",
    "DRIFT_WEBHOOK_SECRET": "drift_webhook_secret",
    "LOG_LEVEL": "log_level",
    "REVIEW_OWNERS": "reviews.owners",
    "REVIEW_CHANNEL": "reviews.channel",
    "REVIEW_CARRY_OUT": "reviews.carry_out",
    "REVIEW_UNDECIDED": "reviews.undecided",
    "REVIEW_REMINDER_DAYS": "reviews.reminder_days",
    "REVIEW_QUARTERLY": "reviews.quarterly",
    "REVIEW_QUARTERLY_DAYS": "reviews.quarterly_days",
    "HYGIENE_NOTICE_DAYS": "hygiene.notice_days",
    "HYGIENE_REMINDER_DAYS": "hygiene.reminder_days",
}


def _text(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list | tuple):
        return ",".join(str(item) for item in value)
    if isinstance(value, dict):
        return dump_json(value)
    return str(value)


def names(stage_name: str, stage: Stage) -> dict[str, str]:
    """The names the stage's resources have: the service stack's (per stage already) and the
    groups stack's (per name_prefix)."""
    prefix = f"{APP_NAME}-{stage_name}"
    return {
        "state_table": f"{prefix}-state",
        "idempotency_table": f"{prefix}-idempotency",
        "work_queue": f"{prefix}-work",
        "secrets": f"{APP_NAME}/{stage_name}/",
        "self_service_policy": stage.name_prefix + SELF_SERVICE_POLICY,
        "suspended_policy": stage.name_prefix + SUSPENDED_POLICY,
        "service_stack": f"{prefix}-service",
        "groups_stack": f"{prefix}-access-groups"
        if stage.name_prefix
        else f"{APP_NAME}-access-groups",
        "roles_stack": f"{APP_NAME}-access-roles",
        "monitoring_stack": f"{prefix}-monitoring",
        "app_role_prefix": prefix,
    }


def stage_environment(deployment: Deployment, stage_name: str) -> dict[str, str]:
    """The stage's variables, as ``.chalice/config.json``'s stage block holds them."""
    stage = deployment.stages[stage_name]
    named = names(stage_name, stage)
    secrets = named["secrets"]
    env: dict[str, Any] = {
        "STAGE": stage_name,
        "ACCESS_KEYS": stage.access_keys,
        "MANAGED_PATH": stage.managed_path,
        "ALLOWED_GROUPS": stage.allowed_groups,
        "STATE_TABLE": named["state_table"],
        "IDEMPOTENCY_TABLE": named["idempotency_table"],
        "WORK_QUEUE": named["work_queue"],
        "API_TOKEN_SECRET": _given(stage.api.token_secret, secrets + "api-token"),
        "SLACK_SIGNING_SECRET": stage.slack.signing_secret or secrets + "slack-signing-secret",
        "SCIM_TOKEN_SECRET": stage.scim.token_secret or secrets + "scim-token",
        "SCIM_CONSOLE": stage.scim.console,
        "SCIM_OFFBOARD_AFTER_DAYS": stage.scim.offboard_after_days,
        "SCIM_GROUPS": stage.scim.groups,
        "ROOT_ACCOUNT_ID": stage.accounts.root,
        "CHILD_ACCOUNT_IDS": stage.accounts.children,
        "CHILD_ORGANIZATIONAL_UNITS": stage.accounts.organizational_units or None,
        "CHILD_ACCOUNTS_TTL": stage.accounts.children_ttl,
        "PROTECTED_USERS": stage.protected_users,
        "SLACK_ALLOWED_USERS": stage.slack.allowed_users,
        "SLACK_BOT_TOKEN_SECRET": stage.slack.bot_token_secret or secrets + "slack-bot-token",
        "SLACK_API_URL": stage.slack.api_url,
        "SLACK_RESPONSE_HOSTS": stage.slack.response_hosts,
        "PAGERDUTY_API_URL": stage.pagerduty.api_url,
        "PAGERDUTY_TOKEN_SECRET": stage.pagerduty.token_secret or secrets + "pagerduty-token",
        "PAGERDUTY_TIMEOUT_SECONDS": stage.pagerduty.timeout_seconds,
        "PAGERDUTY_CACHE_SECONDS": stage.pagerduty.cache_seconds,
        "APPROVAL_POLICIES": stage.approval_policies,
        "GRANT_MAX_HOURS": _grant_limits(stage),
        "REVIEW_OWNERS": stage.reviews.owners,
        "REVIEW_CHANNEL": stage.reviews.channel,
        "REVIEW_CARRY_OUT": stage.reviews.carry_out,
        "REVIEW_UNDECIDED": stage.reviews.undecided,
        "REVIEW_REMINDER_DAYS": stage.reviews.reminder_days,
        "REVIEW_QUARTERLY": stage.reviews.quarterly,
        "REVIEW_QUARTERLY_DAYS": stage.reviews.quarterly_days,
        "HYGIENE_NOTICE_DAYS": stage.hygiene.notice_days,
        "HYGIENE_REMINDER_DAYS": stage.hygiene.reminder_days,
        "SCIM_BASE_URL": stage.scim.base_url,
        "SCIM_MAX_BODY": stage.scim.max_body,
        "API_CLIENTS_SECRET": stage.api.clients_secret,
        "CALLBACK_SECRET": stage.callbacks.secret,
        "CALLBACK_ATTEMPTS": stage.callbacks.attempts,
        "CALLBACK_BACKOFF": stage.callbacks.backoff,
        "DRIFT_WEBHOOK_SECRET": stage.drift_webhook_secret,
        "CALLBACK_HOSTS": stage.callbacks.hosts,
        "LOG_LEVEL": stage.log_level,
    }
    if stage.name_prefix:
        env["SELF_SERVICE_POLICY"] = named["self_service_policy"]
        env["SUSPENDED_POLICY"] = named["suspended_policy"]
    for rule, setting in stage.hygiene.rules.items():
        key = f"HYGIENE_{rule.upper()}"
        env[f"{key}_ACTION"] = setting.action
        env[f"{key}_DAYS"] = setting.days
        env[f"{key}_GRACE_DAYS"] = setting.grace_days
    env.update(stage.environment)
    return {key: _text(value) for key, value in env.items() if value is not None}


def _grant_limits(stage: Stage) -> list[str] | None:
    """The file's limits; without them, the app's default (BreakGlassGroup=4) under the stage's
    prefix, left to the app where there is none."""
    if stage.grant_max_hours is not None:
        return [f"{group}={hours}" for group, hours in stage.grant_max_hours.items()]
    return [f"{stage.name_prefix}BreakGlassGroup=4"] if stage.name_prefix else None


def _given(value: str | None, default: str) -> str:
    return default if value is None else value


def chalice_config(deployment: Deployment, version: str) -> dict[str, Any]:
    """The repository's ``.chalice/config.json`` with the file's stages in place of its own."""
    config = json.loads((PROJECT / ".chalice" / "config.json").read_text())
    template = config["stages"].get("prod") or next(iter(config["stages"].values()))
    config["environment_variables"]["APP_VERSION"] = version
    config["stages"] = {
        name: {
            **{k: v for k, v in template.items() if k != "environment_variables"},
            "iam_policy_file": f"policy-{name}.json",
            "environment_variables": stage_environment(deployment, name),
        }
        for name in deployment.stages
    }
    return config


def policy(deployment: Deployment, stage_name: str) -> dict[str, Any]:
    """The stage's policy: the repository's statements, each scoped to this stage's names."""
    stage = deployment.stages[stage_name]
    env = stage_environment(deployment, stage_name)
    named = names(stage_name, stage)
    text = POLICY_SOURCE.read_text()
    for source, target in (
        (f"{APP_NAME}-{SOURCE_STAGE}", f"{APP_NAME}-{stage_name}"),
        (f"{APP_NAME}/{SOURCE_STAGE}/", named["secrets"]),
    ):
        text = text.replace(source, target)
    document = json.loads(text)
    users = f"arn:aws:iam::*:user{stage.managed_path}*"
    policies = [
        f"arn:aws:iam::*:policy/{named['self_service_policy']}",
        f"arn:aws:iam::*:policy/{named['suspended_policy']}",
    ]
    for statement in document["Statement"]:
        sid = statement["Sid"]
        if sid in ("ManagedUsers", "ManagedUsersSignInSessions"):
            statement["Resource"] = [users]
        elif sid == "SelfServiceAndSuspendedPoliciesOnly":
            statement["Resource"] = [users]
            statement["Condition"]["ArnLike"]["iam:PolicyARN"] = policies
        elif sid == "ManagedGroups":
            statement["Resource"] = [f"arn:aws:iam::*:group/{g}" for g in stage.allowed_groups]
        elif sid == "Secrets":
            statement["Resource"] = _secrets(env, named["secrets"], statement["Resource"])
    return document


def _secrets(env: dict[str, str], own: str, resources: list[str]) -> list[str]:
    """The stage's own secrets by its prefix, and each secret named outside it by its name
    (Secrets Manager adds six random characters to a secret's ARN)."""
    outside = sorted(
        {
            value
            for key, value in env.items()
            if key.endswith("_SECRET") and value and not value.startswith(own)
        }
    )
    return resources + [f"arn:aws:secretsmanager:*:*:secret:{name}-??????" for name in outside]


def parameters(deployment: Deployment, stage_name: str) -> dict[str, dict[str, str]]:
    """Each stack's parameters: the stack's template -> {parameter: value}."""
    stage = deployment.stages[stage_name]
    named = names(stage_name, stage)
    found = {
        "root/service": {"Stage": stage_name},
        "root/access-groups": {
            "ChildAccountIds": ",".join(stage.accounts.children),
            "ManagedPath": stage.managed_path,
            "AccessKeys": stage.access_keys,
        },
        "child/access-roles": {
            "RootAccountId": stage.accounts.root,
            "AppRolePrefix": named["app_role_prefix"],
        },
    }
    if stage.alarm_email:
        found["root/monitoring"] = {"Stage": stage_name, "AlarmEmail": stage.alarm_email}
    return found


def groups_template(stage: Stage) -> dict[str, Any] | None:
    """The groups stack with the stage's name_prefix before every group and policy name it
    makes (None without a prefix: the repository's template as it is)."""
    if not stage.name_prefix:
        return None
    from cfnlint.decode import cfn_yaml

    path = PROJECT / "templates" / "root" / "access-groups.yaml"
    template = json.loads(json.dumps(cfn_yaml.load(str(path))))
    for resource in template["Resources"].values():
        properties = resource.get("Properties", {})
        for key in ("GroupName", "ManagedPolicyName"):
            if isinstance(properties.get(key), str):
                properties[key] = stage.name_prefix + properties[key]
    return template


def commands(deployment: Deployment, stage_name: str, build: Path) -> list[str]:
    """The commands that deploy the stage from the build directory, in order."""
    stage = deployment.stages[stage_name]
    named = names(stage_name, stage)
    given = parameters(deployment, stage_name)
    region = deployment.region

    def stack(template: str, name: str, *extra: str) -> str:
        path = _template_path(build, stage, template)
        words = [
            "aws", "cloudformation", "deploy", "--region", region,
            "--template-file", str(path), "--stack-name", name,
            "--parameter-overrides", *(f"{k}={v}" for k, v in given[template].items()),
            *extra,
        ]  # fmt: skip
        return shlex.join(words)

    lines = [
        "# root account",
        stack("root/service", named["service_stack"]),
        stack(
            "root/access-groups", named["groups_stack"], "--capabilities", "CAPABILITY_NAMED_IAM"
        ),
        "# every child account (" + ", ".join(stage.accounts.children) + "), with its profile",
        stack("child/access-roles", named["roles_stack"], "--capabilities", "CAPABILITY_NAMED_IAM"),
        "# root account: the app",
        shlex.join(
            ["env", f"AWS_DEFAULT_REGION={region}", "chalice", "deploy"]
            + ["--project-dir", str(build), "--stage", stage_name]
        ),
    ]
    if "root/monitoring" in given:
        lines.append(stack("root/monitoring", named["monitoring_stack"]))
    return lines


def secrets(deployment: Deployment, stage_name: str) -> list[str]:
    """Every secret the stage's functions read: each setting named ``*_secret`` as the functions
    read it (defaults included) and each ``*_SECRET`` variable the stage sets (a capability's
    among them), so a secret a later release adds is on the list too."""
    from chalicelib.settings import Settings

    env = stage_environment(deployment, stage_name)
    settings = Settings.from_env({"AWS_REGION": deployment.region, **env})
    read = {name: value for name, value in vars(settings).items() if name.endswith("_secret")}
    set_ = {key: value for key, value in env.items() if key.endswith("_SECRET")}
    return sorted({v for v in (*read.values(), *set_.values()) if isinstance(v, str) and v})


def teardown(deployment: Deployment, stage_name: str, build: Path) -> list[str]:
    """The commands that remove what the stage created, in order (docs/deploying.md#teardown)."""
    from chalicelib.settings import Settings

    stage = deployment.stages[stage_name]
    named = names(stage_name, stage)
    settings = Settings.from_env(
        {"AWS_REGION": deployment.region, **stage_environment(deployment, stage_name)}
    )
    region = ["--region", deployment.region]

    def delete_stack(name: str) -> str:
        return shlex.join(["aws", "cloudformation", "delete-stack", *region, "--stack-name", name])

    lines = [
        "# 1. root account, while the app still runs: offboard every managed user",
        "#    (GET /users lists them); the groups stack cannot go while its groups have members.",
        "# 2. root account: the app (functions, API, schedules, the queue's event source, roles)",
        shlex.join(
            ["env", f"AWS_DEFAULT_REGION={deployment.region}", "chalice", "delete"]
            + ["--project-dir", str(build), "--stage", stage_name]
        ),
    ]
    if stage.alarm_email:
        lines.append(delete_stack(named["monitoring_stack"]))
    lines.append(
        "# 3. every child account (" + ", ".join(stage.accounts.children) + "), with its profile:"
    )
    lines.append("#    the session denies the app wrote, then the access roles")
    for role in settings.revocable_roles:
        lines.append(
            shlex.join(
                [
                    "aws",
                    "iam",
                    "delete-role-policy",
                    *region,
                    "--role-name",
                    role,
                    "--policy-name",
                    settings.revocation_policy,
                ]
            )
        )
    lines.append(delete_stack(named["roles_stack"]))
    lines.append("# 4. root account: the groups and their policies")
    lines.append(delete_stack(named["groups_stack"]))
    lines.append("# 5. root account: every secret the stage reads, at once (no recovery window)")
    for secret in secrets(deployment, stage_name):
        lines.append(
            shlex.join(
                [
                    "aws",
                    "secretsmanager",
                    "delete-secret",
                    *region,
                    "--secret-id",
                    secret,
                    "--force-delete-without-recovery",
                ]
            )
        )
    lines.append(
        "# 6. root account: the queues, the idempotency table; the state table is kept (audit trail)"
    )
    lines.append(delete_stack(named["service_stack"]))
    lines.append("#    once the audit trail is exported or no longer needed:")
    lines.append(
        shlex.join(
            ["aws", "dynamodb", "delete-table", *region, "--table-name", named["state_table"]]
        )
    )
    lines.append("# 7. root account: the functions' log groups")
    function = f"/aws/lambda/{named['app_role_prefix']}"
    lines.append(
        shlex.join(["aws", "logs", "delete-log-group", *region, "--log-group-name", function])
    )
    lines.append(
        f"aws logs describe-log-groups --region {deployment.region} --log-group-name-prefix {function}- "
        "--query 'logGroups[].logGroupName' --output text | xargs -rn1 "
        f"aws logs delete-log-group --region {deployment.region} --log-group-name"
    )
    return lines


def _template_path(build: Path, stage: Stage, template: str) -> Path:
    if template == "root/access-groups" and stage.name_prefix:
        return build / "templates" / "root" / f"access-groups-{stage.name_prefix}.json"
    return build / "templates" / f"{template}.yaml"


def build(deployment: Deployment, out: Path, version: str) -> None:
    """Write everything the deployment needs into ``out``, keeping Chalice's record of what it
    deployed (``.chalice/deployed/``) from a previous build."""
    where = out.resolve()
    if (
        where == PROJECT
        or PROJECT.is_relative_to(where)
        or any(
            where.is_relative_to(PROJECT / name) for name in ("chalicelib", "templates", ".chalice")
        )
    ):
        raise DeploymentError(
            f"--out {out} would write over the repository's files: name a directory of its own"
        )
    out.mkdir(parents=True, exist_ok=True)
    for name in ("chalicelib", "templates"):
        shutil.rmtree(out / name, ignore_errors=True)
        shutil.copytree(
            PROJECT / name, out / name, ignore=shutil.ignore_patterns("__pycache__", "*.pyc")
        )
    for name in APP_FILES:
        shutil.copy2(PROJECT / name, out / name)
    chalice = out / ".chalice"
    chalice.mkdir(exist_ok=True)
    _write(chalice / "config.json", chalice_config(deployment, version))
    for name, stage in deployment.stages.items():
        _write(chalice / f"policy-{name}.json", policy(deployment, name))
        for template, values in parameters(deployment, name).items():
            _write(out / "parameters" / name / f"{template.replace('/', '-')}.json", values)
        prefixed = groups_template(stage)
        if prefixed is not None:
            _write(_template_path(out, stage, "root/access-groups"), prefixed)
        script = out / f"commands-{name}.sh"
        script.write_text("\n".join(commands(deployment, name, out)) + "\n")
        (out / f"teardown-{name}.sh").write_text("\n".join(teardown(deployment, name, out)) + "\n")


def _write(path: Path, value: Any) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(copy.deepcopy(value), indent=2) + "\n")
