"""Altering a data source's schema (`POST /v0/datasources/<name>/alter`, `schema=`, as Tinybird's API takes it):
append-only and checked, so that every file already landed still reads under the new schema.

The new schema restates every column, in order, and may add Nullable (or Array) columns at the end. A
column keeps its name, jsonpath and DEFAULT; its type may only widen: become Nullable, an integer of more
bits of the same sign, Float32 to Float64, Date to Date32, DateTime to DateTime64(p) and DateTime64(p) to a
finer precision, in the same time zone (`LowCardinality` is a hint lakegate drops: `String` either way).
Anything else is a 400 naming the column and why. Pure.
"""

from __future__ import annotations

from dataclasses import replace

from lakegate.column_types import ColumnType, parse_type
from lakegate.definitions import column_definition, definition
from lakegate.errors import InvalidRequest
from lakegate.retention import parse_ttl
from lakegate.schema import Column, DataSource

_SIGNED = ("Int8", "Int16", "Int32", "Int64")
_UNSIGNED = ("UInt8", "UInt16", "UInt32", "UInt64")
_WIDER = {"Float32": ("Float64",), "Date": ("Date32",), "DateTime": ("DateTime64",)}
ALLOWED = (
    "Nullable, a wider integer of the same sign (Int8 to Int16, Int32, Int64; UInt8 to UInt16, ...), "
    "Float32 to Float64, Date to Date32, DateTime to DateTime64(p), DateTime64(p) to a finer precision"
)


def _wider_base(old: ColumnType, new: ColumnType) -> bool:
    """Whether every value of `old`'s base converts to `new`'s without loss (same zone for date-times)."""
    if old.base == new.base:
        return old.base != "DateTime64" or new.precision >= old.precision
    for family in (_SIGNED, _UNSIGNED):
        if old.base in family and new.base in family:
            return family.index(new.base) > family.index(old.base)
    return new.base in _WIDER.get(old.base, ())


def _why_not(old: ColumnType, new: ColumnType) -> str:
    """'' when `old` may become `new`; else why not, in a phrase."""
    if old.nullable and not new.nullable:
        return "it would drop Nullable, and rows already landed may hold nulls"
    if old.array != new.array:
        return "an Array cannot become a scalar or a scalar an Array"
    if old.zone != new.zone:
        return f"its time zone would change ('{old.zone or 'UTC'}' to '{new.zone or 'UTC'}')"
    if _wider_base(old, new):
        return ""
    if _wider_base(new, old):
        return "that narrows the type: values already landed may not fit"
    return "that is no widening"


def altered(current: DataSource, schema: str) -> DataSource:
    """`current` with the schema `schema`, as its next version: checked as `POST /v0/datasources` checks a
    definition, then column by column against `current` (append-only, types only widen)."""
    if not schema.strip():
        raise InvalidRequest(
            "The 'schema' parameter is required: every column of the Data Source, in order, "
            "then any new Nullable columns"
        )
    proposed = definition(
        current.name, schema, ", ".join(current.sorting_key), current.partition_key, current.ttl
    ).columns
    new_names = {c.name for c in proposed}
    for i, old in enumerate(current.columns):
        if old.name not in new_names:
            raise InvalidRequest(
                f"The schema drops or renames column '{old.name}': an alter keeps every column "
                "(rows already landed hold it); columns may only be added at the end"
            )
        new = proposed[i]
        if new.name != old.name:
            raise InvalidRequest(
                f"Column '{old.name}' must stay column {i + 1} (the schema puts '{new.name}' there): "
                "an alter keeps the columns in order and adds new ones at the end"
            )
        _check_column(old, new)
    for new in proposed[len(current.columns) :]:
        t = new.parsed_type
        if not (t.nullable or t.array):
            raise InvalidRequest(
                f"New column '{new.name}' must be Nullable (or an Array): rows already landed have no value "
                f"for it (declare it `Nullable({new.type})`)"
            )
    ds = replace(current, columns=tuple(proposed), version=current.version + 1)
    parse_ttl(ds.ttl, ds)
    return ds


def _check_column(old: Column, new: Column) -> None:
    why = _why_not(parse_type(old.type), parse_type(new.type))
    if why:
        raise InvalidRequest(
            f"Column '{old.name}' cannot change from {old.type} to {new.type}: {why}. "
            f"An alter may only widen a type: {ALLOWED}"
        )
    if new.jsonpath != old.jsonpath:
        raise InvalidRequest(
            f"Column '{old.name}' would read {new.jsonpath} instead of {old.jsonpath}: an alter keeps "
            "each column's jsonpath"
        )
    if new.default != old.default:
        raise InvalidRequest(
            f"Column '{old.name}' would change its DEFAULT: an alter keeps it ({column_definition(old)})"
        )
