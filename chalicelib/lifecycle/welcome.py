"""What a new person needs, in the order they need it: the onboarding answer's ``welcome``.

The steps hold no secret. The two secrets an onboarding may hand out (the temporary password and
the first access key) are in the answer beside the steps, once; the step that uses one names it
in ``secret`` (the answer's field), so that a replay, the audit trail, the event and the ticket's
callback carry the steps without either secret. Slack's reply to the requester puts them inline.
"""

from __future__ import annotations

from chalicelib.lifecycle.access_map import ACCESS_KEY, LOGIN_SESSION


def console_url(alias: str | None, account_id: str) -> str:
    """The root account's sign-in page: its alias if it has one, else its id."""
    return f"https://{alias or account_id}.signin.aws.amazon.com/console"


def welcome(
    *,
    username: str,
    sign_in_url: str,
    console: bool,
    credentials: str,
    source_profile: str,
    mfa_serial: str,
    aws_config: str,
    merge: str,
    try_profile: str | None,
    asks_mfa: bool = True,
) -> list[dict]:
    """The steps, in order: console sign-in, user name, temporary password, MFA, the CLI's
    credentials (``aws login``, or the access key), then the profiles and a first command."""
    steps: list[dict] = []
    if console:
        steps.append(
            {
                "step": "sign_in",
                "title": "Sign in to the AWS console",
                "text": f"Open {sign_in_url} and sign in as {username}.",
                "url": sign_in_url,
            }
        )
    steps.append(
        {"step": "user_name", "title": "Your user name", "text": username, "value": username}
    )
    if console:
        steps.append(
            {
                "step": "password",
                "title": "Your temporary password",
                "text": "Use it for your first sign-in; the console then asks you to choose a "
                "new one. It is shown once and never stored.",
                "secret": "temporary_password",
            }
        )
    steps.append(
        {
            "step": "mfa",
            "title": "Turn on MFA",
            "text": (
                "Until you sign in with MFA you may only change your password and set up MFA; "
                "everything else, the other accounts included, is refused. In the console: your "
                "name (top right) > Security credentials > Assign MFA device > Authenticator app; "
                f"name the device {username} (the only name you may use), scan the QR code, "
                "enter two consecutive codes. Then sign out and sign in again with the code."
                if console
                else "You have no console login: an administrator enrolls your MFA device, "
                f"named {username}, with you."
            ),
            "mfa_serial": mfa_serial,
        }
    )
    if credentials == LOGIN_SESSION:
        command = f"aws login --profile {source_profile}"
        steps.append(
            {
                "step": "aws_login",
                "title": "Sign the AWS CLI in, without keys",
                "text": (
                    f"After merging the profiles below, run `{command}` (AWS CLI 2.32 or later) "
                    "and approve it in the browser where you are signed in. The CLI then holds "
                    "15-minute credentials it refreshes for up to 12 hours; run it again after."
                ),
                "command": command,
                "profile": source_profile,
            }
        )
    elif credentials == ACCESS_KEY:
        steps.append(
            {
                "step": "access_key",
                "title": "Put your access key in ~/.aws/credentials",
                "text": (
                    f"Add it under [{source_profile}] in ~/.aws/credentials (or run "
                    f"`aws configure set aws_access_key_id <access_key_id> --profile "
                    f"{source_profile}` and the same for aws_secret_access_key). It is shown once "
                    "and never stored; rotate it yourself, signed in with MFA."
                ),
                "secret": "access_key",
                "profile": source_profile,
            }
        )
    else:
        raise ValueError(f"unknown credentials {credentials!r}")
    try_it = f"aws sts get-caller-identity --profile {try_profile}" if try_profile else None
    text = (
        "Merge these profiles into ~/.aws/config: run the merge script (it backs the file up and "
        "keeps your other profiles), or paste the config at its end."
        + (" A profile asks for your MFA code when it assumes its role." if asks_mfa else "")
    )
    steps.append(
        {
            "step": "aws_config",
            "title": "Add your profiles to ~/.aws/config",
            "text": text + (f" Then try `{try_it}`." if try_it else ""),
            "config": aws_config,
            "merge": merge,
            **({"try": try_it} if try_it else {}),
        }
    )
    return steps
