"""Column types: parsing Tinybird type strings, which JSON values fit each scalar, inference and widening."""

from __future__ import annotations

import pytest

from lakegate.column_types import ColumnType, UnknownType, infer_scalar, parse_type, widen
from lakegate.values import scalar_check

INTS = ["Int8", "Int16", "Int32", "Int64", "UInt8", "UInt16", "UInt32", "UInt64"]


@pytest.mark.parametrize("scalar", ["String", *INTS, "Float32", "Float64", "Bool", "Date", "DateTime"])
def test_parse_type_plain_scalars(scalar: str) -> None:
    parsed = parse_type(scalar)
    assert parsed == ColumnType(scalar)
    assert str(parsed) == scalar


@pytest.mark.parametrize(
    ("text", "expected", "canonical"),
    [
        ("DateTime64(3)", ColumnType("DateTime64", precision=3), "DateTime64(3)"),
        ("DateTime64(6)", ColumnType("DateTime64", precision=6), "DateTime64(6)"),
        ("DateTime64", ColumnType("DateTime64", precision=3), "DateTime64(3)"),
        ("DateTime64(3, 'UTC')", ColumnType("DateTime64", precision=3), "DateTime64(3)"),
        (
            "DateTime('Europe/Madrid')",
            ColumnType("DateTime", zone="Europe/Madrid"),
            "DateTime('Europe/Madrid')",
        ),
        (
            "DateTime64(6, 'Europe/Madrid')",
            ColumnType("DateTime64", precision=6, zone="Europe/Madrid"),
            "DateTime64(6, 'Europe/Madrid')",
        ),
        ("DateTime('UTC')", ColumnType("DateTime"), "DateTime"),
        ("Date32", ColumnType("Date32"), "Date32"),
        ("Nullable(String)", ColumnType("String", nullable=True), "Nullable(String)"),
        ("Nullable(DateTime64(3))", ColumnType("DateTime64", nullable=True), "Nullable(DateTime64(3))"),
        ("Array(Int32)", ColumnType("Int32", array=True), "Array(Int32)"),
        ("Array(Nullable(Int32))", ColumnType("Int32", array=True), "Array(Int32)"),
        ("Array(DateTime64(6))", ColumnType("DateTime64", array=True, precision=6), "Array(DateTime64(6))"),
        ("LowCardinality(String)", ColumnType("String"), "String"),
        ("Nullable(LowCardinality(String))", ColumnType("String", nullable=True), "Nullable(String)"),
        ("Array(LowCardinality(String))", ColumnType("String", array=True), "Array(String)"),
        ("  Int32  ", ColumnType("Int32"), "Int32"),
    ],
)
def test_parse_type_wrappers(text: str, expected: ColumnType, canonical: str) -> None:
    parsed = parse_type(text)
    assert parsed == expected
    assert str(parsed) == canonical


@pytest.mark.parametrize(
    "text",
    [
        "Decimal(10, 2)",
        "int32",
        "Map(String, String)",
        "Nullable(Foo)",
        "Array()",
        "",
        "Tuple(Int8)",
        "DateTime(3)",
        "DateTime64(10)",
    ],
)
def test_parse_type_unknown(text: str) -> None:
    with pytest.raises(UnknownType) as info:
        parse_type(text)
    assert str(info.value) == f"Unsupported type '{text}'"


def test_parse_type_low_cardinality_of_nullable() -> None:
    assert parse_type("LowCardinality(Nullable(String))") == ColumnType("String", nullable=True)


@pytest.mark.parametrize(
    ("base", "value", "fits"),
    [
        ("Int8", -128, True),
        ("Int8", 127, True),
        ("Int8", 128, False),
        ("Int8", -129, False),
        ("Int16", -(2**15), True),
        ("Int16", 2**15, False),
        ("Int32", 2**31 - 1, True),
        ("Int32", 2**31, False),
        ("Int64", -(2**63), True),
        ("Int64", 2**63 - 1, True),
        ("Int64", 2**63, False),
        ("UInt8", 0, True),
        ("UInt8", 255, True),
        ("UInt8", 256, False),
        ("UInt8", -1, False),
        ("UInt16", 65_535, True),
        ("UInt16", 65_536, False),
        ("UInt32", 2**32 - 1, True),
        ("UInt32", 2**32, False),
        ("UInt64", 2**64 - 1, True),
        ("UInt64", 2**64, False),
        # bool is a subclass of int in Python, but not an integer in JSON.
        ("Int8", True, False),
        ("UInt64", False, False),
        ("Int64", 1.0, False),
        ("Int64", "1", False),
        ("Int64", None, False),
    ],
)
def test_scalar_check_integers(base: str, value: object, fits: bool) -> None:
    assert scalar_check(base)(value) is fits


@pytest.mark.parametrize(
    ("base", "value", "fits"),
    [
        ("Float64", 1.5, True),
        ("Float64", 1, True),
        ("Float32", -0.0, True),
        ("Float64", True, False),
        ("Float64", "1.5", False),
        ("Float64", None, False),
        ("Bool", True, True),
        ("Bool", False, True),
        ("Bool", 0, True),
        ("Bool", 1, True),
        ("Bool", 2, False),
        ("Bool", "true", False),
        ("Bool", 1.0, False),
        ("Bool", None, False),
        # ClickHouse reads any JSON value but null into a String column as its JSON text.
        ("String", "Chicago", True),
        ("String", "", True),
        ("String", 42, True),
        ("String", False, True),
        ("String", {"a": 1}, True),
        ("String", [1, 2], True),
        ("String", None, False),
    ],
)
def test_scalar_check_numbers_booleans_strings(base: str, value: object, fits: bool) -> None:
    assert scalar_check(base)(value) is fits


