"""No row sinks a raw object: rows that make the landing raise go to quarantine with the error, a data source
whose definition cannot be applied is set aside to its quarantine, and every other row lands. Checked on
what the compactor wrote (Parquet read back from the store), with injected failures and real definitions."""

from __future__ import annotations

import io
import random
from collections import Counter
from collections.abc import Sequence
from datetime import UTC, datetime
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest

from lakegate.framing import RecordHeader, frame_rows
from lakegate.lake import landing
from lakegate.lake.compactor import Compactor, Outcome
from lakegate.lake.layout import folder, workspace_folder
from lakegate.lake.parquet import Converted, ParsedLines, rows_to_table
from lakegate.memory import MemoryObjectStore, MemoryRegistry
from lakegate.names import ERROR, LINE
from lakegate.schema import Column, DataSource

KEY = "raw/2026/11/23/20/lakegate-DeliveryStream-1-2026-11-23-20-05-01-abc"
T0 = int(datetime(2026, 11, 23, 20, 5, 1, tzinfo=UTC).timestamp() * 1000)
GOOD = DataSource(
    "good", (Column("id", "Int64", "$.id"), Column("s", "Nullable(String)", "$.s")), sorting_key=("id",)
)


def blob(*groups: tuple[str, Sequence[bytes]], version: int = 1) -> bytes:
    return b"".join(
        r.data
        for name, rows in groups
        for r in frame_rows(RecordHeader(name, "ws1", False, "req-1", T0, version), list(rows))
    )


def land(data: bytes, *sources: DataSource) -> tuple[Outcome, MemoryObjectStore]:
    registry = MemoryRegistry()
    for ds in sources:
        registry.create("ws1", ds)
    store = MemoryObjectStore({KEY: data})
    return Compactor(store, registry).process(KEY), store


def landed(store: MemoryObjectStore) -> dict[str, list[dict[str, Any]]]:
    """Rows per folder (`good`, `good_quarantine`, ...), read back from the Parquet written."""
    out: dict[str, list[dict[str, Any]]] = {}
    for key, body in sorted(store.objects.items()):
        if key.startswith(workspace_folder("ws1")):
            out.setdefault(key.split("/")[2], []).extend(pq.read_table(io.BytesIO(body)).to_pylist())
    return out


def row(i: int, **extra: object) -> bytes:
    return orjson.dumps({"id": i, "s": f"v{i}"} | extra)


# --- rows that make the conversion raise ------------------------------------------------------------------


@pytest.fixture
def boom(monkeypatch: pytest.MonkeyPatch) -> None:
    """The reference converter raises (not a row error: an exception) for any batch holding a BOOM line."""

    def converting(
        ds: DataSource, lines: Sequence[bytes], now_ms: Sequence[int], parsed: ParsedLines | None = None
    ) -> Converted:
        if any(b"BOOM" in line for line in lines):
            raise RuntimeError("boom")
        return rows_to_table(ds, lines, now_ms, parsed)

    monkeypatch.setattr(landing, "rows_to_table", converting)
    monkeypatch.setattr(landing, "fast_table", lambda ds, data, rows: None)


CASES = [
    (seed, size, share) for seed in range(12) for size, share in ((1, 1.0), (7, 0.3), (60, 0.05), (300, 0.1))
]


@pytest.mark.usefixtures("boom")
@pytest.mark.parametrize(("seed", "size", "share"), CASES)
def test_rows_that_make_the_landing_raise_go_to_quarantine_alone(seed: int, size: int, share: float) -> None:
    # Given rows of which a random few make the converter raise, beside another data source's rows
    rng = random.Random(seed)
    bad = {i for i in range(size) if rng.random() < share} or {rng.randrange(size)}
    rows = [row(i, s="BOOM" if i in bad else f"v{i}") for i in range(size)]
    other = DataSource("other", GOOD.columns)

    outcome, store = land(blob(("good", rows), ("other", [row(1000)])), GOOD, other)

    # Then each bad row is in quarantine with the error, every other row landed, the object did not fail
    out = landed(store)
    assert outcome.error == ""
    assert out["other"] == [{"id": 1000, "s": "v1000"}]
    quarantined = {orjson.loads(r[LINE])["id"]: r[ERROR] for r in out.get("good_quarantine", [])}
    if outcome.set_aside_rows:  # every row failed alone: nothing tells a row's fault from the source's
        assert bad == set(range(size)) and set(quarantined) == bad
        return
    assert quarantined == {i: ["the row cannot be landed: RuntimeError: boom"] for i in bad}
    assert [r["id"] for r in out.get("good", [])] == sorted(set(range(size)) - bad)


