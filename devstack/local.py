"""The local stack: moto on loopback as a root and a child account, every template applied, IAM
authorization enforced, and the app running as a principal limited to its stage policy.

The same provisioning serves the in-process moto of the fast tests (``endpoint_url=None``) and the
threaded moto server behind ``make run`` and the integration tests.
"""

from __future__ import annotations

import concurrent.futures
import functools
import json
import os
import secrets
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from devstack import lifetime

if TYPE_CHECKING:
    import boto3

from devstack.facts import PROJECT, STAGE

ROOT_ACCOUNT = "123456789012"
CHILD_ACCOUNTS = ("222233334444",)
REGION = "us-east-1"
# What Chalice names the API function's role (autogen_policy off: <app>-<stage>-<function>).
APP_ROLE_PREFIX = f"iam-lifecycle-{STAGE}"
APP_ROLE = f"{APP_ROLE_PREFIX}-api_handler"
# The credentials moto accepts while authorization is not yet enforced.
SETUP_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
ADMIN_POLICY = {
    "Version": "2012-10-17",
    "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}],
}


def stage_access_keys(stage: str = STAGE) -> str:
    """The stage's ACCESS_KEYS, which the self-service policy's AccessKeys parameter follows."""
    config = json.loads((PROJECT / ".chalice" / "config.json").read_text())
    env = {
        **config.get("environment_variables", {}),
        **config["stages"][stage].get("environment_variables", {}),
    }
    return env.get("ACCESS_KEYS") or "none"


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _trust(*principals: str, service: str | None = None) -> str:
    principal: dict[str, Any] = {"AWS": list(principals)}
    if service:
        principal["Service"] = service
    return json.dumps(
        {
            "Version": "2012-10-17",
            "Statement": [{"Effect": "Allow", "Principal": principal, "Action": "sts:AssumeRole"}],
        }
    )


@functools.cache
def shared_session() -> boto3.session.Session:
    """One session for the whole process: botocore loads each service model once, not per client."""
    import boto3

    return boto3.session.Session(region_name=REGION)


class _Principal:
    """Session-like: clients of the shared session signed with one principal's credentials."""

    def __init__(self, credentials: dict) -> None:
        self.credentials = credentials

    def client(self, service: str, **kwargs: Any) -> Any:
        # Credentials given with the call win: the app signs child-account clients with a role's.
        return shared_session().client(service, **{**self.credentials, **kwargs})


def _session(credentials: dict) -> _Principal:
    return _Principal(credentials)


def _assumed(credentials: dict) -> dict:
    return {
        "aws_access_key_id": credentials["AccessKeyId"],
        "aws_secret_access_key": credentials["SecretAccessKey"],
        "aws_session_token": credentials["SessionToken"],
    }


@dataclass
class Facts:
    """What ``.local/stack.json`` holds: everything a person or a test needs to use the stack."""

    aws_endpoint_url: str | None
    api_token: str
    slack_signing_secret: str
    admin_credentials: dict
    app_credentials: dict
    root_account_id: str = ROOT_ACCOUNT
    child_account_ids: list[str] = field(default_factory=lambda: list(CHILD_ACCOUNTS))
    outputs: dict = field(default_factory=dict)
    api_url: str | None = None
    # What a local receiver of ticket callbacks checks X-Access-Signature with.
    callback_secret: str = ""
    # The SCIM 2.0 base URL (api_url + /scim/v2) and the identity provider's bearer token.
    scim_url: str | None = None
    scim_token: str = ""
    # The app's clock offset (devstack/clock.py: `advance 50d` moves it).
    clock_file: str = ""
    # The Slack Web API stand-in (devstack.slack_api); what the app posted: GET <it>/_recorded
    slack_api_url: str | None = None
    slack_bot_token: str = ""
    # The PagerDuty REST API stand-in (devstack.pagerduty_api): who is on call,
    # POST <it>/pagerduty/oncalls
    pagerduty_api_url: str | None = None
    pagerduty_token: str = ""

    def public(self) -> dict:
        """The facts file; app_credentials let a test run handlers as the app does."""
        facts = asdict(self)
        del facts["outputs"]
        return facts


