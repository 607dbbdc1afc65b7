"""Rows into Arrow and Parquet: the Arrow form of a registry schema, and JSON lines converted to it.

The schema comes from the registry only (`arrow_schema`), never restated. A row whose value cannot be
converted (a date that does not exist, a value of the wrong type) leaves the table and is returned as
a quarantine entry with a Tinybird-style error, so one bad row never fails its batch.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any

import orjson
import pyarrow as pa
import pyarrow.parquet as pq

from lakegate.column_types import ColumnType, scalar_check
from lakegate.lake.layout import ERROR, ERROR_COLUMN, IMPORT_ID, INSERTION_DATE, LINE
from lakegate.lake.raw import QuarantineEntry
from lakegate.schema import MISSING, Column, DataSource, getter

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_EPOCH_DAY = date(1970, 1, 1)
_NOW = "now()"
# DateTime64(p): the Arrow unit that holds p fractional digits.
_UNITS = ((0, "s", timedelta(seconds=1)), (3, "ms", timedelta(milliseconds=1)), (6, "us", timedelta(0, 0, 1)))
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


def _unit(t: ColumnType) -> tuple[str, timedelta | None]:
    """The Arrow unit of a date-time column and one tick of it (None for ns: below timedelta's µs)."""
    if t.base == "DateTime":
        return "s", _UNITS[0][2]
    for digits, unit, tick in _UNITS:
        if t.precision <= digits:
            return unit, tick
    return "ns", None


def arrow_type(t: ColumnType) -> pa.DataType:
    """The Arrow type of a Tinybird type; Nullable is the field's, not the type's."""
    base = t.base
    scalar: pa.DataType
    if base == "String":
        scalar = pa.string()
    elif base in _INTS:
        scalar = _INTS[base]
    elif base == "Float32":
        scalar = pa.float32()
    elif base == "Float64":
        scalar = pa.float64()
    elif base == "Bool":
        scalar = pa.bool_()
    elif base == "Date":
        scalar = pa.date32()
    else:
        scalar = pa.timestamp(_unit(t)[0], tz="UTC")
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


class _Bad(ValueError):
    """One value that does not convert; the converter's caller words the error."""


def _short(v: object) -> str:
    text = v if isinstance(v, str) else orjson.dumps(v).decode()
    return text if len(text) <= 100 else text[:97] + "..."


def _text(v: object) -> str:
    # ClickHouse reads numbers, booleans, objects and arrays into String columns as their JSON text.
    return v if v.__class__ is str else orjson.dumps(v).decode()


def _scalar_converter(t: ColumnType) -> Callable[[object], object]:
    """Value -> what pa.array takes for the column's Arrow type; raises _Bad when it does not fit."""
    base = t.base
    fits = scalar_check(base)
    if base == "String":
        return _text
    if base in _INTS:

        def integer(v: object) -> object:
            if not fits(v):
                raise _Bad
            return v

        return integer
    if base in ("Float32", "Float64"):

        def real(v: object) -> object:
            if not fits(v):
                raise _Bad
            return float(v)  # type: ignore[arg-type]

        return real
    if base == "Bool":

        def boolean(v: object) -> object:
            if not fits(v):
                raise _Bad
            return bool(v)

        return boolean
    if base == "Date":

        def day(v: object) -> object:
            if not fits(v):
                raise _Bad
            try:
                return (date.fromisoformat(v) - _EPOCH_DAY).days  # type: ignore[arg-type]
            except ValueError as e:  # the shape of a date, not a real one (2021-02-30)
                raise _Bad from e

        return day
    unit, tick = _unit(t)
    per_second = {"s": 1, "ms": 1000, "us": 1_000_000, "ns": 1_000_000_000}[unit]

    def moment(v: object) -> object:
        if not fits(v):
            raise _Bad
        if v.__class__ is not str:  # epoch seconds, as ClickHouse reads a number into a date-time
            return int(v) * per_second if v.__class__ is int else round(v * per_second)  # type: ignore[operator]
        try:
            dt = datetime.fromisoformat(v)
        except ValueError as e:
            raise _Bad from e
        if dt.tzinfo is None:  # a data source's time zone is UTC
            dt = dt.replace(tzinfo=UTC)
        delta = dt - _EPOCH
        if tick is None:
            return delta // timedelta(microseconds=1) * 1000
        return delta // tick

    return moment


def _items(v: object, convert: Callable[[object], object]) -> list[object]:
    """An Array value converted item by item; a failing item is raised with the item, as its error names it."""
    if v.__class__ is not list:
        raise _Bad
    out: list[object] = []
    for item in v:
        try:
            out.append(None if item is None else convert(item))
        except _Bad as e:
            raise _Bad(item) from e
    return out


def _default(col: Column, t: ColumnType) -> object:
    """The value a DEFAULT clause stands for: a quoted string, `now()`, or a JSON literal."""
    text = (col.default or "").strip()
    if text == _NOW:
        return _NOW
    if len(text) >= 2 and text[0] == text[-1] == "'":
        return text[1:-1].replace("\\'", "'")
    try:
        return orjson.loads(text)
    except orjson.JSONDecodeError:
        return text


@dataclass(frozen=True, slots=True)
class _Plan:
    """One column compiled: where its value is, how it converts, what stands in for a missing one."""

    name: str
    type_name: str
    get: Callable[[dict[str, Any]], object]
    convert: Callable[[object], object]
    array: bool
    nullable: bool
    default: object


def _plan(col: Column) -> _Plan:
    t = col.parsed_type
    default: object = MISSING
    if col.default is not None:
        default = _default(col, t)
    elif t.array and not t.nullable:
        default = []  # ClickHouse's default for a missing Array
    return _Plan(col.name, str(t), getter(col.path), _scalar_converter(t), t.array, t.nullable, default)


@dataclass(slots=True)
class RowError:
    """A row that left the table: its original line, the column at fault ('' if none) and why."""

    index: int
    line: bytes
    column: str
    error: str


@dataclass(slots=True)
class Converted:
    """The rows that fit as one Arrow table (input order), their input indexes, and the rows that did not."""

    table: pa.Table
    kept: list[int]
    errors: list[RowError] = field(default_factory=list)


@dataclass(slots=True)
class ParsedLines:
    """Lines parsed once (for evolution and conversion alike): an object per line, `{}` where the line is
    not one, with its error."""

    rows: list[dict[str, Any]]
    errors: dict[int, RowError]


def parse_lines(lines: Sequence[bytes]) -> ParsedLines:
    errors: dict[int, RowError] = {}
    rows: list[dict[str, Any]] = []
    for i, line in enumerate(lines):
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            errors[i] = RowError(i, line, "", f"invalid JSON: {e}")
            obj = {}
        else:
            if obj.__class__ is not dict:
                errors[i] = RowError(i, line, "", "the line is not a JSON object")
                obj = {}
        rows.append(obj)
    return ParsedLines(rows, errors)


def _column(
    plan: _Plan,
    rows: Sequence[dict[str, Any]],
    now: Sequence[int],
    lines: Sequence[bytes],
    errors: dict[int, RowError],
) -> list[object]:
    """One column's converted values, None in the rows that fail (recorded once, first column first)."""
    out: list[object] = []
    convert = plan.convert
    for i, row in enumerate(rows):
        v = plan.get(row)
        if v is MISSING or v is None:
            if plan.default is _NOW:
                v = now[i] // 1000
            elif plan.default is not MISSING:
                v = plan.default
            elif plan.nullable:
                out.append(None)
                continue
            else:
                out.append(None)
                if i not in errors:
                    error = f"missing value on column '{plan.name}' of type {plan.type_name}: the column is not Nullable"
                    errors[i] = RowError(i, lines[i], plan.name, error)
                continue
        try:
            out.append(_items(v, convert) if plan.array else convert(v))
        except _Bad as bad:
            out.append(None)
            if i not in errors:
                where = "in" if plan.array and bad.args else "on"
                shown = bad.args[0] if plan.array and bad.args else v
                error = f"value '{_short(shown)}' {where} column '{plan.name}' is not {plan.type_name}"
                errors[i] = RowError(i, lines[i], plan.name, error)
    return out


def _read_type(t: ColumnType) -> pa.DataType:
    """What Arrow's JSON reader reads a column as: its own type, bar dates, which it reads only as text."""
    if t.base != "Date":
        return arrow_type(t)
    return pa.list_(pa.field("element", pa.string())) if t.array else pa.string()


def fast_table(ds: DataSource, ndjson: bytes, rows: int) -> pa.Table | None:
    """`rows` lines of NDJSON as one table through Arrow's C++ JSON reader, or None when it cannot vouch
    for every row.

    Only for rows already checked at ingest against this very schema version (the caller knows): then any
    value Arrow reads is one the reference path (`rows_to_table`) would read alike, and anything else makes
    Arrow fail or leave a null where the schema allows none, and the caller takes the reference path. It
    also fails on a field no column reads, so a batch that may evolve the schema never goes this way.
    Top-level jsonpaths without DEFAULT only; a few times faster than the reference (bench/compact.py).
    """
    import pyarrow.json as pajson

    keys = [_keys_of(c) for c in ds.columns]
    if any(k is None for k in keys) or len(set(keys)) != len(keys) or not rows:
        return None
    types = [c.parsed_type for c in ds.columns]
    read_schema = pa.schema([pa.field(k, _read_type(t)) for k, t in zip(keys, types, strict=True)])
    options = pajson.ParseOptions(explicit_schema=read_schema, unexpected_field_behavior="error")
    try:
        table = pajson.read_json(
            pa.BufferReader(ndjson),
            read_options=pajson.ReadOptions(use_threads=False),
            parse_options=options,
        )
        schema = arrow_schema(ds)
        if table.num_rows != rows:
            return None
        columns = []
        for column, f in zip(table.columns, schema, strict=True):
            if column.null_count and not f.nullable:  # missing: no Nullable, or an Array's [] (reference)
                return None
            columns.append(column.cast(f.type) if column.type != f.type else column)
        return pa.Table.from_arrays(columns, schema=schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError):
        return None


def _keys_of(col: Column) -> str | None:
    """The top-level key a column reads, if that is all it reads (and it has no DEFAULT to fill in)."""
    keys = col.keys
    return keys[0] if len(keys) == 1 and col.default is None else None


def rows_to_table(
    ds: DataSource, lines: Sequence[bytes], now_ms: Sequence[int], parsed: ParsedLines | None = None
) -> Converted:
    """Convert original JSON lines to the data source's Arrow schema; `now_ms[i]` is row i's ingestion time
    (for `DEFAULT now()`). Rows that do not convert are left out and returned in `errors`, in input order."""
    parsed = parsed or parse_lines(lines)
    rows, errors = parsed.rows, dict(parsed.errors)
    schema = arrow_schema(ds)
    arrays = []
    for col, f in zip(ds.columns, schema, strict=True):
        values = _column(_plan(col), rows, now_ms, lines, errors)
        arrays.append(pa.array(values, type=f.type))
    table = pa.Table.from_arrays(arrays, schema=schema)
    kept = [i for i in range(len(lines)) if i not in errors]
    if errors:
        mask = pa.array([i not in errors for i in range(len(lines))], type=pa.bool_())
        table = table.filter(mask)
    return Converted(table, kept, [errors[i] for i in sorted(errors)])


def quarantine_table(ds: DataSource | None, entries: Sequence[QuarantineEntry]) -> pa.Table:
    """Quarantined rows with each column's value as text where the line is an object that has it."""
    schema = quarantine_schema(ds)
    columns: list[list[object]] = [[] for _ in (ds.columns if ds else ())]
    getters = [getter(c.path) for c in ds.columns] if ds else []
    for e in entries:
        try:
            obj = orjson.loads(e.line)
        except orjson.JSONDecodeError:
            obj = None
        for values, get in zip(columns, getters, strict=True):
            v = get(obj) if obj.__class__ is dict else MISSING
            values.append(None if v is MISSING or v is None else _text(v))
    arrays = [pa.array(values, type=pa.string()) for values in columns]
    arrays += [
        pa.array([e.line for e in entries], type=pa.string()),
        pa.array([[e.column] for e in entries], type=pa.list_(pa.string())),
        pa.array([[e.error] for e in entries], type=pa.list_(pa.string())),
        pa.array([e.import_id for e in entries], type=pa.string()),
        pa.array([e.inserted_ms // 1000 for e in entries], type=pa.timestamp("s", tz="UTC")),
    ]
    return pa.Table.from_arrays(arrays, schema=schema)


def sort_table(table: pa.Table, sorting_key: Sequence[str]) -> pa.Table:
    """Rows ordered by the sorting key's columns (names that are no column, e.g. expressions, are skipped)."""
    keys = [(k, "ascending") for k in sorting_key if k in table.column_names]
    return table.sort_by(keys) if keys and table.num_rows > 1 else table


def to_parquet(table: pa.Table) -> bytes:
    """Parquet with zstd: a few times smaller than gzip'd JSON and readable by Athena, DuckDB and pandas."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return bytes(sink.getvalue())
