"""Credential hygiene acts only on the users the service manages: a lifecycle record that is not
offboarded. A user on the managed path without one (made by hand, or made again after an
offboarding) is reported as drift and left as it is. Against moto in process, the app's clock
moved forward past the `unused` rule's 45 days."""

from __future__ import annotations

import datetime

from chalicelib import bootstrap
from tests.service.test_hygiene import has_console

START = datetime.datetime.now(datetime.UTC)


def on_day(clock, days: int) -> None:
    clock.fixed = START + datetime.timedelta(days=days)


def unmanaged(iam, name: str) -> str:
    """A user on the managed path with a console password and a key, never used."""
    iam.create_user(UserName=name, Path="/managed/")
    iam.create_login_profile(UserName=name, Password="Aa1!" + "x" * 20)
    return iam.create_access_key(UserName=name)["AccessKey"]["AccessKeyId"]


def test_users_without_a_record_or_offboarded_are_drift_never_acted_on(api, iam, clock):
    from devstack import moto_iam_extras

    moto_iam_extras.apply()  # offboarding lists service-specific credentials
    global START
    START = datetime.datetime.now(datetime.UTC)
    body = {"groups": ["ChildDeveloperGroup"], "requested_by": "alice", "console": False}
    for name in ("pete", "olga"):
        created = api.call("POST", "/users", {**body, "username": name, "ticket": f"T-{name}"})
        assert created.status_code == 201, created.json
    iam.create_access_key(UserName="pete")
    offboarded = api.call("POST", "/users/olga/offboard", {"ticket": "T-off", "requested_by": "a"})
    assert offboarded.status_code == 200, offboarded.json
    hand_key = unmanaged(iam, "hand")  # no record at all
    olga_key = unmanaged(iam, "olga")  # made again by hand: the record says offboarded

    hygiene = bootstrap.services().hygiene
    for day in (38, 44):
        on_day(clock, day)
        hygiene.run()
    on_day(clock, 45)
    run = hygiene.run()

    # the managed user is acted on ...
    assert [row["username"] for row in run["acted"]] == ["pete"]
    assert iam.list_access_keys(UserName="pete")["AccessKeyMetadata"][0]["Status"] == "Inactive"
    # ... the others are reported and left alone
    assert {row["username"]: row["why"] for row in run["drift"]} == {
        "hand": "no lifecycle record",
        "olga": "record offboarded",
    }
    for name, key_id in (("hand", hand_key), ("olga", olga_key)):
        (listed,) = iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
        assert (listed["AccessKeyId"], listed["Status"]) == (key_id, "Active")
        assert has_console(iam, name)
    findings = api.call("GET", "/hygiene").json["findings"]
    assert {f["username"] for f in findings} <= {"pete"}
    assert hygiene.run(dry_run=True)["drift"] == run["drift"]