class Provisioner:
    """Sets up the accounts through moto's API, as an administrator would on real AWS."""

    def __init__(self, endpoint_url: str | None, children: tuple[str, ...] = CHILD_ACCOUNTS):
        self.endpoint_url = endpoint_url
        self.children = children

    def client(self, credentials: dict, service: str) -> Any:
        return _session(credentials).client(service, endpoint_url=self.endpoint_url)

    def child_credentials(self, admin: dict, account: str) -> dict:
        sts = self.client(admin, "sts")
        role = f"arn:aws:iam::{account}:role/OrganizationAccountAccessRole"
        return _assumed(sts.assume_role(RoleArn=role, RoleSessionName="stack-setup")["Credentials"])

    def run(self) -> Facts:
        setup = SETUP_CREDENTIALS
        iam = self.client(setup, "iam")
        iam.create_user(UserName="stack-admin")
        iam.put_user_policy(
            UserName="stack-admin",
            PolicyName="Administrator",
            PolicyDocument=json.dumps(ADMIN_POLICY),
        )
        key = iam.create_access_key(UserName="stack-admin")["AccessKey"]
        admin = {
            "aws_access_key_id": key["AccessKeyId"],
            "aws_secret_access_key": key["SecretAccessKey"],
        }

        # As AWS Organizations does: an administrator role in each child, trusted by the root.
        for account in self.children:
            child = self.child_credentials(setup, account)
            child_iam = self.client(child, "iam")
            child_iam.create_role(
                RoleName="OrganizationAccountAccessRole",
                AssumeRolePolicyDocument=_trust(f"arn:aws:iam::{ROOT_ACCOUNT}:root"),
            )
            child_iam.put_role_policy(
                RoleName="OrganizationAccountAccessRole",
                PolicyName="Administrator",
                PolicyDocument=json.dumps(ADMIN_POLICY),
            )

        outputs = self.deploy_root(admin)
        for account in self.children:
            outputs[account] = self.deploy_child(self.child_credentials(admin, account))

        app_credentials = self.app_principal(admin)
        secrets_client = self.client(admin, "secretsmanager")

        def secret(name: str) -> str:
            return secrets_client.get_secret_value(SecretId=name)["SecretString"]

        return Facts(
            aws_endpoint_url=self.endpoint_url,
            api_token=secret(f"iam-lifecycle/{STAGE}/api-token"),
            slack_signing_secret=secret(f"iam-lifecycle/{STAGE}/slack-signing-secret"),
            callback_secret=secret(f"iam-lifecycle/{STAGE}/callback-secret"),
            scim_token=secret(f"iam-lifecycle/{STAGE}/scim-token"),
            slack_bot_token=secret(f"iam-lifecycle/{STAGE}/slack-bot-token"),
            pagerduty_token=secret(f"iam-lifecycle/{STAGE}/pagerduty-token"),
            admin_credentials=admin,
            app_credentials=app_credentials,
            child_account_ids=list(self.children),
            outputs=outputs,
        )

    def deploy_root(self, admin: dict) -> dict:
        from devstack import cfn

        session = _session(admin)
        outputs = cfn.deploy(
            session,
            PROJECT / "templates/root/service.yaml",
            "iam-lifecycle-service",
            {"Stage": STAGE},
            endpoint_url=self.endpoint_url,
        )
        outputs.update(
            cfn.deploy(
                session,
                PROJECT / "templates/root/access-groups.yaml",
                "access-groups",
                {"ChildAccountIds": ",".join(self.children), "AccessKeys": stage_access_keys()},
                endpoint_url=self.endpoint_url,
            )
        )
        outputs.update(
            cfn.deploy(
                session,
                PROJECT / "templates/root/monitoring.yaml",
                "iam-lifecycle-monitoring",
                {"Stage": STAGE},
                endpoint_url=self.endpoint_url,
            )
        )
        return outputs

    def deploy_child(self, child: dict) -> dict:
        from devstack import cfn

        return cfn.deploy(
            _session(child),
            PROJECT / "templates/child/access-roles.yaml",
            "access-roles",
            {"RootAccountId": ROOT_ACCOUNT, "AppRolePrefix": APP_ROLE_PREFIX},
            endpoint_url=self.endpoint_url,
        )

    def app_principal(self, admin: dict) -> dict:
        """The app's execution role, holding exactly the stage policy, and a session of it."""
        iam = self.client(admin, "iam")
        iam.create_role(
            RoleName=APP_ROLE,
            MaxSessionDuration=43200,
            AssumeRolePolicyDocument=_trust(
                f"arn:aws:iam::{ROOT_ACCOUNT}:root", service="lambda.amazonaws.com"
            ),
        )
        policy = (PROJECT / ".chalice" / f"policy-{STAGE}.json").read_text()
        iam.put_role_policy(RoleName=APP_ROLE, PolicyName="app", PolicyDocument=policy)
        sts = self.client(admin, "sts")
        session = sts.assume_role(
            RoleArn=f"arn:aws:iam::{ROOT_ACCOUNT}:role/{APP_ROLE}",
            RoleSessionName="iam-lifecycle",
            DurationSeconds=43200,
        )
        return _assumed(session["Credentials"])


