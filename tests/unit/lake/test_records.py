"""Exactly once across Firehose's at-least-once delivery, and claims held only by rows that land: record
claims, the landing decision they keep, and the ingest's claims a quarantined row gives back. On the
in-memory stores, checked on the Parquet written and the claims left."""

from __future__ import annotations

import io
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest

from lakegate.dedup import Claim, abandoned, event_key, event_lookup_key, record_key, ref_key
from lakegate.errors import StoreUnavailable
from lakegate.framing import CLAIMED_EVENTS, CLAIMED_REFS, RecordHeader, frame_rows
from lakegate.lake import landing
from lakegate.lake.compactor import Compactor, Outcome
from lakegate.lake.layout import folder
from lakegate.lake.parquet import Converted, rows_to_table
from lakegate.lake.records import Landed, owner_of
from lakegate.memory import MemoryObjectStore, MemoryRefStore, MemoryRegistry
from lakegate.names import ERROR, LINE
from lakegate.schema import Column, DataSource

A = "raw/2026/11/23/20/stream-1-2026-11-23-20-05-01-aaa"
B = "raw/2026/11/23/20/stream-1-2026-11-23-20-06-01-bbb"
T0 = 1_795_464_301_000  # 2026-11-23 20:05:01 UTC
NOW = T0 / 1000
ORDERS = DataSource("orders", (Column("ref", "Nullable(String)", "$.ref"), Column("v", "Int32", "$.v")))


def record(
    rows: list[bytes], rid: str = "req-1", ids: str = "req-1", dd: int = 0, name: str = "orders"
) -> bytes:
    header = RecordHeader(name, "ws1", False, rid, T0, 1, dd, ids)
    return b"".join(r.data for r in frame_rows(header, rows))


def order(ref: str, v: int) -> bytes:
    return orjson.dumps({"ref": ref, "v": v})


class Lake:
    """One registry, refs table and bucket, as the compactor function sees them."""

    def __init__(self, *sources: DataSource) -> None:
        self.registry = MemoryRegistry()
        for ds in sources or (ORDERS,):
            self.registry.create("ws1", ds)
        self.refs = MemoryRefStore()
        self.store = MemoryObjectStore()
        self.now = NOW

    def land(self, key: str, data: bytes | None = None) -> Outcome:
        if data is not None:
            self.store.objects[key] = data
        compactor = Compactor(
            self.store, self.registry, refs=self.refs, clock=lambda: self.now, claims=self.refs
        )
        return compactor.process(key)

    def rows(self, name: str = "orders") -> list[dict[str, Any]]:
        return [
            r
            for key, body in sorted(self.store.objects.items())
            if key.startswith(folder("ws1", name))
            for r in pq.read_table(io.BytesIO(body)).to_pylist()
        ]

    def owners(self) -> dict[str, str]:
        return {k: v[0] for k, v in self.refs.items.items()}


def test_a_record_in_two_raw_objects_lands_once() -> None:
    lake = Lake()
    rec = record([order("a", 1), b'{"v": 2}'])

    first = lake.land(A, rec)
    second = lake.land(B, rec + record([order("c", 3)], ids="req-2"))

    assert (first.rows, second.rows, second.duplicate_records, second.duplicate_rows) == (2, 1, 1, 2)
    assert sorted(r["v"] for r in lake.rows()) == [1, 2, 3]
    assert lake.owners()[record_key("req-1/0")] == owner_of(A)
    assert lake.owners()[ref_key("ws1", "orders", "a")] == "record:req-1/0"


def test_a_record_twice_in_one_object_lands_once_and_the_same_on_replay() -> None:
    # The ingest sent a PutRecordBatch again after its answer timed out: both copies are in one buffer.
    lake = Lake()
    rec = record([order("a", 1), b'{"v": 2}'])

    first = lake.land(A, rec + rec)
    again = lake.land(A)

    assert (first.rows, first.duplicate_records) == (2, 1)
    assert (again.files, again.rows) == (first.files, 2)
    assert sorted(r["v"] for r in lake.rows()) == [1, 2]


def test_quarantine_records_are_claimed_too() -> None:
    lake = Lake()
    q = b"".join(
        r.data
        for r in frame_rows(
            RecordHeader("orders", "ws1", True, "req-1", T0, 1, 0, "req-1/q"),
            [b'{"line":"x","column":"","error":"e"}'],
        )
    )
    lake.land(A, q)
    outcome = lake.land(B, q)
    assert (outcome.quarantined_rows, outcome.duplicate_records) == (0, 1)
    assert len(lake.rows("orders_quarantine")) == 1


