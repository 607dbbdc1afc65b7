"""The compactor's core: one raw Firehose object in, Parquet files per data source and partition out.

`landings` is pure but for the stores it is handed (the registry, the refs, the record claims): records in,
named Arrow tables out, one chunk of a data source's rows at a time so memory stays bounded. `Compactor`
drives it over any `ObjectStore` (the handler passes S3), writing each chunk's files before it converts the
next. No boto3 here. Output names derive from the input key, the group and the chunk, so a retried object
overwrites its own files and never lands a row twice.

Per chunk: rows are made ready (`landing.prepare`: nothing a row holds makes it raise); rows with a dedup
key that were not claimed at ingest have their refs claimed, owned by their record (or, for records
without an id, by the object); each record with an id is claimed with the decision (`records`); then the
files are built. A row claimed at ingest that ends in quarantine gives its claims back, so the client's
corrected resend lands.
"""

from __future__ import annotations

import time
from collections import Counter, defaultdict
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING

import pyarrow as pa

from lakegate.dedup import RefStore
from lakegate.errors import StoreRefused, StoreUnavailable
from lakegate.framing import RecordBody
from lakegate.lake.evolution import SchemaStore
from lakegate.lake.expiry import Expired, expire_datasource
from lakegate.lake.landing import Prepared, prepare, quarantine_of, unknown_source
from lakegate.lake.layout import (
    PARQUET_CONTENT_TYPE,
    error_key,
    ingestion_partition,
    part_key,
    quarantine_name,
)
from lakegate.lake.objects import ObjectStore
from lakegate.lake.parquet import to_parquet
from lakegate.lake.raw import Chunk, QuarantineEntry, UnreadableObject, chunks, read_raw
from lakegate.lake.records import Claimer, RecordStore, owner_of
from lakegate.schema import DataSource

if TYPE_CHECKING:
    from lakegate.lake.catalog import Catalog

__all__ = ["Compaction", "Compactor", "LandedFile", "Outcome", "compact", "landings", "owner_of"]

# raw/'s retention in days when the caller does not say (template.yaml's RawRetentionDays default).
RAW_RETENTION_DAYS = 7


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


@dataclass(frozen=True, slots=True)
class Compaction:
    """What (a chunk of) a raw object becomes: its files, and what did not land and why."""

    files: list[LandedFile]
    # Rows not landed because they landed already: their ref did, or their whole record did.
    duplicate_rows: int = 0
    # Records dropped whole because another object, or an earlier copy in this one, landed them.
    duplicate_records: int = 0
    # Rows of a data source whose definition cannot be applied, set aside to its quarantine.
    set_aside_rows: int = 0
    set_aside: tuple[str, ...] = ()
    # Values that landed rows hold and no column reads (a data source that keeps its schema), by
    # `<data source> <jsonpath>`: counted, not stored, not quarantined.
    unread: Counter[str] = field(default_factory=Counter)
    # Fields past an evolving data source's column cap, by `<data source> <jsonpath>`: rows quarantined.
    past_cap: Counter[str] = field(default_factory=Counter)

    def __add__(self, other: Compaction) -> Compaction:
        return Compaction(
            self.files + other.files,
            self.duplicate_rows + other.duplicate_rows,
            self.duplicate_records + other.duplicate_records,
            self.set_aside_rows + other.set_aside_rows,
            self.set_aside + other.set_aside,
            self.unread + other.unread,
            self.past_cap + other.past_cap,
        )


def _ingestion_partitions(ms: Sequence[int]) -> list[str]:
    """Per row; worked out once per ingestion time (a record's rows share one)."""
    names: dict[int, str] = {}
    return [names[t] if t in names else names.setdefault(t, ingestion_partition(t)) for t in ms]


def _split(
    source_key: str,
    chunk: Chunk,
    name: str,
    quarantine: bool,
    table: pa.Table,
    partitions: Sequence[str],
    schema: DataSource | None,
) -> list[LandedFile]:
    """One file per partition, in the order partitions first appear, rows kept in table order (sorted)."""
    where: dict[str, list[int]] = defaultdict(list)
    if partitions.count(partitions[0]) == len(partitions):
        where[partitions[0]] = []  # the whole table: no index list to build
    else:
        for i, p in enumerate(partitions):
            where[p].append(i)
    ws = chunk.workspace
    return [
        LandedFile(
            part_key(source_key, ws, name, partition, chunk.index),
            ws,
            name,
            quarantine,
            partition,
            table if len(where) == 1 else table.take(pa.array(indexes, type=pa.int64())),
            schema,
        )
        for partition, indexes in where.items()
    ]


