"""Delivery: every record acknowledged, or retried with bounded backoff until the budget, then reported."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from lakegate.errors import StoreUnavailable
from lakegate.framing import Record
from lakegate.ingest.delivery import Delivery, deliver
from lakegate.memory import MemorySink

from ..fakes import FakeClock, FakeSleep

RECORDS = [Record(b"rec-0", 2), Record(b"rec-1", 3), Record(b"rec-2", 4)]


class UnreachableSink(MemorySink):
    """A sink whose first `outages` calls fail whole, as Firehose does when throttled or unreachable."""

    def __init__(self, outages: int) -> None:
        super().__init__()
        self.outages = outages

    def put_records(self, records: Sequence[bytes]) -> list[str | None]:
        if self.outages:
            self.outages -= 1
            self.calls += 1
            raise StoreUnavailable("Firehose PutRecordBatch failed: ServiceUnavailableException")
        return super().put_records(records)


@pytest.fixture
def bounds(monkeypatch: pytest.MonkeyPatch) -> list[float]:
    """Make the jitter deterministic: every delay is its upper bound, and the bounds are recorded."""
    seen: list[float] = []

    def upper(low: float, high: float) -> float:
        assert low == 0
        seen.append(high)
        return high

    monkeypatch.setattr("lakegate.ingest.delivery.random.uniform", upper)
    return seen


def test_all_acknowledged_in_one_call(bounds: list[float]) -> None:
    # Given a sink that takes everything
    sink, clock = MemorySink(), FakeClock()
    sleep = FakeSleep(clock)
    # When three records are delivered
    result = deliver(RECORDS, sink, 8.0, clock, sleep)
    # Then one call sends them all, with no sleep
    assert result == Delivery(sent_rows=9, failed_rows=0, calls=1)
    assert result.complete is True
    assert sink.records == [b"rec-0", b"rec-1", b"rec-2"]
    assert sleep.delays == []
    assert bounds == []


def test_nothing_to_deliver() -> None:
    sink, clock = MemorySink(), FakeClock()
    assert deliver([], sink, 8.0, clock, FakeSleep(clock)) == Delivery(0, 0, 0)
    assert sink.calls == 0


def test_partial_failure_retries_only_the_refused_records(bounds: list[float]) -> None:
    # Given a sink that refuses record 1 of the first call, then the single record of the second
    sink, clock = MemorySink(), FakeClock()
    sink.fail_next = [{1}, {0}]
    sleep = FakeSleep(clock)
    # When delivering
    result = deliver(RECORDS, sink, 8.0, clock, sleep)
    # Then the refused record is resent alone until accepted, after growing delays
    assert result == Delivery(sent_rows=9, failed_rows=0, calls=3)
    assert sink.calls == 3
    assert sink.records == [b"rec-0", b"rec-2", b"rec-1"]
    assert sleep.delays == [0.05, 0.1]


def test_whole_call_unavailable_is_retried(bounds: list[float]) -> None:
    # Given a sink that raises StoreUnavailable for its first two calls
    sink, clock = UnreachableSink(outages=2), FakeClock()
    sleep = FakeSleep(clock)
    # When delivering
    result = deliver(RECORDS, sink, 8.0, clock, sleep)
    # Then the whole call is retried and eventually everything is sent once
    assert result == Delivery(sent_rows=9, failed_rows=0, calls=3)
    assert sink.records == [b"rec-0", b"rec-1", b"rec-2"]
    assert sleep.delays == [0.05, 0.1]


def test_budget_exhausted_reports_failed_rows(bounds: list[float]) -> None:
    # Given a sink that is down for good and a 1-second budget
    sink, clock = UnreachableSink(outages=1_000), FakeClock(100.0)
    sleep = FakeSleep(clock)
    # When delivering
    result = deliver(RECORDS, sink, 1.0, clock, sleep)
    # Then it sleeps 0.05+0.1+0.2+0.4 = 0.75 s, stops as the next 0.8 s would pass the deadline, and says so
    assert result == Delivery(sent_rows=0, failed_rows=9, calls=5, failed=tuple(RECORDS))
    assert result.complete is False
    assert sleep.delays == [0.05, 0.1, 0.2, 0.4]
    assert clock.now == pytest.approx(100.75)
    assert sink.records == []


def test_budget_exhausted_with_some_rows_sent(bounds: list[float]) -> None:
    # Given a sink that always refuses the second record
    sink, clock = MemorySink(), FakeClock()
    sink.fail_next = [{1}] + [{0}] * 100
    # When delivering with a 1-second budget
    result = deliver(RECORDS, sink, 1.0, clock, FakeSleep(clock))
    # Then the other records count as sent and the refused one as failed
    assert result == Delivery(sent_rows=6, failed_rows=3, calls=5)
    assert sink.records == [b"rec-0", b"rec-2"]


def test_zero_budget_sends_once_and_never_sleeps(bounds: list[float]) -> None:
    sink, clock = MemorySink(), FakeClock()
    sink.fail_next = [{0, 1, 2}]
    sleep = FakeSleep(clock)
    assert deliver(RECORDS, sink, 0.0, clock, sleep) == Delivery(0, 9, 1)
    assert sleep.delays == []


def test_backoff_doubles_from_50ms_and_is_capped_at_one_second(bounds: list[float]) -> None:
    # Given a sink that is down for good and a 10-second budget
    sink, clock = UnreachableSink(outages=1_000), FakeClock(0.0)
    sleep = FakeSleep(clock)
    # When delivering
    result = deliver(RECORDS, sink, 10.0, clock, sleep)
    # Then the jitter bounds double from 0.05 s up to 1 s and stay there; the sleeps stay within the budget
    expected = [0.05, 0.1, 0.2, 0.4, 0.8] + [1.0] * 8
    assert sleep.delays == expected
    assert bounds == [*expected, 1.0]  # the last bound drawn was not slept: it would pass the deadline
    assert sum(sleep.delays) < 10.0
    assert result == Delivery(sent_rows=0, failed_rows=9, calls=14)


def test_real_jitter_stays_within_its_bounds() -> None:
    sink, clock = UnreachableSink(outages=1_000), FakeClock(0.0)
    sleep = FakeSleep(clock)
    deliver(RECORDS, sink, 5.0, clock, sleep)
    caps = [min(1.0, 0.05 * 2**i) for i in range(len(sleep.delays))]
    assert len(sleep.delays) >= 5
    assert all(0 <= d <= cap for d, cap in zip(sleep.delays, caps, strict=True))


def test_many_records_take_several_calls_per_round(bounds: list[float]) -> None:
    # Given 1,200 records (more than two calls' worth) and a sink refusing one record in the second call
    records = [Record(b"r%d" % i, 1) for i in range(1_200)]
    sink, clock = MemorySink(), FakeClock()
    sink.fail_next = [set(), {7}]
    sleep = FakeSleep(clock)
    # When delivering
    result = deliver(records, sink, 8.0, clock, sleep)
    # Then round one takes 3 calls (500, 500, 200) and round two resends the one refused record
    assert result == Delivery(sent_rows=1_200, failed_rows=0, calls=4)
    assert sorted(sink.records) == sorted(r.data for r in records)
    assert sink.records[-1] == b"r507"
    assert sleep.delays == [0.05]