def app_environment(facts: Facts) -> dict[str, str]:
    """The process environment of the app: its own credentials and the stack's endpoint."""
    env = {key: value for key, value in os.environ.items() if not key.startswith("AWS_")}
    env.update({key.upper(): value for key, value in facts.app_credentials.items()})
    env["AWS_DEFAULT_REGION"] = env["AWS_REGION"] = REGION
    if facts.clock_file:
        env["STACK_CLOCK_FILE"] = facts.clock_file
    if facts.aws_endpoint_url:
        env["AWS_ENDPOINT_URL"] = facts.aws_endpoint_url
        # botocore sends Sign-In's session calls to AWS whatever the endpoint: rules that
        # honour it, so that they reach the stack's stand-in.
        data = Path(facts.clock_file).parent if facts.clock_file else Path(tempfile.gettempdir())
        from devstack import moto_signin  # moto's: only where the stack runs

        env["AWS_DATA_PATH"] = moto_signin.endpoint_rules(data / "botocore-data")
    if facts.slack_api_url:
        env["SLACK_API_URL"] = facts.slack_api_url
        # The stand-in is also the stage's one Slack host for answers (response_url).
        env["SLACK_RESPONSE_HOSTS"] = urlsplit(facts.slack_api_url).netloc
    if facts.pagerduty_api_url:
        env["PAGERDUTY_API_URL"] = facts.pagerduty_api_url
        # Who is on call shows at once here: the stand-in is set by hand, and one stack serves
        # one test module after another (a deployment keeps an answer a minute).
        env["PAGERDUTY_CACHE_SECONDS"] = "0"
    return env


