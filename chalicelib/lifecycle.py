"""The lifecycle operations. Nothing here knows of Chalice, Slack or boto3: gateways do the AWS work."""

from __future__ import annotations

from chalicelib import access_map
from chalicelib.errors import BadRequest, Conflict, Forbidden, NotFound
from chalicelib.iam_gateway import IamGateway
from chalicelib.passwords import temporary_password
from chalicelib.schemas import OnboardRequest, check_username
from chalicelib.settings import Settings
from chalicelib.state_store import StateStore


class Lifecycle:
    def __init__(self, settings: Settings, iam: IamGateway, state: StateStore) -> None:
        self.settings = settings
        self.iam = iam
        self.state = state

    # guard rails
    def _check_user_allowed(self, username: str) -> None:
        check_username(username)
        if username in self.settings.protected_users:
            raise Forbidden(f"{username} is a protected user; this service does not change it")

    def _check_groups(self, groups: list[str]) -> None:
        refused = sorted(set(groups) - set(self.settings.allowed_groups))
        if refused:
            raise Forbidden(
                f"group(s) {', '.join(refused)} are not managed by this service; "
                f"allowed: {', '.join(self.settings.allowed_groups)}"
            )

    def _managed_user(self, username: str) -> dict:
        user = self.iam.get_user(username)
        if user is None or user["path"] != self.settings.managed_path:
            raise NotFound(f"no managed user named {username}")
        return user

    # what a set of groups gives
    def roles_for(self, groups: list[str]) -> list[str]:
        documents = [doc for group in groups for doc in self.iam.group_policy_documents(group)]
        return access_map.assumable_roles(documents)

    def aws_config(self, username: str, roles: list[str]) -> str:
        return access_map.aws_config(
            username, roles, root_account_id=self.settings.root_account_id,
            region=self.settings.region, mfa_roles=self.settings.mfa_roles,
        )

    # operations
    def onboard(self, request: OnboardRequest) -> dict:
        """Create the user, console login, self-service policy and group memberships.

        Resumable: a retry with the same ticket after a failure halfway finds the user it created
        (tagged with the ticket) and completes the remaining steps.
        """
        username = request.username
        self._check_user_allowed(username)
        self._check_groups(request.groups)
        missing = [group for group in request.groups if not self.iam.group_exists(group)]
        if missing:
            raise BadRequest(f"group(s) {', '.join(missing)} do not exist in the root account")

        existing = self.iam.get_user(username)
        if existing is None:
            tags = {"ticket": request.ticket, "requested_by": request.requested_by,
                    "managed_by": self.settings.app_name}
            if request.email:
                tags["email"] = request.email
            self.iam.create_user(username, self.settings.managed_path, tags)
        elif existing["path"] != self.settings.managed_path or (
            existing["tags"].get("ticket") != request.ticket
        ):
            raise Conflict(f"a user named {username} already exists")

        self.iam.attach_user_policy(username, self.settings.self_service_policy_arn)
        password = None
        if request.console and not self.iam.has_login_profile(username):
            password = temporary_password()
            self.iam.create_login_profile(username, password)
        current = set(self.iam.groups_of(username))
        for group in request.groups:
            if group not in current:
                self.iam.add_to_group(username, group)

        self.state.put_record(username, {"status": "active", "groups": sorted(request.groups),
                                         "ticket": request.ticket, "grants": []})
        self.state.audit("onboard", username, request.ticket, request.requested_by, "ok",
                         {"groups": sorted(request.groups), "console": request.console})
        user = self.describe(username)
        answer = {"user": user, "aws_config": self.aws_config(username, user["roles"])}
        if password:
            answer["temporary_password"] = password
        return answer

    def describe(self, username: str) -> dict:
        self._check_user_allowed(username)
        user = self._managed_user(username)
        record = self.state.get_record(username) or {}
        groups = self.iam.groups_of(username)
        described = {
            "username": username,
            "arn": user["arn"],
            "status": record.get("status", "active"),
            "groups": groups,
            "console": self.iam.has_login_profile(username),
            "mfa": bool(self.iam.mfa_devices(username)),
            "access_keys": self.iam.access_keys(username),
            "roles": self.roles_for(groups),
            "grants": record.get("grants", []),
        }
        if record.get("suspended_until"):
            described["suspended_until"] = record["suspended_until"]
        return described
