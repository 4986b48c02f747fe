"""What moto 5.2.5 lacks for this project, added to moto's own classes at start-up.

Applied in the process that runs moto (the in-process mock or the threaded server), never in
``chalicelib``: production code calls AWS as AWS is, and the emulator is brought closer to AWS.

1. Resource-level authorization. moto checks identity policies against the resource "*" for most
   actions, so a policy scoped to ``user/managed/*`` would deny everything. Each request is given
   the ARN AWS would authorize against (the service authorization reference's resource type).
2. IAM operations moto does not implement but a complete offboarding calls (moto_iam_extras).
3. IAM user, group and role names compared without regard to case, as AWS does (moto_iam_case):
   a request naming "PETE" is authorized against, and acts on, the stored user "pete".
4. IAM and STS throttling per account, as AWS throttles them (moto_throttle); off until a rate
   is set.
5. CloudFormation's ``AWS::NoValue`` removes a list item, as in AWS (moto_cfn).
6. ``aws:MultiFactorAuthPresent`` evaluated in identity and trust policies, as AWS sets it
   (moto_mfa).
7. When a password or an access key was last used, settable (moto_last_used): moto never
   records a password's use, and stamps a key's with the real time.
8. AWS Sign-In's sessions: list, revoke, refresh (moto_signin); moto has no such service.
9. API Gateway's IAM authorizer: the SigV4 check of a request with moto's credentials, answered
   at ``POST /moto-api/apigateway/verify`` for ``chalice local`` (api_gateway_iam).
10. DynamoDB's conditional writes atomic: one item request served at a time
    (moto_dynamodb_atomic).
11. moto's clock follows the local stack's app clock once the stack names its clock file
    (moto_clock): what AWS makes after ``clock advance 50d`` is new, not 50 days old.
12. A user's path changed as AWS changes it (tags kept, UpdateUser authorized on both ARNs),
    and ``aws:ResourceTag/`` on IAM users evaluated (moto_update_user).
13. Work moto repeats on every request done once (moto_per_request): the server's list of
    services, a DynamoDB query's sort of the whole table, the look-up of a request's handler
    in its response class, the serializer's names for a plain dict's members, looked up in
    the dict directly, and the parse of each DynamoDB expression string; the answers are the
    same.
"""

from __future__ import annotations

import threading
from typing import Any

from moto.dynamodb.responses import DynamoHandler
from moto.events.responses import EventsHandler
from moto.iam.models import iam_backends
from moto.iam.responses import IamResponse
from moto.organizations.responses import OrganizationsResponse
from moto.secretsmanager.responses import SecretsManagerResponse
from moto.sqs.responses import SQSResponse

from devstack import (
    api_gateway_iam,
    moto_cfn,
    moto_clock,
    moto_dynamodb_atomic,
    moto_iam_case,
    moto_iam_extras,
    moto_last_used,
    moto_mfa,
    moto_per_request,
    moto_report,
    moto_signin,
    moto_throttle,
    moto_update_user,
)

_applied = False
_lock = threading.Lock()

# IAM actions whose resource is the group although they also name a user.
_GROUP_ACTIONS = {"AddUserToGroup", "RemoveUserFromGroup"}


def _iam_resource(response: IamResponse) -> str:
    action = response._get_action()
    account, partition = response.current_account, response.partition
    backend = iam_backends[account][partition]
    prefix = f"arn:{partition}:iam::{account}"
    user = response._get_param("UserName")
    group = response._get_param("GroupName")

    def arn(kind: str, name: str, lookup: Any) -> str:
        # A new entity is authorized by the path it asks for; an existing one by its own ARN.
        if action not in ("CreateUser", "CreateGroup"):
            try:
                return lookup(name).arn
            except Exception:  # the action itself reports the missing entity
                pass
        return f"{prefix}:{kind}{response._get_param('Path') or '/'}{name}"

    if group and (action in _GROUP_ACTIONS or not user):
        return arn("group", group, backend.get_group)
    if not user and action == "GetAccessKeyLastUsed":
        # AWS authorizes it against the key's owner, which the request does not name.
        try:
            user = backend.get_access_key_last_used(response._get_param("AccessKeyId"))["user_name"]
        except Exception:  # the action itself reports the unknown key
            return "*"
    if user:
        return arn("user", user, backend.get_user)
    if response._get_param("RoleName"):
        return _original_iam_resource(response)
    if action == "CreateVirtualMFADevice":
        name = response._get_param("VirtualMFADeviceName")
        return f"{prefix}:mfa{response._get_param('Path') or '/'}{name}"
    serial = response._get_param("SerialNumber")
    if serial:
        return serial
    return response._get_param("PolicyArn") or "*"


