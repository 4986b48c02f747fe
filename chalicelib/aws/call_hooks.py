"""botocore's side of the dry-run recorder: each client reports the changing calls it is about to
make to the current recording and, in a dry run, answers them itself instead of sending them."""

from __future__ import annotations

import functools
from datetime import UTC, datetime
from typing import Any

from chalicelib.kernel import recording as recorder


def watch(client: Any, account: str = recorder.ROOT) -> Any:
    """Report ``client``'s calls to the current recording; ``account`` labels them."""
    client.meta.events.register("before-parameter-build", _keep_params)
    client.meta.events.register("before-call", functools.partial(_on_call, account=account))
    return client


def _keep_params(params: dict, context: dict, **_: Any) -> None:
    if recorder.active() is not None:
        context["call_log_params"] = params


def _on_call(model: Any, context: dict, account: str, **_: Any) -> Any:
    record = recorder.active()
    if record is None or not recorder.is_change(model.name):
        return None
    service = model.service_model.service_name
    if service == "iam":
        record.add(
            account,
            service,
            model.name,
            context.get("call_log_params", {}),
            recorder.current_track(),
        )
    if record.dry_run:
        return _answer(model, context.get("call_log_params", {}), account)
    return None


def _answer(model: Any, params: dict, account: str) -> tuple[Any, dict]:
    """What a dry run answers a changing call: success, and what the code reads back from it."""
    from botocore.awsrequest import AWSResponse

    parsed: dict = {"ResponseMetadata": {"HTTPStatusCode": 200, "RequestId": "dry-run"}}
    if model.name == "CreateUser":
        path = params.get("Path", "/")
        parsed["User"] = {
            "UserName": params["UserName"],
            "Path": path,
            "UserId": "DRYRUN",
            "Arn": f"arn:aws:iam::{account}:user{path}{params['UserName']}",
            "CreateDate": datetime.now(UTC),
        }
    if model.name == "BatchRevokeSessions":  # Sign-In: what the code counts as revoked
        parsed["revokedSessions"] = [{"sessionArn": a} for a in params.get("sessionArns", [])]
        parsed["errors"] = []
    if model.name == "CreateAccessKey":
        parsed["AccessKey"] = {
            "UserName": params["UserName"],
            "AccessKeyId": "DRYRUN",
            "SecretAccessKey": "DRYRUN",
            "Status": "Active",
            "CreateDate": datetime.now(UTC),
        }
    return AWSResponse(url="", status_code=200, headers={}, raw=None), parsed
