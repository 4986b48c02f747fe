"""``chalice local`` with the local stack's clock as the app's clock (devstack/clock.py), routing
greedy path variables as API Gateway does (devstack/api_gateway.py), and API Gateway's IAM
authorizer on the routes behind one (devstack/api_gateway_iam.py).

    python -m devstack.serve_api local --stage dev --port 8000 --no-autoreload

The arguments are chalice's own. Without autoreload, Chalice serves the app in this process, so
the services it builds take the stack's clock.
"""

from __future__ import annotations

import os
import sys

from devstack import api_gateway, api_gateway_iam, clock, lifetime


def main() -> int:
    lifetime.end_with_parent()
    if os.environ.get("STACK_NONCE"):
        lifetime.mark_answers(os.environ["STACK_NONCE"])
    clock.install()
    api_gateway_iam.install(api_gateway_iam.over_http(os.environ["AWS_ENDPOINT_URL"]))
    api_gateway.apply()  # a greedy route takes what no other route matches, as in API Gateway
    from chalice.cli import main as chalice

    sys.argv = ["chalice", *sys.argv[1:]]
    return int(chalice() or 0)


if __name__ == "__main__":
    sys.exit(main())
