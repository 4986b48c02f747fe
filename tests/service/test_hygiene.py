"""Credential hygiene end to end on moto in process, the app's clock moved forward: each rule,
each pitfall Cloud Custodian users meet (issue 16), notice then reminder then action, the
schedule's dry run equal to its run, exemptions, and faults."""

from __future__ import annotations

import contextlib
import datetime
import json

import boto3
import botocore.client
import pytest
from moto.iam.models import IAMBackend

from chalicelib import bootstrap
from chalicelib.kernel import recording as recorder
from devstack.moto_last_used import set_last_used
from tests.support import onboard as onboard_with
from tests.support import ticket

DEV = "ChildDeveloperGroup"


def onboard(
    api,
    name: str,
    console: bool = True,
    email: str | None = None,
    mfa: bool = True,
    slack_user: str | None = None,
) -> None:
    """A managed user; with console access, an MFA device too unless ``mfa`` is False (the
    MFA rule is tried on its own)."""
    onboard_with(api, name, [DEV], console=console, email=email, slack_user=slack_user)
    if console and mfa:
        give_mfa(boto3.client("iam"), name)


def give_mfa(iam, name: str) -> None:
    device = iam.create_virtual_mfa_device(VirtualMFADeviceName=name)["VirtualMFADevice"]
    iam.enable_mfa_device(
        UserName=name,
        SerialNumber=device["SerialNumber"],
        AuthenticationCode1="123456",
        AuthenticationCode2="654321",
    )


def hygiene():
    return bootstrap.services().hygiene


def findings(api, username: str | None = None) -> list[dict]:
    path = "/hygiene" + (f"?username={username}" if username else "")
    answer = api.call("GET", path)
    assert answer.status_code == 200, answer.json
    return answer.json["findings"]


def on_day(clock, days: float) -> datetime.date:
    """The app's clock ``days`` after the users were made (moto stamps them with real time)."""
    clock.fixed = START + datetime.timedelta(days=days)
    return clock.fixed.date()


START = datetime.datetime.now(datetime.UTC)


@pytest.fixture(autouse=True)
def _start(clock):
    global START
    START = datetime.datetime.now(datetime.UTC)


def d(days: float) -> str:
    return (START + datetime.timedelta(days=days)).date().isoformat()


def key_status(iam, name: str) -> dict[str, str]:
    return {
        k["AccessKeyId"]: k["Status"]
        for k in iam.list_access_keys(UserName=name)["AccessKeyMetadata"]
    }


def has_console(iam, name: str) -> bool:
    try:
        iam.get_login_profile(UserName=name)
    except iam.exceptions.NoSuchEntityException:
        return False
    return True


def audit(api, **query) -> list[dict]:
    path = "/audit?" + "&".join(f"{k}={v}" for k, v in query.items())
    return api.call("GET", path).json["events"]


def test_a_new_user_is_measured_from_creation_never_as_never_used(api, iam, clock):
    # The report's N/A and no_information on day 0: Custodian and Prowler special-case them.
    onboard(api, "pete")
    iam.create_access_key(UserName="pete")
    row = bootstrap.services().lifecycle.iam.credential_report()["users"]["pete"]
    assert row["password_last_used"] == "no_information"
    assert row["access_key_1_last_used_date"] == "N/A"
    assert findings(api) == []
    on_day(clock, 30)
    assert findings(api) == []
    on_day(clock, 39)  # within the seven days' notice of day 45
    found = findings(api, "pete")
    console = [f for f in found if f["credential"] == "console" and f["rule"] == "unused"]
    assert console == [
        {
            "username": "pete",
            "rule": "unused",
            "credential": "console",
            "since": d(0),
            "next_action": "notify",
            "due": d(46),  # seven days after the notice, since it comes a day late
        }
    ]


