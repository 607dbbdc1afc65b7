"""JSON lines into Arrow tables of a data source's schema, and tables into Parquet.

Two ways in, one result: `rows_to_table` converts each value with lakegate.values (the conversion the
ingest checked the rows with), and `fast_table` lets Arrow's C++ reader take a batch whole when it can
vouch for it. A row whose value does not convert (checked against another schema version, or not at all)
leaves the table as a quarantine entry with a Tinybird-style error, so one bad row never fails its batch.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import date
from typing import Any

import msgspec
import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lakegate.column_types import ColumnType
from lakegate.defaults import Default, parse_default
from lakegate.lake.arrow_types import arrow_schema
from lakegate.schema import MISSING, Column, DataSource, getter
from lakegate.shapes import misplaced, object_paths
from lakegate.values import BadValue, Convert, converter, raw_text, shown

_EPOCH_DAY = date(1970, 1, 1)
_EMPTY_ARRAY = Default("[]", lambda ms: [])
_raw_items = msgspec.json.Decoder(list[msgspec.Raw])


@dataclass(frozen=True, slots=True)
class _Plan:
    """One column compiled: where its value is, how it converts, what stands in for a missing one."""

    name: str
    type_name: str
    keys: tuple[str, ...]
    get: Callable[[dict[str, Any]], object]
    convert: Convert
    array: bool
    nullable: bool
    string: bool
    default: Default | None


def _plan(col: Column) -> _Plan:
    """Raises lakegate.defaults.BadDefault for a stored DEFAULT that cannot apply (refused when defined)."""
    t = col.parsed_type
    default = parse_default(col.default, t) if col.default is not None else None
    if default is None and t.array and not t.nullable:
        default = _EMPTY_ARRAY  # ClickHouse's default for a missing Array
    string = t.base == "String"
    return _Plan(
        col.name, str(t), col.keys, getter(col.keys), converter(t), t.array, t.nullable, string, default
    )


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
    # Values of the kept rows that no column reads, by jsonpath (a data source that keeps its schema).
    unread: Counter[str] = field(default_factory=Counter)
    # Fields past the column cap, by jsonpath: how many rows holding one went to quarantine (evolution).
    past_cap: Counter[str] = field(default_factory=Counter)


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


def _strings(v: list[object], line: bytes, keys: tuple[str, ...]) -> list[object]:
    """An Array(String)'s items: strings as they are, any other JSON value as the text the client sent."""
    if all(item is None or item.__class__ is str for item in v):
        return v
    text = raw_text(line, keys)
    raws = _raw_items.decode(text.encode()) if text is not None else []
    if len(raws) != len(v):
        raise BadValue(v)
    return [
        item if item is None or item.__class__ is str else bytes(raw).decode("utf-8", "replace")
        for item, raw in zip(v, raws, strict=True)
    ]


def _value(plan: _Plan, v: object, line: bytes) -> object:
    """What lands for a present, non-null value; BadValue(item) names an Array's failing item."""
    if plan.array:
        if v.__class__ is not list:
            raise BadValue()
        if plan.string:
            return _strings(v, line, plan.keys)
        out: list[object] = []
        for item in v:
            try:
                out.append(None if item is None else plan.convert(item))
            except BadValue as e:
                raise BadValue(item) from e
        return out
    if plan.string and v.__class__ is not str:
        text = raw_text(line, plan.keys)
        if text is None:
            raise BadValue()
        return text
    return plan.convert(v)


