"""The evidence of an access review as a spreadsheet (CSV, formulas disarmed) and as a page an
auditor reads and prints (HTML, self-contained: no script, font, image or stylesheet from
elsewhere)."""

from __future__ import annotations

import csv
import io
import re
from html import escape

from chalicelib.kernel.csv_cells import cell

CSV_COLUMNS = (
    "review",
    "population_taken_at",
    "item",
    "username",
    "group",
    "kind",
    "outside",
    "reviewer",
    "decision",
    "decided_by",
    "decided_at",
    "how",
    "removal_owed",
    "removed_at",
    "removed_by",
    "removal_ticket",
    "sessions_revoked_in",
    "sessions_revocation_pending",
    "audit_at",
    "audit_result",
    "still_holds",
    "check",
)


def _row(evidence: dict, item: dict) -> dict:
    audit = item.get("audit") or {}
    holds = item.get("holds")
    return {
        "review": evidence["review"]["id"],
        "population_taken_at": evidence["population"].get("taken_at", ""),
        "item": item["id"],
        "username": item["username"],
        "group": item["group"],
        "kind": item.get("kind", ""),
        "outside": item.get("outside", ""),
        "reviewer": item.get("reviewer", ""),
        "decision": item.get("decision", ""),
        "decided_by": item.get("decided_by", ""),
        "decided_at": item.get("decided_at", ""),
        "how": item.get("how", ""),
        "removal_owed": item.get("removal_owed", ""),
        "removed_at": item.get("removed_at", ""),
        "removed_by": item.get("removed_by", ""),
        "removal_ticket": item.get("removal_ticket", ""),
        "sessions_revoked_in": " ".join(item.get("sessions_revoked_in") or []),
        "sessions_revocation_pending": " ".join(
            sorted(item.get("sessions_revocation_pending") or {})
        ),
        "audit_at": audit.get("at", ""),
        "audit_result": audit.get("result", ""),
        "still_holds": "" if holds is None else ("yes" if holds else "no"),
        "check": item.get("check", ""),
    }


