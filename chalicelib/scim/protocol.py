"""What this service's SCIM 2.0 edge publishes: its error, the User model (core schema, the
enterprise extension, and this service's own extension carrying the Slack member), and the
discovery documents (ServiceProviderConfig, ResourceTypes, Schemas), all on scim2-models."""

from __future__ import annotations

from typing import Any

from scim2_models import (
    URN,
    AuthenticationScheme,
    Bulk,
    ChangePassword,
    Context,
    EnterpriseUser,
    ETag,
    Extension,
    Filter,
    Group,
    ListResponse,
    Meta,
    Patch,
    ResourceType,
    ServiceProviderConfig,
    Sort,
    User,
)

SCIM_JSON = "application/scim+json"
MAX_RESULTS = 200  # per page, as ServiceProviderConfig says
CORE_USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE_USER = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIFECYCLE_USER = "urn:ietf:params:scim:schemas:extension:iam-lifecycle:2.0:User"


class LifecycleUser(Extension):
    """This service's User extension: the Slack member the person is (the link that Slack
    requests, approvals' four-eyes checks and direct messages go by)."""

    __schema__ = URN(LIFECYCLE_USER)

    slack_user_id: str | None = None
    """The Slack member id (``U...`` or, on Enterprise Grid, ``W...``)."""


# Entra sends the enterprise extension: it is accepted, not kept. This service's extension is kept.
UserModel = User[EnterpriseUser | LifecycleUser]
# The User attributes this service keeps (and publishes in /Schemas); the others of the core
# schema are accepted and not kept, anything else is refused.
USER_ATTRIBUTES = ("userName", "active", "emails", "groups")
# Every attribute an operation may change that the service keeps, lower case (RFC 7644 §3.10:
# attribute names are case-insensitive), with this extension's under its full name.
KEPT = frozenset(
    {
        "username",
        "active",
        "emails",
        "externalid",
        "groups",
        f"{LIFECYCLE_USER.lower()}:slackuserid",
    }
)
KNOWN_SCHEMAS = frozenset({CORE_USER, ENTERPRISE_USER, LIFECYCLE_USER})
GROUP_SCHEMAS = frozenset({"urn:ietf:params:scim:schemas:core:2.0:Group"})


class ScimError(Exception):
    """A SCIM error body to answer: RFC 7644 §3.12."""

    def __init__(self, status: int, detail: str, scim_type: str | None = None) -> None:
        super().__init__(detail)
        self.status, self.detail, self.scim_type = status, detail, scim_type


def config(base: str, token_secret: str) -> dict:
    answer = ServiceProviderConfig(
        documentation_uri=None,
        patch=Patch(supported=True),
        bulk=Bulk(supported=False, max_operations=0, max_payload_size=0),
        filter=Filter(supported=True, max_results=MAX_RESULTS),
        change_password=ChangePassword(supported=False),
        sort=Sort(supported=False),
        etag=ETag(supported=False),
        authentication_schemes=[
            AuthenticationScheme(
                type=AuthenticationScheme.Type.oauthbearertoken,
                name="Bearer token",
                description=f"Authorization: Bearer <the SCIM token> (secret {token_secret})",
                primary=True,
            )
        ],
        meta=Meta(resource_type="ServiceProviderConfig", location=f"{base}/ServiceProviderConfig"),
    )
    return answer.model_dump(scim_ctx=Context.RESOURCE_QUERY_RESPONSE)


def resource_types(base: str) -> list[Any]:
    types = []
    # The enterprise extension is accepted and not kept, so only this service's is advertised.
    for model, name in ((User[LifecycleUser], "User"), (Group, "Group")):
        kind = ResourceType.from_resource(model)
        kind.meta = Meta(resource_type="ResourceType", location=f"{base}/ResourceTypes/{name}")
        types.append(kind)
    return types


def schemas(base: str) -> list[Any]:
    user = User.to_schema()
    user.attributes = [a for a in user.attributes or [] if a.name in USER_ATTRIBUTES]
    own = LifecycleUser.to_schema()
    own.name = "IAM lifecycle user"
    own.description = "The Slack member linked to the person"
    found = []
    for schema in (user, own, Group.to_schema()):
        schema.meta = Meta(resource_type="Schema", location=f"{base}/Schemas/{schema.id}")
        found.append(schema)
    return found


def listed(model: Any, items: list[Any]) -> dict:
    answer = ListResponse[model](
        total_results=len(items), start_index=1, items_per_page=len(items), resources=items
    )
    return answer.model_dump(scim_ctx=Context.SEARCH_RESPONSE)
