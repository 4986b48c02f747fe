"""What people are told of hygiene: a person's notice of a finding (its text, and the parts a
direct message shows: the rule and its controls, the credential, what happens and how to avoid
it) and the operators' summary of a run."""

from __future__ import annotations

from chalicelib.hygiene import rules as hygiene


def text(finding: hygiene.Finding, step: hygiene.Step, what: str) -> str:
    credential = (
        "your console password"
        if finding.credential == hygiene.CONSOLE
        else "your access keys"
        if finding.credential == hygiene.KEYS
        else f"your access key {finding.credential}"
    )
    reason = {
        hygiene.UNUSED: "has not been used",
        hygiene.UNUSED_90: "has not been used",
        hygiene.KEY_ROTATION: "has not been rotated",
        hygiene.CONSOLE_MFA: "has no MFA device beside it",
        hygiene.ONE_ACTIVE_KEY: "include more than one active key",
        hygiene.KEY_DELETION: "was deactivated",
    }[finding.rule]
    lead = "Reminder: " if what == "reminded" else ""
    if finding.action is None or step.due is None:
        return f"{lead}{credential} {reason} since {finding.since.isoformat()}; please fix it."
    verb = {
        hygiene.REMOVE_CONSOLE: "removed",
        hygiene.DEACTIVATE_KEY: "deactivated",
        hygiene.DELETE_KEY: "deleted",
    }[finding.action]
    return (
        f"{lead}{credential} {reason} since {finding.since.isoformat()}; it will be {verb} on "
        f"{step.due.isoformat()} unless it is used or fixed before then."
    )


_RULE_TITLES = {
    hygiene.UNUSED: "unused credentials",
    hygiene.UNUSED_90: "unused credentials",
    hygiene.KEY_ROTATION: "access key rotation",
    hygiene.CONSOLE_MFA: "MFA for console passwords",
    hygiene.ONE_ACTIVE_KEY: "one active access key",
    hygiene.KEY_DELETION: "deactivated keys deleted",
}


def parts(finding: hygiene.Finding, step: hygiene.Step, rule: hygiene.Rule) -> dict:
    """What a person's direct message says beside the notice's text: the rule (and the controls
    it stands for), the credential, what will happen and how to avoid it."""
    controls = ", ".join(
        part
        for part in (
            f"Security Hub {rule.security_hub}" if rule.security_hub else "",
            f"CIS {rule.cis}" if rule.cis else "",
        )
        if part
    )
    credential = (
        "console password"
        if finding.credential == hygiene.CONSOLE
        else "access keys"
        if finding.credential == hygiene.KEYS
        else f"access key {finding.credential}"
    )
    if finding.action is None or step.due is None:
        happens = "Nothing is changed for it: this rule only asks you to fix it."
    else:
        happens = {
            hygiene.REMOVE_CONSOLE: "your console login is removed (your access keys stay)",
            hygiene.DEACTIVATE_KEY: f"the access key {finding.credential} is deactivated "
            "(your other credentials stay)",
            hygiene.DELETE_KEY: f"the access key {finding.credential} is deleted",
        }[finding.action]
        happens = f"On {step.due.isoformat()} {happens}."
    avoid = {
        hygiene.UNUSED: _use_it(finding),
        hygiene.UNUSED_90: _use_it(finding),
        hygiene.KEY_ROTATION: "Rotate it: signed in with MFA, create a new key, move to it, then "
        f"delete {finding.credential}. No longer need a key? Delete it.",
        hygiene.CONSOLE_MFA: "Turn on MFA: in the console, your name (top right) > Security "
        "credentials > Assign MFA device, named as your user name.",
        hygiene.ONE_ACTIVE_KEY: "Delete (or deactivate) the access keys you no longer use, "
        "keeping one.",
        hygiene.KEY_DELETION: "Still need it? Ask whoever manages your access for a restore "
        "before then: a deleted key cannot be given back.",
    }[finding.rule]
    return {
        "title": _RULE_TITLES[finding.rule] + (f" ({controls})" if controls else ""),
        "credential_name": credential,
        "happens": happens,
        "avoid": avoid,
    }


def _use_it(finding: hygiene.Finding) -> str:
    if finding.credential == hygiene.CONSOLE:
        return (
            "Sign in to the console before then. No longer need it? Let it go: a restore by "
            "whoever manages your access gives it back."
        )
    return (
        f"Use the key {finding.credential} before then (any AWS call signed with it counts). No "
        "longer need it? Let it go: a restore by whoever manages your access gives it back."
    )


def summary(rows_by_kind: dict[str, list]) -> str | None:
    """The operators' message of a run: one line per notice, reminder, action, failure and
    drift; None when there is nothing to say."""
    lines = []
    for what, rows in rows_by_kind.items():
        for row in rows:
            if what == "drift":
                lines.append(
                    f"- drift: {row['username']} ({row['why']}), not acted on: "
                    f"{', '.join(row['rules'])}"
                )
                continue
            due = f", due {row['due']}" if row.get("due") else ""
            lines.append(
                f"- {what}: {row['username']} {row['rule']} on {row['credential']} "
                f"(since {row['since']}{due})"
            )
    return "Credential hygiene:\n" + "\n".join(lines) if lines else None


def report_unavailable(reason: str) -> str:
    """The operators' message of a run that could not read the credential report."""
    return (
        "Credential hygiene could not read IAM's credential report today "
        f"({reason}); nothing was judged, and the next run tries again."
    )
