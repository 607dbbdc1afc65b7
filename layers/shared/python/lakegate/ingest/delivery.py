"""Getting every framed record acknowledged within the request's time budget, or saying what was not."""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Protocol

from lakegate.errors import StoreUnavailable, StoreUncertain
from lakegate.framing import Record, batch_calls


class RecordSink(Protocol):
    """Sends one call's worth of records; per record, None when acknowledged or an error code."""

    def put_records(self, records: Sequence[bytes]) -> list[str | None]: ...


_BASE_BACKOFF = 0.05
_MAX_BACKOFF = 1.0


@dataclass(frozen=True, slots=True)
class Delivery:
    """How many rows were acknowledged and how many were not, after all retries."""

    sent_rows: int
    failed_rows: int
    calls: int
    # The records still refused at the end, so a caller can release what they held.
    failed: tuple[Record, ...] = field(default=(), compare=False)
    # Of those, the ones a call may have stored although it failed (StoreUncertain): not known to be lost.
    unsure: tuple[Record, ...] = field(default=(), compare=False)

    @property
    def complete(self) -> bool:
        return self.failed_rows == 0


def deliver(
    records: Sequence[Record],
    sink: RecordSink,
    budget_seconds: float,
    clock: Callable[[], float],
    sleep: Callable[[float], None],
) -> Delivery:
    """Send records; retry only the ones refused, with jittered exponential backoff, until the budget."""
    deadline = clock() + budget_seconds
    pending = list(records)
    sent_rows = calls = attempt = 0
    uncertain: set[int] = set()  # id() of records a failed call may have stored
    while pending:
        failed: list[Record] = []
        for call in batch_calls(pending):
            calls += 1
            try:
                codes = sink.put_records([r.data for r in call])
            except StoreUnavailable as e:
                failed.extend(call)
                if isinstance(e, StoreUncertain):
                    uncertain.update(map(id, call))
                continue
            for rec, code in zip(call, codes, strict=True):
                if code is None:
                    sent_rows += rec.rows
                else:
                    failed.append(rec)
        pending = failed
        if not pending:
            break
        delay = random.uniform(0, min(_MAX_BACKOFF, _BASE_BACKOFF * 2**attempt))  # full jitter
        attempt += 1
        if clock() + delay >= deadline:
            break
        sleep(delay)
    unsure = tuple(r for r in pending if id(r) in uncertain)
    return Delivery(sent_rows, sum(r.rows for r in pending), calls, tuple(pending), unsure)
