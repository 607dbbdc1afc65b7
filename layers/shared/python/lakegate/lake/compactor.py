"""The compactor's core: one raw Firehose object in, Parquet files per data source and partition out.

`compact` is pure but for two stores it is handed: bytes, the registry and the refs in, named Arrow
tables out. `Compactor` drives it over any `ObjectStore` (the handler passes S3). No boto3 here.
Output names derive from the input key and the group, so a retried object overwrites its own files
and never lands a row twice. Rows with a dedup key that were not claimed at ingest (wait=false) have
their refs claimed here, the raw object as owner: a ref lands once whichever path it came by, and a
retried object claims the same refs again as their owner, so it keeps the same rows.
"""

from __future__ import annotations

import time
from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime
from typing import TYPE_CHECKING

import pyarrow as pa

from lakegate.dedup import RefStore, deduplicate
from lakegate.errors import InvalidRequest, StoreRefused, StoreUnavailable
from lakegate.lake.evolution import SchemaStore, evolve
from lakegate.lake.expiry import expire
from lakegate.lake.layout import (
    PARQUET_CONTENT_TYPE,
    column_partition,
    error_key,
    folder,
    ingestion_partition,
    part_key,
    partition_column,
    quarantine_name,
)
from lakegate.lake.objects import ObjectStore
from lakegate.lake.parquet import (
    Converted,
    fast_table,
    parse_lines,
    quarantine_table,
    rows_to_table,
    sort_table,
    to_parquet,
)
from lakegate.lake.raw import Group, QuarantineEntry, UnreadableObject, group_records, read_raw
from lakegate.retention import parse_ttl
from lakegate.schema import DataSource

if TYPE_CHECKING:
    from lakegate.lake.catalog import Catalog


@dataclass(frozen=True, slots=True)
class LandedFile:
    """One Parquet file to write: where, and the rows (already sorted)."""

    key: str
    workspace: str
    datasource: str
    quarantine: bool
    partition: str
    table: pa.Table
    # The registry schema the rows landed with (None: the data source is not in the registry).
    schema: DataSource | None = None

    def body(self) -> bytes:
        return to_parquet(self.table)


def _ingestion_partitions(ms: Sequence[int]) -> list[str]:
    """Per row; worked out once per ingestion time (a record's rows share one)."""
    names: dict[int, str] = {}
    return [names[t] if t in names else names.setdefault(t, ingestion_partition(t)) for t in ms]


def _column_partitions(ds: DataSource, table: pa.Table) -> list[str] | None:
    scheme = partition_column(ds)
    if scheme is None:
        return None
    values: list[date | None] = table.column(scheme[1]).to_pylist()
    return [column_partition(scheme[0], v) for v in values]


def _split(
    source_key: str,
    workspace: str,
    name: str,
    quarantine: bool,
    table: pa.Table,
    partitions: Sequence[str],
    schema: DataSource | None,
) -> list[LandedFile]:
    """One file per partition, in the order partitions first appear, its rows in sorting-key order.
    `partitions` holds one per row, or a single one for all the rows."""
    where: dict[str, list[int]] = defaultdict(list)
    if len(set(partitions)) == 1:
        where[partitions[0]] = []  # the whole table: no index list to build
    else:
        for i, p in enumerate(partitions):
            where[p].append(i)
    files = []
    for partition, indexes in where.items():
        part = table if len(where) == 1 else table.take(pa.array(indexes, type=pa.int64()))
        key = part_key(source_key, workspace, name, partition)
        sorting_key = () if quarantine or schema is None else schema.sorting_key
        files.append(
            LandedFile(key, workspace, name, quarantine, partition, sort_table(part, sorting_key), schema)
        )
    return files