def landings(
    source_key: str,
    records: Sequence[RecordBody],
    schemas: SchemaStore,
    refs: RefStore | None = None,
    claims: RecordStore | None = None,
    now: float = 0.0,
    keep_days: int = RAW_RETENTION_DAYS,
) -> Iterator[Compaction]:
    """What a raw object's records become, one chunk at a time (see the module's docstring). Fields the
    registry does not know yet are added to it first (append-only), then land with the rows. With `refs`,
    rows whose dedup key landed already are dropped; with `claims`, records another object landed are."""
    claimer = Claimer(source_key, refs, claims, now, keep_days)
    sources: dict[tuple[str, str], DataSource | None] = {}
    for chunk in chunks(records):
        where = (chunk.workspace, chunk.datasource)
        if where not in sources:
            sources[where] = schemas.get(*where)
        sources[where], landed = _land(source_key, schemas, claimer, chunk, sources[where])
        yield landed


def compact(
    source_key: str,
    blob: bytes,
    schemas: SchemaStore,
    refs: RefStore | None = None,
    now: float = 0.0,
    claims: RecordStore | None = None,
) -> Compaction:
    """Every file one raw object becomes, at once (tests, bench): `landings` of its records."""
    total = Compaction([])
    for part in landings(source_key, read_raw(blob), schemas, refs, claims, now):
        total += part
    return total


def _land(
    source_key: str, schemas: SchemaStore, claimer: Claimer, chunk: Chunk, ds: DataSource | None
) -> tuple[DataSource | None, Compaction]:
    if ds is None:
        prepared = unknown_source(chunk)
    elif chunk.rows:
        prepared = prepare(schemas, chunk, ds)
        ds = prepared.ds
    else:
        prepared = Prepared(ds)
    settled = claimer.settle(chunk, ds, prepared.rows, [e.index for e in prepared.errors])
    lands, drop = settled.lands, settled.drop

    name = chunk.datasource
    files: list[LandedFile] = []
    table = prepared.table
    if table is not None and table.num_rows:
        partitions = prepared.partitions
        if drop:
            mask = [r not in drop for r in prepared.rows]
            table = table.filter(pa.array(mask, type=pa.bool_()))
            partitions = [p for p, keep in zip(partitions, mask, strict=True) if keep]
        if table.num_rows:
            files += _split(source_key, chunk, name, False, table, partitions, ds)
    entries = [e for e, k in zip(chunk.quarantined, chunk.quarantined_record, strict=True) if lands[k]]
    errors = [(e.index, e.column, e.error) for e in prepared.errors]
    if settled.refused:
        errors = sorted(errors + [(r, "", why) for r, why in settled.refused.items()])
    lines = chunk.lines if errors else []
    entries += [
        QuarantineEntry(
            lines[i].decode("utf-8", "replace"), column, error, chunk.request_ids[i], chunk.ingested_ms[i]
        )
        for i, column, error in errors
        if lands[chunk.record_of[i]]
    ]
    if entries:
        qtable = quarantine_of(ds, entries)
        qparts = _ingestion_partitions([e.inserted_ms for e in entries])
        files += _split(source_key, chunk, quarantine_name(name), True, qtable, qparts, ds)
    reason = (f"{chunk.workspace}/{name}: {prepared.set_aside}",) if prepared.set_aside else ()
    set_aside = chunk.rows if prepared.set_aside else 0
    unread = Counter({f"{name} {path}": n for path, n in prepared.unread.items()})
    past_cap = Counter({f"{name} {path}": n for path, n in prepared.past_cap.items()})
    return ds, Compaction(
        files, settled.duplicate_rows, settled.duplicate_records, set_aside, reason, unread, past_cap
    )