def test_notice_reminder_then_action_then_restore_gives_it_back(api, iam, clock):
    onboard(api, "pete", email="pete@example.com")
    key_id = iam.create_access_key(UserName="pete")["AccessKey"]["AccessKeyId"]
    on_day(clock, 38)
    first = hygiene().run()
    noticed = {(f["rule"], f["credential"]) for f in first["noticed"]}
    assert ("unused", "console") in noticed and ("unused", key_id) in noticed
    notice = [e for e in audit(api, username="pete") if e["action"] == "hygiene_notice"]
    assert notice and all(e["result"] == "noticed" for e in notice)
    unused_key = next(e for e in notice if e["detail"]["credential"] == key_id)
    assert unused_key["detail"]["to"] == {"email": "pete@example.com"}  # no Slack link: e-mail
    assert unused_key["detail"]["channel"] == "email"
    assert unused_key["detail"]["due"] == d(45)
    assert f"deactivated on {d(45)}" in unused_key["detail"]["text"]
    assert hygiene().run()["noticed"] == []  # told once

    on_day(clock, 44)
    reminded = hygiene().run()["reminded"]
    assert ("unused", key_id) in {(f["rule"], f["credential"]) for f in reminded}
    assert key_status(iam, "pete") == {key_id: "Active"}

    on_day(clock, 45)
    acted = hygiene().run()["acted"]
    assert {(a["rule"], a["credential"], a["done"]) for a in acted} >= {
        ("unused", key_id, "deactivated"),
    }
    assert key_status(iam, "pete") == {key_id: "Inactive"}
    assert not has_console(iam, "pete")
    change = audit(api, ticket=f"hygiene:unused:pete:{key_id}:{d(45)}")
    assert [e["result"] for e in change] == ["ok"]
    assert change[0]["action"] == "deactivate_key" and change[0]["requested_by"] == "hygiene"
    # Idempotent: the same day's run again changes nothing and finds nothing left to do.
    again = hygiene().run()
    assert again["acted"] == [] and again["failed"] == []

    restored = api.call("POST", "/users/pete/restore", ticket("T-restore"))
    assert restored.status_code == 200, restored.json
    assert restored.json["temporary_password"]
    assert key_status(iam, "pete") == {key_id: "Active"}
    assert has_console(iam, "pete")
    assert restored.json["user"]["groups"] == [DEV]
    assert findings(api, "pete") == []  # the clocks start again from the restore
    # Nothing left to give back: restoring an active user is the conflict it always was.
    assert api.call("POST", "/users/pete/restore", ticket("T-restore-2")).status_code == 409


def test_a_linked_person_is_told_and_reminded_by_direct_message(flow, api, iam, clock):
    from tests.support.approvals import NOBODY, text_of

    onboard(api, "pete", console=False, email="pete@example.com", slack_user=NOBODY)
    onboard(api, "olga", console=False, email="olga@example.com")
    key_id = iam.create_access_key(UserName="pete")["AccessKey"]["AccessKeyId"]
    iam.create_access_key(UserName="olga")
    flow.work()
    welcomed = len(flow.dms_to(NOBODY))  # the welcome of the onboarding

    on_day(clock, 38)
    noticed = hygiene().run()["noticed"]
    assert {f["username"] for f in noticed} == {"pete", "olga"}
    assert len(flow.dms_to(NOBODY)) == welcomed  # queued: the run never waits for Slack
    flow.work()
    [notice] = flow.dms_to(NOBODY)[welcomed:]
    shown = text_of(notice)
    assert f"access key {key_id}" in shown and "unused credentials" in shown
    assert "Security Hub IAM.22, CIS 1.12" in shown
    assert f"*Due*\\n{d(45)}" in shown  # the field, as JSON
    assert f"On {d(45)} the access key {key_id} is deactivated" in shown  # what will happen
    assert f"Use the key {key_id} before then" in shown  # how to avoid it
    assert "Reminder" not in shown

    def told(name: str) -> list[dict]:
        return [e for e in audit(api, username=name) if e["action"] == "hygiene_notice"]

    [pete] = told("pete")
    assert pete["result"] == "noticed" and pete["detail"]["credential"] == key_id
    assert pete["detail"]["channel"] == "slack_dm"
    assert pete["detail"]["to"] == {"slack_user": NOBODY}
    [olga] = told("olga")  # no member linked: the e-mail tag, for a mail sender
    assert olga["detail"]["channel"] == "email"
    assert olga["detail"]["to"] == {"email": "olga@example.com"}
    sent = [e for e in audit(api, username="pete") if e["action"] == "direct_message"]
    assert [e["detail"]["about"] for e in sent] == ["welcome", "hygiene_notice"]

    hygiene().run()  # told once: the same day's run sends nothing again
    flow.work()
    assert len(flow.dms_to(NOBODY)) == welcomed + 1

    on_day(clock, 44)
    assert [f["username"] for f in hygiene().run()["reminded"]] == ["olga", "pete"]
    flow.work()
    [reminder] = flow.dms_to(NOBODY)[welcomed + 1 :]
    assert text_of(reminder).count("Reminder") >= 1 and d(45) in text_of(reminder)
    assert [e["result"] for e in told("pete")] == ["noticed", "reminded"]


