"""One chunk's rows made ready to land, whatever they hold: converted, partitioned and sorted.

A row whose content makes the conversion raise (not just refuse a value, which `parquet` reports as a
row error) is found by bisection and goes to quarantine with the error text; the other rows land. A
failure that is the data source's own (its definition cannot be applied: a sorting key on an Array
column, a partition on one) sets aside every row of the chunk, to quarantine with the reason. A
transient failure (StoreUnavailable) is never caught here: Lambda retries the object.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

import pyarrow as pa
import pyarrow.compute as pc

from lakegate.errors import StoreUnavailable
from lakegate.lake.arrow_types import quarantine_schema
from lakegate.lake.evolution import SchemaStore, evolve
from lakegate.lake.layout import column_partition, ingestion_partition, partition_column
from lakegate.lake.parquet import Converted, RowError, days_of, fast_table, parse_lines, rows_to_table
from lakegate.lake.quarantine import quarantine_table
from lakegate.lake.raw import Chunk, QuarantineEntry
from lakegate.names import ERROR, ERROR_COLUMN, IMPORT_ID, INSERTION_DATE, LINE
from lakegate.schema import DataSource
from lakegate.shapes import read_tree, unread

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
# Failing rows found one by one before the search asks whether any row can land at all.
PROBE_AFTER = 8
_MAX_ERROR = 500


@dataclass(slots=True)
class Prepared:
    """A chunk's rows ready to land: the table (sorted by the sorting key; None when no row lands), for
    each of its rows the chunk row and the partition, the rows bound for quarantine with why, and why
    the whole chunk was set aside ('' when it was not)."""

    ds: DataSource | None
    table: pa.Table | None = None
    rows: list[int] = field(default_factory=list)
    partitions: list[str] = field(default_factory=list)
    errors: list[RowError] = field(default_factory=list)
    set_aside: str = ""
    # Values of the landing rows no column reads, by jsonpath (a data source that keeps its schema).
    unread: Counter[str] = field(default_factory=Counter)
    past_cap: Counter[str] = field(default_factory=Counter)  # fields past the column cap: rows per jsonpath


def describe(e: BaseException) -> str:
    text = f"{type(e).__name__}: {e}"
    return text if len(text) <= _MAX_ERROR else text[: _MAX_ERROR - 3] + "..."


def unknown_source(chunk: Chunk) -> Prepared:
    error = f"Data Source '{chunk.datasource}' is not in the registry of workspace '{chunk.workspace}'"
    return Prepared(None, errors=[RowError(i, line, "", error) for i, line in enumerate(chunk.lines)])


def prepare(schemas: SchemaStore, chunk: Chunk, ds: DataSource) -> Prepared:
    """The chunk's rows converted (evolving the schema for new fields), partitioned and sorted."""
    everything = range(chunk.rows)  # a list only when a search needs one: the common case never does

    def attempt(rows: Sequence[int]) -> Prepared:
        return _prepare(schemas, chunk, ds, rows)

    try:
        return attempt(everything)
    except StoreUnavailable:
        raise
    except Exception as e:  # noqa: BLE001 - any failure of a row's content must not sink the object
        failure: Exception = e
    try:
        attempt([])  # fails with no row at all: the definition itself cannot be applied
    except StoreUnavailable:
        raise
    except Exception as e:  # noqa: BLE001
        return _set_aside(chunk, ds, describe(e))
    search = _Search(attempt, list(everything))
    try:
        search.run(search.everything, failure)
        good = [i for i in everything if i not in search.bad]
        prepared = attempt(good) if good else Prepared(ds)
    except StoreUnavailable:
        raise
    except _SourceLevel as e:
        return _set_aside(chunk, ds, e.reason)
    except Exception as e:  # noqa: BLE001 - the good rows together still fail: not any one row's doing
        return _set_aside(chunk, ds, describe(e))
    lines = chunk.lines
    prepared.errors += [
        RowError(i, lines[i], "", f"the row cannot be landed: {reason}") for i, reason in search.bad.items()
    ]
    prepared.errors.sort(key=lambda e: e.index)
    return prepared


