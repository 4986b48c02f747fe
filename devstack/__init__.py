"""The local stack behind ``make run`` (``python -m devstack``): moto on loopback as a root and a
child account, provisioned from templates/, IAM enforced, the app under ``chalice local`` as its
own principal, the queue poller and the clock; the moto extensions the tests use too."""

from devstack import deferred

deferred.apply()  # before moto is imported, here or in a process that imports devstack first
