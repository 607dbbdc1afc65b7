"""NDJSON lines into rows: line splitting, parsing, the compiled validator's verdicts and quarantine texts."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import pytest

from lakegate.ingest.rows import (
    AcceptedRows,
    CheckedBatch,
    ParsedBatch,
    Rejected,
    check,
    compile_validator,
    iter_lines,
    parse,
    parse_and_check,
)
from lakegate.schema import Column, DataSource

NOT_OBJECT = "the line is not a JSON object"
SEED = (
    b'{"date": "2020-04-05 00:05:38", "city": "Chicago"}\n{"date": "2020-04-05 00:07:22", "city": "Madrid"}\n'
)
SEED_SCHEMA = DataSource(
    "events_test", (Column("date", "DateTime", "$.date"), Column("city", "String", "$.city"))
)


def _fault(ds: DataSource, row: dict[str, Any]) -> tuple[str, str] | None:
    return compile_validator(ds)(row)


def _one(name: str, type_: str, jsonpath: str | None = None, default: str | None = None) -> DataSource:
    return DataSource("t", (Column(name, type_, jsonpath or f"$.{name}", default),))


# --- lines ----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("body", "lines"),
    [
        (b"", []),
        (b"\n", []),
        (b"\n\n\r\n  \n\t\n", []),
        (b'{"a":1}', [b'{"a":1}']),
        (b'{"a":1}\n', [b'{"a":1}']),
        (b'{"a":1}\n{"a":2}', [b'{"a":1}', b'{"a":2}']),
        (b'{"a":1}\r\n{"a":2}\r\n', [b'{"a":1}', b'{"a":2}']),
        (b'\n\n{"a":1}\n\n\n{"a":2}\n\n', [b'{"a":1}', b'{"a":2}']),
        # Inner spaces are kept: the line bytes are stored as sent.
        (b' {"a": 1} \n', [b' {"a": 1} ']),
    ],
)
def test_iter_lines(body: bytes, lines: list[bytes]) -> None:
    assert list(iter_lines(body)) == lines


# --- parse ----------------------------------------------------------------------------------------


def test_parse_seed_body() -> None:
    batch = parse(SEED, 1000)
    assert batch == ParsedBatch(
        objects=[
            {"date": "2020-04-05 00:05:38", "city": "Chicago"},
            {"date": "2020-04-05 00:07:22", "city": "Madrid"},
        ],
        lines=[
            b'{"date": "2020-04-05 00:05:38", "city": "Chicago"}',
            b'{"date": "2020-04-05 00:07:22", "city": "Madrid"}',
        ],
        rejected=[],
    )
    assert batch.total == 2


def test_parse_quarantines_lines_that_are_not_objects_with_the_reason() -> None:
    # Given one object and every kind of line that is not one, CRLF endings and blank lines
    body = b'{"a":1}\r\n[1,2]\n42\n"s"\nnull\n{"a":\n\n{"a":1,}\nnope\n{"a":2}\n'
    # When it is parsed
    batch = parse(body, 1000)
    # Then the objects keep their bytes and every other line is quarantined, in order, with its reason
    assert batch.objects == [{"a": 1}, {"a": 2}]
    assert batch.lines == [b'{"a":1}', b'{"a":2}']
    assert batch.rejected == [
        Rejected(b"[1,2]", "", NOT_OBJECT),
        Rejected(b"42", "", NOT_OBJECT),
        Rejected(b'"s"', "", NOT_OBJECT),
        Rejected(b"null", "", NOT_OBJECT),
        Rejected(b'{"a":', "", "invalid JSON: unexpected end of data: line 1 column 6 (char 5)"),
        Rejected(b'{"a":1,}', "", "invalid JSON: trailing comma is not allowed: line 1 column 7 (char 6)"),
        Rejected(b"nope", "", "invalid JSON: invalid literal, expected 'null': line 1 column 1 (char 0)"),
    ]
    assert batch.total == 9


def test_parse_invalid_utf8_is_invalid_json() -> None:
    batch = parse(b'{"a":"\xff"}\n', 1000)
    assert batch.objects == []
    assert batch.rejected == [
        Rejected(
            b'{"a":"\xff"}',
            "",
            "invalid JSON: str is not valid UTF-8: surrogates not allowed: line 1 column 1 (char 0)",
        )
    ]


def test_parse_line_length_cap() -> None:
    # Given lines of exactly the cap and one byte over it
    at_cap = b'{"a":"' + b"x" * 4 + b'"}'
    over = b'{"a":"' + b"x" * 5 + b'"}'
    assert len(at_cap) == 12
    # When parsed with a 12-byte cap
    batch = parse(at_cap + b"\n" + over + b"\n", 12)
    # Then the first is kept and the second quarantined without being parsed
    assert batch.lines == [at_cap]
    assert batch.rejected == [Rejected(over, "", "line too long: 13 bytes, the limit is 12")]


def test_parse_over_long_line_is_kept_truncated_to_1024_bytes() -> None:
    line = b'{"a":"' + b"x" * 5000 + b'"}'
    batch = parse(line, 1000)
    assert batch.rejected == [Rejected(line[:1024], "", "line too long: 5008 bytes, the limit is 1000")]
    assert len(batch.rejected[0].line) == 1024


# --- the validator --------------------------------------------------------------------------------


def test_validator_accepts_the_seed_rows() -> None:
    validate = compile_validator(SEED_SCHEMA)
    assert validate({"date": "2020-04-05 00:05:38", "city": "Chicago"}) is None
    # Extra fields are ignored, as Tinybird does with fields no column points at.
    assert validate({"date": "2020-04-05 00:07:22", "city": "Madrid", "country": "ES"}) is None


@pytest.mark.parametrize(
    "row", [{"date": "2020-04-05 00:05:38"}, {"date": "2020-04-05 00:05:38", "city": None}]
)
def test_validator_missing_non_nullable_column(row: dict[str, Any]) -> None:
    assert _fault(SEED_SCHEMA, row) == (
        "city",
        "missing value on column 'city' of type String: the column is not Nullable",
    )


def test_validator_reports_the_first_faulty_column_in_schema_order() -> None:
    assert _fault(SEED_SCHEMA, {"date": "yesterday"}) == (
        "date",
        "value 'yesterday' on column 'date' is not DateTime",
    )


@pytest.mark.parametrize(
    ("ds", "row", "fault"),
    [
        (_one("n", "Int32"), {"n": "x"}, ("n", "value 'x' on column 'n' is not Int32")),
        (_one("n", "Int32"), {"n": 2**31}, ("n", "value '2147483648' on column 'n' is not Int32")),
        (_one("n", "Int32"), {"n": 1.5}, ("n", "value '1.5' on column 'n' is not Int32")),
        (_one("n", "Int32"), {"n": True}, ("n", "value 'true' on column 'n' is not Int32")),
        (_one("n", "Int32"), {"n": {"k": 1}}, ("n", "value '{\"k\":1}' on column 'n' is not Int32")),
        (_one("n", "Nullable(Int64)"), {"n": "x"}, ("n", "value 'x' on column 'n' is not Nullable(Int64)")),
        (
            _one("d", "DateTime64(3)"),
            {"d": "2020-13-01"},
            ("d", "value '2020-13-01' on column 'd' is not DateTime64(3)"),
        ),
        (_one("b", "Bool"), {"b": "true"}, ("b", "value 'true' on column 'b' is not Bool")),
    ],
)
def test_validator_wrong_type(ds: DataSource, row: dict[str, Any], fault: tuple[str, str]) -> None:
    assert _fault(ds, row) == fault


def test_validator_shortens_long_values_to_100_characters() -> None:
    column, error = _fault(_one("n", "Int64"), {"n": "x" * 500}) or ("", "")
    assert (column, error) == ("n", f"value '{'x' * 97}...' on column 'n' is not Int64")


@pytest.mark.parametrize("row", [{}, {"n": None}, {"n": 5}])
def test_validator_nullable_accepts_missing_and_null(row: dict[str, Any]) -> None:
    assert _fault(_one("n", "Nullable(Int64)"), row) is None


def test_validator_arrays() -> None:
    ds = _one("ids", "Array(UInt8)", "$.ids[:]")
    assert _fault(ds, {"ids": [0, 255]}) is None
    assert _fault(ds, {"ids": []}) is None
    assert _fault(ds, {"ids": [1, None]}) is None
    # A missing or null array is an empty one.
    assert _fault(ds, {}) is None
    assert _fault(ds, {"ids": None}) is None
    assert _fault(ds, {"ids": [1, 256, -1]}) == ("ids", "value '256' in column 'ids' is not Array(UInt8)")
    assert _fault(ds, {"ids": ["a"]}) == ("ids", "value 'a' in column 'ids' is not Array(UInt8)")
    assert _fault(ds, {"ids": 5}) == ("ids", "value '5' on column 'ids' is not Array(UInt8)")
    assert _fault(ds, {"ids": {"0": 1}}) == ("ids", "value '{\"0\":1}' on column 'ids' is not Array(UInt8)")


def test_validator_default_lets_a_missing_value_pass_but_not_a_wrong_one() -> None:
    ds = _one("n", "Int64", default="0")
    assert _fault(ds, {}) is None
    assert _fault(ds, {"n": None}) is None
    assert _fault(ds, {"n": "x"}) == ("n", "value 'x' on column 'n' is not Int64")


@pytest.mark.parametrize(
    ("row", "fault"),
    [
        ({"geo": {"region": "eu"}}, None),
        ({"geo": {"region": 5}}, None),  # String takes any non-null value
        (
            {"geo": {}},
            ("region", "missing value on column 'region' of type String: the column is not Nullable"),
        ),
        ({}, ("region", "missing value on column 'region' of type String: the column is not Nullable")),
        # An intermediate that is not an object fits no column of its path (the data source evolves; one
        # that keeps its schema reads the value as missing: test_validator_kept_schema_reads_no_misplaced_value).
        (
            {"geo": "eu"},
            (
                "region",
                "value 'eu' on $.geo fits no column: column 'region' reads $.geo.region inside it, "
                "so only an object or null fits there",
            ),
        ),
        (
            {"geo": ["eu"]},
            (
                "region",
                "value '[\"eu\"]' on $.geo fits no column: column 'region' reads $.geo.region inside it, "
                "so only an object or null fits there",
            ),
        ),
        (
            {"geo": None},
            ("region", "missing value on column 'region' of type String: the column is not Nullable"),
        ),
    ],
)
def test_validator_nested_jsonpath(row: dict[str, Any], fault: tuple[str, str] | None) -> None:
    assert _fault(_one("region", "String", "$.geo.region"), row) == fault


def test_validator_kept_schema_reads_no_misplaced_value() -> None:
    """A defined schema that does not evolve reads `$.geo.region` as Tinybird does: nothing there."""
    kept = replace(_one("region", "Nullable(String)", "$.geo.region"), schema_evolution=False)
    assert _fault(kept, {"geo": "eu"}) is None
    assert compile_validator(kept).all_fit([{"geo": "eu"}, {"geo": [1]}])
    evolving = _one("region", "Nullable(String)", "$.geo.region")
    assert _fault(evolving, {"geo": 7}) == (
        "region",
        "value '7' on $.geo fits no column: column 'region' reads $.geo.region inside it, "
        "so only an object or null fits there",
    )
    assert not compile_validator(evolving).all_fit([{"geo": {"region": "x"}}, {"geo": 7}])
    assert compile_validator(evolving).all_fit([{"geo": {"region": "x"}}, {"geo": None}, {}, {"geo": {}}])
    blocks = compile_validator(evolving).blocks  # the fast block check never vouches for one either
    assert blocks is not None and blocks.rows_if_all_fit(b'{"geo": 7}\n') == 0
    assert blocks.rows_if_all_fit(b'{"geo": {"region": "x"}}\n{"geo": null}\n') == 2
    checked = parse_and_check(b'{"geo": {"region": "x"}}\n{"geo": 7}\n', compile_validator(evolving), 1000)
    assert [r.line for r in checked.rejected] == [b'{"geo": 7}'] and len(checked.accepted) == 1


def test_validator_nested_jsonpath_nullable_and_deep() -> None:
    ds = _one("c", "Nullable(Int8)", "$.a.['b c'].d")
    assert _fault(ds, {"a": {"b c": {"d": 1}}}) is None
    assert _fault(replace(ds, schema_evolution=False), {"a": {"b c": 3}}) is None
    assert _fault(ds, {"a": {"b c": 3}}) == (
        "c",
        "value '3' on $.a.['b c'] fits no column: column 'c' reads $.a.['b c'].d inside it, "
        "so only an object or null fits there",
    )
    assert _fault(ds, {"a": {"b c": {"d": 300}}}) == ("c", "value '300' on column 'c' is not Nullable(Int8)")


def test_validator_nested_array() -> None:
    ds = _one("tags", "Array(String)", "$.meta.tags[:]")
    assert _fault(ds, {"meta": {"tags": ["a", 1]}}) is None
    assert _fault(ds, {"meta": {"tags": "a"}}) == ("tags", "value 'a' on column 'tags' is not Array(String)")


# --- check and parse_and_check --------------------------------------------------------------------

MIXED = (
    b'{"date": "2020-04-05 00:05:38", "city": "Chicago"}\r\n'
    b"\n"
    b'{"date": "2020-04-05 00:07:22"}\n'
    b"[1]\n"
    b'{"date": "2020-04-05 00:07:22", "city": "Madrid", "extra": [1, {"x": null}]}\n'
    b'{"date": 1586045242, "city": 7}\n'
    b'{"date": "nope", "city": "Rome"}\n'
    b"{broken\n"
    b'{"date": "2020-04-05T00:07:22Z", "city": "' + b"x" * 200 + b'"}\n'
)


def test_check_accepts_and_quarantines_exactly() -> None:
    validate = compile_validator(SEED_SCHEMA)
    checked = check(parse(MIXED, 200), validate)
    assert checked.accepted == [
        b'{"date": "2020-04-05 00:05:38", "city": "Chicago"}',
        b'{"date": "2020-04-05 00:07:22", "city": "Madrid", "extra": [1, {"x": null}]}',
        b'{"date": 1586045242, "city": 7}',
    ]
    assert checked.rejected == [
        # Lines that are not objects come first: they were quarantined while parsing.
        Rejected(b"[1]", "", NOT_OBJECT),
        Rejected(
            b"{broken",
            "",
            "invalid JSON: unexpected character, expected a string key: line 1 column 2 (char 1)",
        ),
        Rejected(
            b'{"date": "2020-04-05T00:07:22Z", "city": "' + b"x" * 200 + b'"}',
            "",
            "line too long: 244 bytes, the limit is 200",
        ),
        Rejected(
            b'{"date": "2020-04-05 00:07:22"}',
            "city",
            "missing value on column 'city' of type String: the column is not Nullable",
        ),
        Rejected(
            b'{"date": "nope", "city": "Rome"}', "date", "value 'nope' on column 'date' is not DateTime"
        ),
    ]


def test_parse_and_check_agrees_with_parse_then_check() -> None:
    # Given the same body and validator, the one-pass and two-pass paths
    validate = compile_validator(SEED_SCHEMA)
    two_pass = check(parse(MIXED, 200), validate)
    one_pass = parse_and_check(MIXED, validate, 200)
    # Then they accept the same lines and quarantine the same lines for the same reasons
    assert one_pass.accepted == two_pass.accepted
    assert sorted(one_pass.rejected, key=repr) == sorted(two_pass.rejected, key=repr)
    assert len(one_pass.rejected) == 5


def test_parse_and_check_keeps_line_order() -> None:
    validate = compile_validator(SEED_SCHEMA)
    checked = parse_and_check(MIXED, validate, 200)
    assert [r.line[:10] for r in checked.rejected] == [
        b'{"date": "',
        b"[1]",
        b'{"date": "',
        b"{broken",
        b'{"date": "',
    ]
    assert [r.column for r in checked.rejected] == ["city", "", "date", "", ""]


def test_parse_and_check_empty_body() -> None:
    assert parse_and_check(b"\n\r\n", compile_validator(SEED_SCHEMA), 100) == CheckedBatch(AcceptedRows(), [])
