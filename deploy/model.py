"""The deployment file: one per deployment, kept by the adopter outside the repository (YAML,
or JSON, which is YAML too), named by ``--config`` or ``IAM_LIFECYCLE_CONFIG``.

It holds what the stages' settings hold (``.chalice/config.json``'s stage blocks in the
repository are the local stack's): accounts, groups, limits, policies, Slack, SCIM and the
secrets' names, one block per stage. ``load`` checks it twice before anything is generated:
its shape here (pydantic), then the settings generated from it with the app's own checks
(``chalicelib.settings`` and each capability's), so that a file that passes is one the
functions start with. Every error names the key and what to put there.
"""

from __future__ import annotations

import functools
import json
import os
import re
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import AfterValidator, BaseModel, ConfigDict, Field, ValidationError

CONFIG_VARIABLE = "IAM_LIFECYCLE_CONFIG"
APP_NAME = "iam-lifecycle"
# The account and organization ids the repository and its docs show as examples (the local
# stack's accounts among them): a deployment naming one would act on an account nobody owns.
EXAMPLE_ACCOUNT_IDS = frozenset(
    {"123456789012", "222233334444", "111111111111", "222222222222", "333333333333"}
)
EXAMPLE_PARENTS = frozenset({"ou-abcd-12345678", "ou-abcd-87654321", "r-abcd"})
# The groups and policies the root account's groups stack makes (templates/root/
# access-groups.yaml): a stage's name_prefix is put before each.
TEMPLATE_GROUPS = ("ChildDeveloperGroup", "BreakGlassGroup")
SELF_SERVICE_POLICY = "ManagedUserSelfService"
SUSPENDED_POLICY = "AccessSuspended"


class DeploymentError(ValueError):
    """The deployment file cannot be used: each line names a key and what to fix."""


def _account(value: str) -> str:
    if not re.fullmatch(r"\d{12}", value):
        raise ValueError(f"{value!r} is not a 12-digit AWS account id (quote it in YAML)")
    if value in EXAMPLE_ACCOUNT_IDS:
        raise ValueError(
            f"{value} is an example account id from the repository: put your own account's id"
        )
    return value


def _parent(value: str) -> str:
    if not re.fullmatch(r"ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32}", value):
        raise ValueError(
            f"{value!r} must be an organizational unit id (ou-...) or the organization's root id (r-...)"
        )
    if value in EXAMPLE_PARENTS:
        raise ValueError(f"{value} is an example id from the docs: put your organization's own")
    return value


AccountId = Annotated[str, AfterValidator(_account)]
ParentId = Annotated[str, AfterValidator(_parent)]
Name = Annotated[str, Field(pattern=r"^[A-Za-z0-9_+=,.@-]+$", max_length=128)]
SecretName = Annotated[str, Field(pattern=r"^[A-Za-z0-9_/+=.@-]+$", max_length=512)]
Whole = Annotated[int, Field(ge=0)]