def _dynamodb_resource(response: DynamoHandler) -> str:
    params: dict[str, Any] = getattr(response, "params", {}) or {}
    table = params.get("TableName")
    batch = params.get("RequestItems")
    if not table and isinstance(batch, dict) and len(batch) == 1:
        # BatchWriteItem and BatchGetItem name their table in RequestItems; AWS authorizes
        # them against that table (the service authorization reference: resource type table).
        table = next(iter(batch))
    if not table:
        return "*"
    arn = f"arn:{response.partition}:dynamodb:{response.region}:{response.current_account}:table/{table}"
    index = params.get("IndexName")
    return f"{arn}/index/{index}" if index else arn


def _secret_resource(response: SecretsManagerResponse) -> str:
    secret_id = response._get_param("SecretId")
    if not secret_id:
        return "*"
    try:
        return response.backend.describe_secret(secret_id).arn
    except Exception:
        return "*"


def _sqs_resource(response: SQSResponse) -> str:
    # GetQueueUrl names the queue, not its URL: AWS authorizes it against the queue's ARN.
    name = response._get_param("QueueName")
    if response._get_action() == "GetQueueUrl" and name:
        return f"arn:{response.partition}:sqs:{response.region}:{response.current_account}:{name}"
    return _original_sqs_resource(response)


def _events_resource(response: EventsHandler) -> str:
    """PutEvents is authorized against each entry's event bus (the default one if unnamed)."""
    entries = response._get_param("Entries") or [{}]
    bus = entries[0].get("EventBusName") or "default"
    if bus.startswith("arn:"):
        return bus
    return f"arn:{response.partition}:events:{response.region}:{response.current_account}:event-bus/{bus}"


def _organizations_resource(response: OrganizationsResponse) -> str:
    """Listing a parent's children is authorized against the parent: an OU's or the root's ARN."""
    parent = response._get_param("ParentId")
    backend = response.organizations_backend
    if not parent or backend.org is None:
        return "*"
    try:
        return backend.get_organizational_unit_by_id(parent).arn  # roots are OUs in moto
    except Exception:  # the action itself reports the unknown parent
        return "*"


def apply() -> None:
    """Idempotent: patch moto's response classes once per process."""
    global _applied, _original_iam_resource
    with _lock:
        if _applied:
            return
        _original_iam_resource = IamResponse._determine_resource
        IamResponse._determine_resource = _iam_resource  # type: ignore[assignment]
        DynamoHandler._determine_resource = _dynamodb_resource  # type: ignore[attr-defined]
        SecretsManagerResponse._determine_resource = _secret_resource  # type: ignore[attr-defined]
        SQSResponse._determine_resource = _sqs_resource  # type: ignore[assignment]
        EventsHandler._determine_resource = _events_resource  # type: ignore[attr-defined]
        OrganizationsResponse._determine_resource = _organizations_resource  # type: ignore[attr-defined]
        moto_iam_extras.apply()
        moto_iam_case.apply()
        moto_report.apply()
        moto_last_used.apply()
        moto_throttle.apply()
        moto_cfn.apply()
        moto_mfa.apply()
        moto_update_user.apply()
        moto_signin.apply()
        moto_dynamodb_atomic.apply()
        api_gateway_iam.apply()
        moto_clock.apply()
        moto_per_request.apply()
        _applied = True


_original_iam_resource = IamResponse._determine_resource
_original_sqs_resource = SQSResponse._determine_resource
