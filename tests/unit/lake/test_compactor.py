"""The compactor's core: raw objects read, rows grouped and partitioned, files named for idempotency."""

from __future__ import annotations

import dataclasses
import gzip
import io
from datetime import UTC, datetime

import pyarrow.parquet as pq
import pytest

from lakegate.dedup import Claim
from lakegate.framing import RecordHeader, frame_rows, quarantine_row
from lakegate.lake.compactor import Compactor, compact, owner_of
from lakegate.lake.layout import error_key, ingestion_partition, part_key
from lakegate.lake.raw import UnreadableObject, read_raw
from lakegate.memory import MemoryObjectStore, MemoryRefStore, MemoryRegistry
from lakegate.names import ERROR, ERROR_COLUMN, IMPORT_ID, INSERTION_DATE, LINE
from lakegate.schema import Column, DataSource

T0 = int(datetime(2026, 11, 23, 20, 5, 1, tzinfo=UTC).timestamp() * 1000)
T1 = int(datetime(2026, 11, 23, 21, 0, 0, tzinfo=UTC).timestamp() * 1000)
KEY = "raw/2026/11/23/20/lakegate-DeliveryStream-1-2026-11-23-20-05-01-abc"
EVENTS = DataSource(
    "events",
    (
        Column("date", "DateTime", "$.date"),
        Column("city", "String", "$.city"),
        Column("n", "Nullable(Int8)", "$.n"),
    ),
    sorting_key=("city", "date"),
)


def _blob(*records: tuple[RecordHeader, list[bytes]]) -> bytes:
    return b"".join(r.data for header, rows in records for r in frame_rows(header, rows))


def _header(
    t: int = T0, ds: str = "events", q: bool = False, rid: str = "req-1", ws: str = "ws1"
) -> RecordHeader:
    return RecordHeader(ds, ws, q, rid, t, 1)


def _registry(*sources: tuple[str, DataSource]) -> MemoryRegistry:
    registry = MemoryRegistry()
    for ws, ds in sources or (("ws1", EVENTS),):
        registry.create(ws, ds)
    return registry


ROWS = [
    b'{"date":"2020-04-05 00:07:22","city":"Madrid","n":1}',
    b'{"date":"2020-04-05 00:05:38","city":"Chicago"}',
    b'{"date":"2020-04-05 00:01:00","city":"Madrid","n":2}',
]


# --- read_raw -----------------------------------------------------------------------------------------


def test_read_raw_takes_plain_and_gzip_objects_alike() -> None:
    blob = _blob((_header(), ROWS))
    assert read_raw(blob) == read_raw(gzip.compress(blob))
    assert read_raw(blob)[0].rows() == ROWS


def test_read_raw_takes_concatenated_gzip_members() -> None:
    one, two = _blob((_header(), ROWS[:1])), _blob((_header(), ROWS[1:]))
    records = read_raw(gzip.compress(one) + gzip.compress(two))
    assert [r.rows() for r in records] == [ROWS[:1], ROWS[1:]]


@pytest.mark.parametrize(
    ("blob", "reason"),
    [
        (b"hello\n", "not lakegate framing"),
        (gzip.compress(b"hello\n")[:-6], "not a readable gzip object"),
        (b"\x1f\x8bnot really gzip", "not a readable gzip object"),
        (_blob((_header(), ROWS))[:-5], "not lakegate framing"),
    ],
)
def test_read_raw_refuses_what_it_cannot_read(blob: bytes, reason: str) -> None:
    with pytest.raises(UnreadableObject, match=reason):
        read_raw(blob)


def test_an_object_whose_compressed_records_miscount_their_rows_is_set_aside() -> None:
    rows = [b'{"date":"2020-04-05 00:07:22","city":"Madrid","n":%d}' % (i % 100) for i in range(200)]
    (record,) = frame_rows(_header(), rows)
    head, _, packed = record.data.partition(b"\n")
    assert b'"z":1' in head
    miscounted = head.replace(b'"n":200', b'"n":199') + b"\n" + packed
    store = MemoryObjectStore({KEY: miscounted})

    outcome = Compactor(store, _registry()).process(KEY)

    assert outcome.error == "not lakegate framing: record at byte 0 holds 200 rows, its header says 199"
    assert not any(k.startswith("datasources/") for k in store.objects)


# --- compact ------------------------------------------------------------------------------------------