def test_a_notice_that_cannot_be_queued_falls_back_to_the_email(flow, api, iam, clock):
    from chalicelib.kernel.errors import UpstreamError
    from tests.support.approvals import NOBODY

    onboard(api, "pete", console=False, email="pete@example.com", slack_user=NOBODY)
    iam.create_access_key(UserName="pete")
    on_day(clock, 38)

    def unreachable(message):
        raise UpstreamError("could not queue work")

    hygiene().work_queue.send = unreachable
    try:
        assert len(hygiene().run()["noticed"]) == 1
    finally:
        del hygiene().work_queue.send
    [notice] = [e for e in audit(api, username="pete") if e["action"] == "hygiene_notice"]
    assert notice["detail"]["channel"] == "email"
    assert notice["detail"]["to"] == {"slack_user": NOBODY, "email": "pete@example.com"}
    assert notice["detail"]["slack_dm"] == "not queued: could not queue work"


def test_only_the_dormant_key_is_deactivated_never_its_sibling(api, iam, clock):
    # c7n #5583 (every key disabled when one matched) and #3274 (age from creation).
    onboard(api, "olga", console=False)
    old = iam.create_access_key(UserName="olga")["AccessKey"]["AccessKeyId"]
    new = iam.create_access_key(UserName="olga")["AccessKey"]["AccessKeyId"]
    on_day(clock, 60)
    set_last_used("olga", keys={old: START + datetime.timedelta(days=2), new: clock.fixed})
    rows = findings(api, "olga")
    by_rule = {(f["rule"], f["credential"]) for f in rows}
    assert ("unused", old) in by_rule
    assert ("unused", new) not in by_rule
    assert ("one_active_key", "access_keys") in by_rule  # CIS 1.13: a notice only
    one = next(f for f in rows if f["rule"] == "one_active_key")
    assert one["due"] is None and one["next_action"] == "notify"
    for day in (60, 66, 67):
        on_day(clock, day)
        set_last_used("olga", keys={new: clock.fixed})
        hygiene().run()
    assert key_status(iam, "olga") == {old: "Inactive", new: "Active"}


def test_a_key_used_today_is_never_deactivated(api, iam, clock):
    # c7n #6732: keys in use that day disabled.
    onboard(api, "sam", console=False)
    key_id = iam.create_access_key(UserName="sam")["AccessKey"]["AccessKeyId"]
    for day in (38, 44):
        on_day(clock, day)
        hygiene().run()
    on_day(clock, 45)
    set_last_used("sam", keys={key_id: clock.fixed - datetime.timedelta(hours=1)})
    run = hygiene().run()
    assert run["acted"] == [] and run["failed"] == []
    assert key_status(iam, "sam") == {key_id: "Active"}
    assert findings(api, "sam") == []


