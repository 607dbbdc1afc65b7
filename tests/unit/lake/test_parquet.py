"""Registry schemas as Arrow, and JSON lines converted to them (bad rows out, with Tinybird-style errors)."""

from __future__ import annotations

import io
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakegate.column_types import parse_type
from lakegate.lake.arrow_types import arrow_schema, arrow_type
from lakegate.lake.parquet import fast_table, rows_to_table, to_parquet
from lakegate.lake.quarantine import quarantine_table
from lakegate.lake.raw import QuarantineEntry
from lakegate.names import ERROR, ERROR_COLUMN, IMPORT_ID, INSERTION_DATE, LINE
from lakegate.schema import Column, DataSource

NOW = 1_700_000_000_123  # 2023-11-14 22:13:20.123 UTC


@pytest.mark.parametrize(
    ("tinybird", "arrow"),
    [
        ("String", pa.string()),
        ("Int8", pa.int8()),
        ("Int16", pa.int16()),
        ("Int32", pa.int32()),
        ("Int64", pa.int64()),
        ("UInt8", pa.uint8()),
        ("UInt16", pa.uint16()),
        ("UInt32", pa.uint32()),
        ("UInt64", pa.uint64()),
        ("Float32", pa.float32()),
        ("Float64", pa.float64()),
        ("Bool", pa.bool_()),
        ("Date", pa.date32()),
        ("DateTime", pa.timestamp("s", tz="UTC")),
        ("DateTime64(3)", pa.timestamp("ms", tz="UTC")),
        ("DateTime64(6)", pa.timestamp("us", tz="UTC")),
        ("DateTime64(9)", pa.timestamp("ns", tz="UTC")),
        ("Nullable(Int32)", pa.int32()),
        ("Array(String)", pa.list_(pa.field("element", pa.string()))),
        ("Array(DateTime)", pa.list_(pa.field("element", pa.timestamp("s", tz="UTC")))),
        ("LowCardinality(String)", pa.string()),
    ],
)
def test_arrow_type_of_each_tinybird_type(tinybird: str, arrow: pa.DataType) -> None:
    assert arrow_type(parse_type(tinybird)) == arrow


def test_arrow_schema_keeps_order_and_nullability() -> None:
    ds = DataSource("t", (Column("a", "Nullable(String)", "$.a"), Column("b", "Int64", "$.b")))
    schema = arrow_schema(ds)
    assert schema.names == ["a", "b"]
    assert schema.field("a").nullable
    assert not schema.field("b").nullable


def _ds(*columns: tuple[str, str, str], sorting_key: tuple[str, ...] = ()) -> DataSource:
    return DataSource("t", tuple(Column(n, t, p) for n, t, p in columns), sorting_key=sorting_key)


def _convert(ds: DataSource, *lines: bytes) -> tuple[list[dict[str, object]], list[tuple[int, str, str]]]:
    converted = rows_to_table(ds, list(lines), [NOW] * len(lines))
    assert converted.table.schema == arrow_schema(ds)
    return converted.table.to_pylist(), [(e.index, e.column, e.error) for e in converted.errors]


def test_scalars_convert_to_their_arrow_values() -> None:
    ds = _ds(
        ("s", "String", "$.s"),
        ("i", "Int16", "$.i"),
        ("u", "UInt64", "$.u"),
        ("f", "Float32", "$.f"),
        ("b", "Bool", "$.b"),
        ("d", "Date", "$.d"),
        ("dt", "DateTime", "$.dt"),
        ("ms", "DateTime64(3)", "$.ms"),
    )
    rows, errors = _convert(
        ds,
        b'{"s":"x","i":-3,"u":18446744073709551615,"f":1,"b":true,"d":"2020-04-05",'
        b'"dt":"2020-04-05 00:05:38","ms":"2020-04-05T00:05:38.123Z"}',
    )
    assert errors == []
    assert rows == [
        {
            "s": "x",
            "i": -3,
            "u": 2**64 - 1,
            "f": 1.0,
            "b": True,
            "d": date(2020, 4, 5),
            "dt": datetime(2020, 4, 5, 0, 5, 38, tzinfo=UTC),
            "ms": datetime(2020, 4, 5, 0, 5, 38, 123000, tzinfo=UTC),
        }
    ]


def test_date_times_take_zones_epoch_seconds_and_t_separator() -> None:
    ds = _ds(("dt", "DateTime", "$.dt"), ("ms", "DateTime64(3)", "$.ms"))
    rows, errors = _convert(
        ds,
        b'{"dt":"2020-04-05T02:05:38+02:00","ms":1586045138.5}',
        b'{"dt":1586045138,"ms":"2020-04-05 00:05:38.123456789"}',
    )
    assert errors == []
    assert [r["dt"] for r in rows] == [datetime(2020, 4, 5, 0, 5, 38, tzinfo=UTC)] * 2
    assert [r["ms"] for r in rows] == [
        datetime(2020, 4, 5, 0, 5, 38, 500000, tzinfo=UTC),
        datetime(2020, 4, 5, 0, 5, 38, 123000, tzinfo=UTC),
    ]


