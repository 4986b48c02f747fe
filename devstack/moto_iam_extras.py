"""IAM operations moto 5.2.5 lacks but a complete offboarding calls, added to moto's own classes.

- Service-specific credentials: create, list, update, reset, delete; ``DeleteUser`` refuses a user
  who still has some (DeleteConflict), as AWS does.
- User permissions boundaries: put, delete, and ``CreateUser(PermissionsBoundary=...)``; moto
  accepts none of them and never reports a user's boundary.

Responses are ``ActionResult`` objects serialized by moto from botocore's model, as moto's own
IAM operations are, so boto3 parses them exactly as it parses AWS's. State lives on moto's
``User`` objects, which belong to the per-account backend: a moto reset (leaving or entering
``mock_aws``, ``/moto-api/reset``) drops it, and so does deleting the user.

Patching the classes also serves a ``ThreadedMotoServer`` started in the same process.
"""

from __future__ import annotations

import base64
import datetime
import threading
from collections.abc import Callable
from typing import Any

from moto.core.responses import ActionResult, EmptyResult
from moto.core.serialize import never_return
from moto.core.utils import utcnow
from moto.iam.exceptions import (
    DeleteConflictException,
    IAMException,
    LimitExceededException,
    NotFoundException,
    ValidationError,
)
from moto.iam.models import IAMBackend, User
from moto.iam.responses import IamResponse
from moto.iam.utils import generate_access_key_id_from_account_id
from moto.moto_api._internal import mock_random as random

# Services that issue a user name and password (ServiceUserName/ServicePassword) ...
PASSWORD_SERVICES = frozenset({"codecommit.amazonaws.com", "cassandra.amazonaws.com"})
# ... and those that issue a long-term API key (ServiceCredentialAlias/Secret), which may expire.
API_KEY_SERVICES = frozenset({"bedrock.amazonaws.com", "logs.amazonaws.com"})
LIMIT_PER_SERVICE = 2  # per user and service, as AWS documents
STATUSES = ("Active", "Inactive")

_lock = threading.Lock()
# Marked on the class rather than in this module, so that importing the module under two names
# still patches once.
_MARK = "_iam_extras_applied"


class ServiceNotSupported(IAMException):
    code = "NotSupportedService"  # botocore's ServiceNotSupportedException, HTTP 404


class ServiceSpecificCredential:
    """Attribute names follow botocore's shapes, so moto's serializer picks them up."""

    def __init__(self, user: User, service_name: str, age_days: int | None) -> None:
        self._user = user
        self.service_name = service_name
        # Unique ids encode the account like moto's other IAM ids; ACCA marks this kind.
        self.service_specific_credential_id = generate_access_key_id_from_account_id(
            user.account_id, prefix="ACCA", total_length=21
        )
        self.status = "Active"
        self.create_date = utcnow()
        self.expiration_date = (
            self.create_date + datetime.timedelta(days=age_days) if age_days else None
        )
        # Fixed at creation: AWS derives it from the name the user had then.
        self.service_user_name: str | None = None
        self.service_password: str | None = None
        self.service_credential_alias: str | None = None
        self.service_credential_secret: str | None = None
        if service_name in API_KEY_SERVICES:
            self.service_credential_alias = f"{user.name}-at-{user.account_id}"
        else:
            self.service_user_name = f"{user.name}-at-{user.account_id}"
        self.new_secret()

    @property
    def user_name(self) -> str:
        return self._user.name  # follows UpdateUser renames

    def new_secret(self) -> None:
        secret = base64.b64encode(random.getrandbits(256).to_bytes(32, "big")).decode()
        if self.service_credential_alias is not None:
            self.service_credential_secret = secret
        else:
            self.service_password = secret


def _credentials(user: User) -> list[ServiceSpecificCredential]:
    return user.__dict__.setdefault("service_specific_credentials", [])


def _find(user: User, credential_id: str) -> ServiceSpecificCredential:
    for credential in _credentials(user):
        if credential.service_specific_credential_id == credential_id:
            return credential
    raise NotFoundException(
        f"The Service Specific Credential with id {credential_id} cannot be found."
    )


def _check_service(service_name: str) -> None:
    if service_name not in PASSWORD_SERVICES | API_KEY_SERVICES:
        raise ServiceNotSupported(f"Service {service_name} is not supported.")


# Backend: the model, reachable as iam_backends[account][partition].<method>.