def _convert(schemas: SchemaStore, workspace: str, ds: DataSource, g: Group) -> tuple[DataSource, Converted]:
    """The schema the rows land with, and the rows. Rows checked at ingest against this very schema go
    through Arrow's reader in one C++ pass; any other group (or one Arrow cannot vouch for) is parsed
    here, may evolve the schema, and converts row by row."""
    if g.versions == {ds.version}:
        table = fast_table(ds, g.data, g.rows)
        if table is not None:
            return ds, Converted(table, list(range(g.rows)))
    parsed = parse_lines(g.lines)
    ds = evolve(schemas, workspace, ds, parsed.rows)
    return ds, rows_to_table(ds, g.lines, g.ingested_ms, parsed)


@dataclass(frozen=True, slots=True)
class Compaction:
    """What a raw object becomes: its files, and how many rows were dropped as already-landed refs."""

    files: list[LandedFile]
    duplicate_rows: int = 0


def owner_of(source_key: str) -> str:
    """Who holds the refs a raw object's rows claim: the object itself, the same on every retry."""
    return f"raw:{source_key}"


def _drop_landed_refs(
    refs: RefStore,
    owner: str,
    now: float,
    workspace: str,
    ds: DataSource,
    g: Group,
    converted: Converted,
) -> tuple[pa.Table, list[int]]:
    """The converted rows minus those whose ref another request or object holds (or an earlier row of
    this object took). Rows claimed at ingest are kept as they are: their request holds the ref."""
    table, kept = converted.table, converted.kept
    open_rows = [j for j, i in enumerate(kept) if not g.claimed[i]]
    if not open_rows:
        return table, kept
    dd = deduplicate(
        [g.lines[kept[j]] for j in open_rows],
        ds.effective_dedup_key,
        workspace,
        ds.name,
        ds.dedup_window_seconds,
        refs,
        owner,
        now,
    )
    if dd.duplicates == 0:
        return table, kept
    dropped = set(open_rows) - {open_rows[j] for j in dd.indexes}
    mask = [j not in dropped for j in range(len(kept))]
    return table.filter(pa.array(mask, type=pa.bool_())), [i for j, i in enumerate(kept) if j not in dropped]


