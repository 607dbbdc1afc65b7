"""What an alter may change (lakegate.alter): for generated pairs of types, an alter is accepted only when
every value the old type took still fits the new one, so rows landed or checked before still read."""

from __future__ import annotations

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakegate.alter import altered
from lakegate.column_types import INT_RANGES
from lakegate.errors import InvalidRequest
from lakegate.ingest.rows import compile_validator
from lakegate.schema import Column, DataSource

TYPES = [
    *INT_RANGES, "Float32", "Float64", "Date", "Date32", "DateTime", "DateTime64(3)", "DateTime64(6)",
    "DateTime('Europe/Madrid')", "String", "Bool",
]  # fmt: skip
VALUES: dict[str, st.SearchStrategy[object]] = {
    **{t: st.integers(lo, hi) for t, (lo, hi) in INT_RANGES.items()},
    "Float32": st.floats(-3e38, 3e38),
    "Float64": st.floats(allow_nan=False, allow_infinity=False),
    "Date": st.dates().filter(lambda d: 1970 <= d.year < 2149).map(str),
    "Date32": st.dates().filter(lambda d: 1900 <= d.year < 2299).map(str),
    "DateTime": st.datetimes().filter(lambda d: 1970 <= d.year < 2106).map(lambda d: f"{d:%Y-%m-%d %H:%M:%S}"),
    "DateTime64(3)": st.datetimes().filter(lambda d: 1900 <= d.year < 2262).map(lambda d: f"{d:%Y-%m-%d %H:%M:%S.%f}"[:-3]),
    "DateTime64(6)": st.datetimes().filter(lambda d: 1900 <= d.year < 2262).map(lambda d: f"{d:%Y-%m-%d %H:%M:%S.%f}"),
    "DateTime('Europe/Madrid')": st.datetimes().filter(lambda d: 1971 <= d.year < 2105).map(lambda d: f"{d:%Y-%m-%d %H:%M:%S}"),
    "String": st.text(),
    "Bool": st.booleans(),
}  # fmt: skip


def _ds(ctype: str, version: int = 1) -> DataSource:
    return DataSource("t", (Column("v", ctype, "$.v"),), version=version)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(old=st.sampled_from(TYPES), new=st.sampled_from(TYPES), nullable=st.booleans(), data=st.data())
def test_an_accepted_alter_keeps_every_value_the_old_type_took(
    old: str, new: str, nullable: bool, data: st.DataObject
) -> None:
    target = f"Nullable({new})" if nullable else new
    try:
        ds = altered(_ds(old), f"`v` {target} `json:$.v`")
    except InvalidRequest as e:
        assert "Column 'v' cannot change" in e.message
        assert old != new
        return
    assert ds.version == 2
    value = data.draw(VALUES[old])
    assert compile_validator(_ds(old))({"v": value}) is None
    assert compile_validator(ds)({"v": value}) is None, (old, target, value)


@pytest.mark.parametrize(
    ("old", "new"),
    [("Int8", "Int64"), ("UInt8", "UInt64"), ("Float32", "Float64"), ("Date", "Date32"),
     ("DateTime", "DateTime64(3)"), ("DateTime64(3)", "DateTime64(9)"), ("Int32", "Nullable(Int32)"),
     ("LowCardinality(String)", "String"), ("String", "LowCardinality(String)"), ("Array(Int8)", "Array(Int16)")],
)  # fmt: skip
def test_the_widenings_listed_in_readme_are_accepted(old: str, new: str) -> None:
    path = "$.v[:]" if "Array" in old else "$.v"
    ds = DataSource("t", (Column("v", old, path),))
    assert (
        altered(ds, f"`v` {new} `json:{path}`").columns[0].type.replace("LowCardinality(", "").rstrip(")")
        in new
    )


@pytest.mark.parametrize(
    ("old", "new"),
    [("Int64", "Int32"), ("UInt8", "Int16"), ("Int8", "UInt64"), ("Float64", "Float32"), ("Int32", "Float64"),
     ("DateTime64(6)", "DateTime64(3)"), ("DateTime64(3)", "DateTime"), ("Date32", "Date"),
     ("Nullable(Int8)", "Int8"), ("String", "Int64"), ("Int64", "String"), ("DateTime", "DateTime('UTC+1')")],
)  # fmt: skip
def test_everything_else_is_refused_naming_the_column(old: str, new: str) -> None:
    with pytest.raises(InvalidRequest, match="'v'"):
        altered(_ds(old), f"`v` {new} `json:$.v`")
