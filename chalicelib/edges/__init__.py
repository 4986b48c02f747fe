"""The edges: REST (clients, the one error-to-HTTP mapping, request schemas, the OpenAPI
document), Slack (signature, commands, buttons, replies, Web API), ticket callbacks, and the
queue worker that dispatches queued work by its kind."""