def test_records_without_an_id_stay_at_least_once() -> None:
    lake = Lake(DataSource("plain", (Column("v", "Int32", "$.v"),)))
    rec = record([b'{"v": 1}'], ids="", name="plain")
    lake.land(A, rec)
    lake.land(B, rec)
    assert [r["v"] for r in lake.rows("plain")] == [1, 1]
    assert lake.refs.items == {}


def test_replaying_an_object_keeps_the_rows_it_landed_when_a_ref_was_taken_again_since() -> None:
    # Given a data source whose refs are held for a minute, object A lands ref x, and after the minute
    # object B lands x again (a new row, as the window allows)
    lake = Lake(DataSource("orders", ORDERS.columns, dedup_window_seconds=60))
    lake.land(A, record([order("x", 1), order("y", 2)]))
    lake.now += 61
    lake.land(B, record([order("x", 3)], ids="req-2"))
    assert sorted(r["v"] for r in lake.rows()) == [1, 2, 3]

    # When A is replayed (a Lambda retry, an operator)
    again = lake.land(A)

    # Then A's files are what they were: the decision its record claim keeps is reused
    assert (again.rows, again.duplicate_rows) == (2, 0)
    assert sorted(r["v"] for r in lake.rows()) == [1, 2, 3]
    assert lake.owners()[ref_key("ws1", "orders", "x")] == "record:req-2/0"


def test_a_replay_drops_what_the_first_landing_dropped_and_gives_back_what_it_took_meanwhile() -> None:
    lake = Lake(DataSource("orders", ORDERS.columns, dedup_window_seconds=60))
    lake.refs.claim([Claim(ref_key("ws1", "orders", "x"), "", int(NOW) + 60)], "req-0", NOW)
    first = lake.land(A, record([order("x", 1), order("y", 2)]))
    assert (first.rows, first.duplicate_rows) == (1, 1)
    assert lake.refs.items[record_key("req-1/0")][1] == Landed((0,)).payload()

    lake.now += 61  # req-0's claim of x has expired: a replay would now win it
    again = lake.land(A)

    assert (again.rows, again.duplicate_rows) == (1, 1)
    assert [r["v"] for r in lake.rows()] == [2]
    assert ref_key("ws1", "orders", "x") not in lake.owners()  # taken by the replay, given back


def test_a_compaction_retried_after_a_crash_between_the_claims_and_the_parquet_lands_every_row() -> None:
    class Crashing(MemoryObjectStore):
        crash = True

        def put(self, key: str, body: bytes, content_type: str) -> None:
            if self.crash:
                raise OSError("the function died")
            super().put(key, body, content_type)

    lake = Lake()
    lake.store = Crashing()
    rec = record([order("a", 1), order("a", 2), b'{"v": 3}'], dd=0)
    with pytest.raises(OSError, match="died"):
        lake.land(A, rec)
    assert record_key("req-1/0") in lake.refs.items and lake.rows() == []

    lake.store.crash = False
    outcome = lake.land(A)
    # Meanwhile Firehose delivered the record again in B: it is the same record, not new rows
    late = lake.land(B, rec)

    assert (outcome.rows, outcome.duplicate_rows) == (2, 1)
    assert (late.rows, late.duplicate_records) == (0, 1)
    assert sorted(r["v"] for r in lake.rows()) == [1, 3]


def test_a_copy_landed_first_by_another_object_wins_even_after_a_crash() -> None:
    # Object A claimed the record's refs (for the record) and died before its record claim; B carries the
    # same record: the refs are the record's, so B lands every row; A's replay then drops the record.
    lake = Lake()
    rec = record([order("a", 1), order("b", 2)])
    lake.refs.claim([Claim(ref_key("ws1", "orders", "a"), "", None, "record:req-1/0")], owner_of(A), NOW)

    b = lake.land(B, rec)
    a = lake.land(A, rec)

    assert (b.rows, a.rows, a.duplicate_records) == (2, 0, 1)
    assert sorted(r["v"] for r in lake.rows()) == [1, 2]


@pytest.fixture
def refuse_v_13(monkeypatch: pytest.MonkeyPatch) -> None:
    """The landing refuses rows with v=13 (the ingest accepted them): a disagreement it must survive."""

    def converting(ds: DataSource, lines: list[bytes], *args: Any) -> Converted:
        converted = rows_to_table(ds, lines, *args)
        bad = [i for i, line in enumerate(lines) if b'"v": 13' in line or b'"v":13' in line]
        if bad:
            raise ValueError("13 is unlucky")
        return converted

    monkeypatch.setattr(landing, "rows_to_table", converting)
    monkeypatch.setattr(landing, "fast_table", lambda ds, data, rows: None)