def test_string_columns_take_any_json_value_as_its_text() -> None:
    rows, errors = _convert(_ds(("s", "String", "$.s")), b'{"s":5}', b'{"s":{"a":[1,true]}}', b'{"s":false}')
    assert errors == []
    assert [r["s"] for r in rows] == ["5", '{"a":[1,true]}', "false"]


def test_nested_paths_arrays_nullables_and_bool_numbers() -> None:
    ds = _ds(
        ("a_b", "Int64", "$.a.b"),
        ("tags", "Array(String)", "$.tags[:]"),
        ("n", "Nullable(Float64)", "$.n"),
        ("ok", "Bool", "$.ok"),
    )
    rows, errors = _convert(ds, b'{"a":{"b":1},"tags":["x",null],"ok":1}', b'{"a":{"b":2},"n":null,"ok":0}')
    assert errors == []
    assert rows == [
        {"a_b": 1, "tags": ["x", None], "n": None, "ok": True},
        {"a_b": 2, "tags": [], "n": None, "ok": False},  # a missing Array is empty, as in ClickHouse
    ]


def test_defaults_stand_in_for_missing_values() -> None:
    ds = DataSource(
        "t",
        (
            Column("s", "String", "$.s", default="'none'"),
            Column("i", "Int32", "$.i", default="7"),
            Column("at", "DateTime", "$.at", default="now()"),
        ),
    )
    rows, errors = _convert(ds, b"{}")
    assert errors == []
    assert rows == [{"s": "none", "i": 7, "at": datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC)}]


def test_rows_that_do_not_convert_leave_the_table_with_their_errors() -> None:
    ds = _ds(("d", "Date", "$.d"), ("i", "Int8", "$.i"), ("tags", "Array(Int32)", "$.tags[:]"))
    rows, errors = _convert(
        ds,
        b'{"d":"2020-01-01","i":1}',
        b'{"d":"2021-02-30","i":1}',  # the shape of a date, not a date
        b'{"d":"2020-01-01","i":300}',
        b'{"d":"2020-01-01"}',
        b'{"d":"2020-01-01","i":1,"tags":[1,"a"]}',
        b'{"d":"2020-01-01","i":1,"tags":"a"}',
        b"[1,2]",
        b"{nope",
        b'{"d":"2020-01-02","i":2}',
    )
    assert [r["d"] for r in rows] == [date(2020, 1, 1), date(2020, 1, 2)]
    assert errors[:6] == [
        (1, "d", "value '2021-02-30' on column 'd' is not Date"),
        (2, "i", "value '300' on column 'i' is not Int8"),
        (3, "i", "missing value on column 'i' of type Int8: the column is not Nullable"),
        (4, "tags", "value 'a' in column 'tags' is not Array(Int32)"),
        (5, "tags", "value 'a' on column 'tags' is not Array(Int32)"),
        (6, "", "the line is not a JSON object"),
    ]
    assert errors[6][:2] == (7, "") and errors[6][2].startswith("invalid JSON: ")


def test_the_first_failing_column_in_schema_order_is_reported() -> None:
    _, errors = _convert(_ds(("a", "Int8", "$.a"), ("b", "Int8", "$.b")), b'{"a":"x","b":"y"}')
    assert errors == [(0, "a", "value 'x' on column 'a' is not Int8")]


def test_kept_maps_table_rows_to_input_rows() -> None:
    converted = rows_to_table(_ds(("i", "Int8", "$.i")), [b'{"i":1}', b'{"i":"x"}', b'{"i":3}'], [NOW] * 3)
    assert converted.kept == [0, 2]


def test_parquet_round_trips_the_schema_with_zstd() -> None:
    ds = _ds(("dt", "DateTime", "$.dt"), ("tags", "Array(UInt8)", "$.tags[:]"))
    table = rows_to_table(ds, [b'{"dt":0,"tags":[1]}'], [NOW]).table
    data = to_parquet(table)
    back = pq.read_table(io.BytesIO(data))
    # Parquet has no second unit: DateTime is stored (and read back) as milliseconds, the same instant.
    expected = arrow_schema(ds)
    assert back.schema == expected.set(0, expected.field("dt").with_type(pa.timestamp("ms", tz="UTC")))
    assert back.to_pylist() == [{"dt": datetime(1970, 1, 1, tzinfo=UTC), "tags": [1]}]
    assert pq.ParquetFile(io.BytesIO(data)).metadata.row_group(0).column(0).compression == "ZSTD"


