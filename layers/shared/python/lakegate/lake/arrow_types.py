"""The Arrow form of a registry schema: types, fields and schemas of a data source's Parquet and of its
quarantine's. Derived from the registry only, never restated."""

from __future__ import annotations

import pyarrow as pa

from lakegate.column_types import ColumnType
from lakegate.names import ERROR, ERROR_COLUMN, IMPORT_ID, INSERTION_DATE, LINE
from lakegate.schema import Column, DataSource
from lakegate.times import unit_digits

_INTS = {
    "Int8": pa.int8(),
    "Int16": pa.int16(),
    "Int32": pa.int32(),
    "Int64": pa.int64(),
    "UInt8": pa.uint8(),
    "UInt16": pa.uint16(),
    "UInt32": pa.uint32(),
    "UInt64": pa.uint64(),
}
_UNITS = {0: "s", 3: "ms", 6: "us", 9: "ns"}
_SCALARS = {
    "String": pa.string(),
    **_INTS,
    "Float32": pa.float32(),
    "Float64": pa.float64(),
    "Bool": pa.bool_(),
    "Date": pa.date32(),
    "Date32": pa.date32(),
}


def scalar_type(t: ColumnType) -> pa.DataType:
    """The Arrow type of a Tinybird scalar: date-times in the unit that holds their digits, in their zone."""
    if t.base in _SCALARS:
        return _SCALARS[t.base]
    digits = unit_digits(t.precision) if t.base == "DateTime64" else 0
    return pa.timestamp(_UNITS[digits], tz=t.zone or "UTC")


def arrow_type(t: ColumnType) -> pa.DataType:
    """The Arrow type of a Tinybird type; Nullable is the field's, not the type's."""
    scalar = scalar_type(t)
    # Parquet's standard list layout names the item `element`: so do we, and the schema round-trips.
    return pa.list_(pa.field("element", scalar)) if t.array else scalar


def arrow_field(col: Column) -> pa.Field:
    t = col.parsed_type
    return pa.field(col.name, arrow_type(t), nullable=t.nullable)


def arrow_schema(ds: DataSource) -> pa.Schema:
    """The Arrow schema of a data source's Parquet files, in registry column order."""
    return pa.schema([arrow_field(c) for c in ds.columns])


def quarantine_schema(ds: DataSource | None) -> pa.Schema:
    """`<name>_quarantine`: every column as nullable text, the original line, and Tinybird's error columns."""
    own = [pa.field(c.name, pa.string()) for c in ds.columns] if ds else []
    return pa.schema(
        [
            *own,
            pa.field(LINE, pa.string(), nullable=False),
            pa.field(ERROR_COLUMN, pa.list_(pa.string()), nullable=False),
            pa.field(ERROR, pa.list_(pa.string()), nullable=False),
            pa.field(IMPORT_ID, pa.string(), nullable=False),
            pa.field(INSERTION_DATE, pa.timestamp("s", tz="UTC"), nullable=False),
        ]
    )