def test_a_user_changed_by_hand_between_notice_and_action_is_judged_again(api, iam, clock):
    onboard(api, "rita")
    for day in (38, 44):
        on_day(clock, day)
        hygiene().run()
    on_day(clock, 45)
    steps, _ = hygiene().judge("rita")  # what the run saw ...
    set_last_used("rita", password=clock.fixed)  # ... and the person signs in before it acts
    finding = next(f for f, s in steps if f.rule == "unused")
    answer = hygiene()._act(finding, finding.due, dry_run=False)
    assert answer is None
    assert has_console(iam, "rita")
    events = audit(api, ticket=f"hygiene:unused:rita:console:{d(45)}")
    assert events[-1]["result"].startswith("rejected: unused is not due on console")


def test_keys_deactivated_are_never_deleted_unless_deletion_is_on(api, iam, clock, monkeypatch):
    # c7n #842: production keys deleted.
    onboard(api, "kim", console=False)
    key_id = iam.create_access_key(UserName="kim")["AccessKey"]["AccessKeyId"]
    for day in (38, 44, 45):
        on_day(clock, day)
        hygiene().run()
    assert key_status(iam, "kim") == {key_id: "Inactive"}
    for day in (200, 400):
        on_day(clock, day)
        hygiene().run()
    assert key_status(iam, "kim") == {key_id: "Inactive"}  # kept: a restore can give it back

    monkeypatch.setenv("HYGIENE_KEY_DELETION_ACTION", "act")
    monkeypatch.setenv("HYGIENE_KEY_DELETION_DAYS", "30")
    rebuild(clock)
    on_day(clock, 68)
    assert hygiene().run()["noticed"][0]["rule"] == "key_deletion"
    on_day(clock, 74)
    hygiene().run()
    on_day(clock, 75)
    acted = hygiene().run()["acted"]
    assert [(a["rule"], a["done"]) for a in acted] == [("key_deletion", "deleted")]
    assert key_status(iam, "kim") == {}


def rebuild(clock) -> None:
    from chalicelib.aws.clients import AwsClients
    from chalicelib.settings import get_settings
    from devstack.local import REGION, shared_session

    get_settings.cache_clear()
    bootstrap.use(
        bootstrap.build(clients=AwsClients(REGION, session=shared_session()), clock=clock)
    )


def test_rotation_notifies_at_90_days_then_deactivates_after_the_grace(api, iam, clock):
    onboard(api, "ivan", console=False)
    key_id = iam.create_access_key(UserName="ivan")["AccessKey"]["AccessKeyId"]
    on_day(clock, 90)
    set_last_used("ivan", keys={key_id: clock.fixed})  # used every day: only its age counts
    (row,) = findings(api, "ivan")
    assert (row["rule"], row["next_action"], row["due"]) == ("key_rotation", "notify", d(104))


def test_console_without_mfa_notifies_then_removes_the_console(api, iam, clock):
    onboard(api, "mia", mfa=False)
    on_day(clock, 7)
    set_last_used("mia", password=clock.fixed)
    (row,) = findings(api, "mia")
    assert (row["rule"], row["credential"], row["due"]) == ("console_mfa", "console", d(21))
    for day in (7, 20):
        on_day(clock, day)
        set_last_used("mia", password=clock.fixed)
        hygiene().run()
    on_day(clock, 21)
    set_last_used("mia", password=clock.fixed)  # in use, but without MFA
    acted = hygiene().run()["acted"]
    assert [(a["rule"], a["credential"]) for a in acted] == [("console_mfa", "console")]
    assert not has_console(iam, "mia")


def test_a_console_given_mfa_before_the_due_date_is_kept(api, iam, clock):
    onboard(api, "max", mfa=False)
    for day in (7, 20):
        on_day(clock, day)
        set_last_used("max", password=clock.fixed)
        hygiene().run()
    give_mfa(iam, "max")
    on_day(clock, 21)
    assert findings(api, "max") == []
    assert hygiene().run()["acted"] == []
    assert has_console(iam, "max")