def compact(
    source_key: str, blob: bytes, schemas: SchemaStore, refs: RefStore | None = None, now: float = 0.0
) -> Compaction:
    """The Parquet files one raw object becomes: per data source and partition, plus their quarantine.
    Fields the registry does not know yet are added to it first (append-only), then land with the rows.
    With `refs`, rows whose dedup key has landed already (claimed at `now`) are dropped."""
    files: list[LandedFile] = []
    duplicates = 0
    for (workspace, name), g in group_records(read_raw(blob)).items():
        ds = schemas.get(workspace, name)
        quarantined = list(g.quarantined)
        if ds is None:
            error = f"Data Source '{name}' is not in the registry of workspace '{workspace}'"
            quarantined += [
                QuarantineEntry(line.decode("utf-8", "replace"), "", error, rid, ms)
                for line, rid, ms in zip(g.lines, g.request_ids, g.ingested_ms, strict=True)
            ]
        elif g.rows:
            ds, converted = _convert(schemas, workspace, ds, g)
            quarantined += [
                QuarantineEntry(
                    e.line.decode("utf-8", "replace"),
                    e.column,
                    e.error,
                    g.request_ids[e.index],
                    g.ingested_ms[e.index],
                )
                for e in converted.errors
            ]
            table, kept = converted.table, converted.kept
            if refs is not None and ds.effective_dedup_key and table.num_rows:
                table, kept = _drop_landed_refs(refs, owner_of(source_key), now, workspace, ds, g, converted)
                duplicates += converted.table.num_rows - table.num_rows
            if table.num_rows:
                partitions = _column_partitions(ds, table) or _ingestion_partitions(
                    [next(iter(g.times))] if len(g.times) == 1 else [g.ingested_ms[i] for i in kept]
                )
                files += _split(source_key, workspace, name, False, table, partitions, ds)
        if quarantined:
            qname = quarantine_name(name)
            qtable = quarantine_table(ds, quarantined)
            qparts = _ingestion_partitions([e.inserted_ms for e in quarantined])
            files += _split(source_key, workspace, qname, True, qtable, qparts, ds)
    return Compaction(files, duplicates)


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one raw object became: the files written, the rows in each kind, or why it was set aside."""

    source_key: str
    files: tuple[str, ...] = ()
    rows: int = 0
    quarantined_rows: int = 0
    # Rows not landed because their ref had landed already (or came twice in the object).
    duplicate_rows: int = 0
    error: str = ""
    # The rows landed, but the catalog could not be brought in step (it is retried on the next object).
    catalog_error: str = ""
    # Partition folders deleted because they outlived their data source's TTL.
    expired: tuple[str, ...] = ()
    # The rows landed, but expiry failed (it is retried on the next object of the data source).
    expiry_error: str = ""


# S3 user metadata is ASCII and at most 2 KB with its key: the reason is cut to fit.
_MAX_REASON = 1024


class Compactor:
    """Reads a raw object from the store, lands its Parquet, or sets an unreadable object aside."""

    def __init__(
        self,
        store: ObjectStore,
        schemas: SchemaStore,
        catalog: Catalog | None = None,
        refs: RefStore | None = None,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._store = store
        self._schemas = schemas
        self._catalog = catalog
        self._refs = refs
        self._clock = clock

    def process(self, source_key: str) -> Outcome:
        blob = self._store.get(source_key)
        try:
            compaction = compact(source_key, blob, self._schemas, self._refs, self._clock())
        except UnreadableObject as e:
            reason = str(e).encode("ascii", "replace").decode()[:_MAX_REASON]
            self._store.copy(source_key, error_key(source_key), {"lakegate-error": reason})
            return Outcome(source_key, (error_key(source_key),), error=reason)
        files = compaction.files
        for f in files:
            self._store.put(f.key, f.body(), PARQUET_CONTENT_TYPE)
        expired, expiry_error = self._expire(files)
        return Outcome(
            source_key,
            tuple(f.key for f in files),
            rows=sum(f.table.num_rows for f in files if not f.quarantine),
            quarantined_rows=sum(f.table.num_rows for f in files if f.quarantine),
            duplicate_rows=compaction.duplicate_rows,
            catalog_error=self._sync_catalog(files),
            expired=tuple(expired),
            expiry_error=expiry_error,
        )

    def _sync_catalog(self, files: Sequence[LandedFile]) -> str:
        """Tables follow the data: synced after the files land, so a catalog outage never holds rows back."""
        if self._catalog is None:
            return ""
        schemas = {f.schema.name: f.schema for f in files if f.schema is not None}
        errors = []
        for ds in schemas.values():
            try:
                self._catalog.sync(ds)
            except (StoreUnavailable, StoreRefused) as e:
                errors.append(f"{ds.name}: {e}")
        return "; ".join(errors)

    def _expire(self, files: Sequence[LandedFile]) -> tuple[list[str], str]:
        """TTL, applied while the compactor is here: the data source's partitions past it go, and its
        quarantine's by ingestion time. A failure never holds rows back: the next object retries it."""
        now = datetime.fromtimestamp(self._clock(), UTC)
        expired: list[str] = []
        errors: list[str] = []
        landed = {(f.workspace, f.schema.name): f.schema for f in files if f.schema is not None}
        for (workspace, _), ds in landed.items():
            try:
                ttl = parse_ttl(ds.ttl, ds)
            except InvalidRequest as e:  # stored before definitions were checked: say so, land anyway
                errors.append(f"{ds.name}: {e.message}")
                continue
            if ttl is None:
                continue
            for name in (ds.name, quarantine_name(ds.name)):
                try:
                    expired += expire(self._store, folder(workspace, name), ttl, now)
                except (
                    StoreUnavailable,
                    StoreRefused,
                ) as e:  # the rows are landed: report it, the next object retries
                    errors.append(f"{name}: {e}")
        return expired, "; ".join(errors)