def test_rows_land_in_their_ingestion_hour_sorted_by_the_sorting_key() -> None:
    files = compact(KEY, _blob((_header(), ROWS)), _registry()).files
    (f,) = files
    assert f.key == part_key(KEY, "ws1", "events", "date=2026-11-23/hour=20")
    assert f.key.startswith("datasources/ws1/events/date=2026-11-23/hour=20/part-") and f.key.endswith(
        ".parquet"
    )
    assert [(r["city"], r["n"]) for r in f.table.to_pylist()] == [
        ("Chicago", None),
        ("Madrid", 2),
        ("Madrid", 1),
    ]


def test_records_of_different_hours_go_to_different_partitions() -> None:
    files = compact(KEY, _blob((_header(T0), ROWS[:1]), (_header(T1), ROWS[1:])), _registry()).files
    assert sorted((f.partition, f.table.num_rows) for f in files) == [
        ("date=2026-11-23/hour=20", 1),
        ("date=2026-11-23/hour=21", 2),
    ]


def test_file_names_derive_from_the_input_so_a_retry_overwrites() -> None:
    blob = _blob((_header(), ROWS))
    first = [f.key for f in compact(KEY, blob, _registry()).files]
    assert first == [f.key for f in compact(KEY, blob, _registry()).files]
    assert first != [f.key for f in compact(KEY + "-other", blob, _registry()).files]


def test_workspaces_never_share_a_file() -> None:
    files = compact(
        KEY,
        _blob((_header(ws="ws1"), ROWS[:1]), (_header(ws="ws2"), ROWS[1:])),
        _registry(("ws1", EVENTS), ("ws2", EVENTS)),
    ).files
    assert len({f.key for f in files}) == 2


def test_quarantine_records_and_rows_that_fail_conversion_land_in_the_quarantine_source() -> None:
    bad = b'{"date":"2020-04-05 00:05:38","city":"Paris","n":999}'
    q = quarantine_row(b"not json", "", "invalid JSON: expected value")
    files = compact(
        KEY, _blob((_header(), [*ROWS, bad]), (_header(q=True, rid="req-2"), [q])), _registry()
    ).files
    by_name = {f.datasource: f for f in files}
    assert by_name["events"].table.num_rows == 3
    quarantine = by_name["events_quarantine"]
    assert quarantine.quarantine
    assert quarantine.key.startswith("datasources/ws1/events_quarantine/date=2026-11-23/hour=20/part-")
    rows = quarantine.table.to_pylist()
    assert [(r[LINE], r[ERROR_COLUMN], r[ERROR], r[IMPORT_ID]) for r in rows] == [
        ("not json", [""], ["invalid JSON: expected value"], "req-2"),
        (bad.decode(), ["n"], ["value '999' on column 'n' is not Nullable(Int8)"], "req-1"),
    ]
    assert rows[1]["city"] == "Paris" and rows[1]["n"] == "999"
    assert {r[INSERTION_DATE] for r in rows} == {datetime(2026, 11, 23, 20, 5, 1, tzinfo=UTC)}


def test_rows_of_a_data_source_missing_from_the_registry_are_quarantined_not_dropped() -> None:
    (f,) = compact(KEY, _blob((_header(ds="gone"), ROWS[:1])), _registry()).files
    assert f.datasource == "gone_quarantine"
    assert f.table.to_pylist()[0][ERROR] == ["Data Source 'gone' is not in the registry of workspace 'ws1'"]


def test_an_empty_request_id_still_gives_an_import_id() -> None:
    q = quarantine_row(b"x", "", "e")
    (f,) = compact(KEY, _blob((_header(q=True, rid=""), [q])), _registry()).files
    assert f.table.to_pylist()[0][IMPORT_ID]


@pytest.mark.parametrize(
    ("key", "partitions"),
    [
        ("date", ["day=2020-04-05", "day=2020-05-01"]),
        ("toDate(date)", ["day=2020-04-05", "day=2020-05-01"]),
        ("toYYYYMM(date)", ["month=202004", "month=202005"]),
        ("toYear(date)", ["year=2020"]),
        ("city", ["date=2026-11-23/hour=20"]),  # not a date column: the default applies
    ],
)
def test_a_data_source_may_partition_by_its_own_date_column(key: str, partitions: list[str]) -> None:
    ds = DataSource("events", EVENTS.columns, partition_key=key)
    rows = [*ROWS, b'{"date":"2020-05-01 00:00:00","city":"Lima"}']
    files = compact(KEY, _blob((_header(), rows)), _registry(("ws1", ds))).files
    assert sorted(f.partition for f in files) == partitions
    assert sum(f.table.num_rows for f in files) == 4


