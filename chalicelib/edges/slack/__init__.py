"""The Slack edge: the slash command and its buttons (edge), the grammar, the replies, where an
answer may go (response_url) and Slack's Web API."""
