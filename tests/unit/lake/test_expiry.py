"""TTL applied to the lake: a row goes only once its own TTL column is past, whatever the partition key;
folders go whole only where their names prove it; files the cutoff falls inside are rewritten in place."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime, timedelta

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakegate.framing import RecordHeader, frame_rows
from lakegate.lake.compactor import Compactor
from lakegate.lake.expiry import (
    FOOTER_BYTES,
    expire_all,
    expire_datasource,
    expire_files,
    expire_folders,
)
from lakegate.lake.layout import folder, quarantine_name
from lakegate.memory import MemoryObjectStore, MemoryRegistry
from lakegate.schema import Column, DataSource

DAY = 86400
WS = "ws1"
NOW = datetime(2026, 11, 30, 12, 0, 0, 250000, tzinfo=UTC)
BASE = folder(WS, "events")


def _store(*keys: str) -> MemoryObjectStore:
    return MemoryObjectStore({k: b"x" for k in keys})


# --- folders whose names bound the TTL column -------------------------------------------------------------


def test_expire_folders_deletes_whole_days_past_the_cutoff_and_the_hours_past_it_in_the_newest_day() -> None:
    q = folder(WS, "events_quarantine")
    store = _store(
        q + "date=2026-11-20/hour=10/part-a.parquet",
        q + "date=2026-11-20/hour=23/part-b.parquet",
        q + "date=2026-11-21/hour=05/part-c.parquet",
        q + "date=2026-11-21/hour=06/part-d.parquet",
        q + "date=2026-11-21/hour=07/part-e.parquet",
        q + "date=2026-11-23/hour=00/part-f.parquet",
        BASE + "date=2026-11-01/hour=00/part-o.parquet",
    )

    gone = expire_folders(store, q, datetime(2026, 11, 21, 7, 30, tzinfo=UTC))

    assert gone == [q + "date=2026-11-20/", q + "date=2026-11-21/hour=05/", q + "date=2026-11-21/hour=06/"]
    assert sorted(store.objects) == [
        BASE + "date=2026-11-01/hour=00/part-o.parquet",  # another folder: untouched
        q + "date=2026-11-21/hour=07/part-e.parquet",  # ends 08:00, after the cutoff
        q + "date=2026-11-23/hour=00/part-f.parquet",
    ]


def test_expire_folders_takes_column_partitions_whole_and_never_a_null_one() -> None:
    store = _store(
        BASE + "month=202609/part-a.parquet",
        BASE + "month=202610/part-b.parquet",
        BASE + "month=202611/part-c.parquet",
        BASE + "month=__HIVE_DEFAULT_PARTITION__/part-d.parquet",
    )
    assert expire_folders(store, BASE, datetime(2026, 10, 31, 12, tzinfo=UTC)) == [BASE + "month=202609/"]
    assert len(store.objects) == 3
    assert expire_folders(_store(), BASE, NOW) == []


# --- the case: partitioned by one column, TTL on another ----------------------------------------

ORDERS = DataSource(
    "orders",
    (
        Column("i", "Int64", "$.i"),
        Column("event_date", "Date", "$.event_date"),
        Column("received_at", "DateTime", "$.received_at"),
    ),
    partition_key="toYYYYMM(event_date)",
    ttl="received_at + toIntervalDay(30)",
)


def _raw(ds: str, rows: list[dict[str, object]], ingested: datetime, ws: str = WS) -> bytes:
    header = RecordHeader(ds, ws, False, "req-1", int(ingested.timestamp() * 1000), 1)
    return b"".join(r.data for r in frame_rows(header, [orjson.dumps(r) for r in rows]))


def _land(
    store: MemoryObjectStore, registry: MemoryRegistry, ds: str, rows: list[dict[str, object]], now: datetime
) -> None:
    key = f"raw/2026/11/30/12/stream-1-{len(store.objects)}"
    store.objects[key] = _raw(ds, rows, now)
    outcome = Compactor(store, registry, clock=now.timestamp).process(key)
    assert not outcome.error and not outcome.expiry_error, outcome
    del store.objects[key]


def _rows(store: MemoryObjectStore, ws: str, name: str) -> list[dict[str, object]]:
    return [
        r
        for key in store.keys(folder(ws, name))
        for r in pq.read_table(io.BytesIO(store.objects[key])).to_pylist()
    ]


def _ids(store: MemoryObjectStore, ws: str, name: str) -> list[int]:
    return sorted(int(str(r["i"])) for r in _rows(store, ws, name))


def _at(t: datetime) -> str:
    return f"{t:%Y-%m-%d %H:%M:%S}"


def test_a_row_with_an_old_partition_date_received_now_is_not_deleted_by_the_landing_or_the_schedule() -> (
    None
):
    registry = MemoryRegistry()
    registry.create(WS, ORDERS)
    store = MemoryObjectStore()
    rows: list[dict[str, object]] = [
        {"i": 1, "event_date": "2024-01-15", "received_at": _at(NOW)},  # old event, received now: stays
        {"i": 2, "event_date": "2024-01-20", "received_at": _at(NOW - timedelta(days=31))},  # past: goes
        {"i": 3, "event_date": "2026-11-29", "received_at": _at(NOW - timedelta(days=29))},  # stays
        {"i": 4, "event_date": "2026-11-28", "received_at": _at(NOW - timedelta(days=40))},  # past: goes
    ]

    _land(store, registry, "orders", rows, NOW)
    assert _ids(store, WS, "orders") == [
        1,
        2,
        3,
        4,
    ]  # the landing deletes no row its folder cannot prove past

    done = expire_all(store, registry, NOW)

    assert _ids(store, WS, "orders") == [1, 3]
    assert sorted(done.rewritten) == sorted(store.keys(folder(WS, "orders")))  # both months mixed: rewritten
    assert done.deleted == [] and done.errors == []
    # Running it again changes nothing: the rewrite is idempotent.
    again = expire_all(store, registry, NOW)
    assert (again.deleted, again.rewritten, _ids(store, WS, "orders")) == ([], [], [1, 3])


def test_a_file_whose_rows_are_all_past_is_deleted_and_one_with_none_is_not_even_read() -> None:
    registry = MemoryRegistry()
    registry.create(WS, ORDERS)
    store = MemoryObjectStore()
    _land(store, registry, "orders", [{"i": 1, "event_date": "2024-01-15", "received_at": _at(NOW)}], NOW)
    old = NOW - timedelta(days=90)
    _land(store, registry, "orders", [{"i": 2, "event_date": "2024-02-15", "received_at": _at(old)}], NOW)
    reads: list[str] = []
    get = store.get

    def counted(key: str) -> bytes:
        reads.append(key)
        return get(key)

    store.get = counted  # type: ignore[method-assign]

    done = expire_all(store, registry, NOW)

    assert _ids(store, WS, "orders") == [1]
    assert len(done.deleted) == 1 and done.rewritten == []
    assert reads == []  # both judged by their footers alone


def test_a_file_that_is_not_parquet_is_reported_and_kept() -> None:
    store = _store(
        BASE + "date=2020-01-01/hour=00/part-x.parquet", BASE + "date=2020-01-01/hour=00/notes.txt"
    )
    done = expire_files(store, store.keys(BASE), "ts", NOW)
    assert len(store.objects) == 2 and done.deleted == [] and len(done.errors) == 1


def test_a_footer_larger_than_the_tail_read_is_read_whole() -> None:
    wide = {f"c{j:04d}_{'x' * 40}": pa.array([1], pa.int64()) for j in range(1500)}
    ts = pa.array([datetime(2020, 1, 1, tzinfo=UTC)], pa.timestamp("s", "UTC"))
    sink = io.BytesIO()
    pq.write_table(pa.table({"ts": ts, **wide}), sink)
    body = sink.getvalue()
    store = MemoryObjectStore({BASE + "date=2020-01-01/hour=00/part-w.parquet": body})
    assert int.from_bytes(body[-8:-4], "little") > FOOTER_BYTES

    done = expire_files(store, store.keys(BASE), "ts", NOW)

    assert done.deleted == [BASE + "date=2020-01-01/hour=00/part-w.parquet"] and not store.objects


def test_a_stored_ttl_that_cannot_be_applied_deletes_nothing_and_says_why() -> None:
    ds = DataSource("orders", ORDERS.columns, ttl="i + toIntervalDay(1)")
    store = _store(folder(WS, "orders") + "date=2000-01-01/hour=00/part-a.parquet")
    done = expire_datasource(store, WS, ds, NOW)
    assert len(store.objects) == 1 and "is not a Date or DateTime column" in done.errors[0]


def test_each_workspace_expires_by_its_own_definition() -> None:
    registry = MemoryRegistry()
    registry.create("ws_a", ORDERS)
    registry.create("ws_b", DataSource("orders", ORDERS.columns, partition_key="toYYYYMM(event_date)"))
    store = MemoryObjectStore()
    old = {"i": 1, "event_date": "2024-01-15", "received_at": _at(NOW - timedelta(days=90))}
    for ws in ("ws_a", "ws_b"):
        key = f"raw/{ws}"
        store.objects[key] = _raw("orders", [old], NOW, ws)
        Compactor(store, registry, clock=NOW.timestamp).process(key)
        del store.objects[key]
    if folder("ws_a", "orders") == folder("ws_b", "orders"):
        pytest.skip("the lake's paths do not hold the workspace yet")

    expire_all(store, registry, NOW)

    assert (_ids(store, "ws_a", "orders"), _ids(store, "ws_b", "orders")) == ([], [1])


# --- generated: partition key x TTL column x row times ---------------------------------------------------

COLUMNS = (
    Column("i", "Int64", "$.i"),
    Column("ts", "DateTime", "$.ts"),
    Column("d", "Date", "$.d"),
    Column("ny", "DateTime('America/New_York')", "$.ny"),
    Column("t64", "DateTime64(3)", "$.t64"),
    Column("maybe", "Nullable(DateTime)", "$.maybe"),
)
TIME_COLUMNS = ("ts", "d", "ny", "t64", "maybe")
# Partition keys the Data Sources API accepts: on a column that is never null.
PARTITION_COLUMNS = ("ts", "d", "ny", "t64")
PARTITIONS = ["", *(f"{fn}({c})" for fn in ("toDate", "toYYYYMM", "toYear") for c in PARTITION_COLUMNS), "ts"]

offsets = st.integers(min_value=-800 * DAY, max_value=40 * DAY)  # seconds from NOW


def _value(column: str, offset: int | None) -> tuple[object, datetime | None]:
    """The JSON value of a row's column `offset` seconds from NOW, and the instant its TTL counts from."""
    if offset is None:
        return None, None
    t = (NOW + timedelta(seconds=offset)).replace(microsecond=0)
    if column == "d":
        return f"{t:%Y-%m-%d}", datetime(t.year, t.month, t.day, tzinfo=UTC)
    return f"{t:%Y-%m-%d %H:%M:%S}Z", t


