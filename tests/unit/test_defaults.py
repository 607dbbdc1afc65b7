"""DEFAULT expressions: what each lands as, at the row's ingestion time."""

from __future__ import annotations

import pytest

from lakegate.column_types import parse_type
from lakegate.defaults import BadDefault, parse_default

MS = 1_764_558_670_123  # 2025-12-01T03:11:10.123Z


@pytest.mark.parametrize(
    ("type_", "text", "lands"),
    [
        ("Date", "now()", 20423),
        ("Date", "today()", 20423),
        ("DateTime", "now()", 1_764_558_670),
        ("DateTime64(3)", "now64()", MS),
        ("DateTime64(6)", "now64(6)", MS * 1000),
        ("DateTime64(9)", "NOW()", MS * 1_000_000),
        ("DateTime", "'2020-01-01 00:00:00'", 1_577_836_800),
        ("Date", "'1970-01-02'", 1),
        ("String", "'view'", "view"),
        ("String", "'it''s'", "it's"),
        ("String", "'it\\'s'", "it's"),
        ("String", "''", ""),
        ("Int8", "-128", -128),
        ("UInt64", "18446744073709551615", 2**64 - 1),
        ("Float64", "1.5e3", 1500.0),
        ("Bool", "false", False),
        ("Array(Int32)", "[]", []),
        ("Nullable(Int32)", "NULL", None),
    ],
)
def test_a_default_lands_as_its_column_holds_it(type_: str, text: str, lands: object) -> None:
    assert parse_default(text, parse_type(type_)).value(MS) == lands


@pytest.mark.parametrize(
    ("type_", "text"),
    [
        ("UInt8", "-1"),
        ("Int8", "128"),
        ("Int32", "'1'"),
        ("String", "now()"),
        ("Date", "now() - 1"),
        ("Date", "'2021-02-30'"),
        ("Int32", "NULL"),
        ("Array(Int8)", "[1]"),
        ("String", "'a'b'"),
        ("Float32", "1e39"),
        ("String", "concat('a', 'b')"),
    ],
)
def test_a_default_that_cannot_apply_is_refused(type_: str, text: str) -> None:
    with pytest.raises(BadDefault):
        parse_default(text, parse_type(type_))