@dataclass(frozen=True, slots=True)
class Outcome:
    """What one raw object became: the files written, the rows in each kind, or why it was set aside."""

    source_key: str
    files: tuple[str, ...] = ()
    rows: int = 0
    quarantined_rows: int = 0
    # Rows not landed because their ref had landed already (or came twice in the object), or their record.
    duplicate_rows: int = 0
    duplicate_records: int = 0
    # Rows of data sources whose definition cannot be applied, set aside to their quarantine, and why.
    set_aside_rows: int = 0
    set_aside: tuple[str, ...] = ()
    error: str = ""
    # The rows landed, but the catalog could not be brought in step (it is retried on the next object).
    catalog_error: str = ""
    # Partition folders deleted because they outlived their data source's TTL.
    expired: tuple[str, ...] = ()
    # The rows landed, but expiry failed (it is retried on the next object of the data source).
    expiry_error: str = ""
    # Values no column reads, in rows of data sources that keep their schema: how many, and where
    # (`<data source> <jsonpath>`, the most frequent first, at most MAX_UNREAD_SHOWN).
    unread_values: int = 0
    unread_fields: tuple[str, ...] = ()
    # Fields past evolving data sources' column cap (`<data source> <jsonpath>`, at most MAX_UNREAD_SHOWN):
    # the rows holding them are in quarantine with the reason.
    past_cap_fields: tuple[str, ...] = ()


MAX_UNREAD_SHOWN = 20
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
        claims: RecordStore | None = None,
        keep_days: int = RAW_RETENTION_DAYS,
    ) -> None:
        self._store = store
        self._schemas = schemas
        self._catalog = catalog
        self._refs = refs
        self._clock = clock
        self._claims = claims
        self._keep_days = keep_days

    def process(self, source_key: str) -> Outcome:
        blob = self._store.get(source_key)
        try:
            records = read_raw(blob)
        except UnreadableObject as e:
            reason = str(e).encode("ascii", "replace").decode()[:_MAX_REASON]
            self._store.copy(source_key, error_key(source_key), {"lakegate-error": reason})
            return Outcome(source_key, (error_key(source_key),), error=reason)
        del blob  # the records hold what is needed: the object's bytes can go before the rows are parsed
        keys: list[str] = []
        rows = quarantined = 0
        total = Compaction([])
        landed: dict[tuple[str, str], DataSource] = {}
        parts = landings(
            source_key, records, self._schemas, self._refs, self._claims, self._clock(), self._keep_days
        )
        for part in parts:
            for f in part.files:
                self._store.put(f.key, f.body(), PARQUET_CONTENT_TYPE)
                keys.append(f.key)
                if f.quarantine:
                    quarantined += f.table.num_rows
                else:
                    rows += f.table.num_rows
                if f.schema is not None:
                    landed[(f.workspace, f.schema.name)] = f.schema
            total += Compaction(
                [],
                part.duplicate_rows,
                part.duplicate_records,
                part.set_aside_rows,
                part.set_aside,
                part.unread,
                part.past_cap,
            )
        expired, expiry_error = self._expire(landed)
        return Outcome(
            source_key,
            tuple(keys),
            rows=rows,
            quarantined_rows=quarantined,
            duplicate_rows=total.duplicate_rows,
            duplicate_records=total.duplicate_records,
            set_aside_rows=total.set_aside_rows,
            set_aside=total.set_aside,
            catalog_error=self._sync_catalog(landed),
            expired=tuple(expired),
            expiry_error=expiry_error,
            unread_values=total.unread.total(),
            unread_fields=tuple(f for f, _ in total.unread.most_common(MAX_UNREAD_SHOWN)),
            past_cap_fields=tuple(f for f, _ in total.past_cap.most_common(MAX_UNREAD_SHOWN)),
        )

    def _sync_catalog(self, landed: Mapping[tuple[str, str], DataSource]) -> str:
        """Tables follow the data: synced after the files land, so a catalog outage never holds rows back.
        Each workspace's data source has its own tables."""
        if self._catalog is None:
            return ""
        errors = []
        for (workspace, _), ds in landed.items():
            try:
                self._catalog.sync(workspace, ds)
            except (StoreUnavailable, StoreRefused) as e:
                errors.append(f"{workspace}/{ds.name}: {e}")
        return "; ".join(errors)

    def _expire(self, landed: dict[tuple[str, str], DataSource]) -> tuple[list[str], str]:
        """TTL, applied while the compactor is here: the data source's partition folders whose names prove
        every row past go, and its quarantine's by ingestion time, each in its own workspace's folder
        (another's TTL never reaches it; rows are judged one by one by the scheduled run,
        `lake.expiry.expire_all`). A failure never holds rows back."""
        now = datetime.fromtimestamp(self._clock(), UTC)
        done = Expired()
        for (workspace, _), ds in landed.items():
            done += expire_datasource(self._store, workspace, ds, now, rows=False)
        return done.deleted, "; ".join(done.errors)
