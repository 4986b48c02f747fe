"""docs/operating.md held to the code: its schedules are the app's, its alarms the templates',
its secrets every secret the service reads, its settings every variable the settings read. One
missing, or one listed that no longer exists, fails here."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator, Mapping
from pathlib import Path

from chalice.app import Rate, ScheduledEventConfig

from chalicelib.approvals import settings as approvals_settings
from chalicelib.hygiene import settings as hygiene_settings
from chalicelib.reviews import settings as reviews_settings
from chalicelib.settings import Settings, work_queue_name
from devstack import cfn

PROJECT = Path(__file__).resolve().parents[2]
PAGE = PROJECT / "docs" / "operating.md"
SETTINGS_SOURCES = [
    PROJECT / "chalicelib" / "settings.py",
    *sorted((PROJECT / "chalicelib").glob("*/settings.py")),
]
NUMBERS = "zero one two three four five six seven eight nine ten eleven twelve".split()


def section(title: str) -> str:
    text = PAGE.read_text()
    start = text.index(f"\n## {title}\n")
    end = text.find("\n## ", start + 1)
    return text[start : end if end > 0 else None]


def first_cells(text: str) -> list[str]:
    """The first cell of each row of the section's tables (header and rule rows left out)."""
    rows = [line for line in text.splitlines() if line.startswith("|")]
    return [row.split("|")[1].strip() for row in rows if not re.match(r"^\|\s*-", row)][1:]


def quoted(cell: str) -> list[str]:
    return re.findall(r"`([^`]+)`", cell)


class Reads(dict):
    """An environment that remembers every name asked of it."""

    def __init__(self, *args, **kwargs) -> None:
        super().__init__(*args, **kwargs)
        self.asked: set[str] = set()

    def get(self, key, default=None):
        self.asked.add(key)
        return super().get(key, default)

    def __getitem__(self, key):
        self.asked.add(key)
        return super().__getitem__(key)

    def __contains__(self, key) -> bool:
        self.asked.add(key)
        return super().__contains__(key)

    def items(self) -> Iterator:  # type: ignore[override]
        return iter(super().items())


def settings_read() -> set[str]:
    """Every variable the settings read: asked of an environment as the app starts, and every
    name the settings modules spell out (a read only some values reach)."""
    env = Reads(ROOT_ACCOUNT_ID="123456789012", ALLOWED_GROUPS="ChildDeveloperGroup")
    settings = Settings.from_env(env)
    capability: Mapping[str, str] = Reads()
    settings = dataclasses.replace(settings, capability_env=capability)
    approvals_settings.policies(settings)
    hygiene_settings.policy(settings)
    reviews_settings.policy(settings)
    work_queue_name(env)
    spelled = {
        name
        for source in SETTINGS_SOURCES
        for name in re.findall(
            r"""(?:env\.get\(|env\[|whole\(env, |flag\(env, |_seconds\(env, |need\()["']([A-Z][A-Z0-9_]+)["']""",
            source.read_text(),
        )
    }
    asked = env.asked | capability.asked | spelled  # type: ignore[attr-defined]
    return {name for name in asked if not name.startswith("AWS_")}


def test_every_schedule_is_listed_with_its_rate():
    from app import app

    rates = {}
    for source in app.event_sources:
        if isinstance(source, ScheduledEventConfig):
            rate = source.schedule_expression
            assert isinstance(rate, Rate), f"{source.name}: a cron schedule; say it in the page"
            rates[source.name] = rate
    listed = {}
    for line in section("Schedules").splitlines():
        row = re.match(r"^\|\s*`(\w+)`\s*\|\s*([^|]+?)\s*\|", line)
        if row:
            listed[row.group(1)] = row.group(2)
    assert sorted(listed) == sorted(rates)
    for name, rate in rates.items():
        unit = {Rate.MINUTES: "minute", Rate.HOURS: "hour", Rate.DAYS: "day"}[rate.unit]
        said = {"minute": "every minute", "hour": "hourly", "day": "daily"}[unit]
        if rate.value != 1:
            said = f"every {rate.value} {unit}s"
        assert listed[name] == said, f"{name} runs {said}, the page says {listed[name]}"


def alarms() -> set[str]:
    found = set()
    for template in sorted((PROJECT / "templates").rglob("*.yaml")):
        resources = cfn.load_template(template).get("Resources", {})
        for resource in resources.values():
            if resource["Type"] == "AWS::CloudWatch::Alarm":
                name = resource["Properties"]["AlarmName"]
                name = name.get("Fn::Sub", name) if isinstance(name, dict) else name
                found.add(
                    re.sub(r"\$\{AppName\}", "iam-lifecycle", name).replace("${Stage}", "<stage>")
                )
    return found


def test_every_alarm_is_listed_and_counted():
    text = section("Alarms and the dashboard")
    listed = {name for cell in first_cells(text) for name in quoted(cell)}
    assert listed == alarms()
    count = NUMBERS[len(listed)] if len(listed) < len(NUMBERS) else str(len(listed))
    assert f"{count} alarms" in " ".join(text.split()), f"the page should say {count} alarms"


def secrets() -> set[str]:
    """The secrets the service stack creates and every secret setting names by default."""
    names = set()
    resources = cfn.load_template(PROJECT / "templates/root/service.yaml")["Resources"]
    for resource in resources.values():
        if resource["Type"] == "AWS::SecretsManager::Secret":
            name = resource["Properties"]["Name"]
            name = name.get("Fn::Sub", name) if isinstance(name, dict) else name
            names.add(name.replace("${AppName}", "iam-lifecycle").replace("${Stage}", "<stage>"))
    settings = Settings.from_env(
        {"ROOT_ACCOUNT_ID": "123456789012", "ALLOWED_GROUPS": "G", "STAGE": "<stage>"}
    )
    for field in dataclasses.fields(settings):
        value = getattr(settings, field.name)
        if field.name.endswith("_secret") and isinstance(value, str) and value:
            names.add(value)
    return names


def test_every_secret_is_listed():
    listed = {name for cell in first_cells(section("Rotating secrets")) for name in quoted(cell)}
    assert listed == secrets()


def test_every_setting_is_listed():
    listed = {
        name
        for cell in first_cells(section("Settings"))
        for name in quoted(cell)
        if re.fullmatch(r"[A-Z][A-Z0-9_]+", name)
    }
    read = settings_read()
    assert not read - listed, f"settings the page does not list: {sorted(read - listed)}"
    assert not listed - read, f"settings the page lists that nothing reads: {sorted(listed - read)}"