def _column(
    plan: _Plan,
    rows: Sequence[dict[str, Any]],
    now: Sequence[int],
    lines: Sequence[bytes],
    errors: dict[int, RowError],
) -> list[object]:
    """One column's converted values, None in the rows that fail (recorded once, first column first)."""
    out: list[object] = []
    for i, row in enumerate(rows):
        v = plan.get(row)
        if v is MISSING or v is None:
            if plan.default is not None:
                out.append(plan.default.value(now[i]))
            elif plan.nullable:
                out.append(None)
            else:
                out.append(None)
                if i not in errors:
                    error = f"missing value on column '{plan.name}' of type {plan.type_name}: the column is not Nullable"
                    errors[i] = RowError(i, lines[i], plan.name, error)
            continue
        try:
            out.append(_value(plan, v, lines[i]))
        except BadValue as bad:
            out.append(None)
            if i not in errors:
                where = "in" if plan.array and bad.args else "on"
                text = shown(bad.args[0] if plan.array and bad.args else v)
                error = f"value '{text}' {where} column '{plan.name}' is not {plan.type_name}"
                errors[i] = RowError(i, lines[i], plan.name, error)
    return out


def rows_to_table(
    ds: DataSource, lines: Sequence[bytes], now_ms: Sequence[int], parsed: ParsedLines | None = None
) -> Converted:
    """Convert original JSON lines to the data source's Arrow schema; `now_ms[i]` is row i's ingestion time
    (for `DEFAULT now()`). Rows that do not convert are left out and returned in `errors`, in input order."""
    parsed = parsed or parse_lines(lines)
    rows, errors = parsed.rows, dict(parsed.errors)
    # First, as the ingest's reference check does: where the schema evolves, a value at a path columns only
    # read inside of is in no column (lakegate.shapes), so its row goes to quarantine rather than land without it.
    shapes = object_paths(ds) if ds.schema_evolution else ()
    for i, row in enumerate(rows) if shapes else ():
        fault = misplaced(row, shapes)
        if fault is not None and i not in errors:
            errors[i] = RowError(i, lines[i], *fault)
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


# --- the fast path: Arrow's JSON reader ------------------------------------------------------------------
_TIME_READ = ("Date", "Date32", "DateTime", "DateTime64")


def _read_type(t: ColumnType, target: pa.DataType) -> pa.DataType:
    """What Arrow's JSON reader reads a column as: its own type, bar dates and times, which it reads as text
    (its own parsing takes a number as ticks and rounds as it likes: lakegate.values converts them)."""
    if t.base not in _TIME_READ:
        return target
    return pa.list_(pa.field("element", pa.string())) if t.array else pa.string()


def _time_pattern(t: ColumnType) -> str:
    """Texts whose meaning Arrow's cast and lakegate.times agree on: a date alone, or a date-time with at
    most the type's fraction digits (so nothing is truncated) and an offset written `Z` or `±hh:mm`."""
    day = "[0-9]{4}-[0-9]{2}-[0-9]{2}"
    if t.base in ("Date", "Date32"):
        return f"^{day}$"
    fraction = f"(\\.[0-9]{{1,{t.precision}}})?" if t.base == "DateTime64" and t.precision else ""
    return f"^{day}[T ][0-9]{{2}}:[0-9]{{2}}:[0-9]{{2}}{fraction}(Z|[+-][0-9]{{2}}:[0-9]{{2}})?$"


def _cast_times(texts: pa.ChunkedArray, t: ColumnType, target: pa.DataType) -> pa.ChunkedArray:
    """A column of date or time texts as `target`: Arrow's cast where every text has a shape it reads as
    lakegate does, else each value converted by lakegate.values (BadValue if one does not fit)."""
    plain = not t.array and not t.zone and texts.null_count == 0 and len(texts) > 0
    if plain and pc.all(pc.match_substring_regex(texts, _time_pattern(t))).as_py():
        if t.base in ("Date", "Date32"):
            return texts.cast(target)
        offsets = pc.match_substring_regex(texts, "(Z|[+-][0-9]{2}:[0-9]{2})$")
        if pc.all(offsets).as_py():
            return texts.cast(target)
        if not pc.any(offsets).as_py():
            return texts.cast(pa.timestamp(target.unit)).cast(target)
    convert = converter(t)

    def one(v: object) -> object:
        if v is None:
            return None
        if t.array:
            return [None if item is None else convert(item) for item in v]  # type: ignore[attr-defined]
        return convert(v)

    return pa.chunked_array([pa.array([one(v) for v in texts.to_pylist()], type=target)], type=target)


