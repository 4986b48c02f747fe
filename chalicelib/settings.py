"""The one place that reads the environment: every setting, validated once per process."""

from __future__ import annotations

import functools
import json
import os
import re
import tomllib
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import MappingProxyType
from typing import Any, TypeVar

from chalicelib.kernel.errors import ConfigurationError
from chalicelib.kernel.identity import key

T = TypeVar("T")

_ACCOUNT = re.compile(r"^\d{12}$")
# A host name (or IPv4 address), optionally with a port: no scheme, path or credentials.
_HOST = re.compile(r"[a-z0-9]([a-z0-9.-]*[a-z0-9])?(:[0-9]{1,5})?", re.ASCII)
_PATH = re.compile(r"^/([\x21-\x7e]+/)?$")
# AWS Organizations' shapes of an organizational unit id and of a root id (the whole organization).
_PARENT = re.compile(r"^(ou-[a-z0-9]{4,32}-[a-z0-9]{8,32}|r-[a-z0-9]{4,32})$")
# What a person may do with access keys of their own (ACCESS_KEYS):
#   none                  no keys: the CLI signs in with `aws login` (the default);
#   self_service          the person may create, rotate and delete their own keys, with MFA;
#   issued_at_onboarding  as self_service, and an onboarding may also issue the first key
#                         ("access_key": true), returned once.
ACCESS_KEY_MODES = ("none", "self_service", "issued_at_onboarding")
# The variables whose values a capability parses itself (<capability>/settings.py): approvals'
# APPROVAL_POLICIES, hygiene's HYGIENE_* rules, reviews' REVIEW_* policy.
CAPABILITY_PREFIXES = ("APPROVAL_", "HYGIENE_", "REVIEW_", "ADOPT_")


def names(raw: str) -> tuple[str, ...]:
    return tuple(part.strip() for part in raw.split(",") if part.strip())


def _limits(raw: str) -> dict[str, int]:
    """``Group=hours,Group=hours`` -> {group: hours}."""
    limits = {}
    for part in names(raw):
        group, _, hours = part.partition("=")
        if not hours.strip().isdigit() or int(hours) < 1:
            raise ConfigurationError(f"GRANT_MAX_HOURS entry {part!r} must look like Group=4")
        limits[group.strip()] = int(hours)
    return limits


def _seconds(env: Mapping[str, str], key: str, default: int) -> int:
    raw = env.get(key, "").strip() or str(default)
    if not raw.isdigit():
        raise ConfigurationError(f"{key} {raw!r} must be a whole number of seconds")
    return int(raw)


def whole(env: Mapping[str, str], key: str, default: int) -> int:
    raw = env.get(key, "").strip() or str(default)
    if not raw.isdigit():
        raise ConfigurationError(f"{key} {raw!r} must be a whole number")
    return int(raw)


def flag(env: Mapping[str, str], key: str, default: bool) -> bool:
    raw = env.get(key, "").strip().lower()
    if not raw:
        return default
    if raw not in ("true", "false"):
        raise ConfigurationError(f"{key} {raw!r} must be true or false")
    return raw == "true"


def _approval_groups(env: Mapping[str, str]) -> tuple[str, ...]:
    """The groups APPROVAL_POLICIES names (its policies are the approvals' to parse)."""
    raw = env.get("APPROVAL_POLICIES", "").strip() or "{}"
    try:
        parsed = json.loads(raw)
    except ValueError:
        raise ConfigurationError("APPROVAL_POLICIES must be JSON") from None
    return tuple(parsed) if isinstance(parsed, dict) else ()


def _scim_groups(env: Mapping[str, str], grant_max_hours: dict[str, int]) -> tuple[str, ...]:
    """SCIM_GROUPS, or every allowed group that is not time-bound: none with an approval policy
    (APPROVAL_POLICIES) or a grant limit (GRANT_MAX_HOURS)."""
    if "SCIM_GROUPS" in env:
        return names(env["SCIM_GROUPS"])
    bound = {*_approval_groups(env), *grant_max_hours}
    return tuple(g for g in names(env.get("ALLOWED_GROUPS", "")) if g not in bound)