class _SourceLevel(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class _Search:
    """Bisection for the rows that fail alone. A part that fails while both its halves land, or a search
    that finds only failing rows (PROBE_AFTER of them, and a few probes spread over the chunk fail too),
    is the data source's failure, not a row's: the cost stays a few passes over the chunk."""

    def __init__(self, attempt: Callable[[Sequence[int]], Prepared], everything: list[int]) -> None:
        self.attempt = attempt
        self.everything = everything
        self.bad: dict[int, str] = {}
        self.landed = False
        self.probed = False

    def run(self, part: list[int], failure: Exception | None = None) -> bool:
        if failure is None:
            try:
                self.attempt(part)
                self.landed = True
                return True
            except StoreUnavailable:
                raise
            except Exception as e:  # noqa: BLE001
                failure = e
        if len(part) == 1:
            self.bad[part[0]] = describe(failure)
            if not self.landed and len(self.bad) >= PROBE_AFTER:
                self._probe(failure)
            return False
        mid = len(part) // 2
        left = self.run(part[:mid])
        right = self.run(part[mid:])
        if left and right:
            raise _SourceLevel(describe(failure))
        return False

    def _probe(self, failure: Exception) -> None:
        if self.probed:
            return
        self.probed = True
        n = len(self.everything)
        for i in sorted({self.everything[n // 2], self.everything[(3 * n) // 4], self.everything[-1]}):
            if i in self.bad:
                continue
            try:
                self.attempt([i])
            except StoreUnavailable:
                raise
            except Exception:  # noqa: BLE001, S112 - a probe that fails says what the search says
                continue
            self.landed = True
            return
        raise _SourceLevel(describe(failure))


def _set_aside(chunk: Chunk, ds: DataSource, reason: str) -> Prepared:
    error = (
        f"set aside: the Data Source '{chunk.datasource}' cannot land rows as defined ({reason}); "
        "the rows of other Data Sources landed"
    )
    return Prepared(
        ds, errors=[RowError(i, line, "", error) for i, line in enumerate(chunk.lines)], set_aside=reason
    )


def _prepare(schemas: SchemaStore, chunk: Chunk, ds: DataSource, rows: Sequence[int]) -> Prepared:
    converted, ds = _convert(schemas, chunk, ds, rows)
    table = converted.table
    whole = len(rows) == chunk.rows  # positions in `rows` are chunk rows: no per-row remapping to pay
    kept = converted.kept if whole else [rows[k] for k in converted.kept]
    errors = [e if whole else RowError(rows[e.index], e.line, e.column, e.error) for e in converted.errors]
    partitions, failed = _partitions(ds, table, kept, chunk)
    if failed:
        mask = [j not in failed for j in range(len(kept))]
        table = table.filter(pa.array(mask, type=pa.bool_()))
        errors += [
            RowError(kept[j], chunk.lines[kept[j]], name, error) for j, (name, error) in failed.items()
        ]
        partitions = [p for j, p in enumerate(partitions) if j not in failed]
        kept = [i for j, i in enumerate(kept) if j not in failed]
    _check_parquet_holds(table)
    keys = [(k, "ascending") for k in ds.sorting_key if k in table.column_names]
    if keys:
        order = pc.sort_indices(table, sort_keys=keys)  # raises on a type that does not sort (Array)
        if table.num_rows > 1:
            table = table.take(order)
            positions = order.to_pylist()
            kept = [kept[j] for j in positions]
            partitions = [partitions[j] for j in positions]
    errors.sort(key=lambda e: e.index)
    return Prepared(ds, table, kept, partitions, errors, unread=converted.unread, past_cap=converted.past_cap)


_MS = pa.timestamp("ms", tz="UTC")


def _check_parquet_holds(table: pa.Table) -> None:
    """Raise for a value Parquet cannot hold, here where a row can still be set apart rather than when the
    file is written: Parquet has no seconds, so the writer casts DateTime (timestamp[s]) to milliseconds,
    which overflows past year ~292 million (a DateTime of epoch 9223372036854775807)."""
    for column in table.columns:
        t = column.type
        if pa.types.is_timestamp(t) and t.unit == "s":
            column.cast(_MS)
        elif pa.types.is_list(t) and pa.types.is_timestamp(t.value_type) and t.value_type.unit == "s":
            column.cast(pa.list_(pa.field("element", _MS)))


def _convert(
    schemas: SchemaStore, chunk: Chunk, ds: DataSource, rows: Sequence[int]
) -> tuple[Converted, DataSource]:
    """Rows checked at ingest against this very schema go through Arrow's reader in one C++ pass; any
    other rows (or those Arrow cannot vouch for) are parsed here, may evolve the schema, and convert row
    by row. `Converted` indexes are positions in `rows`."""
    if len(rows) == chunk.rows and chunk.versions == {ds.version}:
        table = fast_table(ds, chunk.data, chunk.rows)
        if table is not None:
            return Converted(table, list(range(chunk.rows))), ds
    lines = chunk.lines
    subset = lines if len(rows) == chunk.rows else [lines[i] for i in rows]
    parsed = parse_lines(subset)
    evolved = evolve(schemas, chunk.workspace, ds, parsed.rows)
    for i, error in evolved.past_cap.items():
        parsed.errors.setdefault(i, RowError(i, subset[i], "", error))
    converted = rows_to_table(evolved.ds, subset, [chunk.ingested_ms[i] for i in rows], parsed)
    converted.past_cap = evolved.fields_past_cap
    if not evolved.ds.schema_evolution:  # counted on the rows that land (quarantine keeps whole lines)
        converted.unread = unread(read_tree(evolved.ds), [parsed.rows[k] for k in converted.kept])
    return converted, evolved.ds


def _partitions(
    ds: DataSource, table: pa.Table, kept: Sequence[int], chunk: Chunk
) -> tuple[list[str], dict[int, tuple[str, str]]]:
    """Each row's partition folder (`kept`: each table row's chunk row), and the rows whose value has
    none (table row -> column, error)."""
    scheme = partition_column(ds)
    if scheme is None:
        if len(chunk.times) == 1:
            return [ingestion_partition(next(iter(chunk.times)))] * table.num_rows, {}
        names: dict[int, str] = {}
        ms = chunk.ingested_ms
        return [
            names[t] if t in names else names.setdefault(t, ingestion_partition(t))
            for t in (ms[i] for i in kept)
        ], {}
    function, name = scheme
    # Days since the epoch in Arrow, in the column's zone (no Python datetime per row: nanoseconds and far
    # years convert too); a column of another shape (an Array) raises here, for the whole data source.
    folders: dict[int | None, str | Exception] = {}
    out: list[str] = []
    failed: dict[int, tuple[str, str]] = {}
    for j, d in enumerate(days_of(table.column(name))):
        folder = folders.get(d)
        if folder is None:
            try:
                if d is None:  # only under definitions stored before Nullable partition keys were refused
                    raise ValueError("a null has no partition Athena's projection reads")
                folder = column_partition(function, date.fromordinal(_EPOCH_ORDINAL + d))
            except (ValueError, OverflowError) as e:
                folder = e
            folders[d] = folder
        if isinstance(folder, Exception):
            failed[j] = (name, f"value on column '{name}' has no {function} partition: {folder}")
            out.append("")
        else:
            out.append(folder)
    return out, failed


def quarantine_of(ds: DataSource | None, entries: Sequence[QuarantineEntry]) -> pa.Table:
    """`parquet.quarantine_table`, except that an entry whose values cannot be shown as text (JSON nested
    deeper than orjson writes) keeps only its line and error: a quarantined row always lands."""
    try:
        return quarantine_table(ds, entries)
    except Exception:  # noqa: BLE001 - the quarantine must take any row
        if len(entries) <= 1:
            return pa.concat_tables([quarantine_schema(ds).empty_table(), *(_bare(ds, e) for e in entries)])
    mid = len(entries) // 2
    return pa.concat_tables([quarantine_of(ds, entries[:mid]), quarantine_of(ds, entries[mid:])])


def _bare(ds: DataSource | None, e: QuarantineEntry) -> pa.Table:
    schema = quarantine_schema(ds)
    values: dict[str, object] = {
        LINE: e.line,
        ERROR_COLUMN: [e.column],
        ERROR: [e.error],
        IMPORT_ID: e.import_id,
        INSERTION_DATE: datetime.fromtimestamp(e.inserted_ms // 1000, UTC),
    }
    return pa.Table.from_pylist([{f.name: values.get(f.name) for f in schema}], schema=schema)