def fast_table(ds: DataSource, ndjson: bytes, rows: int) -> pa.Table | None:
    """`rows` lines of NDJSON as one table through Arrow's C++ JSON reader, or None when it cannot vouch
    for every row.

    Only for rows already checked at ingest against this very schema version (the caller knows): then every
    value converts (lakegate.values), and Arrow reads each the same or fails, or leaves a null where the
    schema allows none, and the caller takes the reference path. Dates and times are read as text and
    converted here. Arrow also fails on a field no column reads, so a batch that may evolve the schema never
    goes this way. Top-level jsonpaths without DEFAULT only; a few times faster than the reference
    (bench/compact.py).
    """
    import pyarrow.json as pajson

    keys = [_keys_of(c) for c in ds.columns]
    if any(k is None for k in keys) or len(set(keys)) != len(keys) or not rows:
        return None
    types = [c.parsed_type for c in ds.columns]
    schema = arrow_schema(ds)
    read_schema = pa.schema(
        [pa.field(k, _read_type(t, f.type)) for k, t, f in zip(keys, types, schema, strict=True)]
    )
    options = pajson.ParseOptions(explicit_schema=read_schema, unexpected_field_behavior="error")
    try:
        table = pajson.read_json(
            pa.BufferReader(ndjson),
            read_options=pajson.ReadOptions(use_threads=False),
            parse_options=options,
        )
        if table.num_rows != rows:
            return None
        columns = []
        for column, t, f in zip(table.columns, types, schema, strict=True):
            if column.null_count and not f.nullable:  # missing: no Nullable, or an Array's [] (reference)
                return None
            if t.base in _TIME_READ:
                column = _cast_times(column, t, f.type)  # noqa: PLW2901 - the column as it lands
            columns.append(column.cast(f.type) if column.type != f.type else column)
        return pa.Table.from_arrays(columns, schema=schema)
    except (pa.ArrowInvalid, pa.ArrowNotImplementedError, pa.ArrowTypeError, BadValue):
        return None


def _keys_of(col: Column) -> str | None:
    """The top-level key a column reads, if that is all it reads (and it has no DEFAULT to fill in)."""
    keys = col.keys
    return keys[0] if len(keys) == 1 and col.default is None else None


# --- files -------------------------------------------------------------------------------------------


def days_of(values: pa.ChunkedArray) -> list[int | None]:
    """Days since 1970 of each date or instant, in the column's time zone (what `toDate` partitions by)."""
    if pa.types.is_timestamp(values.type) and values.type.tz not in (None, "UTC"):
        return _local_days(values, values.type.tz)
    if pa.types.is_timestamp(values.type):
        values = values.cast(pa.timestamp(values.type.unit)).cast(pa.date32())
    elif not pa.types.is_date32(values.type):
        raise TypeError(f"no date in a column of {values.type}")
    result: list[int | None] = values.cast(pa.int32()).to_pylist()
    return result


def _local_days(values: pa.ChunkedArray, zone: str) -> list[int | None]:
    """Days since 1970 of each instant in `zone` (Python's tz database: pyarrow's may be missing in Lambda)."""
    from datetime import UTC, datetime
    from zoneinfo import ZoneInfo

    tz = ZoneInfo(zone)
    per = {"s": 1, "ms": 1000, "us": 10**6, "ns": 10**9}[values.type.unit]
    out: list[int | None] = []
    for ticks in values.cast(pa.int64()).to_pylist():
        if ticks is None:
            out.append(None)
        else:
            local = datetime.fromtimestamp(ticks // per, UTC).astimezone(tz)
            out.append((local.date() - _EPOCH_DAY).days)
    return out


def to_parquet(table: pa.Table) -> bytes:
    """Parquet with zstd: a few times smaller than gzip'd JSON and readable by Athena, DuckDB and pandas."""
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink, compression="zstd")
    return bytes(sink.getvalue())
