"""The state table: one lifecycle record per managed user, a lease per user that serializes
changes to them, the claims that make a message to a person sent once, and an append-only audit
trail; each kind of item in its own module, one store over the one table."""

from __future__ import annotations

from chalicelib.aws.state.audit import AuditTrail
from chalicelib.aws.state.hygiene import HygieneNotes
from chalicelib.aws.state.leases import Leases
from chalicelib.aws.state.members import MemberLinks
from chalicelib.aws.state.once import Once
from chalicelib.aws.state.records import Records
from chalicelib.aws.state.table import AUDIT_PAGE, now_iso
from chalicelib.aws.state.waiting import Waiting

__all__ = ["AUDIT_PAGE", "StateStore", "now_iso"]


class StateStore(Records, MemberLinks, HygieneNotes, Leases, Waiting, Once, AuditTrail):
    """Every kind of item of the state table, over one DynamoDB client."""
