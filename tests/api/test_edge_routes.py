"""The REST edge's answers to query parameters it checks (``?format=shell&remove=``), through
the real app."""

from __future__ import annotations

import pytest

from tests.support import onboard

CHILD = "222233334444"


# ?format=shell&remove=: a profile name, all of it, in ASCII
@pytest.mark.parametrize(
    "remove",
    [
        f"{CHILD}-DeveloperRole%0A",  # a trailing newline
        f"{CHILD}-DeveloperRole%0Aecho",
        "%D9%A2%D9%A2%D9%A2%D9%A2%D9%A3%D9%A3%D9%A3%D9%A3%D9%A4%D9%A4%D9%A4%D9%A4-DeveloperRole",
        f"{CHILD}-D%C3%A9veloper",  # a letter outside ASCII
        f"{CHILD}-DeveloperRole%20",
    ],
)
def test_a_profile_to_remove_must_be_a_whole_ascii_profile_name(api, remove):
    onboard(api, "pete")
    refused = api.call("GET", f"/users/pete/aws-config?format=shell&remove={remove}")
    assert refused.status_code == 400, refused.body
    assert "remove" in refused.json["Message"]


def test_a_profile_to_remove_this_service_wrote_is_taken(api):
    onboard(api, "pete")
    script = api.call("GET", f"/users/pete/aws-config?format=shell&remove={CHILD}-BreakGlassRole")
    assert script.status_code == 200 and script.body.decode().startswith("#!/bin/sh")