def test_quarantine_table_keeps_the_line_its_values_as_text_and_tinybird_error_columns() -> None:
    ds = _ds(("city", "String", "$.city"), ("n", "Int8", "$.a.n"))
    table = quarantine_table(
        ds,
        [
            QuarantineEntry(
                '{"city":"Madrid","a":{"n":300}}', "n", "value '300' on column 'n' is not Int8", "r1", NOW
            ),
            QuarantineEntry("not json", "", "invalid JSON", "r2", NOW),
        ],
    )
    assert table.schema.names == ["city", "n", LINE, ERROR_COLUMN, ERROR, IMPORT_ID, INSERTION_DATE]
    assert table.to_pylist() == [
        {
            "city": "Madrid",
            "n": "300",
            LINE: '{"city":"Madrid","a":{"n":300}}',
            ERROR_COLUMN: ["n"],
            ERROR: ["value '300' on column 'n' is not Int8"],
            IMPORT_ID: "r1",
            INSERTION_DATE: datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),
        },
        {
            "city": None,
            "n": None,
            LINE: "not json",
            ERROR_COLUMN: [""],
            ERROR: ["invalid JSON"],
            IMPORT_ID: "r2",
            INSERTION_DATE: datetime(2023, 11, 14, 22, 13, 20, tzinfo=UTC),
        },
    ]


def test_quarantine_table_without_a_schema_has_only_its_own_columns() -> None:
    table = quarantine_table(None, [QuarantineEntry("{}", "", "no such data source", "r", NOW)])
    assert table.schema.names == [LINE, ERROR_COLUMN, ERROR, IMPORT_ID, INSERTION_DATE]


# --- fast_table: Arrow's C++ reader, for rows checked at ingest against the same schema -------------------

FAST = _ds(
    ("s", "String", "$.s"),
    ("i8", "Int8", "$.i8"),
    ("u64", "UInt64", "$.u64"),
    ("f32", "Float32", "$.f32"),
    ("f64", "Nullable(Float64)", "$.f64"),
    ("b", "Bool", "$.b"),
    ("d", "Nullable(Date)", "$.d"),
    ("dt", "DateTime", "$.dt"),
    ("ms", "DateTime64(3)", "$.ms"),
    ("tags", "Array(String)", "$.tags[:]"),
    ("days", "Array(Date)", "$.days[:]"),
)
FAST_ROWS = [
    b'{"s":"a","i8":-128,"u64":18446744073709551615,"f32":1.5,"f64":2,"b":true,"d":"2020-02-29",'
    b'"dt":"2020-04-05 00:05:38","ms":"2020-04-05T00:05:38.123Z","tags":["x",null],"days":["2020-01-01"]}',
    b'{"s":"b","i8":127,"u64":0,"f32":-1,"f64":null,"b":false,"dt":"2020-04-05T02:05:38+02:00",'
    b'"ms":"2020-04-05 00:05:38","tags":[],"days":[]}',
]


def _ndjson(lines: list[bytes]) -> tuple[bytes, int]:
    """Lines as the compactor hands them to `fast_table`: one piece, each line ending with a newline."""
    return b"".join(line + b"\n" for line in lines), len(lines)


def test_fast_table_reads_what_the_reference_reads() -> None:
    fast = fast_table(FAST, *_ndjson(FAST_ROWS))
    assert fast is not None
    reference = rows_to_table(FAST, FAST_ROWS, [NOW] * 2)
    assert fast.schema == reference.table.schema
    assert fast.to_pylist() == reference.table.to_pylist()


@pytest.mark.parametrize(
    "change",
    [
        (b'"dt":"2020-04-05 00:05:38"', b'"dt":1586045138'),  # epoch seconds
        (b'"b":true', b'"b":1'),  # a number for a Bool
        (b'"s":"a"', b'"s":5'),  # a number for a String
        (b'"s":"a"', b'"s":{"k":1}'),  # an object for a String
        (b'"i8":-128', b'"i8":-129'),  # out of range
        (b'"d":"2020-02-29"', b'"d":"2021-02-29"'),  # no such day
        (b'"s":"a",', b""),  # a required value missing
        (b',"tags":["x",null]', b""),  # a missing Array is [] to the reference
        (b'"s":"a"', b'"s":"a","new":1'),  # a field no column reads: the schema may evolve
        (b'"s":"a"', b'"s":"a","s":"b"'),  # a key twice
    ],
)
def test_fast_table_leaves_to_the_reference_what_it_cannot_vouch_for(change: tuple[bytes, bytes]) -> None:
    old, new = change
    assert old in FAST_ROWS[0]
    assert fast_table(FAST, *_ndjson([FAST_ROWS[0].replace(old, new), FAST_ROWS[1]])) is None


@pytest.mark.parametrize(
    "ds",
    [
        _ds(("a_b", "Int64", "$.a.b")),  # a nested path
        DataSource("t", (Column("i", "Int32", "$.i", default="7"),)),  # a DEFAULT to fill in
    ],
)
def test_fast_table_takes_only_top_level_columns_without_defaults(ds: DataSource) -> None:
    assert fast_table(ds, *_ndjson([b'{"a":{"b":1},"i":1}'])) is None


def test_fast_table_of_no_rows_is_none() -> None:
    assert fast_table(FAST, b"", 0) is None