@pytest.mark.usefixtures("refuse_v_13")
def test_a_row_claimed_at_ingest_that_lands_in_quarantine_gives_its_ref_back() -> None:
    # Given a wait=true request (req-1) claimed refs a and b, and a later request re-claimed a (released)
    lake = Lake()
    lake.refs.claim([Claim(ref_key("ws1", "orders", k)) for k in ("a", "b", "c")], "req-1", NOW)
    lake.refs.release([ref_key("ws1", "orders", "c")], "req-1")
    lake.refs.claim([Claim(ref_key("ws1", "orders", "c"))], "req-9", NOW)
    rows = [order("a", 1), order("b", 13), order("c", 13)]

    outcome = lake.land(A, record(rows, dd=CLAIMED_REFS))

    # Then the row that did not land gave its ref back, the others keep theirs (c is req-9's)
    assert (outcome.rows, outcome.quarantined_rows) == (1, 2)
    assert {k: v for k, v in lake.owners().items() if not k.startswith("#")} == {
        ref_key("ws1", "orders", "a"): "req-1",
        ref_key("ws1", "orders", "c"): "req-9",
    }
    (q,) = [r for r in lake.rows("orders_quarantine") if orjson.loads(r[LINE])["ref"] == "b"]
    assert q[ERROR] == ["the row cannot be landed: ValueError: 13 is unlucky"]


@pytest.mark.usefixtures("refuse_v_13")
def test_a_vayu_event_quarantined_at_landing_gives_both_its_keys_back() -> None:
    events = DataSource(
        "events",
        (Column("name", "String", "$.name"), Column("ref", "String", "$.ref"), Column("v", "Int32", "$.v")),
    )
    lake = Lake(events)
    keys = [event_key("ws1", "events", "n", "r1"), event_lookup_key("ws1", "events", "r1")]
    keep = [event_key("ws1", "events", "n", "r2"), event_lookup_key("ws1", "events", "r2")]
    lake.refs.claim([Claim(k) for k in keys + keep], "req-1", NOW)
    rows = [b'{"name":"n","ref":"r1","v":13}', b'{"name":"n","ref":"r2","v":1}']

    lake.land(A, record(rows, dd=CLAIMED_EVENTS, name="events"))

    assert set(lake.owners()) == {*keep, record_key("req-1/0")}


@pytest.mark.usefixtures("refuse_v_13")
def test_rows_the_compactor_claims_are_claimed_only_when_they_land() -> None:
    lake = Lake()
    lake.land(A, record([order("a", 13), order("b", 1)]))
    assert set(lake.owners()) == {ref_key("ws1", "orders", "b"), record_key("req-1/0")}
    # The corrected row, sent again, lands
    lake.land(B, record([order("a", 1)], ids="req-2"))
    assert sorted(r["ref"] for r in lake.rows()) == ["a", "b"]


def test_a_throttled_record_claim_fails_the_object_and_its_retry_lands_it() -> None:
    lake = Lake()
    lake.refs.fail_claims = 1  # the first claim call (the record's) is throttled

    with pytest.raises(StoreUnavailable):
        lake.land(A, record([b'{"v": 1}']))
    assert lake.rows() == []
    assert lake.land(A).rows == 1


def test_an_async_row_whose_ref_no_dynamodb_key_can_hold_is_quarantined_and_the_rest_lands() -> None:
    lake = Lake()
    long_ref = "x" * 3000

    outcome = lake.land(A, record([order("a", 1), order(long_ref, 2), order("b", 3)]))

    assert (outcome.rows, outcome.quarantined_rows) == (2, 1)
    (q,) = lake.rows("orders_quarantine")
    assert q[ERROR] == [
        "dedup key $.ref is 3000 bytes: a key of at most 2048 bytes with its workspace and data source names"
    ]
    assert sorted(r["v"] for r in lake.rows()) == [1, 3]
    assert not any(long_ref in k for k in lake.refs.items)


def test_a_record_its_request_abandoned_never_lands_and_gives_back_the_refs_its_rows_took() -> None:
    # Given a record whose request gave up on it (its last send timed out) before any copy landed
    lake = Lake()
    lake.refs.items[record_key("req-1/0")] = (abandoned("req-1"), "", None)
    rec = record([order("a", 1), order("b", 2)])

    # When copies of it arrive in two objects
    first, second = lake.land(A, rec), lake.land(B, rec)

    # Then none lands, and no ref is left held: the client's retry (a new record) lands each row once
    assert (first.rows, first.duplicate_records, second.rows) == (0, 1, 0)
    assert lake.rows() == [] and lake.owners() == {record_key("req-1/0"): abandoned("req-1")}
    retry = lake.land("raw/retry", record([order("a", 1), order("b", 2)], rid="req-2", ids="req-2"))
    assert retry.rows == 2 and sorted(r["ref"] for r in lake.rows()) == ["a", "b"]
