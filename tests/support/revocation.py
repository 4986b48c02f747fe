"""The session revocation documents the app writes on the child accounts' roles."""

from __future__ import annotations

from devstack.local import CHILD_ACCOUNTS, SETUP_CREDENTIALS, Provisioner

CHILD = CHILD_ACCOUNTS[0]


def child_iam(account: str = CHILD):
    provisioner = Provisioner(endpoint_url=None)
    return provisioner.client(provisioner.child_credentials(SETUP_CREDENTIALS, account), "iam")


def revocation_document(role: str, account: str = CHILD):
    iam = child_iam(account)
    try:
        return iam.get_role_policy(RoleName=role, PolicyName="AccessRevocation")["PolicyDocument"]
    except iam.exceptions.NoSuchEntityException:
        return None


def denied(document) -> dict[str, str]:
    """userid pattern -> the moment before which it is denied."""
    return {
        userid: s["Condition"]["DateLessThan"]["aws:TokenIssueTime"]
        for s in (document or {}).get("Statement", [])
        for userid in s["Condition"]["StringLike"]["aws:userid"]
    }
