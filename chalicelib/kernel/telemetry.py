"""Structured logs with the ticket as correlation id, and one metric per operation and outcome."""

from __future__ import annotations

import functools
import logging
from typing import Any


@functools.cache
def logger() -> Any:
    from aws_lambda_powertools import Logger

    from chalicelib.settings import get_settings

    settings = get_settings()
    # botocore and urllib3 log request bodies at DEBUG, temporary passwords included.
    for noisy in ("botocore", "boto3", "urllib3"):
        logging.getLogger(noisy).setLevel(max(logging.INFO, logging.getLogger(noisy).level))
    return Logger(service=settings.app_name, level=settings.log_level)


def count(operation: str, outcome: str) -> None:
    """An EMF metric: ``<operation>`` with dimension ``outcome``, namespaced per stage."""
    from aws_lambda_powertools.metrics import MetricUnit, single_metric

    from chalicelib.settings import get_settings

    settings = get_settings()
    with single_metric(
        name=operation,
        unit=MetricUnit.Count,
        value=1,
        namespace=f"{settings.app_name}-{settings.stage}",
    ) as metric:
        metric.add_dimension(name="outcome", value=outcome)