def test_protected_and_exempt_users_are_skipped(api, iam, clock):
    iam.create_user(UserName="break-glass-owner", Path="/managed/")
    onboard(api, "nina")
    on_day(clock, 50)
    assert {f["username"] for f in findings(api)} == {"nina"}
    body = {"reason": "on leave", "until": d(400), **ticket("T-exempt")}
    # The route checks "until" against today's real date: a year from now at most.
    body["until"] = (datetime.date.today() + datetime.timedelta(days=300)).isoformat()
    answer = api.call("PUT", "/users/nina/hygiene-exemption", body)
    assert answer.status_code == 200, answer.json
    assert answer.json["exemption"]["reason"] == "on leave"
    assert findings(api) == []
    (event,) = [e for e in audit(api, username="nina") if e["action"] == "hygiene_exemption"]
    assert event["ticket"] == "T-exempt" and event["detail"]["reason"] == "on leave"
    assert api.call("PUT", "/users/break-glass-owner/hygiene-exemption", body).status_code == 403
    assert api.call("PUT", "/users/nobody/hygiene-exemption", body).status_code == 404
    late = {**body, "until": "2020-01-01"}
    assert api.call("PUT", "/users/nina/hygiene-exemption", late).status_code == 400
    reserved = {**body, "ticket": "hygiene:x"}
    assert api.call("PUT", "/users/nina/hygiene-exemption", reserved).status_code == 400


def test_findings_as_csv_never_run_as_formulas(api, iam, clock):
    onboard(api, "=cmd")
    on_day(clock, 50)
    answer = api.call("GET", "/hygiene?format=csv")
    assert answer.status_code == 200
    lines = answer.body.decode().splitlines()
    assert lines[0] == "username,rule,credential,since,next_action,due"
    assert any(line.startswith("'=cmd,unused,console") for line in lines[1:])


def test_the_schedules_dry_run_equals_its_run(api, iam, clock):
    onboard(api, "pete")
    key_id = iam.create_access_key(UserName="pete")["AccessKey"]["AccessKeyId"]
    for day in (38, 44):
        on_day(clock, day)
        hygiene().run()
    on_day(clock, 45)
    before = bootstrap.services().state.records()
    plan = hygiene().run(dry_run=True)
    assert plan["dry_run"] is True
    assert bootstrap.services().state.records() == before, "a plan wrote the record"
    assert key_status(iam, "pete") == {key_id: "Active"} and has_console(iam, "pete")
    planned = {p["ticket"]: p for p in plan["plans"]}
    assert set(planned) == {
        f"hygiene:unused:pete:{key_id}:{d(45)}",
        f"hygiene:unused:pete:console:{d(45)}",
    }
    with sent_to_iam() as sent:
        done = hygiene().run()
    assert len(done["acted"]) == 2
    # The changing IAM calls botocore actually sent are the plans' calls.
    in_plans = sorted(
        json.dumps([call["operation"], call["params"]], sort_keys=True)
        for p in plan["plans"]
        for wave in p["waves"]
        for calls in wave["accounts"].values()
        for call in calls
        if call["service"] == "iam"
    )
    made = [(op, params) for op, params in sent if op != "GenerateCredentialReport"]  # a read
    assert sorted(json.dumps([op, params], sort_keys=True) for op, params in made) == in_plans
    for ticket_id, p in planned.items():
        (event,) = [e for e in audit(api, ticket=ticket_id) if e["result"] == "ok"]
        executed = event["detail"]["calls"]
        expected = [
            [
                {"account": account, "service": "iam", **call}
                for account, calls in wave["accounts"].items()
                for call in calls
            ]
            for wave in p["waves"]
        ]
        assert executed == expected, ticket_id


