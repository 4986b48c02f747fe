"""``make run``: start the local stack, serve the API, write .local/stack.json, stop on Ctrl-C.

``IAM_RATE_LIMIT=10 make run`` throttles IAM to 10 requests per second per account, as AWS does
(``IAM_RATE_BURST``, ``STS_RATE_LIMIT``, ``STS_RATE_BURST`` likewise; devstack/moto_throttle.py);
once the stack is provisioned, so setting it up is not slowed.
"""

from __future__ import annotations

import json
import logging
import os
import signal
import sys
import threading
from pathlib import Path

from devstack import lifetime, moto_throttle
from devstack.local import PROJECT, LocalStack


def main() -> None:
    logging.getLogger("werkzeug").setLevel(logging.ERROR)  # not one line per AWS call
    aws_port = int(os.environ.get("AWS_PORT", "5000"))
    api_port = int(os.environ.get("API_PORT", "8000"))
    # Tests start their own stack beside a developer's and keep its facts elsewhere.
    facts_file = Path(os.environ.get("STACK_FILE", PROJECT / ".local" / "stack.json"))
    busy = lifetime.taken({"AWS_PORT": aws_port, "API_PORT": api_port})
    if busy:
        print("\n".join(busy), file=sys.stderr, flush=True)
        raise SystemExit(1)
    lifetime.end_with_make()
    stopped, ready = threading.Event(), threading.Event()

    def stop(signum: int, frame: object) -> None:
        stopped.set()
        if not ready.is_set():  # still starting: stop starting, then what started stops
            raise KeyboardInterrupt

    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, stop)
    stack = LocalStack(aws_port=aws_port)
    try:
        facts = stack.start()
        throttled = ", ".join(
            f"{name} {limit['rate']:g}/s per account (burst {limit['burst']:g})"
            for name, limit in moto_throttle.from_environment().items()
        )
        url = stack.serve_api(api_port)
        stack.serve_worker()  # the Slack work queue, consumed as Lambda would
        stack.serve_clock()  # the schedules, fired on their rates as EventBridge would
        public = facts.public()
        facts_file.parent.mkdir(parents=True, exist_ok=True)
        facts_file.write_text(json.dumps(public, indent=2) + "\n")
        admin = facts.admin_credentials
        print(
            f"""
Local stack ready (facts in {facts_file}).
  API            {url}
  AWS endpoint   {facts.aws_endpoint_url}  (root {facts.root_account_id}, child {", ".join(facts.child_account_ids)})
  Throttling     {throttled or "off"}  (IAM_RATE_LIMIT; or POST {{"service": "iam", "rate": 10}} as JSON to {facts.aws_endpoint_url}{moto_throttle.ENDPOINT})
  API token      {facts.api_token}
  SCIM           {facts.scim_url}  (token {facts.scim_token})
  Slack secret   {facts.slack_signing_secret}
  Slack Web API  {facts.slack_api_url}  (a stand-in; GET {facts.slack_api_url}_recorded)
  PagerDuty API  {facts.pagerduty_api_url}  (a stand-in; who is on call: POST {facts.pagerduty_api_url}/pagerduty/oncalls)

Try:
  curl -s {url}/health
  curl -s -X POST {url}/users -H "Authorization: Bearer {facts.api_token}" \\
       -H "Content-Type: application/json" \\
       -d '{{"username": "pete", "groups": ["ChildDeveloperGroup"], "ticket": "TOUR-1", "requested_by": "alice"}}'
  curl -s {url}/users/pete -H "Authorization: Bearer {facts.api_token}"

Inspect the root account as its administrator:
  AWS_ACCESS_KEY_ID={admin["aws_access_key_id"]} AWS_SECRET_ACCESS_KEY={admin["aws_secret_access_key"]} \\
  aws --endpoint-url {facts.aws_endpoint_url} --region us-east-1 iam get-group --group-name ChildDeveloperGroup

Slack (signed as Slack signs it; the answers on response_url are printed):
  .venv/bin/python -m devstack.slack_command onboard pete ChildDeveloperGroup '<@U0LOCAL0003>'
  .venv/bin/python -m devstack.slack_command --user U0LOCAL0003 request BreakGlassGroup 1 INC-1
  curl -s {facts.slack_api_url}_recorded      # what the app posted to Slack's Web API
  .venv/bin/python -m devstack.slack_command --user U0LOCAL0002 --click request_approve <request id>
  (docs/approvals.md walks through it; members: U0LOCAL0001 operator and approver,
   U0LOCAL0002 approver of BreakGlassGroup, U0LOCAL0003 no rights)

An identity provider over SCIM (Okta's request shapes; --entra for Entra ID's):
  .venv/bin/python -m devstack.scim_idp create pete@example.com
  .venv/bin/python -m devstack.scim_idp deactivate pete@example.com

Schedules run on their rates; fire one now, as the app principal:
  .venv/bin/python -m devstack.clock report_drift

Time: move the app's clock forward, then see what credential hygiene would do (docs/hygiene.md):
  .venv/bin/python -m devstack.clock advance 50d
  curl -s {url}/hygiene -H "Authorization: Bearer {facts.api_token}"
  .venv/bin/python -m devstack.clock credential_hygiene --dry-run
  .venv/bin/python -m devstack.clock reset              # back to the real time

Ctrl-C stops everything.""",
            flush=True,
        )
        ready.set()
        stopped.wait()
    except KeyboardInterrupt:
        pass
    finally:
        stack.stop()
        facts_file.unlink(missing_ok=True)
        print("Local stack stopped.", flush=True)


if __name__ == "__main__":
    main()
