"""What the ingest function tells operations, at a cost per request near zero: metrics summed over
invocations and flushed as one EMF document at most every `interval` seconds, and a sample of
successful requests logged in full. Failures are always logged (app.py), with their request id."""

from __future__ import annotations

import random
from collections.abc import Callable

from aws_lambda_powertools import Metrics
from aws_lambda_powertools.metrics import MetricUnit


class Tally:
    """Metric sums of a warm function. One EMF document per request was ~400 B of log (as much as the
    rest of the request's log lines together); the sums of a minute are one document whatever the
    traffic. Counts a reclaimed instance took since its last flush are lost: `interval=0` flushes
    every invocation for deployments that want none lost (README, "Logs and metrics")."""

    def __init__(self, metrics: Metrics, interval: float, clock: Callable[[], float]) -> None:
        self._metrics = metrics
        self._interval = interval
        self._clock = clock
        self._sums: dict[tuple[str, MetricUnit], float] = {}
        self._since = clock()

    def add_metric(self, name: str, unit: MetricUnit, value: float) -> None:
        key = (name, unit)
        self._sums[key] = self._sums.get(key, 0.0) + value

    def flush_if_due(self) -> None:
        """Print the sums as one EMF document once `interval` has passed since the last one."""
        now = self._clock()
        if not self._sums or now - self._since < self._interval:
            return
        for (name, unit), value in self._sums.items():
            self._metrics.add_metric(name=name, unit=unit, value=value)
        self._sums.clear()
        self._since = now
        self._metrics.flush_metrics()


def sampled(rate: float) -> bool:
    """Whether this successful request is one of the sample logged in full."""
    return rate >= 1.0 or (rate > 0.0 and random.random() < rate)
