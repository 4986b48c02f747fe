"""An identity provider stand-in: sends the local stack's /scim/v2 the requests Okta or Microsoft
Entra ID send, shaped as their provisioning documentation shows them.

    .venv/bin/python -m devstack.scim_idp [--entra] create pete@example.com [--slack U0LOCAL0003]
    .venv/bin/python -m devstack.scim_idp deactivate pete@example.com
    .venv/bin/python -m devstack.scim_idp reactivate pete@example.com
    .venv/bin/python -m devstack.scim_idp add pete@example.com ChildDeveloperGroup
    .venv/bin/python -m devstack.scim_idp remove pete@example.com ChildDeveloperGroup
    .venv/bin/python -m devstack.scim_idp delete pete@example.com
    .venv/bin/python -m devstack.scim_idp list

It reads ``scim_url`` and ``scim_token`` from .local/stack.json (``STACK_FILE`` elsewhere).
"""

from __future__ import annotations

import argparse
import json
import sys
import urllib.error
import urllib.request
from typing import Any
from urllib.parse import quote

from devstack import facts as stack

USER = "urn:ietf:params:scim:schemas:core:2.0:User"
ENTERPRISE = "urn:ietf:params:scim:schemas:extension:enterprise:2.0:User"
LIFECYCLE = "urn:ietf:params:scim:schemas:extension:iam-lifecycle:2.0:User"
PATCH = "urn:ietf:params:scim:api:messages:2.0:PatchOp"
AGENTS = {"okta": "Okta SCIM Client 1.0.0", "entra": "Microsoft Azure AD SCIM Client"}


class Idp:
    """Okta's or Entra's requests (``flavour``) for one person at a time."""

    def __init__(self, scim_url: str, token: str, flavour: str = "okta") -> None:
        self.url, self.token, self.flavour = scim_url.rstrip("/"), token, flavour

    def call(self, method: str, path: str, body: Any = None) -> tuple[int, Any]:
        request = urllib.request.Request(
            self.url + path,
            data=json.dumps(body).encode() if body is not None else None,
            headers={
                "Authorization": f"Bearer {self.token}",
                "Content-Type": "application/scim+json",
                "User-Agent": AGENTS[self.flavour],
            },
            method=method,
        )
        try:
            with urllib.request.urlopen(request, timeout=60) as response:
                raw = response.read()
                return response.status, json.loads(raw) if raw else None
        except urllib.error.HTTPError as error:
            return error.code, json.loads(error.read() or b"null")

    def find(self, user_name: str) -> dict | None:
        """Both look a person up by userName before creating them."""
        query = quote(f'userName eq "{user_name}"')
        paging = "&startIndex=1&count=100" if self.flavour == "okta" else ""
        status, found = self.call("GET", f"/Users?filter={query}{paging}")
        if status != 200:
            raise RuntimeError(f"looking {user_name} up answered {status}: {json.dumps(found)}")
        return (found.get("Resources") or [None])[0]

    def create(
        self,
        user_name: str,
        email: str | None = None,
        external_id: str = "00u1",
        slack: str | None = None,
    ) -> Any:
        """Create the person; ``slack``: their Slack member, in this service's extension (an
        Okta app attribute or an Entra mapping with that namespace)."""
        email = email or user_name
        body: dict[str, Any]
        if self.flavour == "okta":
            body = {
                "schemas": [USER],
                "userName": user_name,
                "name": {"givenName": "Given", "familyName": "Family"},
                "emails": [{"primary": True, "value": email, "type": "work"}],
                "displayName": "Given Family",
                "externalId": external_id,
                "groups": [],
                "active": True,
            }
        else:
            body = {
                "schemas": [USER, ENTERPRISE],
                "externalId": external_id,
                "userName": user_name,
                "active": True,
                "emails": [{"primary": True, "type": "work", "value": email}],
                "meta": {"resourceType": "User"},
                "name": {"formatted": "Given Family", "familyName": "Family"},
                ENTERPRISE: {"department": "Engineering"},
            }
        if slack:
            body["schemas"] = [*body["schemas"], LIFECYCLE]
            body[LIFECYCLE] = {"slackUserId": slack}
        return self.call("POST", "/Users", body)

    def _patch(self, path: str, *operations: dict) -> tuple[int, Any]:
        return self.call("PATCH", path, {"schemas": [PATCH], "Operations": list(operations)})

    def set_active(self, user_id: str, active: bool) -> tuple[int, Any]:
        if self.flavour == "okta":  # no path, the value an object
            return self._patch(f"/Users/{user_id}", {"op": "replace", "value": {"active": active}})
        # Capitalized op, path active, the boolean as a string; a sync carries the person's
        # other changes beside it, the manager among them as a bare id (Entra's known issue).
        operations = [{"op": "Replace", "path": "active", "value": str(active)}]
        if not active:
            manager = {"op": "Add", "path": f"{ENTERPRISE}:manager", "value": "a0c1-manager-id"}
            operations.append(manager)
        return self._patch(f"/Users/{user_id}", *operations)

    def add_to_group(self, user_id: str, group: str) -> tuple[int, Any]:
        member = {"value": user_id} if self.flavour == "okta" else {"$ref": None, "value": user_id}
        op = "add" if self.flavour == "okta" else "Add"
        return self._patch(f"/Groups/{group}", {"op": op, "path": "members", "value": [member]})

    def remove_from_group(self, user_id: str, group: str) -> tuple[int, Any]:
        if self.flavour == "okta":
            removal: dict[str, Any] = {"op": "remove", "path": f'members[value eq "{user_id}"]'}
        else:
            removal = {"op": "Remove", "path": "members", "value": [{"value": user_id}]}
        return self._patch(f"/Groups/{group}", removal)

    def delete(self, user_id: str) -> tuple[int, Any]:
        return self.call("DELETE", f"/Users/{user_id}")


def main(argv: list[str] | None = None) -> int:
    try:
        return _main(argv)
    except stack.StackDown as down:
        return stack.say_down(down)
    except urllib.error.URLError as error:
        if stack.refused(error):
            return stack.say_down(stack.StackDown(f"{error.reason}"))
        raise
    except RuntimeError as error:
        print(error, file=sys.stderr)
        return 1


def _main(argv: list[str] | None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m devstack.scim_idp",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    parser.add_argument("--entra", action="store_true", help="send Entra's shapes, not Okta's")
    parser.add_argument(
        "verb", choices=["create", "deactivate", "reactivate", "add", "remove", "delete", "list"]
    )
    parser.add_argument("user", nargs="?")
    parser.add_argument("group", nargs="?")
    parser.add_argument("--slack", help="create: the person's Slack member id (U...)")
    args = parser.parse_args(argv)
    facts = stack.read()
    idp = Idp(facts["scim_url"], facts["scim_token"], "entra" if args.entra else "okta")
    if args.verb == "list":
        answer: Any = idp.call("GET", "/Users")
    elif args.verb == "create":
        answer = idp.create(args.user, slack=args.slack)
    else:
        found = idp.find(args.user)
        if found is None:
            print(f"no user {args.user}", file=sys.stderr)
            return 1
        answer = {
            "deactivate": lambda: idp.set_active(found["id"], False),
            "reactivate": lambda: idp.set_active(found["id"], True),
            "add": lambda: idp.add_to_group(found["id"], args.group),
            "remove": lambda: idp.remove_from_group(found["id"], args.group),
            "delete": lambda: idp.delete(found["id"]),
        }[args.verb]()
    print(json.dumps(answer, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