def as_csv(evidence: dict) -> str:
    """One row per item; every cell disarmed as the access matrix's are."""
    out = io.StringIO()
    writer = csv.DictWriter(out, fieldnames=CSV_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for item in evidence["items"]:
        writer.writerow({k: cell(v) for k, v in _row(evidence, item).items()})
    return out.getvalue()


_STYLE = """
body { font: 14px/1.45 -apple-system, "Segoe UI", Helvetica, Arial, sans-serif; color: #111;
       margin: 24px; max-width: 1150px; }
h1 { font-size: 22px; margin: 0 0 4px; }
h2 { font-size: 16px; margin: 22px 0 8px; border-bottom: 1px solid #bbb; padding-bottom: 3px; }
.sub { color: #444; margin: 0 0 12px; }
dl { display: grid; grid-template-columns: 200px 1fr; gap: 3px 12px; margin: 0; }
dt { font-weight: 600; color: #333; } dd { margin: 0; word-break: break-word; }
code { font: 12px ui-monospace, Menlo, Consolas, monospace; background: #f3f3f3; padding: 0 3px; }
.verdict { padding: 10px 14px; border-radius: 4px; font-weight: 600; margin: 8px 0; }
.wait { background: #fff7e0; border: 1px solid #8a5a00; color: #5c3d00; }
.pass { background: #e6f4ea; border: 1px solid #1e7e34; color: #14532d; }
.fail { background: #fdecea; border: 1px solid #b02a37; color: #7f1d1d; }
table { border-collapse: collapse; width: 100%; font-size: 12.5px; }
th, td { border: 1px solid #ccc; padding: 4px 6px; text-align: left; vertical-align: top; }
th { background: #eee; } tr:nth-child(even) td { background: #fafafa; }
.totals td, .totals th { text-align: center; font-size: 14px; }
.revoke { color: #7f1d1d; font-weight: 600; } .keep { color: #14532d; font-weight: 600; }
.none { color: #8a5a00; font-weight: 600; }
.legend dt { font-weight: 600; } .legend dd { margin-bottom: 4px; }
footer { margin-top: 24px; color: #555; font-size: 12px; }
@media print { body { margin: 10mm; font-size: 11px; } table { font-size: 10px; }
  tr { page-break-inside: avoid; } h2 { page-break-after: avoid; } }
"""

LEGEND = (
    ("User, Group", "Who held which access when the population was taken (the snapshot)."),
    (
        "Kind",
        "member: a standing group membership; grant: time-bound access with its expiry; "
        "outside management: a member outside the service's IAM path, or a protected user, "
        "whom the service never changes (an operator reviews them and removes them by hand).",
    ),
    (
        "Reviewer",
        "The Slack member assigned: an owner of the group (an operator for members outside "
        "management), never the user themself.",
    ),
    (
        "Decision, Decided by, At",
        "What was decided, by whom (the member Slack's signed request named, or the stage's "
        "setting for items nobody decided by the due date) and when (UTC).",
    ),
    (
        "Removed at, Audit",
        "When a revoke was carried out (the user taken out of the group, or the grant ended) "
        "and the audit event of that change, by its ticket; for a member outside management, "
        "the removal owed by hand, until a read of IAM showed them out of the group.",
    ),
    (
        "Sessions revoked in",
        "The child accounts where the user's live sessions of the roles they lost were denied "
        "by that change; any account where that is still owed is named, and the revoke does "
        "not count as holding until it is done.",
    ),
    (
        "Still holds",
        "Checked when this page was generated: the user is not in the group now; if they are, "
        "the later change that put them back.",
    ),
)


def _t(value: object) -> str:
    """A UTC timestamp as people read it: 2026-12-01 13:11:13 (the page says UTC)."""
    text = str(value or "")
    return escape(
        re.sub(r"^(\d{4}-\d\d-\d\d)T(\d\d:\d\d:\d\d)(\.\d+)?(\+00:00|Z)?$", r"\1 \2", text)
    )


def _d(pairs: list[tuple[str, str]]) -> str:
    return "<dl>" + "".join(f"<dt>{escape(k)}</dt><dd>{v}</dd>" for k, v in pairs) + "</dl>"


def as_html(evidence: dict) -> str:
    review, population = evidence["review"], evidence["population"]
    query, totals, check = population.get("query", {}), evidence["totals"], evidence["check"]
    outside = check.get("outside_management", [])
    verdict = (
        f'<div class="verdict pass">PASS: all {check["revokes"]} revoke(s) were carried out and '
        "still hold, and nobody outside the service's management is in a reviewed group.</div>"
        if check.get("verdict") == "PASS"
        else f'<div class="verdict fail">ATTENTION: {check["holding"]} of {check["revokes"]} '
        "revoke(s) carried out and holding"
        + (
            f"; {len(outside)} member(s) of the reviewed groups outside the service's "
            "management now"
            if outside
            else ""
        )
        + ".<br>"
        + "<br>".join(escape(p) for p in check["problems"])
        + "</div>"
    )
    if totals["undecided"] and review["status"] == "open":
        verdict += (
            f'<div class="verdict wait">{totals["undecided"]} item(s) not decided yet: the review '
            f"is open until the end of {escape(review['due'])}.</div>"
        )
    elif totals["undecided"]:
        verdict += (
            f'<div class="verdict fail">{totals["undecided"]} item(s) were not decided'
            + (" (escalated to the operators)" if totals.get("escalated") else "")
            + ".</div>"
        )
    rows = []
    for item in evidence["items"]:
        decision = item.get("decision", "")
        css = decision or "none"
        audit = item.get("audit") or {}
        holds = item.get("holds")
        rows.append(
            "<tr>"
            + "".join(
                f"<td>{cell}</td>"
                for cell in (
                    f"<b>{escape(item['username'])}</b>",
                    escape(item["group"]),
                    escape(item.get("kind", ""))
                    + (f"<br>until {escape(item['expires_at'])}" if item.get("expires_at") else "")
                    + (
                        '<br><span class="revoke">outside management: '
                        + escape(
                            "protected"
                            if item["outside"] == "protected"
                            else f"path {item.get('path', '')}"
                        )
                        + "</span>"
                        if item.get("outside")
                        else ""
                    ),
                    escape(item.get("reviewer", "") or "operators"),
                    f'<span class="{css}">{escape(decision or "none")}</span><br>'
                    f"{escape(item.get('how', ''))}",
                    escape(item.get("decided_by", "")),
                    _t(item.get("decided_at", "")),
                    _t(item.get("removed_at", ""))
                    + (
                        f"<br>by hand, recorded by {escape(item['removed_by'])}"
                        if item.get("removed_by")
                        else ""
                    )
                    + (
                        f'<br><span class="revoke">owed by hand: {escape(item["removal_owed"])}'
                        "</span>"
                        if item.get("removal_owed")
                        else ""
                    ),
                    escape(" ".join(item.get("sessions_revoked_in") or []))
                    + (
                        '<br><span class="revoke">owed: '
                        + escape(" ".join(sorted(item["sessions_revocation_pending"])))
                        + "</span>"
                        if item.get("sessions_revocation_pending")
                        else ""
                    ),
                    (
                        f"<code>{escape(audit.get('ticket', ''))}</code><br>"
                        f"{escape(audit.get('action', ''))} {_t(audit.get('at', ''))}"
                    )
                    if audit
                    else "",
                    ""
                    if holds is None
                    else (
                        ("yes" if holds else '<span class="revoke">NO</span>')
                        + f"<br>{escape(item.get('check', ''))}"
                    ),
                )
            )
            + "</tr>"
        )
    rerun = evidence.get("rerun")
    rerun_html = ""
    if rerun:
        changes = [
            f"added: {escape(a['username'])} in {escape(a['group'])}" for a in rerun["added"]
        ]
        changes += [
            f"gone: {escape(r['username'])} in {escape(r['group'])}" for r in rerun["removed"]
        ]
        rerun_html = "<h2>The query run again</h2>" + _d(
            [
                ("Run at", _t(rerun["at"]) + " UTC"),
                ("Result count", str(rerun["count"])),
                ("Differences", "<br>".join(changes) or "none: the same population"),
            ]
        )
    heads = (
        "User",
        "Group",
        "Kind",
        "Reviewer",
        "Decision",
        "Decided by",
        "At (UTC)",
        "Removed at",
        "Sessions revoked in",
        "Audit",
        "Still holds",
    )
    return (
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>"
        f"<title>Access review {escape(review['id'])}</title>"
        "<meta name='viewport' content='width=device-width, initial-scale=1'>"
        f"<style>{_STYLE}</style></head><body>"
        f"<h1>Access review {escape(review['id'])}</h1>"
        f"<p class='sub'>Status <b>{escape(review['status'])}</b> · due {escape(review['due'])}"
        f" · generated {_t(evidence['generated_at'])} UTC</p>"
        + verdict
        + "<h2>Campaign</h2>"
        + _d(
            [
                ("Started", f"{_t(review['created_at'])} UTC by {escape(review['requested_by'])}"),
                ("Ticket", f"<code>{escape(review['ticket'])}</code>"),
                ("Groups reviewed", escape(", ".join(review.get("groups", [])))),
                ("Due", escape(review["due"])),
                (
                    "Closed",
                    f"{_t(review['closed_at'])} UTC by {escape(review.get('closed_by', ''))}"
                    if review.get("closed_at")
                    else "not yet",
                ),
                ("Audit trail", f"<code>GET /audit?ticket={escape(review['id'])}</code>"),
            ]
        )
        + "<h2>Population</h2>"
        + _d(
            [
                ("Taken at", _t(population.get("taken_at", "")) + " UTC"),
                (
                    "Query",
                    f"<code>{escape(query.get('api', ''))}</code> Filter="
                    f"{escape(','.join(query.get('filter', [])))} on account "
                    f"{escape(query.get('account', ''))}",
                ),
                ("Users included", escape(query.get("users", ""))),
                ("Grants from", escape(query.get("grants", ""))),
                (
                    "Result count",
                    f"{population.get('count', 0)} item(s) of {population.get('users', 0)} user(s)",
                ),
                (
                    "Outside management",
                    f"{population.get('outside', 0)} item(s) when taken; "
                    f"{len(outside)} member(s) now",
                ),
            ]
        )
        + rerun_html
        + "<h2>Totals</h2><table class='totals'><tr>"
        + "".join(
            f"<th>{h}</th>"
            for h in ("Items", "Kept", "Revoked", "Carried out", "Undecided", "By the setting")
        )
        + "</tr><tr>"
        + "".join(
            f"<td>{totals[k]}</td>"
            for k in ("items", "kept", "revoked", "carried_out", "undecided", "lapsed")
        )
        + "</tr></table>"
        + "<h2>Items</h2><table><thead><tr>"
        + "".join(f"<th>{h}</th>" for h in heads)
        + "</tr></thead><tbody>"
        + ("".join(rows) or f"<tr><td colspan='{len(heads)}'>No item.</td></tr>")
        + "</tbody></table>"
        + "<h2>What each column proves</h2><dl class='legend'>"
        + "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in LEGEND)
        + "</dl>"
        + "<footer>Generated by the IAM lifecycle service from its state table, its audit trail "
        "and a live read of IAM. The JSON and CSV forms: <code>?format=json</code>, "
        "<code>?format=csv</code>.</footer></body></html>"
    )