class Model(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Accounts(Model):
    root: AccountId = Field(description="the account the app runs in (ROOT_ACCOUNT_ID)")
    children: list[AccountId] = Field(
        default_factory=list, description="child accounts (CHILD_ACCOUNT_IDS)"
    )
    organizational_units: list[ParentId] = Field(
        default_factory=list, description="OUs whose accounts are children too"
    )
    children_ttl: Whole | None = None


class Slack(Model):
    allowed_users: list[str] = Field(default_factory=list)
    signing_secret: SecretName | None = None
    bot_token_secret: SecretName | None = None
    api_url: str | None = None
    response_hosts: list[str] | None = None


class PagerDuty(Model):
    """On-call auto-approval (an approval policy's ``on_call``): PagerDuty's REST API."""

    api_url: str | None = None
    token_secret: SecretName | None = None
    timeout_seconds: Whole | None = None
    cache_seconds: Whole | None = None


class Scim(Model):
    token_secret: SecretName | None = None
    console: bool = False
    offboard_after_days: Whole = 30
    groups: list[Name] | None = None
    base_url: str | None = None
    max_body: Whole | None = None


class Reviews(Model):
    owners: dict[str, list[str]] | None = None
    channel: str | None = None
    carry_out: Literal["immediately", "at_close"] | None = None
    undecided: Literal["keep", "revoke", "escalate"] | None = None
    reminder_days: Whole | None = None
    quarterly: bool | None = None
    quarterly_days: Whole | None = None


class HygieneRule(Model):
    action: Literal["act", "notify", "off"] | None = None
    days: Whole | None = None
    grace_days: Whole | None = None


class Hygiene(Model):
    rules: dict[str, HygieneRule] = Field(default_factory=dict)
    notice_days: Whole | None = None
    reminder_days: Whole | None = None


class Callbacks(Model):
    hosts: list[str] = Field(default_factory=list)
    secret: SecretName | None = None
    attempts: Whole | None = None
    backoff: float | None = None


class Api(Model):
    clients_secret: SecretName | None = None
    # The shared token of earlier releases; "" turns it off.
    token_secret: Annotated[str, Field(pattern=r"^[A-Za-z0-9_/+=.@-]*$", max_length=512)] | None = (
        None
    )


class Stage(Model):
    accounts: Accounts
    # Put before the names the root account's groups stack makes (groups, their policies, the
    # self-service and suspension policies), so that two stages can share one root account.
    name_prefix: Annotated[str, Field(pattern=r"^([A-Z][A-Za-z0-9]{0,15})?$")] = ""
    managed_path: Annotated[str, Field(pattern=r"^/([\x21-\x7e]+/)$")] = "/managed/"
    access_keys: Literal["none", "self_service", "issued_at_onboarding"] = "none"
    allowed_groups: Annotated[list[Name], Field(min_length=1)]
    grant_max_hours: dict[Name, Annotated[int, Field(ge=1)]] | None = None
    protected_users: list[Name] = Field(default_factory=list)
    approval_policies: dict[str, Any] = Field(default_factory=dict)
    slack: Slack = Slack()
    scim: Scim = Scim()
    pagerduty: PagerDuty = PagerDuty()
    reviews: Reviews = Reviews()
    hygiene: Hygiene = Hygiene()
    callbacks: Callbacks = Callbacks()
    api: Api = Api()
    drift_webhook_secret: SecretName | None = None
    log_level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
    alarm_email: str | None = None
    # Any other of the settings (docs/operating.md#settings) by its variable's name.
    environment: dict[Annotated[str, Field(pattern=r"^[A-Z][A-Z0-9_]*$")], str] = Field(
        default_factory=dict
    )

    def template_groups(self) -> tuple[str, ...]:
        return tuple(self.name_prefix + group for group in TEMPLATE_GROUPS)


class Deployment(Model):
    region: Annotated[str, Field(pattern=r"^[a-z]{2}(-[a-z]+)+-\d$")]
    stages: Annotated[
        dict[Annotated[str, Field(pattern=r"^[a-z][a-z0-9]{0,15}$")], Stage], Field(min_length=1)
    ]


def config_path(given: str | None) -> Path:
    """The file ``--config`` names, or the one ``IAM_LIFECYCLE_CONFIG`` does."""
    path = given or os.environ.get(CONFIG_VARIABLE)
    if not path:
        raise DeploymentError(f"name the deployment file with --config or {CONFIG_VARIABLE}")
    return Path(path).expanduser()


def load(path: Path) -> Deployment:
    """The file read and checked: its shape, then its stages' settings as the app checks them."""
    try:
        raw = yaml.safe_load(path.read_text())
    except OSError as error:
        raise DeploymentError(f"{path}: cannot read it ({error.strerror})") from None
    except yaml.YAMLError as error:
        raise DeploymentError(f"{path}: not YAML or JSON: {error}") from None
    return parse(raw, str(path))


def parse(raw: Any, source: str = "the deployment file") -> Deployment:
    try:
        deployment = Deployment.model_validate(raw)
    except ValidationError as error:
        raise DeploymentError("\n".join(_lines(source, error))) from None
    problems = [f"{source}: {where}: {message}" for where, message in _cross_checks(deployment)]
    if problems:
        raise DeploymentError("\n".join(problems))
    return deployment


def _lines(source: str, error: ValidationError) -> list[str]:
    lines = []
    for item in error.errors():
        where = ".".join(str(part) for part in item["loc"]) or "(top)"
        message = item["msg"].removeprefix("Value error, ")
        if item["type"] == "missing":
            message = "missing: add it"
        elif item["type"] == "extra_forbidden":
            message = "not a setting of the deployment file: remove it or check its spelling"
        elif item["type"] == "string_pattern_mismatch":
            message = f"{item['input']!r} does not match {item['ctx']['pattern']}"
        lines.append(f"{source}: {where}: {message}")
    return lines


def _cross_checks(deployment: Deployment) -> list[tuple[str, str]]:
    """What one stage alone cannot tell: stages sharing a root account must not share names,
    users or child accounts; and each stage's settings as the app itself checks them."""
    from deploy.generate import stage_environment  # the one place names are made

    problems: list[tuple[str, str]] = []
    for name, stage in deployment.stages.items():
        where = f"stages.{name}"
        if not stage.accounts.children:
            problems.append(
                (
                    f"{where}.accounts.children",
                    "list at least one child account id: the groups' policies name the accounts "
                    "people may enter (organizational_units adds accounts to revoke in, not to enter)",
                )
            )
        if stage.name_prefix:
            for group in stage.allowed_groups:
                if not group.startswith(stage.name_prefix):
                    problems.append(
                        (
                            f"{where}.allowed_groups",
                            f"{group} does not start with the stage's name_prefix "
                            f"{stage.name_prefix}: its groups stack makes "
                            f"{', '.join(stage.template_groups())}",
                        )
                    )
        problems += [
            (f"{where}.environment.{key}", f"set it with the deployment file's key {field}")
            for key, field in _owned(stage.environment)
        ]
        rules = {
            name.removeprefix("HYGIENE_").rsplit("_", 1)[0].lower()
            for name in known_variables()
            if name.endswith("_ACTION")
        }
        problems += [
            (f"{where}.hygiene.rules.{rule}", f"no such rule: one of {', '.join(sorted(rules))}")
            for rule in stage.hygiene.rules
            if rule not in rules
        ]
        known = known_variables()
        problems += [
            (
                f"{where}.environment.{key}",
                "not a setting the functions read: check its spelling (docs/operating.md#settings)",
            )
            for key in stage.environment
            if key not in known and not key.startswith("POWERTOOLS_")
        ]
        problems += _app_checks(where, stage_environment(deployment, name))
    problems += _shared_accounts(deployment)
    return problems


@functools.cache
def known_variables() -> frozenset[str]:
    """The variables the functions read: those named in chalicelib's settings modules (the one
    reader and each capability's part), and hygiene's per rule."""
    from chalicelib.hygiene.rules import DEFAULT_RULES

    package = Path(__file__).resolve().parents[1] / "chalicelib"
    found = set()
    for module in (package / "settings.py", *package.glob("*/settings.py")):
        found |= set(re.findall(r'"([A-Z][A-Z0-9]*(?:_[A-Z0-9]+)+)"', module.read_text()))
    for rule in DEFAULT_RULES:
        found |= {
            f"HYGIENE_{rule.name.upper()}_{part}" for part in ("ACTION", "DAYS", "GRACE_DAYS")
        }
    return frozenset(found)


def _owned(environment: dict[str, str]) -> list[tuple[str, str]]:
    from deploy.generate import OWNED

    return [(key, OWNED[key]) for key in environment if key in OWNED]


def _app_checks(where: str, environment: dict[str, str]) -> list[tuple[str, str]]:
    from chalicelib import bootstrap
    from chalicelib.kernel.errors import ConfigurationError
    from chalicelib.settings import Settings

    try:
        bootstrap.check(Settings.from_env({"AWS_REGION": "us-east-1", **environment}))
    except ConfigurationError as error:
        return [(where, f"{error.message} (as the functions would read it)")]
    return []


def _shared_accounts(deployment: Deployment) -> list[tuple[str, str]]:
    problems = []
    stages = list(deployment.stages.items())
    for i, (first, one) in enumerate(stages):
        for second, other in stages[i + 1 :]:
            where = f"stages.{second}"
            shared = sorted(set(one.accounts.children) & set(other.accounts.children))
            if shared:
                problems.append(
                    (
                        f"{where}.accounts.children",
                        f"{', '.join(shared)} also child of stage {first}: a child account's "
                        "access roles trust one root account and carry one revocation policy, "
                        "which two stages would overwrite; give each stage its own child accounts",
                    )
                )
            if one.accounts.root != other.accounts.root:
                continue
            if one.name_prefix == other.name_prefix:
                problems.append(
                    (
                        f"{where}.name_prefix",
                        f"stages {first} and {second} share root account {one.accounts.root}: "
                        "give one of them a name_prefix (such as Dev) so their groups and "
                        "policies differ",
                    )
                )
            if one.managed_path.startswith(other.managed_path) or other.managed_path.startswith(
                one.managed_path
            ):
                problems.append(
                    (
                        f"{where}.managed_path",
                        f"{other.managed_path} and stage {first}'s {one.managed_path} overlap: "
                        "each stage acts on every user under its path, so give them paths "
                        "neither of which begins the other (/managed/prod/, /managed/dev/)",
                    )
                )
            for group in sorted(set(one.allowed_groups) & set(other.allowed_groups)):
                problems.append(
                    (f"{where}.allowed_groups", f"{group} is stage {first}'s group too")
                )
    return problems


def dump_json(value: Any) -> str:
    """JSON as the stage settings hold it (the separators of json.dumps' defaults)."""
    return json.dumps(value)
