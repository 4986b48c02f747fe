"""What a person reaches and how they reach it: the roles a set of groups lets them assume, the
``~/.aws/config`` text of those roles (and its shell merge), and the welcome steps of their first
hour. Pure: it reads nothing, it decides on the snapshot it is given."""

from __future__ import annotations

import re

from chalicelib.kernel.errors import BadRequest
from chalicelib.kernel.snapshot import Snapshot
from chalicelib.lifecycle import access_map, config_merge
from chalicelib.lifecycle.access_map import ACCESS_KEY, LOGIN_SESSION
from chalicelib.lifecycle.welcome import console_url, welcome
from chalicelib.settings import Settings

# A profile name this service writes for a role: <account>-<role name>.
_PROFILE = re.compile(r"[0-9]{12}-[\w+=,.@-]{1,64}", re.ASCII)  # whole string: fullmatch


class Access:
    """What a set of groups gives a person, under the stage's settings."""

    def __init__(self, settings: Settings) -> None:
        self.settings = settings

    def roles(self, groups: list[str] | set[str], access: dict[str, list[dict]]) -> list[str]:
        """The roles the managed ones of ``groups`` let their members assume. The policies of a
        group the service does not manage are not its to read."""
        documents = [
            doc
            for group in sorted(groups)
            if group in self.settings.allowed_groups
            for doc in access.get(group, [])
        ]
        return access_map.assumable_roles(documents)

    def aws_config(self, username: str, roles: list[str], credentials: str = LOGIN_SESSION) -> str:
        return access_map.aws_config(
            username,
            roles,
            root_account_id=self.settings.root_account_id,
            managed_path=self.settings.managed_path,
            region=self.settings.region,
            mfa_roles=self.settings.mfa_roles,
            credentials=credentials,
        )

    def credentials_of(self, keys: list[dict]) -> str:
        """Where the person's CLI credentials come from: an access key when they hold an active
        one (and the stage allows keys), else their console sign-in (``aws login``)."""
        active = any(k.get("status") == "Active" for k in keys)
        return ACCESS_KEY if active and self.settings.keys_allowed else LOGIN_SESSION

    def config_of(self, name: str, snap: Snapshot) -> dict:
        """The ``~/.aws/config`` text of the roles ``name``'s groups reach now, and its profiles."""
        roles = self.roles(snap.groups or [], snap.access)
        credentials = self.credentials_of(snap.keys or [])
        return {
            "username": name,
            "aws_config": self.aws_config(name, roles, credentials),
            "profiles": access_map.profiles(roles, self.settings.mfa_roles),
            "credentials": credentials,
            "source_profile": access_map.source_profile(self.settings.root_account_id, name),
        }

    def merge(self, config: dict, remove: list[str] | tuple[str, ...] = ()) -> str:
        """A POSIX sh script merging ``config`` (:meth:`config_of`) into an existing
        ``~/.aws/config`` and deleting the profiles named in ``remove``."""
        check_removable(remove)
        return config_merge.merge_snippet(
            config["username"], config["aws_config"], remove, app_name=self.settings.app_name
        )

    def roles_before(self, snap: Snapshot, groups: list[str] | None = None) -> list[str]:
        """What an active user reached before a change: through ``groups`` (as the snapshot
        read them) and through the groups and grants of the record, which still name what an
        attempt that failed halfway already took away."""
        record = snap.state
        held = (
            set(groups or [])
            | set(record.get("groups", []))
            | {g["group"] for g in record.get("grants", [])}
        )
        return self.roles(held, snap.access)  # a group deleted since reaches nothing

    def with_config(self, answer: dict, user: dict, before: list[str]) -> dict:
        """``answer`` with the config of what ``user`` reaches after the change, and the
        profiles of the roles reached ``before`` that the change took away."""
        credentials = self.credentials_of(user["access_keys"])
        return {
            **answer,
            "aws_config": self.aws_config(user["username"], user["roles"], credentials),
            "profiles_to_remove": access_map.profiles_to_remove(before, user["roles"]),
        }

    def welcome(
        self, snap: Snapshot, username: str, user: dict, credentials: str, config: str
    ) -> list[dict]:
        """The steps of a person's first hour, from the onboarding's answer."""
        root = self.settings.root_account_id
        profiles = access_map.profiles(user["roles"], self.settings.mfa_roles)
        return welcome(
            username=username,
            sign_in_url=console_url(snap.alias, root),
            console=bool(user["console"]),
            credentials=credentials,
            source_profile=access_map.source_profile(root, username),
            mfa_serial=access_map.mfa_serial(root, username),
            aws_config=config,
            merge=config_merge.merge_snippet(username, config, app_name=self.settings.app_name),
            try_profile=profiles[0]["profile"] if profiles else None,
            asks_mfa=any(p["mfa"] for p in profiles),
        )


def check_removable(remove: list[str] | tuple[str, ...]) -> None:
    """Only profiles this service writes may be deleted by its merge."""
    for profile in remove:
        if not _PROFILE.fullmatch(profile):
            raise BadRequest(
                f"remove: {profile!r} is not a profile this service writes "
                "(<12-digit account>-<role name>)"
            )
