"""``iam-lifecycle``: the operator's command for a deployment's REST API, the local stack's
included. Its commands are the routes of the service's OpenAPI document (``openapi.yaml``, the
one in ``chalicelib/edges/``), plus the batch of onboardings, moves and offboardings from a CSV.

It is installed beside the service, never deployed with it: it imports nothing of ``chalicelib``
or ``devstack``."""
