"""The Slack entry point: the slash command and its buttons (edge), the queue worker that does
the work (worker), their messages (replies), the grammar (commands) and their state (store)."""