class LocalStack:
    """A moto server on loopback, provisioned and enforcing IAM, and optionally the API."""

    def __init__(self, aws_port: int = 0, children: tuple[str, ...] = CHILD_ACCOUNTS) -> None:
        from moto.server import ThreadedMotoServer

        from devstack import moto_ext, reset

        moto_ext.apply()
        reset.apply()  # POST /moto-api/stack/reset: back to the provisioned state
        self.server = ThreadedMotoServer(ip_address="127.0.0.1", port=aws_port, verbose=False)
        self.children = children
        self.api: subprocess.Popen | None = None
        self.worker: subprocess.Popen | None = None
        self.clock: subprocess.Popen | None = None
        self.facts: Facts | None = None
        self.slack_api: Any = None
        self.pagerduty_api: Any = None
        self._spawner = concurrent.futures.ThreadPoolExecutor(1, "stack-spawner")

    @property
    def endpoint_url(self) -> str:
        host, port = self.server.get_host_and_port()
        return f"http://{host}:{port}"

    def start(self) -> Facts:
        import tempfile

        self.server.start()
        self.facts = Provisioner(self.endpoint_url, self.children).run()
        # The app's clock starts at the real time; `clock advance` moves it forward.
        self.facts.clock_file = str(Path(tempfile.mkdtemp(prefix="stack-clock-")) / "clock.json")
        from devstack import moto_clock

        moto_clock.follow(self.facts.clock_file)  # AWS's side keeps the app's time too
        from devstack.slack_api import SlackApiStandIn

        self.slack_api = SlackApiStandIn(token=self.facts.slack_bot_token).start()
        self.facts.slack_api_url = self.slack_api.url
        from devstack.pagerduty_api import PagerDutyStandIn

        self.pagerduty_api = PagerDutyStandIn(token=self.facts.pagerduty_token).start()
        self.facts.pagerduty_api_url = self.pagerduty_api.url
        self.enforce()
        from devstack import reset

        reset.keep(self)
        return self.facts

    def enforce(self) -> None:
        """From now on every request must come from a principal whose policies allow it."""
        request = urllib.request.Request(
            f"{self.endpoint_url}/moto-api/reset-auth",
            data=b"0",
            headers={"Content-Type": "text/plain"},
            method="POST",
        )
        urllib.request.urlopen(request, timeout=10).read()

    def serve_api(self, port: int) -> str:
        """Run the app under ``chalice local`` as the app principal; returns its URL when ready."""
        assert self.facts is not None
        # chalice local, with the stack's clock as the app's (devstack/serve_api.py)
        command = [
            sys.executable,
            "-m",
            "devstack.serve_api",
            "local",
            "--stage",
            STAGE,
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--no-autoreload",
        ]
        url = f"http://127.0.0.1:{port}"
        nonce = secrets.token_hex(8)  # what tells this stack's app from an earlier one's
        # SCIM answers name resources under the stage's public URL, here the stack's own.
        env = {
            **self.child_environment(),
            "SCIM_BASE_URL": f"{url}/scim/v2",
            "STACK_NONCE": nonce,
        }
        self.api = subprocess.Popen(command, cwd=PROJECT, env=env, start_new_session=True)
        lifetime.wait_for_app(url, nonce, self.api)
        self.facts.api_url = url
        self.facts.scim_url = f"{url}/scim/v2"
        return url

    def child_environment(self) -> dict[str, str]:
        """The app's environment, and the pid the child ends with (devstack/lifetime.py)."""
        assert self.facts is not None
        return {**app_environment(self.facts), lifetime.PARENT: str(os.getpid())}

    def serve_worker(self) -> None:
        """Run the queue handlers as Lambda's SQS event source would (devstack.queue_poller),
        as the app principal; returns once it polls."""
        import tempfile

        assert self.facts is not None
        ready = Path(tempfile.mkdtemp()) / "ready"
        env = {**self.child_environment(), "POLLER_READY_FILE": str(ready)}
        # Started from a thread that lives as long as the stack: a child ends with the thread
        # that forked it (PR_SET_PDEATHSIG, devstack/lifetime.py), and a reset restarts the
        # poller from a request's thread, which ends with the request.
        self.worker = self._spawner.submit(
            subprocess.Popen,
            [sys.executable, "-m", "devstack.queue_poller"],
            cwd=PROJECT,
            env=env,
            start_new_session=True,
        ).result()
        deadline = time.monotonic() + 60
        while not ready.exists():
            if self.worker.poll() is not None:
                raise RuntimeError(f"the queue poller exited with {self.worker.returncode}")
            if time.monotonic() > deadline:
                raise RuntimeError("the queue poller did not start within 60 s")
            time.sleep(0.1)
        ready.unlink()
        ready.parent.rmdir()

    def serve_clock(self) -> None:
        """Fire the scheduled handlers on their rates (devstack.clock), as the app principal."""
        assert self.facts is not None
        self.clock = subprocess.Popen(
            [sys.executable, "-m", "devstack.clock"],
            cwd=PROJECT,
            env=self.child_environment(),
            start_new_session=True,
        )

    def stop(self) -> None:
        for process in (self.clock, self.worker, self.api):
            if process and process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
                try:
                    process.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    os.killpg(process.pid, signal.SIGKILL)
        if self.slack_api is not None:
            self.slack_api.stop()
        if self.pagerduty_api is not None:
            self.pagerduty_api.stop()
        if getattr(self.server, "_thread", None) is not None:  # stopped while starting
            self.server.stop()
        from devstack import moto_clock

        moto_clock.follow(None)
        if self.facts and self.facts.clock_file:
            Path(self.facts.clock_file).unlink(missing_ok=True)