@pytest.mark.parametrize(
    ("base", "value", "fits"),
    [
        ("Date", "2020-04-05", True),
        ("Date", "2020-12-31", True),
        ("Date", "2020-13-01", False),
        ("Date", "2020-00-10", False),
        ("Date", "2020-04-32", False),
        ("Date", "2020-4-5", False),
        ("Date", "2020-04-05 00:05:38", True),  # the date of the instant, as Tinybird's Events API takes it
        ("Date", "2021-02-29", False),
        ("Date", "1969-12-31", False),  # Date holds 1970-01-01 to 2149-06-06
        ("Date", "2149-06-06", True),
        ("Date", "2149-06-07", False),
        ("Date32", "1900-01-01", True),
        ("Date32", "1899-12-31", False),
        ("Date", "0000-01-01", False),
        ("Date", 1_586_044_800, False),
        ("DateTime", "2020-04-05 00:05:38", True),
        ("DateTime", "2020-04-05T00:05:38", True),
        ("DateTime", "2020-04-05T00:05:38Z", True),
        ("DateTime", "2020-04-05T00:05:38+02:00", True),
        ("DateTime", "2020-04-05 00:05:38-0530", True),
        ("DateTime", "2020-13-05 00:05:38", False),
        ("DateTime", "2020-04-05 24:00:00", False),
        ("DateTime", "2020-04-05 23:60:00", False),
        ("DateTime", "2020-04-05", True),  # midnight
        ("DateTime", "2022-10-27T11:43:02.099Z", True),  # the fraction is dropped
        ("DateTime", "2020-04-05T00:05", True),
        ("DateTime", "2020-04-05T00:05:38 +02:00", True),
        ("DateTime", "2020-04-05T00:05:38+02", True),
        ("DateTime", "2020-04-05t00:05:38", False),
        ("DateTime", "2020-04-05T00:05:38z", False),
        ("DateTime", "1969-12-31T23:59:59Z", False),  # DateTime holds 1970 to 2106-02-07 06:28:15
        ("DateTime", "2106-02-07T06:28:15Z", True),
        ("DateTime", "2106-02-07T06:28:16Z", False),
        ("DateTime", "2020/04/05 00:05:38", False),
        ("DateTime", "1586045138", False),  # numeric strings are not epochs
        ("DateTime", 4_294_967_295, True),
        ("DateTime", 4_294_967_296, False),
        ("DateTime", -1, False),
        ("DateTime", 1e300, False),
        ("DateTime", 9_223_372_036_854_775_807, False),
        ("DateTime", "2020-04-05 00:05:38 ", False),
        ("DateTime", 1_586_045_138, True),
        ("DateTime", 1_586_045_138.5, True),
        ("DateTime", True, False),
        ("DateTime", None, False),
        ("DateTime64", "2022-10-27T11:43:02.099Z", True),
        ("DateTime64", "2020-04-05 00:05:38", True),
        ("DateTime64", "2020-04-05 00:05:38.123456789", True),
        ("DateTime64", "2020-04-05 00:05:38.1234567890", True),  # truncated to the precision
        ("DateTime64", "2020-04-05 00:05:38.", False),
        ("DateTime64", "2020-02-30T00:00:00.1+01:00", False),
        ("DateTime64", "1900-01-01T00:00:00Z", True),
        ("DateTime64", "1899-12-31T23:59:59Z", False),
        ("DateTime64", -1e18, False),
        ("DateTime64", 1e18, False),
        ("DateTime64", "2020-14-05 00:05:38.1", False),
        ("DateTime64", 1_666_871_000.099, True),
    ],
)
def test_scalar_check_dates(base: str, value: object, fits: bool) -> None:
    assert scalar_check(base)(value) is fits


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        (True, "Bool"),
        (False, "Bool"),
        (0, "Int64"),
        (-(2**63), "Int64"),
        (2**63 - 1, "Int64"),
        (2**63, "UInt64"),
        (2**64 - 1, "UInt64"),
        (1.5, "Float64"),
        ("2020-04-05 00:05:38", "DateTime"),
        ("2020-04-05T00:05:38Z", "DateTime"),
        ("2022-10-27T11:43:02.099Z", "DateTime64(3)"),
        ("2022-10-27T11:43:02.099123Z", "DateTime64(6)"),
        ("2022-10-27T11:43:02.1234567Z", "DateTime64(9)"),
        ("1960-01-01", "Date32"),
        ("1960-01-01 00:00:00", "DateTime64(3)"),
        ("2021-02-30", "String"),
        ("0000-01-01", "String"),
        ("2020-04-05", "Date"),
        ("2020-13-05", "String"),
        ("Chicago", "String"),
        ("", "String"),
        (None, None),
        ([1], None),
        ({"a": 1}, None),
    ],
)
def test_infer_scalar(value: object, expected: str | None) -> None:
    assert infer_scalar(value) == expected


@pytest.mark.parametrize(
    ("a", "b", "expected"),
    [
        ("Int64", "Int64", "Int64"),
        ("String", "String", "String"),
        ("Int64", "Float64", "Float64"),
        ("Int64", "UInt64", "Float64"),
        ("UInt64", "Float64", "Float64"),
        ("DateTime", "DateTime64(3)", "DateTime64(3)"),
        ("DateTime64(3)", "DateTime64(6)", "DateTime64(6)"),
        ("Date", "Date32", "Date32"),
        ("Int64", "String", "String"),
        ("Bool", "Int64", "String"),
        ("Date", "DateTime", "String"),
        ("Float64", "DateTime", "String"),
    ],
)
def test_widen_is_symmetric(a: str, b: str, expected: str) -> None:
    assert widen(a, b) == expected
    assert widen(b, a) == expected
