"""Values land as sent, on every path: one table of cases (every type, its edge values, the classes that
once landed differently or sank a raw object) run through the ingest's three checks (the row-by-row
reference, the bulk column check, the compiled block check), the compactor's two conversions (Arrow's
reader and the row-by-row one), Parquet, the quarantine and analyze; then generated values of each type
hold the same agreements. A value either fits and reads back from Parquet as the type defines it, or is
quarantined with its text as sent, on every path alike.
"""

from __future__ import annotations

import io
import json
import math
import struct
from dataclasses import dataclass
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakegate.config import Limits
from lakegate.ingest.blocks import compile_block_check
from lakegate.ingest.datasources import DataSources
from lakegate.ingest.rows import compile_validator, parse_and_check
from lakegate.lake.parquet import fast_table, rows_to_table, to_parquet
from lakegate.lake.quarantine import quarantine_table
from lakegate.lake.raw import QuarantineEntry
from lakegate.memory import MemoryRegistry
from lakegate.schema import Column, DataSource
from lakegate.times import format_ticks, time_type, unit_digits
from lakegate.values import FLOAT32_MAX, bulk_check, scalar_check

from .fakes import make_token

NOW = 1_700_000_000_123
NO = "quarantined"
DEEP = "[" * 300 + "]" * 300  # orjson reads 1024 levels but writes only 254


@dataclass(frozen=True)
class Case:
    type: str
    json: str  # the value as the client writes it
    lands: object  # what reads back from Parquet (dates and times as ISO UTC text), or NO

    def __str__(self) -> str:
        return f"{self.type}:{self.json[:40]}"


def _f32(x: float) -> float:
    return float(struct.unpack("<f", struct.pack("<f", x))[0])