def test_a_failure_of_the_data_source_itself_sets_its_rows_aside_and_lands_the_others(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given a data source whose rows can never convert (whatever they hold), beside a good one
    def converting(ds: DataSource, lines: Sequence[bytes], *args: Any) -> Converted:
        if ds.name == "broken":
            raise KeyError("a definition the compactor cannot apply")
        return rows_to_table(ds, lines, *args)

    monkeypatch.setattr(landing, "rows_to_table", converting)
    monkeypatch.setattr(landing, "fast_table", lambda ds, data, rows: None)
    broken = DataSource("broken", GOOD.columns)
    rows = [row(i) for i in range(50)]

    outcome, store = land(blob(("broken", rows), ("good", rows[:3])), GOOD, broken)

    out = landed(store)
    assert [r["id"] for r in out["good"]] == [0, 1, 2]
    assert sorted(orjson.loads(r[LINE])["id"] for r in out["broken_quarantine"]) == list(range(50))
    (error,) = {e for r in out["broken_quarantine"] for e in r[ERROR]}
    assert error.startswith("set aside: the Data Source 'broken' cannot land rows as defined (KeyError:")
    assert (outcome.set_aside_rows, outcome.rows, outcome.quarantined_rows) == (50, 3, 50)
    assert outcome.set_aside == ("ws1/broken: KeyError: 'a definition the compactor cannot apply'",)


def test_a_failure_of_rows_together_but_never_alone_is_the_data_sources(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def converting(ds: DataSource, lines: Sequence[bytes], *args: Any) -> Converted:
        if len(lines) > 1:
            raise ValueError("two rows never go together")
        return rows_to_table(ds, lines, *args)

    monkeypatch.setattr(landing, "rows_to_table", converting)
    monkeypatch.setattr(landing, "fast_table", lambda ds, data, rows: None)

    outcome, store = land(blob(("good", [row(i) for i in range(9)])), GOOD)

    assert outcome.set_aside_rows == 9
    assert len(landed(store)["good_quarantine"]) == 9


# --- definitions the compactor cannot apply, and values it cannot partition (stored past the API) -------


@pytest.mark.parametrize(
    ("ds", "reason"),
    [
        (
            DataSource(
                "bad",
                (Column("id", "Int64", "$.id"), Column("tags", "Array(String)", "$.tags[:]")),
                sorting_key=("tags",),
            ),
            "Sorting not supported",
        ),
        (
            DataSource(
                "bad",
                (Column("id", "Int64", "$.id"), Column("ts", "Array(DateTime)", "$.ts[:]")),
                partition_key="toDate(ts)",
            ),
            "no date in a column of list",
        ),
    ],
)
def test_a_definition_that_cannot_be_applied_sets_its_rows_aside(ds: DataSource, reason: str) -> None:
    rows = [
        orjson.dumps({"id": i, "tags": ["a"], "ts": ["2020-01-01 00:00:00"], "[:]": "x"}) for i in range(5)
    ]

    outcome, store = land(blob(("bad", rows), ("good", [row(7)])), ds, GOOD)

    out = landed(store)
    assert out["good"] == [{"id": 7, "s": "v7"}]
    assert "bad" not in out
    assert sorted(orjson.loads(r[LINE])["id"] for r in out["bad_quarantine"]) == list(range(5))
    assert outcome.set_aside_rows == 5
    assert reason in outcome.set_aside[0]


def test_a_field_named_like_the_array_step_lands_in_its_own_column() -> None:
    """Its column's jsonpath `$.['[:]']` once read as an array step, with no key: every object failed."""
    ds = DataSource("odd", (Column("id", "Int64", "$.id"), Column("x", "String", "$.['[:]']")))
    rows = [orjson.dumps({"id": i, "[:]": f"x{i}"}) for i in range(3)]

    outcome, store = land(blob(("odd", rows)), ds)

    assert sorted(r["x"] for r in landed(store)["odd"]) == ["x0", "x1", "x2"]
    assert outcome.set_aside_rows == 0


def test_nanoseconds_partition_by_day_and_land_whole() -> None:
    ds = DataSource(
        "ns", (Column("ts", "DateTime64(9)", "$.ts"),), partition_key="toDate(ts)", sorting_key=("ts",)
    )
    rows = [b'{"ts":"2024-05-01 23:59:59.999999999"}', b'{"ts":"2024-05-02 00:00:00.000000001"}']

    outcome, store = land(blob(("ns", rows)), ds)

    assert (outcome.rows, outcome.set_aside_rows) == (2, 0)
    folders = sorted(k.split("/")[3] for k in store.objects if k.startswith(folder("ws1", "ns")))
    assert folders == ["day=2024-05-01", "day=2024-05-02"]
    nanos = [
        t.value
        for k, body in store.objects.items()
        if k.startswith("datasources/")
        for t in pq.read_table(io.BytesIO(body)).column("ts")
    ]
    assert sorted(nanos) == [1714607999999999999, 1714608000000000001]


@pytest.mark.parametrize(
    "value",
    [
        b'"0000-01-01 00:00:00"',  # year 0: Arrow reads it, no calendar holds it
        b"1e18",
        b"-1e18",
        b"9223372036854775807",
        b"1e300",
    ],
)
def test_a_partition_value_out_of_range_is_quarantined_alone(value: bytes) -> None:
    ds = DataSource(
        "p", (Column("id", "Int64", "$.id"), Column("ts", "DateTime", "$.ts")), partition_key="toYYYYMM(ts)"
    )
    rows = [
        b'{"id":1,"ts":"2024-05-01 00:00:00"}',
        b'{"id":2,"ts":' + value + b"}",
        b'{"id":3,"ts":"2024-06-01 00:00:00"}',
    ]

    outcome, store = land(blob(("p", rows)), ds)

    out = landed(store)
    assert sorted(r["id"] for r in out["p"]) == [1, 3]
    assert [orjson.loads(r[LINE])["id"] for r in out["p_quarantine"]] == [2]
    assert outcome.set_aside_rows == 0


@pytest.mark.parametrize("depth", [254, 255, 600, 1023, 1024])
def test_a_value_nested_deeper_than_orjson_writes_lands_as_its_text(depth: int) -> None:
    deep = b"[" * depth + b"]" * depth
    rows = [row(1), b'{"id":2,"s":' + deep + b"}", row(3)]

    outcome, store = land(blob(("good", rows)), GOOD)

    out = landed(store)
    if depth == 1024:  # with the row's own object, past the 1,024 levels orjson reads: not JSON, as at ingest
        assert [r["id"] for r in out["good"]] == [1, 3]
        assert [q[LINE].encode() for q in out["good_quarantine"]] == [rows[1]]
        return
    # A String column holds the JSON text as sent, however deep (orjson could write back only 254 levels).
    assert [r["id"] for r in out["good"]] == [1, 2, 3]
    assert next(r["s"] for r in out["good"] if r["id"] == 2) == deep.decode()
    assert outcome.error == ""


def test_every_row_lands_once_in_chunks_and_a_retry_writes_the_same_files(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # Given records cut into chunks of at most 150 rows
    monkeypatch.setattr("lakegate.lake.raw.CHUNK_ROWS", 150)
    rows = [row(i) for i in range(300)]
    data = b"".join(
        r.data
        for part in (rows[:100], rows[100:200], rows[200:])
        for r in frame_rows(RecordHeader("good", "ws1", False, "q", T0, 1), part)
    )

    first, store = land(data, GOOD)
    again = Compactor(store, _registry(GOOD)).process(KEY)

    assert first.files == again.files and len(first.files) == 3
    ids = [[r["id"] for r in pq.read_table(io.BytesIO(store.objects[k])).to_pylist()] for k in first.files]
    assert ids == [list(range(0, 100)), list(range(100, 200)), list(range(200, 300))]
    assert Counter(i for part in ids for i in part) == Counter(range(300))


def _registry(*sources: DataSource) -> MemoryRegistry:
    registry = MemoryRegistry()
    for ds in sources:
        registry.create("ws1", ds)
    return registry


@pytest.mark.parametrize("value", [b"9223372036854775807", b"-9223372036854775807", b"[9223372036854775807]"])
def test_a_date_time_parquet_cannot_hold_is_quarantined_alone(value: bytes) -> None:
    # Beyond DateTime's range (and Parquet's: the writer casts seconds to milliseconds, which overflows).
    array = value.startswith(b"[")
    ds = DataSource(
        "t",
        (
            Column("id", "Int64", "$.id"),
            Column("ts", "Array(DateTime)" if array else "DateTime", "$.ts[:]" if array else "$.ts"),
        ),
    )
    ok = b"[1]" if array else b"1"
    rows = [b'{"id":1,"ts":' + ok + b"}", b'{"id":2,"ts":' + value + b"}"]

    outcome, store = land(blob(("t", rows)), ds)

    out = landed(store)
    assert [r["id"] for r in out["t"]] == [1]
    (q,) = out["t_quarantine"]
    assert "is not" in q[ERROR][0] and "DateTime" in q[ERROR][0]
    assert outcome.error == ""
