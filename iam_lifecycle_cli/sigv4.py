"""AWS Signature Version 4 for the routes under ``/iam`` (service ``execute-api``), with the
credentials of an AWS profile, as the AWS CLI finds them. botocore is needed only here
(``pip install 'iam-lifecycle[sigv4]'``)."""

from __future__ import annotations

import os
import re
from typing import Any
from urllib.parse import urlsplit

from iam_lifecycle_cli.api import CommandError

# https://{api-id}.execute-api.{region}.amazonaws.com/{stage}
_REGION_IN_URL = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com")


class Signer:
    def __init__(self, profile: str | None, region: str | None, url: str) -> None:
        try:
            from botocore.auth import SigV4Auth
            from botocore.session import Session
        except ImportError:
            raise CommandError(
                "--auth sigv4 needs botocore: pip install 'iam-lifecycle[sigv4]'"
            ) from None
        session = Session(profile=profile)
        credentials = session.get_credentials()
        if credentials is None:
            raise CommandError(
                f"no AWS credentials for profile {profile or 'default'}: sign in with "
                "`aws login` (or `aws sso login`), or choose another --profile"
            )
        found = _REGION_IN_URL.search(urlsplit(url).netloc)
        self.region = (
            region
            or (found.group(1) if found else None)
            or os.environ.get("AWS_REGION")
            or session.get_config_variable("region")
            or "us-east-1"
        )
        self._auth = SigV4Auth(credentials, "execute-api", self.region)

    def headers(
        self, method: str, url: str, data: bytes | None, headers: dict[str, str]
    ) -> dict[str, str]:
        from botocore.awsrequest import AWSRequest

        request: Any = AWSRequest(method=method, url=url, data=data or b"", headers=dict(headers))
        self._auth.add_auth(request)
        return {
            key: value
            for key, value in request.headers.items()
            if key.lower() in ("authorization", "x-amz-date", "x-amz-security-token")
        }
