"""The replay of quarantined rows (lakegate.lake.replay) on the in-memory stores: generated rows, a schema
widened to take some of them, and a replay killed after any number of writes, then run again: every row
lands exactly once, or stays quarantined with its new error."""

from __future__ import annotations

import contextlib
import io
from collections import Counter
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakegate.alter import altered
from lakegate.framing import RecordHeader, frame_rows
from lakegate.lake.compactor import Compactor
from lakegate.lake.layout import REPLAY_PREFIX, folder, quarantine_name
from lakegate.lake.replay import Replay, Replayed, check_again
from lakegate.memory import MemoryObjectStore, MemoryRefStore, MemoryRegistry
from lakegate.names import ERROR, LINE
from lakegate.schema import Column, DataSource

T0 = int(datetime(2026, 11, 23, 20, 5, 1, tzinfo=UTC).timestamp() * 1000)
WS = "ws1"
ORDERS = DataSource("orders", (Column("id", "Int64", "$.id"), Column("qty", "Int32", "$.qty")))
WIDER = "`id` Int64 `json:$.id`, `qty` Int64 `json:$.qty`"
INT32 = 2**31 - 1


class Died(Exception):
    """The process killed after a number of writes."""


@dataclass
class DyingStore(MemoryObjectStore):
    """Objects in memory; every write (PUT or delete) past `writes_left` kills the process first."""

    writes_left: int = -1

    def _write(self) -> None:
        if self.writes_left == 0:
            raise Died
        self.writes_left -= 1

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self._write()
        super().put(key, body, content_type)

    def delete(self, key: str) -> None:
        self._write()
        super().delete(key)


def _quarantined(
    rows: list[tuple[int, int]], batches: int
) -> tuple[DyingStore, MemoryRegistry, MemoryRefStore]:
    """`rows` sent to ORDERS in `batches` raw objects (an hour apart) and landed: a quantity over Int32
    quarantined, in one quarantine file per object."""
    store, registry, refs = DyingStore(), MemoryRegistry(), MemoryRefStore()
    registry.create(WS, ORDERS)
    compactor = Compactor(store, registry, None, refs, claims=refs)
    for b in range(batches):
        lines = [orjson.dumps({"id": i, "qty": q}) for i, q in rows[b::batches]]
        if not lines:
            continue
        header = RecordHeader("orders", WS, False, f"req-{b}", T0 + b * 3_600_000, 1, record_id=f"req-{b}")
        key = f"raw/2026/11/23/20/object-{b}"
        store.put(key, b"".join(r.data for r in frame_rows(header, lines)), "application/octet-stream")
        compactor.process(key)
    return store, registry, refs


def _landed(store: MemoryObjectStore, name: str) -> list[dict[str, Any]]:
    prefix = folder(WS, name)
    return [
        row
        for key, body in sorted(store.objects.items())
        if key.startswith(prefix) and key.endswith(".parquet")
        for row in pq.read_table(io.BytesIO(body)).to_pylist()
    ]


def _replay(store: DyingStore, registry: MemoryRegistry, refs: MemoryRefStore, dry: bool = False) -> Replayed:
    ds = registry.get(WS, "orders")
    assert ds is not None
    return Replay(store, Compactor(store, registry, None, refs, claims=refs), WS, ds).run(dry=dry)


rows_strategy = st.lists(st.tuples(st.integers(-(2**40), 2**40), st.booleans()), min_size=1, max_size=30).map(
    lambda qs: [(i, q if small else q * 4096 + 2**31) for i, (q, small) in enumerate(qs)]
)


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(rows=rows_strategy, batches=st.integers(1, 3), deaths=st.lists(st.integers(0, 12), max_size=3))
def test_every_row_lands_once_however_often_the_replay_dies(
    rows: list[tuple[int, int]], batches: int, deaths: list[int]
) -> None:
    # Given rows, those with a quantity over Int32 quarantined, then the quantity widened to Int64
    store, registry, refs = _quarantined(rows, batches)
    fits = {i for i, q in rows if -(2**31) <= q <= INT32}
    assert sorted(r["id"] for r in _landed(store, "orders")) == sorted(fits)
    current = registry.get(WS, "orders")
    assert current is not None
    registry.evolve(WS, altered(current, WIDER))
    # When the replay dies after any number of writes, as often as generated, and then runs to its end
    for writes in deaths:
        store.writes_left = writes
        with contextlib.suppress(Died):
            _replay(store, registry, refs)
    store.writes_left = -1
    _replay(store, registry, refs)
    # Then every row is in the data source exactly once, nothing is left quarantined or staged
    landed = Counter(r["id"] for r in _landed(store, "orders"))
    assert landed == Counter(i for i, _ in rows)
    assert {r["id"]: r["qty"] for r in _landed(store, "orders")} == dict(rows)
    assert _landed(store, quarantine_name("orders")) == []
    assert [k for k in store.objects if k.startswith(REPLAY_PREFIX)] == []


def test_a_dry_run_writes_nothing_and_counts_what_would_land() -> None:
    store, registry, refs = _quarantined([(1, 5), (2, 2**33), (3, 2**34)], 1)
    current = registry.get(WS, "orders")
    assert current is not None
    registry.evolve(WS, altered(current, WIDER))
    before = (dict(store.objects), dict(refs.items), dict(registry.items))

    done = _replay(store, registry, refs, dry=True)

    assert (store.objects, refs.items, registry.items) == before
    assert (done.replayed, done.still_failing, done.skipped) == (2, 0, 0)


def test_rows_that_still_do_not_fit_stay_with_their_new_error() -> None:
    # Given a row quarantined for its quantity, checked again against a schema that still refuses it
    store, registry, refs = _quarantined([(1, 2**33)], 1)
    (key,) = [k for k in store.objects if "_quarantine/" in k]
    table = pq.read_table(io.BytesIO(store.objects[key]))
    narrower = DataSource(
        "orders", (Column("id", "Int64", "$.id"), Column("qty", "Int16", "$.qty")), version=2
    )

    checked = check_again(narrower, table)

    assert checked.fits == []
    assert checked.failing[0][0] == "qty"
    done = _replay(store, registry, refs)
    (left,) = _landed(store, quarantine_name("orders"))
    assert left[LINE] == '{"id":1,"qty":8589934592}'
    assert "qty" in left[ERROR][0]
    assert (done.replayed, done.still_failing) == (0, 1)


def test_the_window_skips_rows_and_files_outside_it() -> None:
    store, registry, refs = _quarantined([(1, 2**33), (2, 2**34)], 2)  # two files, an hour apart
    current = registry.get(WS, "orders")
    assert current is not None
    registry.evolve(WS, altered(current, WIDER))
    ds = registry.get(WS, "orders")
    assert ds is not None
    replay = Replay(store, Compactor(store, registry, None, refs, claims=refs), WS, ds)
    first = datetime.fromtimestamp(T0 / 1000, UTC)

    assert len(replay.files()) == 2
    assert len(replay.files(since=first + timedelta(hours=1))) == 1
    done = replay.run(until=first + timedelta(minutes=30))

    assert (done.replayed, done.skipped, done.files) == (1, 0, 1)
    assert [r["id"] for r in _landed(store, "orders")] == [1]
    assert [orjson.loads(r[LINE])["id"] for r in _landed(store, quarantine_name("orders"))] == [2]