@st.composite
def cases(draw: st.DrawFn) -> tuple[DataSource, list[dict[str, object]], dict[int, datetime | None], int]:
    partition = draw(st.sampled_from(PARTITIONS))
    column = draw(st.sampled_from(TIME_COLUMNS))
    n, unit, seconds = draw(
        st.one_of(
            st.integers(0, 400).map(lambda n: (n, "Day", n * DAY)),
            st.integers(0, 72).map(lambda n: (n, "Hour", n * 3600)),
        )
    )
    ds = DataSource("gen", COLUMNS, partition_key=partition, ttl=f"{column} + toInterval{unit}({n})")
    rows: list[dict[str, object]] = []
    ttl_times: dict[int, datetime | None] = {}
    for i in range(draw(st.integers(1, 12))):
        row: dict[str, object] = {"i": i}
        for c in TIME_COLUMNS:
            offset = draw(st.none() | offsets) if c == "maybe" else draw(offsets)
            row[c], instant = _value(c, offset)
            if c == column:
                ttl_times[i] = instant
        rows.append(row)
    return ds, rows, ttl_times, seconds


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(cases(), st.integers(min_value=0, max_value=3))
def test_expiry_removes_exactly_the_rows_whose_own_ttl_is_past(
    case: tuple[DataSource, list[dict[str, object]], dict[int, datetime | None], int], batches: int
) -> None:
    ds, rows, ttl_times, seconds = case
    registry = MemoryRegistry()
    registry.create(WS, ds)
    store = MemoryObjectStore()
    # Rows arrive in up to four raw objects, so partitions hold several files.
    for part in range(batches + 1):
        chunk = rows[part :: batches + 1]
        if chunk:
            _land(store, registry, "gen", chunk, NOW)
    zone_margin = timedelta(days=1) if ds.ttl.startswith("ny") else timedelta(0)

    def past(i: int, margin: timedelta = timedelta(0)) -> bool:
        t = ttl_times[i]
        return t is not None and t + timedelta(seconds=seconds) + margin <= NOW

    landed = set(_ids(store, WS, "gen"))
    assert landed >= {i for i in ttl_times if not past(i)}  # the landing's folder pass: never early
    assert not _ids(store, WS, quarantine_name("gen"))

    done = expire_all(store, registry, NOW)

    left = set(_ids(store, WS, "gen"))
    # Never early; and every row past by more than a zoned column's day of margin is gone.
    assert {i for i in ttl_times if not past(i)} <= left <= {i for i in ttl_times if not past(i, zone_margin)}
    if not zone_margin:
        assert left == {i for i in ttl_times if not past(i)}
    assert not done.errors
    # What is left is whole rows, as landed, every column intact.
    by_id = {int(str(r["i"])): r for r in _rows(store, WS, "gen")}
    for i, r in by_id.items():
        assert r["d"] == (date.fromisoformat(str(rows[i]["d"])))


def test_a_zoned_day_folder_is_not_taken_before_its_last_local_hour_is_past() -> None:
    # 03:00 UTC on Nov 30 is 22:00 on Nov 29 in New York: folder day=2026-11-29, whose UTC day ended at 00:00.
    ds = DataSource("gen", COLUMNS, partition_key="toDate(ny)", ttl="ny + toIntervalHour(9)")
    registry = MemoryRegistry()
    registry.create(WS, ds)
    store = MemoryObjectStore()
    row = {c: _value(c, 0)[0] for c in TIME_COLUMNS} | {"i": 7, "ny": "2026-11-30 03:00:00Z"}
    _land(store, registry, "gen", [row], NOW)
    assert [k.split("/")[-2] for k in store.keys(folder(WS, "gen"))] == ["day=2026-11-29"]

    expire_all(store, registry, NOW)  # the row's TTL ends at 12:00:00, a quarter second before NOW

    assert _ids(store, WS, "gen") == [7]  # kept: a zoned column's folders and rows get a day's margin
    expire_all(store, registry, NOW + timedelta(days=1))
    assert _ids(store, WS, "gen") == []
