"""The local stack behind ``make run`` (``python -m devstack``): moto on loopback as a root and a
child account, provisioned from templates/, IAM enforced, the app under ``chalice local`` as its
own principal, the queue poller and the clock; the moto extensions the tests use too."""