CASES = [
    # integers at their bounds, and just past them
    Case("Int8", "-128", -128),
    Case("Int8", "127", 127),
    Case("Int8", "128", NO),
    Case("UInt8", "-1", NO),
    Case("Int64", "-9223372036854775808", -(2**63)),
    Case("Int64", "9223372036854775807", 2**63 - 1),
    Case("Int64", "9223372036854775808", NO),
    Case("UInt64", "18446744073709551615", 2**64 - 1),
    Case("UInt64", "18446744073709551616", NO),
    Case("Int32", "1.0", NO),
    Case("Int32", "true", NO),
    Case("Int32", '"1"', NO),
    # floats: subnormals, -0.0, Float32's edge
    Case("Float64", "5e-324", 5e-324),
    Case("Float64", "-0.0", -0.0),
    Case("Float64", "1e308", 1e308),
    Case("Float64", "12", 12.0),
    Case("Float32", "3.4028234663852886e38", FLOAT32_MAX),
    Case("Float32", "3.5e38", NO),  # would land as infinity
    Case("Float32", "0.1", _f32(0.1)),
    Case("Float64", "true", NO),
    # Bool
    Case("Bool", "true", True),
    Case("Bool", "0", False),
    Case("Bool", "2", NO),
    # String: any value but null; strings as they are, anything else as the client wrote it
    Case("String", '"Chicago"', "Chicago"),
    Case("String", '""', ""),
    Case("String", '"nul\\u0000 and \\u001f control"', "nul\x00 and \x1f control"),
    Case("String", '"emoji \\ud83d\\ude00 and \\udbff\\udfff"', "emoji \U0001f600 and \U0010ffff"),
    Case("String", "123456789012345678901234567", "123456789012345678901234567"),
    Case("String", "1e100", "1e100"),
    Case("String", "1e5", "1e5"),
    Case("String", "-0.0", "-0.0"),
    Case("String", "true", "true"),
    Case("String", '{"a": [1, 2.50]}', '{"a": [1, 2.50]}'),
    Case("String", DEEP, DEEP),
    Case("LowCardinality(String)", '"x"', "x"),
    # Date: 1970-01-01 to 2149-06-06; a date-time gives the date of its UTC instant
    Case("Date", '"2020-02-29"', "2020-02-29"),
    Case("Date", '"2021-02-29"', NO),
    Case("Date", '"2021-02-30"', NO),
    Case("Date", '"0000-01-01"', NO),
    Case("Date", '"1969-12-31"', NO),
    Case("Date", '"2149-06-06"', "2149-06-06"),
    Case("Date", '"2026-12-01T23:30:00-02:00"', "2026-12-02"),
    Case("Date", "1700000000", NO),
    Case("Date32", '"1900-01-01"', "1900-01-01"),
    Case("Date32", '"2299-12-31"', "2299-12-31"),
    Case("Date32", '"1899-12-31"', NO),
    # DateTime: ISO forms, offsets to UTC, fraction dropped, epoch seconds, 1970 to 2106-02-07 06:28:15
    Case("DateTime", '"2020-04-05 00:05:38"', "2020-04-05T00:05:38Z"),
    Case("DateTime", '"2026-12-01T03:11:10.875Z"', "2026-12-01T03:11:10Z"),
    Case("DateTime", '"2026-12-01T03:11:10+02:00"', "2026-12-01T01:11:10Z"),
    Case("DateTime", '"2026-12-01T03:11:10-0530"', "2026-12-01T08:41:10Z"),
    Case("DateTime", '"2026-12-01T03:11:10 +02"', "2026-12-01T01:11:10Z"),
    Case("DateTime", '"2026-12-01"', "2026-12-01T00:00:00Z"),
    Case("DateTime", '"2026-12-01T03:11"', "2026-12-01T03:11:00Z"),
    Case("DateTime", "1700000000", "2023-11-14T22:13:20Z"),
    Case("DateTime", "1700000000.999", "2023-11-14T22:13:20Z"),
    Case("DateTime", "4294967295", "2106-02-07T06:28:15Z"),
    Case("DateTime", "4294967296", NO),
    Case("DateTime", "1e300", NO),
    Case("DateTime", "-1e18", NO),
    Case("DateTime", "1e18", NO),
    Case("DateTime", "9223372036854775807", NO),
    Case("DateTime", '"1969-12-31T23:59:59Z"', NO),
    Case("DateTime", '"0000-01-01 00:00:00"', NO),
    Case("DateTime", '"2021-02-30 00:00:00"', NO),
    Case("DateTime", '"2020-04-05 24:00:00"', NO),
    Case("DateTime", '"2020-04-05t00:05:38"', NO),
    Case("DateTime", '"1700000000"', NO),
    Case("DateTime", '"2020/04/05 00:05:38"', NO),
    Case("DateTime", '"yesterday"', NO),
    Case("DateTime", "true", NO),
    # a zone in the type reads values without an offset as local time
    Case("DateTime('America/New_York')", '"2020-01-01 10:00:00"', "2020-01-01T15:00:00Z"),
    Case("DateTime('America/New_York')", '"2020-07-01 10:00:00"', "2020-07-01T14:00:00Z"),
    Case("DateTime('America/New_York')", '"2020-01-01T10:00:00Z"', "2020-01-01T10:00:00Z"),
    # DateTime64(p): the fraction truncated to p digits; epoch seconds with a fraction
    Case("DateTime64(3)", '"2026-12-01T03:11:10.875Z"', "2026-12-01T03:11:10.875Z"),
    Case("DateTime64(3)", '"2026-12-01T03:11:10.9999Z"', "2026-12-01T03:11:10.999Z"),
    Case("DateTime64(3)", '"2026-12-01 03:11:10"', "2026-12-01T03:11:10.000Z"),
    Case("DateTime64(3)", "1700000000.875", "2023-11-14T22:13:20.875Z"),
    Case("DateTime64(3)", "-1.5", "1969-12-31T23:59:58.500Z"),
    Case("DateTime64(6)", '"2026-12-01T03:11:10.123456789+01:00"', "2026-12-01T02:11:10.123456Z"),
    Case("DateTime64(9)", '"2026-12-01T03:11:10.123456789Z"', "2026-12-01T03:11:10.123456789Z"),
    Case("DateTime64(9)", '"2262-04-11T23:47:16.854775807Z"', "2262-04-11T23:47:16.854775807Z"),
    Case("DateTime64(9)", '"2262-04-12T00:00:00Z"', NO),
    Case("DateTime64(3)", '"1900-01-01T00:00:00Z"', "1900-01-01T00:00:00.000Z"),
    Case("DateTime64(3)", '"1899-12-31T23:59:59Z"', NO),
    Case("DateTime64(3)", '"2299-12-31T23:59:59.999Z"', "2299-12-31T23:59:59.999Z"),
    Case("DateTime64(3)", "1e300", NO),
    Case("DateTime64(2)", '"2026-12-01T03:11:10.875Z"', "2026-12-01T03:11:10.87Z"),
    # arrays: items one by one, null items kept
    Case("Array(Int8)", "[1, null, -128]", [1, None, -128]),
    Case("Array(Int8)", "[1, 128]", NO),
    Case("Array(String)", '["a", 1e5, {"b": 1}]', ["a", "1e5", '{"b": 1}']),
    Case(
        "Array(DateTime)",
        '["2020-04-05 00:05:38", 1700000000]',
        ["2020-04-05T00:05:38Z", "2023-11-14T22:13:20Z"],
    ),
    Case("Array(Date)", '["2021-02-30"]', NO),
    Case("Array(Int8)", '"not a list"', NO),
    # null and missing: only a Nullable, an Array or a DEFAULT takes them
    Case("Int32", "null", NO),
    Case("Nullable(Int32)", "null", None),
    Case("Nullable(DateTime64(3))", "null", None),
]