def create_service_specific_credential(
    self: IAMBackend,
    user_name: str,
    service_name: str,
    age_days: int | None = None,
) -> ServiceSpecificCredential:
    user = self.get_user(user_name)
    _check_service(service_name)
    if age_days is not None and (
        service_name not in API_KEY_SERVICES or not 1 <= int(age_days) <= 36600
    ):
        raise ValidationError(
            f"Value ({age_days}) for parameter CredentialAgeDays is invalid for {service_name}."
        )
    existing = [c for c in _credentials(user) if c.service_name == service_name]
    if len(existing) >= LIMIT_PER_SERVICE:
        raise LimitExceededException(
            f"Cannot exceed quota for ServiceSpecificCredentialsPerUserPerService: {LIMIT_PER_SERVICE}"
        )
    credential = ServiceSpecificCredential(
        user, service_name, int(age_days) if age_days is not None else None
    )
    _credentials(user).append(credential)
    return credential


def list_service_specific_credentials(
    self: IAMBackend,
    user_name: str | None,
    service_name: str | None = None,
    all_users: bool = False,
) -> list[ServiceSpecificCredential]:
    if service_name:
        _check_service(service_name)
    users = list(self.users.values()) if all_users else [self.get_user(user_name)]  # type: ignore[arg-type]
    return [
        c
        for user in users
        for c in _credentials(user)
        if not service_name or c.service_name == service_name
    ]


def update_service_specific_credential(
    self: IAMBackend,
    user_name: str,
    credential_id: str,
    status: str,
) -> None:
    if status not in STATUSES:
        raise ValidationError(
            f"1 validation error detected: Value '{status}' at 'status' failed to satisfy "
            f"constraint: Member must satisfy enum value set: [{', '.join(STATUSES)}]"
        )
    _find(self.get_user(user_name), credential_id).status = status


def reset_service_specific_credential(
    self: IAMBackend,
    user_name: str,
    credential_id: str,
) -> ServiceSpecificCredential:
    credential = _find(self.get_user(user_name), credential_id)
    credential.new_secret()
    return credential


def delete_service_specific_credential(
    self: IAMBackend, user_name: str, credential_id: str
) -> None:
    user = self.get_user(user_name)
    _credentials(user).remove(_find(user, credential_id))


def put_user_permissions_boundary(self: IAMBackend, user_name: str, boundary: str) -> None:
    _check_boundary(self, boundary)
    self.get_user(user_name).permissions_boundary_arn = boundary  # type: ignore[attr-defined]


def delete_user_permissions_boundary(self: IAMBackend, user_name: str) -> None:
    self.get_user(user_name).permissions_boundary_arn = None  # type: ignore[attr-defined]


def _check_boundary(backend: IAMBackend, boundary: str) -> None:
    # Same check and error as moto's put_role_permissions_boundary.
    if not backend.policy_arn_regex.match(boundary or ""):
        raise IAMException(
            "InvalidParameterValue",
            f"Value ({boundary}) for parameter PermissionsBoundary is invalid.",
        )


def _delete_user(self: IAMBackend, user_name: str) -> None:
    user = self.get_user(user_name)
    if _credentials(user):
        raise DeleteConflictException(
            "Cannot delete entity, must delete service specific credentials first."
        )
    _original["delete_user"](self, user_name)  # moto's own checks (policies) still apply


def _user_permissions_boundary(self: User) -> dict[str, str] | None:
    # The shape moto gives roles: GetUser/CreateUser then report the boundary as AWS does.
    if self.permissions_boundary_arn:  # type: ignore[attr-defined]
        return {
            "PermissionsBoundaryType": "PermissionsBoundaryPolicy",
            "PermissionsBoundaryArn": self.permissions_boundary_arn,  # type: ignore[attr-defined]
        }
    return None


# Responses: one method per action, named as moto's dispatcher looks them up.


def _user_or_caller(response: IamResponse) -> str:
    """AWS defaults UserName to the caller, as moto's access-key operations do."""
    user_name = response._get_param("UserName")
    if user_name:
        return user_name
    key = response.backend.get_access_key_last_used(response.get_access_key())
    return key["user_name"]


def r_create_service_specific_credential(self: IamResponse) -> ActionResult:
    credential = self.backend.create_service_specific_credential(  # type: ignore[attr-defined]
        self._get_param("UserName"),
        self._get_param("ServiceName"),
        self._get_param("CredentialAgeDays"),
    )
    return ActionResult({"ServiceSpecificCredential": credential})