def test_ingestion_partition_is_utc_date_and_hour() -> None:
    assert ingestion_partition(T0) == "date=2026-11-23/hour=20"
    assert ingestion_partition(0) == "date=1970-01-01/hour=00"


# --- Compactor (with the in-memory store) ---------------------------------------------------------------


def test_compactor_writes_parquet_files_and_counts_rows() -> None:
    store = MemoryObjectStore({KEY: gzip.compress(_blob((_header(), [*ROWS, b"[]"])))})
    outcome = Compactor(store, _registry()).process(KEY)
    assert (outcome.rows, outcome.quarantined_rows, outcome.error) == (3, 1, "")
    assert set(outcome.files) == set(store.objects) - {KEY}
    for key in outcome.files:
        assert pq.read_table(io.BytesIO(store.objects[key])).num_rows in (1, 3)


def test_compactor_sets_an_unreadable_object_aside_with_its_reason() -> None:
    store = MemoryObjectStore({KEY: b"garbage"})
    outcome = Compactor(store, _registry()).process(KEY)
    assert outcome.error.startswith("not lakegate framing")
    assert outcome.files == (error_key(KEY),) == ("errors/" + KEY,)
    assert store.objects[error_key(KEY)] == b"garbage"
    assert store.metadata[error_key(KEY)] == {"lakegate-error": outcome.error}
    assert not any(k.startswith("datasources/") for k in store.objects)


def test_compactor_expires_what_folder_names_prove_past_of_what_it_lands() -> None:
    # The TTL is on `date`, the folders are by ingestion: only the quarantine's folder (by ingestion time)
    # proves its rows past; the data source's rows are judged one by one by the scheduled run.
    ds = dataclasses.replace(EVENTS, ttl="date + toIntervalDay(1)")
    old = "datasources/ws1/events/date=2026-11-20/hour=03/part-old.parquet"
    old_q = "datasources/ws1/events_quarantine/date=2026-11-20/hour=03/part-old.parquet"
    store = MemoryObjectStore({KEY: _blob((_header(), [*ROWS, b"[]"])), old: b"x", old_q: b"x"})
    now = datetime(2026, 11, 23, 20, 6, tzinfo=UTC).timestamp()

    outcome = Compactor(store, _registry(("ws1", ds)), clock=lambda: now).process(KEY)

    assert outcome.expired == ("datasources/ws1/events_quarantine/date=2026-11-20/",)
    assert old in store.objects and old_q not in store.objects
    assert set(outcome.files) <= set(store.objects)  # what it just landed is today's: kept


def test_a_stored_ttl_that_cannot_be_applied_is_reported_and_the_rows_land() -> None:
    ds = dataclasses.replace(EVENTS, ttl="city + toIntervalDay(1)")
    store = MemoryObjectStore({KEY: _blob((_header(), ROWS))})

    outcome = Compactor(store, _registry(("ws1", ds))).process(KEY)

    assert outcome.rows == 3
    assert "which is not a Date or DateTime column" in outcome.expiry_error


# --- schema evolution ---------------------------------------------------------------------------------


def test_a_new_field_becomes_a_nullable_column_and_lands() -> None:
    registry = _registry()
    rows = [ROWS[0], b'{"date":"2020-04-05 00:00:00","city":"Oslo","temp":{"c":3.5},"tags":["x"]}']

    (f,) = compact(KEY, _blob((_header(), rows)), registry).files

    ds = registry.get("ws1", "events")
    assert ds is not None and ds.version == 2
    assert [(c.name, c.type, c.jsonpath) for c in ds.columns[3:]] == [
        ("temp_c", "Nullable(Float64)", "$.temp.c"),
        ("tags", "Array(String)", "$.tags[:]"),
    ]
    assert [(r["city"], r["temp_c"], r["tags"]) for r in f.table.to_pylist()] == [
        ("Madrid", None, []),
        ("Oslo", 3.5, ["x"]),
    ]


def test_known_fields_and_fields_inside_known_paths_change_nothing() -> None:
    ds = DataSource("events", (*EVENTS.columns, Column("meta", "String", "$.meta")))
    registry = _registry(("ws1", ds))
    compact(KEY, _blob((_header(), [b'{"date":"2020-04-05 00:00:00","city":"x","meta":{"a":1}}'])), registry)
    assert registry.get("ws1", "events") == ds


