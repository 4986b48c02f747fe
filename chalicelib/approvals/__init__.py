"""Requests for time-bound access and their decisions: pure rules, the service over the request
store and the change runner, and their Slack messages and queued work."""
