"""Access reviews: campaigns of who holds what, decided by group owners, and the evidence an
auditor reads (JSON, CSV, HTML)."""