def test_a_later_value_of_another_type_is_quarantined_not_widened() -> None:
    registry = _registry()
    compact(KEY, _blob((_header(), [b'{"date":"2020-04-05 00:00:00","city":"x","n2":1}'])), registry)
    files = compact(
        KEY + "2", _blob((_header(), [b'{"date":"2020-04-05 00:00:00","city":"x","n2":"one"}'])), registry
    ).files
    (q,) = [f for f in files if f.quarantine]
    assert q.table.to_pylist()[0][ERROR] == ["value 'one' on column 'n2' is not Nullable(Int64)"]


class RacingRegistry(MemoryRegistry):
    """Another compactor adds its own column just before our first write."""

    def __init__(self) -> None:
        super().__init__()
        self.raced = False

    def evolve(self, workspace: str, ds: DataSource) -> DataSource:
        if not self.raced:
            self.raced = True
            current = self.items[(workspace, ds.name)]
            other = Column("theirs", "Nullable(String)", "$.theirs")
            super().evolve(workspace, DataSource(ds.name, (*current.columns, other), current.version + 1))
        return super().evolve(workspace, ds)


def test_racing_evolutions_converge_on_both_columns() -> None:
    registry = RacingRegistry()
    registry.create("ws1", EVENTS)

    compact(KEY, _blob((_header(), [b'{"date":"2020-04-05 00:00:00","city":"x","mine":true}'])), registry)

    ds = registry.get("ws1", "events")
    assert ds is not None and ds.version == 3
    assert [c.name for c in ds.columns[3:]] == ["theirs", "mine"]


# --- refs: rows that came without wait=true are deduplicated here ------------------------------------

ORDERS = DataSource(
    "orders", (Column("ref", "Nullable(String)", "$.ref"), Column("v", "Int32", "$.v")), sorting_key=("v",)
)


def _orders(
    refs: MemoryRefStore, *records: tuple[RecordHeader, list[bytes]]
) -> tuple[list[dict[str, object]], int]:
    result = compact(KEY, _blob(*records), _registry(("ws1", ORDERS)), refs, 1_000.0)
    rows = [r for f in result.files if not f.quarantine for r in f.table.to_pylist()]
    return rows, result.duplicate_rows


def _order_header(deduplicated: bool = False, t: int = T0) -> RecordHeader:
    return RecordHeader("orders", "ws1", False, "req-1", t, 1, deduplicated=deduplicated)


def test_refs_held_elsewhere_and_repeats_in_the_object_are_dropped() -> None:
    refs = MemoryRefStore()
    refs.claim([Claim("ws1#orders#row:held")], "req-0", 1_000.0)
    lines = [b'{"ref":"a","v":1}', b'{"ref":"held","v":2}', b'{"ref":"a","v":3}', b'{"v":4}']

    rows, duplicates = _orders(refs, (_order_header(), lines))

    assert rows == [{"ref": "a", "v": 1}, {"ref": None, "v": 4}]
    assert duplicates == 2
    assert {k: v[0] for k, v in refs.items.items()} == {
        "ws1#orders#row:held": "req-0",
        "ws1#orders#row:a": owner_of(KEY),
    }


def test_rows_claimed_at_ingest_land_without_a_claim() -> None:
    refs = MemoryRefStore()
    refs.claim([Claim("ws1#orders#row:w")], "req-1", 1_000.0)  # the wait=true request's own claim

    rows, duplicates = _orders(
        refs,
        (_order_header(deduplicated=True), [b'{"ref":"w","v":1}']),
        (_order_header(t=T1), [b'{"ref":"w","v":2}', b'{"ref":"n","v":3}']),
    )

    assert rows == [{"ref": "w", "v": 1}, {"ref": "n", "v": 3}]
    assert duplicates == 1


def test_a_retried_object_keeps_the_rows_it_claimed() -> None:
    refs = MemoryRefStore()
    lines = [b'{"ref":"a","v":1}', b'{"ref":"b","v":2}']
    first = _orders(refs, (_order_header(), lines))

    assert _orders(refs, (_order_header(), lines)) == first
    assert first[1] == 0


def test_without_a_ref_store_nothing_is_deduplicated() -> None:
    lines = [b'{"ref":"a","v":1}', b'{"ref":"a","v":2}']
    result = compact(KEY, _blob((_order_header(), lines)), _registry(("ws1", ORDERS)))
    assert sum(f.table.num_rows for f in result.files) == 2