def _base_url(url: str) -> str:
    """Slack's Web API base; slack_sdk appends the method's name to it."""
    return url if url.endswith("/") else url + "/"


@dataclass(frozen=True)
class Settings:
    app_name: str
    stage: str
    region: str
    managed_path: str
    allowed_groups: tuple[str, ...]
    protected_users: frozenset[str]
    root_account_id: str
    child_account_ids: tuple[str, ...]
    # OUs (or the organization's root) whose ACTIVE accounts, nested OUs included, are child
    # accounts besides child_account_ids; the listing is kept for child_accounts_ttl seconds.
    child_organizational_units: tuple[str, ...]
    child_accounts_ttl: int
    state_table: str
    idempotency_table: str
    # The REST API's clients (chalicelib/edges/clients.py), and the shared token of earlier
    # releases, still accepted as the client api-token for this release ("" turns it off).
    api_clients_secret: str
    api_token_secret: str
    # SCIM (identity providers): the bearer token's secret, whether a created user gets a console
    # login (its temporary password is never answered over SCIM), the days a user the IdP keeps
    # deactivated stays suspended before the schedule offboards them (0: never), the body limit.
    scim_token_secret: str
    scim_console: bool
    scim_offboard_after_days: int
    scim_max_body: int
    # The groups an identity provider may assign (SCIM_GROUPS; by default every allowed group
    # that is not time-bound: access that is asked for and approved is never pushed), and
    # the public base URL that answers name (meta.location), never the request's Host header.
    scim_groups: tuple[str, ...]
    scim_base_url: str
    slack_signing_secret: str
    # Slack: the user ids that may change access, and the queue the work goes through.
    slack_allowed_users: frozenset[str]
    work_queue: str
    self_service_policy: str
    revocation_role: str
    revocation_policy: str
    revocable_roles: tuple[str, ...]
    grant_max_hours: dict[str, int]
    revocation_lock_seconds: int
    # Characters of inline policy each access role leaves to the revocation document: IAM's
    # 10,240 per role, less any other inline policy the role carries.
    revocation_room: int
    # How many of each role's overflow managed policies (access-revocation/<role>Revocation<n>,
    # templates/child/access-roles.yaml makes 4) hold denies the inline policy has no room for.
    revocation_overflow: int
    # The managed policy (templates/root/access-groups.yaml) attached to a suspended user: it
    # denies them everything; the restore detaches it.
    suspended_policy: str
    event_bus: str
    drift_webhook_secret: str
    # Roles whose profiles carry mfa_serial; "*": every role (the self-service policy denies a
    # person every call but setting up MFA, sts:AssumeRole included, unless signed in with MFA).
    mfa_roles: frozenset[str]
    access_keys: str
    secret_max_age: int
    # Ticket callbacks: hosts that may be called back, the signing secret's name, and the retries.
    callback_hosts: tuple[str, ...]
    callback_secret: str
    callback_attempts: int
    callback_backoff: float
    operation_timeout: int
    lease_seconds: int
    # Seconds a REST change may take before it answers 202 and goes on in the queue worker
    # (API Gateway ends an integration at 29 s); 0: never.
    answer_within: float
    idempotency_ttl: int
    log_level: str
    # Requests and approvals: Slack's Web API and its token.
    slack_api_url: str
    slack_bot_token_secret: str
    # Where Slack's answers may be posted (a request's response_url): host or host:port, exact.
    # Slack's own by default; the local stack names its Slack stand-in.
    slack_response_hosts: tuple[str, ...] = ("hooks.slack.com",)
    # On-call auto-approval: PagerDuty's REST API (the local stack names its stand-in), the
    # secret holding its API token, and how long one call may take.
    pagerduty_api_url: str = "https://api.pagerduty.com"
    pagerduty_token_secret: str = ""
    pagerduty_timeout: int = 3
    pagerduty_cache_seconds: int = 60  # how long an answer is kept; the local stack keeps none
    # Credential hygiene: how old a credential report may be to be used again.
    hygiene_report_max_age: int = 4 * 3600
    # The release running (pyproject.toml's version; GET /health answers it).
    version: str = "unknown"
    # The capabilities' own variables (CAPABILITY_PREFIXES) as read: approvals' policies,
    # hygiene's rules and reviews' policy are parsed by each capability (<capability>/settings.py),
    # once per Settings (part), and checked all together when the services are built.
    capability_env: Mapping[str, str] = field(
        default_factory=lambda: MappingProxyType({}), repr=False, compare=False
    )
    _parts: dict[Callable[[Any], Any], Any] = field(
        default_factory=dict, init=False, repr=False, compare=False
    )

    @classmethod
    def from_env(cls, env: Mapping[str, str]) -> Settings:
        def need(key: str) -> str:
            value = env.get(key, "").strip()
            if not value:
                raise ConfigurationError(f"environment variable {key} is required")
            return value

        app_name = env.get("APP_NAME", "iam-lifecycle")
        stage = env.get("STAGE", "dev")
        grant_max_hours = _limits(env.get("GRANT_MAX_HOURS", "BreakGlassGroup=4"))
        prefix = f"{app_name}-{stage}"
        settings = cls(
            app_name=app_name,
            stage=stage,
            region=env.get("AWS_REGION") or env.get("AWS_DEFAULT_REGION") or "us-east-1",
            managed_path=env.get("MANAGED_PATH", "/managed/"),
            allowed_groups=names(need("ALLOWED_GROUPS")),
            # Compared in canonical form: IAM does not tell "Admin" from "admin".
            protected_users=frozenset(key(name) for name in names(env.get("PROTECTED_USERS", ""))),
            root_account_id=need("ROOT_ACCOUNT_ID"),
            child_account_ids=names(env.get("CHILD_ACCOUNT_IDS", "")),
            child_organizational_units=names(env.get("CHILD_ORGANIZATIONAL_UNITS", "")),
            child_accounts_ttl=_seconds(env, "CHILD_ACCOUNTS_TTL", 300),
            state_table=env.get("STATE_TABLE", f"{prefix}-state"),
            idempotency_table=env.get("IDEMPOTENCY_TABLE", f"{prefix}-idempotency"),
            api_clients_secret=env.get("API_CLIENTS_SECRET", f"{app_name}/{stage}/api-clients"),
            api_token_secret=env.get("API_TOKEN_SECRET", f"{app_name}/{stage}/api-token"),
            scim_token_secret=env.get("SCIM_TOKEN_SECRET", f"{app_name}/{stage}/scim-token"),
            scim_console=flag(env, "SCIM_CONSOLE", False),
            scim_offboard_after_days=whole(env, "SCIM_OFFBOARD_AFTER_DAYS", 0),
            scim_max_body=whole(env, "SCIM_MAX_BODY", 256 * 1024),
            scim_groups=_scim_groups(env, grant_max_hours),
            scim_base_url=env.get("SCIM_BASE_URL", "").strip().rstrip("/"),
            slack_signing_secret=env.get(
                "SLACK_SIGNING_SECRET", f"{app_name}/{stage}/slack-signing-secret"
            ),
            slack_allowed_users=frozenset(names(env.get("SLACK_ALLOWED_USERS", ""))),
            work_queue=work_queue_name(env),
            self_service_policy=env.get("SELF_SERVICE_POLICY", "ManagedUserSelfService"),
            revocation_role=env.get("REVOCATION_ROLE", "AccessRevocationRole"),
            revocation_policy=env.get("REVOCATION_POLICY", "AccessRevocation"),
            revocable_roles=names(env.get("REVOCABLE_ROLES", "DeveloperRole,BreakGlassRole")),
            grant_max_hours=grant_max_hours,
            # A revocation holds a role's deny document from the change's first reads to its
            # write, renewed before writing; longer than this means its holder died.
            revocation_lock_seconds=int(env.get("REVOCATION_LOCK_SECONDS", "30")),
            revocation_room=whole(env, "REVOCATION_ROOM", 10_240),
            revocation_overflow=whole(env, "REVOCATION_OVERFLOW", 4),
            suspended_policy=env.get("SUSPENDED_POLICY", "AccessSuspended"),
            event_bus=env.get("EVENT_BUS", "default"),
            # A secret holding a Slack incoming-webhook URL for drift reports; empty: none.
            drift_webhook_secret=env.get("DRIFT_WEBHOOK_SECRET", ""),
            mfa_roles=frozenset(names(env.get("MFA_ROLES", "BreakGlassRole"))),
            access_keys=env.get("ACCESS_KEYS", "").strip() or "none",
            secret_max_age=int(env.get("SECRET_MAX_AGE", "300")),
            callback_hosts=tuple(host.lower() for host in names(env.get("CALLBACK_HOSTS", ""))),
            callback_secret=env.get("CALLBACK_SECRET", f"{app_name}/{stage}/callback-secret"),
            callback_attempts=int(env.get("CALLBACK_ATTEMPTS", "4")),
            # Seconds before the second attempt; each later wait doubles it.
            callback_backoff=float(env.get("CALLBACK_BACKOFF", "1")),
            # How long a change may hold a user (and its ticket), renewing its lease, before a
            # retry may take over: a change that hangs gives way after it.
            operation_timeout=int(env.get("OPERATION_TIMEOUT", "120")),
            # The lease a running change renews every third of it: a change whose process died
            # is taken over this long after its last renewal.
            lease_seconds=max(1, _seconds(env, "LEASE_SECONDS", 10)),
            answer_within=float(env.get("ANSWER_WITHIN_SECONDS", "24")),
            idempotency_ttl=int(env.get("IDEMPOTENCY_TTL", str(24 * 3600))),
            log_level=env.get("LOG_LEVEL", "INFO"),
            hygiene_report_max_age=_seconds(env, "HYGIENE_REPORT_MAX_AGE", 4 * 3600),
            slack_api_url=_base_url(env.get("SLACK_API_URL", "") or "https://slack.com/api/"),
            slack_bot_token_secret=env.get(
                "SLACK_BOT_TOKEN_SECRET", f"{app_name}/{stage}/slack-bot-token"
            ),
            slack_response_hosts=tuple(
                host.lower()
                for host in names(env.get("SLACK_RESPONSE_HOSTS", "") or "hooks.slack.com")
            ),
            pagerduty_api_url=env.get("PAGERDUTY_API_URL", "").strip().rstrip("/")
            or "https://api.pagerduty.com",
            pagerduty_token_secret=env.get(
                "PAGERDUTY_TOKEN_SECRET", f"{app_name}/{stage}/pagerduty-token"
            ),
            pagerduty_timeout=whole(env, "PAGERDUTY_TIMEOUT_SECONDS", 3),
            pagerduty_cache_seconds=whole(env, "PAGERDUTY_CACHE_SECONDS", 60),
            capability_env=cls._capability_env(env),
            version=env.get("APP_VERSION", "").strip() or project_version(),
        )
        settings._check()
        return settings

    @staticmethod
    def _capability_env(env: Mapping[str, str]) -> Mapping[str, str]:
        return MappingProxyType({k: v for k, v in env.items() if k.startswith(CAPABILITY_PREFIXES)})

    def _check(self) -> None:
        for account in (self.root_account_id, *self.child_account_ids):
            if not _ACCOUNT.match(account):
                raise ConfigurationError(f"{account!r} is not a 12-digit AWS account id")
        for parent in self.child_organizational_units:
            if not _PARENT.match(parent):
                raise ConfigurationError(
                    f"CHILD_ORGANIZATIONAL_UNITS entry {parent!r} must be an organizational unit id "
                    "(ou-abcd-12345678) or the organization's root id (r-abcd)"
                )
        if self.access_keys not in ACCESS_KEY_MODES:
            raise ConfigurationError(
                f"ACCESS_KEYS {self.access_keys!r} must be one of {', '.join(ACCESS_KEY_MODES)}"
            )
        for group in self.scim_groups:
            if group not in self.allowed_groups:
                raise ConfigurationError(
                    f"SCIM_GROUPS names {group}, which is not in ALLOWED_GROUPS"
                )
            if group in self.approval_groups:
                raise ConfigurationError(
                    f"SCIM_GROUPS names {group}, which has an approval policy: its access is "
                    "asked for and approved, never pushed by an identity provider"
                )
        if self.scim_base_url and not re.match(r"^https?://[^/\s]+(/\S*)?$", self.scim_base_url):
            raise ConfigurationError(
                f"SCIM_BASE_URL {self.scim_base_url!r} must be an absolute URL such as "
                "https://iam.example.com/api/scim/v2"
            )
        if self.revocation_overflow > 4:
            raise ConfigurationError(
                f"REVOCATION_OVERFLOW {self.revocation_overflow}: the child template makes 4 "
                "overflow policies per role (0 to 4)"
            )
        if not 1_024 <= self.revocation_room <= 10_240:
            raise ConfigurationError(
                f"REVOCATION_ROOM {self.revocation_room} must be between 1024 and 10240 "
                "characters (IAM's limit for a role's inline policies)"
            )
        for host in self.slack_response_hosts:
            if not _HOST.fullmatch(host):
                raise ConfigurationError(
                    f"SLACK_RESPONSE_HOSTS entry {host!r} must be a host name or host:port, "
                    "such as hooks.slack.com"
                )
        if not re.match(r"^https?://[^/\s]+(/\S*)?$", self.pagerduty_api_url):
            raise ConfigurationError(
                f"PAGERDUTY_API_URL {self.pagerduty_api_url!r} must be an absolute URL such as "
                "https://api.pagerduty.com"
            )
        if self.pagerduty_cache_seconds > 3600:
            raise ConfigurationError("PAGERDUTY_CACHE_SECONDS must be 0 to 3600")
        if not 1 <= self.pagerduty_timeout <= 10:
            raise ConfigurationError(
                "PAGERDUTY_TIMEOUT_SECONDS must be from 1 to 10: a request waits on it"
            )
        if not _PATH.match(self.managed_path) or self.managed_path == "/":
            raise ConfigurationError(
                f"MANAGED_PATH {self.managed_path!r} must look like /managed/ (not the root path)"
            )

    def part(self, parse: Callable[[Settings], T]) -> T:
        """A capability's own settings, parsed by ``parse`` from these once (then kept)."""
        if parse not in self._parts:
            self._parts[parse] = parse(self)
        return self._parts[parse]

    @property
    def approval_groups(self) -> tuple[str, ...]:
        """The groups with an approval policy: access asked for and approved, never pushed."""
        return self.part(_approval_groups_of)

    @property
    def keys_allowed(self) -> bool:
        """Whether people may hold access keys of their own at all."""
        return self.access_keys != "none"

    @property
    def keys_issued(self) -> bool:
        """Whether an onboarding may issue the first access key."""
        return self.access_keys == "issued_at_onboarding"

    @property
    def self_service_policy_arn(self) -> str:
        return f"arn:aws:iam::{self.root_account_id}:policy/{self.self_service_policy}"

    @property
    def suspended_policy_arn(self) -> str:
        return f"arn:aws:iam::{self.root_account_id}:policy/{self.suspended_policy}"


def _approval_groups_of(settings: Settings) -> tuple[str, ...]:
    return _approval_groups(settings.capability_env)


@functools.cache
def project_version() -> str:
    """pyproject.toml's version, where the project is (a build writes it into APP_VERSION for
    the deployed functions, which have no pyproject.toml)."""
    try:
        with open(Path(__file__).resolve().parents[1] / "pyproject.toml", "rb") as file:
            return str(tomllib.load(file)["project"]["version"])
    except (OSError, KeyError, tomllib.TOMLDecodeError):
        return "unknown"


@functools.cache
def get_settings() -> Settings:
    return Settings.from_env(os.environ)


def work_queue_name(env: Mapping[str, str] | None = None) -> str:
    """The work queue's name. app.py needs it to declare the queue handler when Chalice loads the
    app (with the stage's variables set), before the full settings can be read."""
    env = os.environ if env is None else env
    return env.get("WORK_QUEUE") or (
        f"{env.get('APP_NAME', 'iam-lifecycle')}-{env.get('STAGE', 'dev')}-work"
    )