def _ds(t: str) -> DataSource:
    path = "$.v[:]" if t.startswith(("Array", "Nullable(Array")) else "$.v"
    return DataSource("t", (Column("v", t, path), Column("n", "Int64", "$.n")))


def _line(case: Case) -> bytes:
    return b'{"v":' + case.json.encode() + b',"n":1}'


def _landed(table: pa.Table, t: str) -> object:
    """The value of column v in a one-row table, dates and times as ISO UTC text (nanoseconds included)."""
    column = table.column("v")
    scalar_type = column.type.value_type if pa.types.is_list(column.type) else column.type
    if pa.types.is_timestamp(scalar_type) or pa.types.is_date32(scalar_type):
        ct = _ds(t).columns[0].parsed_type
        tt = time_type(ct.base, ct.precision)
        scale = 10 ** (unit_digits(ct.precision) - ct.precision) if ct.base == "DateTime64" else 1
        flat = column.combine_chunks()
        values = flat.flatten() if pa.types.is_list(column.type) else flat
        ticks = values.cast(pa.int32() if pa.types.is_date32(scalar_type) else pa.int64()).to_pylist()
        texts = [None if x is None else format_ticks(tt, x // scale) for x in ticks]
        return texts if pa.types.is_list(column.type) else texts[0]
    return column.to_pylist()[0]


def _same(a: object, b: object) -> bool:
    if isinstance(a, float) and isinstance(b, float):
        return a == b and math.copysign(1, a) == math.copysign(1, b)
    return a == b


@pytest.mark.parametrize("case", CASES, ids=str)
def test_every_path_agrees_on_the_value(case: Case) -> None:
    ds, line = _ds(case.type), _line(case)
    fits = case.lands is not NO
    validator = compile_validator(ds)
    # The ingest: the reference, the bulk check of the value, the compiled block check.
    assert (validator(orjson.loads(line)) is None) is fits
    checked = parse_and_check(line + b"\n", validator, 1_000_000)
    assert (len(checked.accepted), len(checked.rejected)) == ((1, 0) if fits else (0, 1))
    value = orjson.loads(line)["v"]
    t = ds.columns[0].parsed_type
    if not t.array and value is not None and bulk_check(t)([value]):
        assert fits
    blocks = compile_block_check(ds)
    if blocks is not None and blocks.rows_if_all_fit(line + b"\n"):
        assert fits
    # The compactor: the row-by-row conversion, and Arrow's reader where it vouches.
    slow = rows_to_table(ds, [line], [NOW])
    assert (slow.table.num_rows == 1) is fits, slow.errors
    if fits:
        assert _same(_landed(slow.table, case.type), case.lands)
        fast = fast_table(ds, line + b"\n", 1)
        if fast is not None:
            assert fast.equals(slow.table)
        back = pq.read_table(io.BytesIO(to_parquet(slow.table)))
        assert back.cast(slow.table.schema).equals(slow.table)  # Parquet holds seconds as milliseconds
    else:
        # The quarantine keeps the value as the client wrote it.
        entry = QuarantineEntry(line.decode(), slow.errors[0].column, slow.errors[0].error, "rid", NOW)
        kept = quarantine_table(ds, [entry]).column("v").to_pylist()[0]
        assert kept == (
            None
            if case.json == "null"
            else orjson.loads(case.json)
            if case.json.startswith('"')
            else case.json
        )
    # analyze says what the Events API would.
    analysis = DataSources(MemoryRegistry(), Limits()).analyze(make_token("ADMIN"), None, line)
    # (analyze infers a schema for a new source: its own verdict is only that the row fits what it infers)
    assert analysis["successful_rows"] + analysis["quarantined_rows"] == 1


def test_epoch_numbers_and_strings_land_alike_in_one_batch() -> None:
    """An epoch number beside a nanosecond string: Arrow's reader cannot take the batch, the row-by-row
    conversion keeps every digit of both."""
    ds = _ds("DateTime64(9)")
    lines = [b'{"v":"2026-12-01T03:11:10.123456789Z","n":1}', b'{"v":1700000000,"n":2}']
    table = rows_to_table(ds, lines, [NOW, NOW]).table
    ticks = table.column("v").cast(pa.int64()).to_pylist()
    assert ticks == [1_796_094_670_123_456_789, 1_700_000_000_000_000_000]


# --- generated values -----------------------------------------------------------------------------------

TYPES = [
    "String",
    "Int8",
    "UInt8",
    "Int32",
    "Int64",
    "UInt64",
    "Float32",
    "Float64",
    "Bool",
    "Date",
    "Date32",
    "DateTime",
    "DateTime64(3)",
    "DateTime64(9)",
    "Array(Int16)",
    "Array(DateTime64(6))",
]


@st.composite
def isos(draw: Any) -> str:
    """Date and date-time texts around every edge: years out of every range, months and days past theirs,
    hours 24, minutes 60, lowercase t and z, fractions of 0 to 12 digits, offsets in and out of range."""
    year = draw(
        st.sampled_from([0, 1, 1899, 1900, 1969, 1970, 2000, 2024, 2106, 2149, 2262, 2299, 2300, 9999])
    )
    year = draw(st.one_of(st.just(year), st.integers(0, 9999)))
    month, day = draw(st.integers(0, 13)), draw(st.integers(0, 32))
    text = f"{year:04d}-{month:02d}-{day:02d}"
    if draw(st.booleans()):
        text += draw(st.sampled_from(["T", " ", "t"]))
        text += f"{draw(st.integers(0, 24)):02d}:{draw(st.integers(0, 60)):02d}"
        if draw(st.booleans()):
            text += f":{draw(st.integers(0, 60)):02d}"
            if draw(st.booleans()):
                text += "." + "".join(draw(st.lists(st.sampled_from("0123456789"), min_size=0, max_size=12)))
        text += draw(st.sampled_from(["", "Z", "z", "+02:00", "-0530", "+14", " +01:00", "+24:00", "+0060"]))
    return text


@st.composite
def json_values(draw: Any) -> object:
    return draw(
        st.one_of(
            st.none(),
            st.booleans(),
            st.integers(-(2**64), 2**65),
            st.sampled_from(
                [0, 1, -1, 127, 128, 255, 256, 2**31, 2**32 - 1, 2**32, 2**63 - 1, 2**63, 2**64 - 1]
            ),
            st.floats(allow_nan=False, allow_infinity=False),
            st.sampled_from([1e300, -1e18, 1e18, 3.5e38, FLOAT32_MAX, 5e-324, -0.0, 1700000000.5]),
            st.text(max_size=8),
            isos(),
            st.lists(st.integers(-40000, 40000), max_size=3),
            st.lists(isos(), max_size=2),
            st.dictionaries(st.text(max_size=3), st.integers(), max_size=2),
        )
    )


@settings(max_examples=400, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.sampled_from(TYPES), st.lists(json_values(), min_size=1, max_size=6))
def test_generated_values_get_one_verdict_and_one_value_on_every_path(t: str, values: list[object]) -> None:
    ds = _ds(t)
    # The stdlib writes integers past 64 bits too (orjson reads them back as floats, as from a client).
    lines = [json.dumps({"v": v, "n": i}, separators=(",", ":")).encode() for i, v in enumerate(values)]
    validator = compile_validator(ds)
    verdicts = [validator(orjson.loads(line)) is None for line in lines]
    body = b"".join(line + b"\n" for line in lines)
    checked = parse_and_check(body, validator, 1_000_000)
    assert list(checked.accepted) == [line for line, ok in zip(lines, verdicts, strict=True) if ok]
    ct = ds.columns[0].parsed_type
    if not ct.array and bulk_check(ct)(values):
        assert all(v is not None and scalar_check(ct)(v) for v in values)
    blocks = compile_block_check(ds)
    if blocks is not None and blocks.rows_if_all_fit(body):
        assert all(verdicts)
    slow = rows_to_table(ds, lines, [NOW] * len(lines))
    assert slow.kept == [i for i, ok in enumerate(verdicts) if ok]
    accepted = [line for line, ok in zip(lines, verdicts, strict=True) if ok]
    if accepted:
        fast = fast_table(ds, b"".join(line + b"\n" for line in accepted), len(accepted))
        if fast is not None:
            assert fast.equals(slow.table)


@st.composite
def rows(draw: Any) -> dict[str, object]:
    keys = st.sampled_from(["a", "b", "c", "[:]", "Mixed", "mixed", "insertion_date", "c__line", "x y"])
    leaf = json_values()
    value = st.one_of(leaf, st.dictionaries(keys, leaf, max_size=3))
    return dict(draw(st.dictionaries(keys, value, max_size=4)))


@settings(max_examples=200, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(rows(), min_size=1, max_size=5))
def test_a_new_source_s_first_batch_fits_the_schema_inferred_from_it(batch: list[dict[str, object]]) -> None:
    """Inference only picks types its own rows fit, and names that cannot collide downstream."""
    from lakegate.errors import InvalidRequest
    from lakegate.names import reserved
    from lakegate.schema import infer

    lines = [json.dumps(row, separators=(",", ":")).encode() for row in batch]
    try:
        ds = infer("t", [orjson.loads(line) for line in lines], 500, 32)  # as the ingest reads them
    except InvalidRequest:
        assert not any(batch)  # only a batch with no field at all
        return
    folded = [c.name.lower() for c in ds.columns]
    assert len(set(folded)) == len(folded)
    assert not any(reserved(c.name) for c in ds.columns)
    validator = compile_validator(ds)
    assert [validator(orjson.loads(line)) for line in lines] == [None] * len(lines)
    assert rows_to_table(ds, lines, [NOW] * len(lines)).kept == list(range(len(lines)))
