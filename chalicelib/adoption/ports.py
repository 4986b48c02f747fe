"""What adoption needs from IAM beyond the kernel's port (``chalicelib.aws.adoption``)."""

from __future__ import annotations

from typing import Protocol


class AdoptionIam(Protocol):
    def user(self, username: str) -> dict | None: ...
    def authorizations(self) -> dict[str, dict]: ...
    def set_path(self, username: str, path: str) -> None: ...
