"""The HTML evidence of an access review in a real headless browser (Chromium from Debian's
packages): it loads with nothing from elsewhere, shows the verdict, the population, the totals and
every item; with UPDATE_SCREENSHOT=1 its screenshot becomes the one docs/reviews.md shows.

Needs ``chromium`` on PATH (``apt-get install -y chromium``; .ci/run installs it); skipped, with
that reason, where it is absent."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
from datetime import date, timedelta
from pathlib import Path

import pytest

PROJECT = Path(__file__).resolve().parents[2]
SCREENSHOT = PROJECT / "docs" / "images" / "review-evidence.png"
BROWSER = shutil.which("chromium") or shutil.which("chromium-browser")
OWNER, PETE = "U0LOCAL0002", "U0PETE00001"

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        BROWSER is None,
        reason="needs Chromium: apt-get install -y chromium (Debian's package)",
    ),
]


def _chromium(*args: str) -> subprocess.CompletedProcess:
    assert BROWSER is not None
    return subprocess.run(
        [BROWSER, "--headless", "--disable-gpu", "--no-sandbox", "--hide-scrollbars", *args],
        capture_output=True,
        text=True,
        timeout=120,
    )


def _campaign(api) -> str:
    for name, groups, member in (
        ("pete", ["ChildDeveloperGroup"], PETE),
        ("sam", ["ChildDeveloperGroup", "BreakGlassGroup"], "U0SAM000001"),
        ("=ana", ["ChildDeveloperGroup"], None),
    ):
        body = {"username": name, "groups": groups, "ticket": f"T-{name}", "requested_by": "alice"}
        body |= {"console": False, **({"slack_user": member} if member else {})}
        assert api.call("POST", "/users", body).status_code == 201
    due = (date.today() + timedelta(days=14)).isoformat()
    review = api.call(
        "POST", "/reviews", {"due": due, "ticket": "CHG-2041", "requested_by": "alice"}
    ).json
    by_name = {(i["username"], i["group"]): i["id"] for i in review["items"]}
    for (name, group), decision in {
        ("pete", "ChildDeveloperGroup"): "revoke",
        ("sam", "ChildDeveloperGroup"): "keep",
        ("sam", "BreakGlassGroup"): "revoke",
    }.items():
        answer = api.call(
            "POST",
            f"/reviews/{review['id']}/items/{by_name[(name, group)]}/decision",
            {"decision": decision, "reviewer": OWNER, "ticket": f"T-{name}-{group}"},
        )
        assert answer.status_code == 200, answer.body
    return review["id"]


def test_the_html_evidence_renders_self_contained_in_chromium(api, tmp_path):
    review_id = _campaign(api)
    response = api.call("GET", f"/reviews/{review_id}/evidence?format=html")
    assert response.headers["Content-Type"].startswith("text/html")
    page = response.body.decode()
    # Self-contained: no script, and nothing fetched from elsewhere.
    assert "<script" not in page.lower()
    assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", page, re.I)
    assert "@import" not in page and "url(" not in page
    path = tmp_path / "evidence.html"
    path.write_text(page)

    dom = _chromium("--dump-dom", path.as_uri())
    assert dom.returncode == 0, dom.stderr[-2000:]
    text = re.sub(r"<[^>]+>", " ", dom.stdout)
    assert f"Access review {review_id}" in text
    assert (
        "PASS: all 2 revoke(s) were carried out and still hold, and nobody outside the "
        "service's management is in a reviewed group." in text
    )
    assert "iam:GetAccountAuthorizationDetails" in text
    assert "=ana" in text and "1 item(s) not decided yet" in text
    assert "What each column proves" in text

    shot = tmp_path / "evidence.png"
    taken = _chromium(f"--screenshot={shot}", "--window-size=1200,1600", path.as_uri())
    assert taken.returncode == 0 and shot.stat().st_size > 10_000, taken.stderr[-2000:]
    if os.environ.get("UPDATE_SCREENSHOT") == "1":  # the picture docs/reviews.md shows
        SCREENSHOT.parent.mkdir(parents=True, exist_ok=True)
        SCREENSHOT.write_bytes(shot.read_bytes())
