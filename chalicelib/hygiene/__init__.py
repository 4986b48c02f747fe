"""Credential hygiene: the CIS and Security Hub rules over the credential report, the notices,
reminders and actions on a schedule, and exemptions."""