@contextlib.contextmanager
def sent_to_iam():
    """Every changing IAM call botocore makes in the block, as (operation, params): the check
    of tests/service/test_dry_run.py."""
    sent: list[tuple[str, dict]] = []
    original = botocore.client.BaseClient._make_api_call

    def spy(self, operation, params):
        if self.meta.service_model.service_name == "iam" and recorder.is_change(operation):
            sent.append((operation, dict(params)))
        return original(self, operation, params)

    botocore.client.BaseClient._make_api_call = spy
    try:
        yield sent
    finally:
        botocore.client.BaseClient._make_api_call = original


def test_a_report_that_cannot_be_had_is_retried_next_run_never_read_as_unused(
    api, iam, clock, monkeypatch
):
    from moto.iam.exceptions import IAMException

    onboard(api, "pete")
    on_day(clock, 50)

    class InProgress(IAMException):
        code = "ReportInProgress"

    def never_ready(self):
        raise InProgress("ReportInProgress", "Report generation in progress")

    monkeypatch.setattr(IAMBackend, "get_credential_report", never_ready)
    monkeypatch.setattr("time.sleep", lambda seconds: None)  # the waits between attempts
    run = hygiene().run()
    assert run["report"] == "unavailable"
    assert has_console(iam, "pete")
    assert [e["result"][:7] for e in audit(api, username="iam-lifecycle")] == ["failed:"]
    assert api.call("GET", "/hygiene").status_code >= 500
    monkeypatch.undo()
    assert [f["credential"] for f in hygiene().run()["noticed"]] == ["console"]


def test_a_failed_action_is_retried_by_the_next_run(api, iam, clock, monkeypatch):
    from moto.iam.exceptions import IAMException

    onboard(api, "pete", console=False)
    key_id = iam.create_access_key(UserName="pete")["AccessKey"]["AccessKeyId"]
    for day in (38, 44):
        on_day(clock, day)
        hygiene().run()
    on_day(clock, 45)
    original = IAMBackend.update_access_key

    class Refused(IAMException):
        code = "ServiceFailure"

    def failing(self, *args, **kwargs):
        raise Refused("ServiceFailure", "try later")

    monkeypatch.setattr(IAMBackend, "update_access_key", failing)
    run = hygiene().run()
    assert [f["credential"] for f in run["failed"]] == [key_id]
    assert key_status(iam, "pete") == {key_id: "Active"}
    monkeypatch.setattr(IAMBackend, "update_access_key", original)
    on_day(clock, 46)
    run = hygiene().run()
    assert [a["credential"] for a in run["acted"]] == [key_id]
    results = [e["result"] for e in audit(api, ticket=f"hygiene:unused:pete:{key_id}:{d(45)}")]
    assert results[0].startswith("failed") and results[-1] == "ok"


def test_the_hygiene_schedule_is_a_daily_handler(client):
    from app import app

    names = {source.name for source in app.event_sources}
    assert "credential_hygiene" in names
    json.dumps(hygiene().run())  # what the handler returns is JSON


def test_a_run_judges_each_user_on_what_it_read_once(api, iam, clock, monkeypatch):
    """The report alone judges a user; the reads it leads to (the record, the keys) judge them
    again only where they change what is known: a console finding once, a key finding twice
    (on the report's nameless key, then on the key IAM lists)."""
    from chalicelib.hygiene import rules

    onboard(api, "rita")
    onboard(api, "kim", console=False)
    iam.create_access_key(UserName="kim")
    judged: list[str] = []
    evaluate = rules.evaluate

    def counted(facts, *args):  # type: ignore[no-untyped-def]
        judged.append(facts.username)
        return evaluate(facts, *args)

    monkeypatch.setattr(rules, "evaluate", counted)
    on_day(clock, 38)
    assert {row["username"] for row in hygiene().run()["noticed"]} == {"rita", "kim"}
    assert (judged.count("rita"), judged.count("kim")) == (1, 2)
