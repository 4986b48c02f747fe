"""Ticket callbacks: their signed delivery by the queue worker (delivery). Which URLs may be
called (chalicelib/kernel/callback_urls.py) and the outcome queued after a change
(chalicelib/kernel/outbox.py) are the change runner's, in the kernel."""
