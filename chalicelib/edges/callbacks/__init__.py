"""Ticket callbacks: which URLs may be called (policy), the outcome queued after a change
(outbox), and its signed delivery by the queue worker (delivery)."""
