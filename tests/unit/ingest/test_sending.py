"""The exactly-once send when Firehose's answer times out on the last try: the request settles each unsure
record (claims its id, or finds the compactor holds it) so its answer and the client's retry stay exact."""

from __future__ import annotations

from collections.abc import Sequence

import pytest

from lakegate.dedup import record_key
from lakegate.errors import PartiallyInserted, StoreUnavailable, StoreUncertain, Unavailable
from lakegate.framing import RecordHeader, frame_rows
from lakegate.ingest.sending import ROWS, Sender
from lakegate.memory import MemoryRefStore, MemorySink

from ..fakes import FakeClock, FakeSleep

OWNER = "req-1"


class StoresThenTimesOut(MemorySink):
    """Firehose that stores every call's records, and whose answer to the first `times` calls never comes."""

    def __init__(self, times: int = 1_000, error: type[StoreUnavailable] = StoreUncertain) -> None:
        super().__init__()
        self.times = times
        self.error = error

    def put_records(self, records: Sequence[bytes]) -> list[str | None]:
        answer = super().put_records(records)
        if self.calls <= self.times:
            raise self.error("Firehose PutRecordBatch failed: ReadTimeoutError")
        return answer


def records(ids: bool, n: int = 3) -> list:  # type: ignore[type-arg]
    header = RecordHeader("orders", "ws1", False, OWNER, 0, 1, 1, OWNER if ids else "")
    return frame_rows(header, [b'{"ref":"%d"}' % i for i in range(n)])


def send(sink: MemorySink, refs: MemoryRefStore, recs: list, claims: list[list[str]]) -> None:  # type: ignore[type-arg]
    clock = FakeClock()
    Sender(sink, refs, clock, FakeSleep(clock)).send(recs, claims, OWNER, 2.0, ROWS, 3)


def claimed(refs: MemoryRefStore) -> MemoryRefStore:
    for k in ("a", "b", "c"):
        refs.items[k] = (OWNER, "", None)
    return refs


def test_a_record_no_answer_came_for_is_abandoned_and_its_claims_released() -> None:
    # Given a record of three claimed rows that Firehose stores on every try but never answers
    refs, recs = claimed(MemoryRefStore()), records(ids=True)
    # When the request runs out of tries
    with pytest.raises(Unavailable):
        send(StoresThenTimesOut(), refs, recs, [["a"], ["b"], ["c"]])
    # Then the record's id is held for no object, so the compactor drops every copy, and the rows' claims
    # are released: the client's retry lands them once
    assert refs.items[record_key(recs[0].id)][0] == f"abandoned:{OWNER}"
    assert set(refs.items) == {record_key(recs[0].id)}


def test_a_record_the_compactor_landed_already_counts_as_stored() -> None:
    # Given a record whose copy the compactor claimed before the request settles it
    refs, recs = claimed(MemoryRefStore()), records(ids=True)
    refs.items[record_key(recs[0].id)] = ("raw:raw/one", "[]", None)
    # When its last answer times out, the send is complete all the same and keeps its claims
    send(StoresThenTimesOut(), refs, recs, [["a"], ["b"], ["c"]])
    assert {"a", "b", "c"} <= set(refs.items)


def test_a_refused_send_is_not_settled() -> None:
    # Throttled is known not stored: nothing to settle, the claims are released
    refs, recs = claimed(MemoryRefStore()), records(ids=True)
    with pytest.raises(Unavailable):
        send(StoresThenTimesOut(error=StoreUnavailable), refs, recs, [["a"], ["b"], ["c"]])
    assert refs.items == {}


def test_rows_promised_at_least_once_are_not_settled() -> None:
    refs, recs = MemoryRefStore(), records(ids=False)
    with pytest.raises(Unavailable):
        send(StoresThenTimesOut(), refs, recs, [])
    assert refs.items == {}


def test_when_the_settle_cannot_be_written_the_answer_is_still_not_stored() -> None:
    # The refs table is down too: the claims are released (a copy may land besides the retry: at least once)
    refs, recs = claimed(MemoryRefStore()), records(ids=True)
    refs.fail_claims = 1
    with pytest.raises(Unavailable):
        send(StoresThenTimesOut(), refs, recs, [["a"], ["b"], ["c"]])
    assert refs.items == {}


def test_a_partly_landed_request_counts_what_the_compactor_holds() -> None:
    # Given two records: the first the compactor holds already, the second not
    refs = MemoryRefStore()
    header = RecordHeader("orders", "ws1", False, OWNER, 0, 1, 1, OWNER)
    recs = frame_rows(header, [b"x" * 600_000, b"y" * 600_000])
    assert len(recs) == 2
    refs.items[record_key(recs[0].id)] = ("raw:raw/one", "[]", None)
    # Then the answer says one row stored, one not
    with pytest.raises(PartiallyInserted) as e:
        send(StoresThenTimesOut(), refs, recs, [])
    assert e.value.detail == {"inserted_rows": 1, "failed_rows": 1}