def r_list_service_specific_credentials(self: IamResponse) -> ActionResult:
    all_users = bool(self._get_param("AllUsers"))
    credentials = self.backend.list_service_specific_credentials(  # type: ignore[attr-defined]
        None if all_users else _user_or_caller(self), self._get_param("ServiceName"), all_users
    )
    # The metadata shape has no password or secret, so the serializer leaves them out.
    return ActionResult({"ServiceSpecificCredentials": credentials, "IsTruncated": False})


def r_update_service_specific_credential(self: IamResponse) -> ActionResult:
    self.backend.update_service_specific_credential(  # type: ignore[attr-defined]
        _user_or_caller(self),
        self._get_param("ServiceSpecificCredentialId"),
        self._get_param("Status"),
    )
    return EmptyResult()


def r_reset_service_specific_credential(self: IamResponse) -> ActionResult:
    credential = self.backend.reset_service_specific_credential(  # type: ignore[attr-defined]
        _user_or_caller(self), self._get_param("ServiceSpecificCredentialId")
    )
    return ActionResult({"ServiceSpecificCredential": credential})


def r_delete_service_specific_credential(self: IamResponse) -> ActionResult:
    self.backend.delete_service_specific_credential(  # type: ignore[attr-defined]
        _user_or_caller(self), self._get_param("ServiceSpecificCredentialId")
    )
    return EmptyResult()


def r_put_user_permissions_boundary(self: IamResponse) -> ActionResult:
    self.backend.put_user_permissions_boundary(  # type: ignore[attr-defined]
        self._get_param("UserName"), self._get_param("PermissionsBoundary")
    )
    return EmptyResult()


def r_delete_user_permissions_boundary(self: IamResponse) -> ActionResult:
    self.backend.delete_user_permissions_boundary(self._get_param("UserName"))  # type: ignore[attr-defined]
    return EmptyResult()


def r_create_user(self: IamResponse) -> ActionResult:
    boundary = self._get_param("PermissionsBoundary")
    if boundary is not None:
        _check_boundary(self.backend, boundary)  # before the user exists, as AWS validates
    result = _original["create_user_response"](self)
    if boundary is not None:
        # Serialization happens after return, so the new user's boundary is reported.
        result.result["User"].permissions_boundary_arn = boundary
    return result


_BACKEND_METHODS: dict[str, Callable[..., Any]] = {
    f.__name__: f
    for f in (
        create_service_specific_credential,
        list_service_specific_credentials,
        update_service_specific_credential,
        reset_service_specific_credential,
        delete_service_specific_credential,
        put_user_permissions_boundary,
        delete_user_permissions_boundary,
    )
}
_RESPONSE_METHODS: dict[str, Callable[..., Any]] = {
    f.__name__[2:]: f
    for f in (
        r_create_service_specific_credential,
        r_list_service_specific_credentials,
        r_update_service_specific_credential,
        r_reset_service_specific_credential,
        r_delete_service_specific_credential,
        r_put_user_permissions_boundary,
        r_delete_user_permissions_boundary,
    )
}
_original: dict[str, Any] = {}


def apply() -> None:
    """Idempotent: extend moto's IAM classes once per process."""
    with _lock:
        if getattr(IamResponse, _MARK, False):
            return
        _original["delete_user"] = IAMBackend.delete_user
        _original["create_user_response"] = IamResponse.create_user
        for name, function in _BACKEND_METHODS.items():
            setattr(IAMBackend, name, function)
        IAMBackend.delete_user = _delete_user  # type: ignore[method-assign]
        # Dispatch only finds plain functions defined on the class.
        for name, function in _RESPONSE_METHODS.items():
            setattr(IamResponse, name, function)
        IamResponse.create_user = r_create_user  # type: ignore[method-assign]
        User.permissions_boundary_arn = None  # type: ignore[attr-defined]
        User.permissions_boundary = property(_user_permissions_boundary)  # type: ignore[attr-defined]
        # ListUsers leaves the boundary out on AWS, as moto already does for Tags.
        IamResponse.RESPONSE_KEY_PATH_TO_TRANSFORMER[
            "ListUsersResponse.Users.User.PermissionsBoundary"
        ] = never_return
        setattr(IamResponse, _MARK, True)
