"""The requester's ephemeral Slack reply to an onboarding: the welcome's steps in order, with the
temporary password and the access key inline; the channel sees neither. No moto."""

from __future__ import annotations

import json

from chalicelib.lifecycle import access_map, replies
from chalicelib.lifecycle.config_merge import merge_snippet
from chalicelib.lifecycle.welcome import console_url, welcome

ROOT = "123456789012"
DEV = "arn:aws:iam::222233334444:role/DeveloperRole"


def answer(credentials: str, secrets: bool = True) -> dict:
    config = access_map.aws_config(
        "pete",
        [DEV],
        root_account_id=ROOT,
        managed_path="/managed/",
        region="us-east-1",
        mfa_roles=frozenset({"*"}),
        credentials=credentials,
    )
    user = {
        "username": "pete",
        "status": "active",
        "groups": ["ChildDeveloperGroup"],
        "roles": [DEV],
        "grants": [],
        "console": True,
        "mfa": False,
        "access_keys": [],
    }
    found = {
        "user": user,
        "aws_config": config,
        "credentials": credentials,
        "welcome": welcome(
            username="pete",
            sign_in_url=console_url("acme", ROOT),
            console=True,
            credentials=credentials,
            source_profile=f"{ROOT}-pete",
            mfa_serial=f"arn:aws:iam::{ROOT}:mfa/pete",
            aws_config=config,
            merge=merge_snippet("pete", config),
            try_profile="222233334444-DeveloperRole",
        ),
    }
    if secrets:
        found["temporary_password"] = "Tmp-Password-123456789"
        if credentials == access_map.ACCESS_KEY:
            found["access_key"] = {
                "access_key_id": "AKIAEXAMPLE",
                "secret_access_key": "s3cr3t/KEY",
            }
    return found


def texts(message: dict) -> list[str]:
    found = []
    for block in message["blocks"]:
        if "text" in block:
            found.append(block["text"]["text"])
        found += [e["text"] for e in block.get("elements", []) + block.get("fields", [])]
    return found


def test_the_requester_gets_the_steps_in_order_with_the_secrets_and_the_channel_none():
    private, public = replies.result("onboard", answer(access_map.ACCESS_KEY), "T-1", "U1")
    assert private["response_type"] == "ephemeral" and public["response_type"] == "in_channel"
    shown = "\n".join(texts(private))
    order = [
        "1. Sign in to the AWS console",
        "https://acme.signin.aws.amazon.com/console",
        "2. Your user name",
        "3. Your temporary password",
        "Tmp-Password-123456789",
        "4. Turn on MFA",
        "5. Put your access key in ~/.aws/credentials",
        f"[{ROOT}-pete]\naws_access_key_id = AKIAEXAMPLE\naws_secret_access_key = s3cr3t/KEY",
        "6. Add your profiles to ~/.aws/config",
        "[profile 222233334444-DeveloperRole]",
        "#!/bin/sh",
    ]
    places = [shown.index(piece) for piece in order]
    assert places == sorted(places), shown
    everything = json.dumps(public)
    assert "Tmp-Password" not in everything and "s3cr3t" not in everything
    for message in (private, public):
        assert len(message["blocks"]) <= 50
        assert all(len(text) <= 3000 for text in texts(message))


def test_keyless_the_requester_hands_on_the_aws_login_command():
    private, _ = replies.result("onboard", answer(access_map.LOGIN_SESSION), "T-1", "U1")
    shown = "\n".join(texts(private))
    assert "5. Sign the AWS CLI in, without keys" in shown
    assert f"`aws login --profile {ROOT}-pete`" in shown
    assert "login_session = arn:aws:iam::123456789012:user/managed/pete" in shown


def test_a_replay_says_where_the_secrets_went():
    private, _ = replies.result(
        "onboard", answer(access_map.ACCESS_KEY, secrets=False), "T-1", "U1"
    )
    shown = "\n".join(texts(private))
    assert shown.count("Not here: it was handed out when this request first ran and is never") == 2
