"""TTL applied to the lake: a row goes once its own TTL column is past (`lakegate.retention` says when), and
no other row ever does. Only the compactor's role may list, read back and delete under `datasources/`.

Two passes. Whole partition folders go without being read where their names bound the TTL column: a data
source partitioned by its TTL column, and every quarantine (by ingestion time, see below). Every other
file is judged by its own rows: the Parquet footer's min/max of the TTL column (one ranged GET) says
whether all rows are past (the file goes), none is (it stays), or some are: then the file is read and
written again, at the same key, with only the rows not past. One PUT replaces it whole, so a reader (or
an expiry that dies) sees the old rows or the new ones, never a file without its live rows; running it
again is a no-op. The key stays the one the landing gave it on purpose: a replayed raw object overwrites
the file it wrote (its rows come back, to go at the next run) instead of landing a second copy beside it.

The compactor runs the folder pass for what it lands; the scheduled run (every data source of every
workspace, twice a day) runs both. A quarantine's rows hold text, not times: it expires by ingestion
hour, with its data source's interval.
"""

from __future__ import annotations

import struct
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from datetime import date, datetime, timedelta
from typing import Protocol

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from lakegate.errors import InvalidRequest, StoreRefused, StoreUnavailable
from lakegate.lake.layout import folder, hour_end, partition_column, partition_span, quarantine_name
from lakegate.lake.objects import ObjectStore
from lakegate.lake.parquet import to_parquet
from lakegate.retention import Ttl, parse_ttl
from lakegate.schema import DataSource

# Enough for the footer of every file the compactor writes (a few KiB: the schema and one row group's
# statistics per column); a larger footer costs a second GET of the whole file.
FOOTER_BYTES = 64 * 1024
# A zoned DateTime's partition folder is a day of its zone, and `toDate(col) + ...` counts from midnight
# of that day: a day more than any zone's offset keeps both from ever expiring a row early.
_ZONE_MARGIN = timedelta(days=1)
_PARQUET = ".parquet"


class AllSources(Protocol):
    def every(self) -> Sequence[tuple[str, DataSource]]:
        """Every data source of every workspace, as (workspace, data source)."""
        ...


@dataclass
class Expired:
    """What an expiry removed: folders and files deleted, files rewritten without their past rows, and
    what could not be expired (a data source or file named with the reason)."""

    deleted: list[str] = field(default_factory=list)
    rewritten: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)

    def __iadd__(self, other: Expired) -> Expired:
        self.deleted += other.deleted
        self.rewritten += other.rewritten
        self.errors += other.errors
        return self


def cutoff(ttl: Ttl, ds: DataSource, now: datetime) -> datetime:
    """Rows whose TTL column is at or before this are past (`now` minus the interval, whole seconds)."""
    column = next(c for c in ds.columns if c.name == ttl.column)
    margin = _ZONE_MARGIN if column.parsed_type.zone not in ("", "UTC") else timedelta(0)
    return (now - timedelta(seconds=ttl.seconds) - margin).replace(microsecond=0)


def expire_folders(store: ObjectStore, base: str, before: datetime) -> list[str]:
    """Delete the partition folders under `base` whose whole span ended by `before`; the newest day of
    ingestion partitions (`date=`) goes hour by hour. For folders that bound the TTL column only."""
    gone: list[str] = []
    for day in store.folders(base):
        span = partition_span(day[len(base) :])
        if span is None:
            continue
        start, end = span
        if end <= before:
            store.delete_prefix(day)
            gone.append(day)
        elif day[len(base) :].startswith("date=") and start < before:
            for hour in store.folders(day):
                h_end = hour_end(end, hour[len(day) :])
                if h_end is not None and h_end <= before:
                    store.delete_prefix(hour)
                    gone.append(hour)
    return gone


def expire_files(store: ObjectStore, keys: Iterable[str], column: str, before: datetime) -> Expired:
    """Judge each Parquet file by its rows' `column`: delete it when every row is at or before `before`,
    rewrite it in place without those rows when some are, keep it otherwise (nulls never expire)."""
    done = Expired()
    for key in keys:
        if not key.endswith(_PARQUET):
            continue
        try:
            verdict = _expire_file(store, key, column, before)
        except (pa.ArrowException, ValueError, OverflowError) as e:  # not a file we can read: keep it
            done.errors.append(f"{key}: {str(e)[:200]}")
            continue
        if verdict == "deleted":
            done.deleted.append(key)
        elif verdict == "rewritten":
            done.rewritten.append(key)
    return done


def _expire_file(store: ObjectStore, key: str, column: str, before: datetime) -> str:
    tail = store.tail(key, FOOTER_BYTES)
    body: bytes | None = tail if len(tail) < FOOTER_BYTES else None  # a small file came whole
    length = struct.unpack("<i", tail[-8:-4])[0] if len(tail) >= 12 and tail[-4:] == b"PAR1" else -1
    if 0 <= length <= len(tail) - 8:
        meta = pq.ParquetFile(pa.BufferReader(b"PAR1" + tail[-(length + 8) :])).metadata
    else:
        body = store.get(key)
        meta = pq.ParquetFile(pa.BufferReader(body)).metadata
    verdict = _judge(meta, column, before)
    if verdict == "live":
        return "kept"
    if verdict == "past":
        store.delete(key)
        return "deleted"
    table = pq.read_table(pa.BufferReader(store.get(key) if body is None else body))
    if column not in table.column_names:
        return "kept"
    values = table.column(column)
    if pa.types.is_date(values.type):
        bound = pa.scalar(before.date(), pa.date32())
    else:
        bound = pa.scalar(before, pa.timestamp("s", "UTC")).cast(values.type)
    keep = pc.invert(pc.fill_null(pc.less_equal(values, bound), False))
    kept = table.filter(keep)
    if kept.num_rows == table.num_rows:
        return "kept"
    if kept.num_rows == 0:
        store.delete(key)
        return "deleted"
    store.put(key, to_parquet(kept), "application/vnd.apache.parquet")
    return "rewritten"


def _judge(meta: pq.FileMetaData, column: str, before: datetime) -> str:
    """From the footer's statistics: `past` (every row), `live` (no row) or `mixed` (read the rows)."""
    leaf = next((j for j in range(meta.num_columns) if meta.schema.column(j).path == column), None)
    if leaf is None:
        return "live"  # a file written before the column existed: every value is null
    past = live = True
    for i in range(meta.num_row_groups):
        group = meta.row_group(i)
        stats = group.column(leaf).statistics
        if stats is None:
            return "mixed"
        nulls = stats.null_count if stats.has_null_count else group.num_rows
        if nulls == group.num_rows:
            past = False
            continue
        if not stats.has_min_max:
            return "mixed"
        low, high = _instant(stats.min, before), _instant(stats.max, before)
        if low is None or high is None:
            return "mixed"
        past = past and nulls == 0 and high
        live = live and not low
    return "past" if past else "live" if live else "mixed"


def _instant(value: object, before: datetime) -> bool | None:
    """Whether a statistic is at or before `before`; None for a value of no known time type."""
    if isinstance(value, datetime):
        return (value if value.tzinfo else value.replace(tzinfo=before.tzinfo)) <= before
    if isinstance(value, date):
        return value <= before.date()
    return None


def expire_datasource(
    store: ObjectStore, workspace: str, ds: DataSource, now: datetime, rows: bool = True
) -> Expired:
    """The data source's TTL applied to its folder and its quarantine's. `rows=False`: only what folder
    names prove past (the compactor, after each landing); `rows=True` also judges files by their rows."""
    try:
        ttl = parse_ttl(ds.ttl, ds)
    except InvalidRequest as e:  # stored before definitions were checked: say so, delete nothing
        return Expired(errors=[f"{workspace}/{ds.name}: {e.message}"])
    if ttl is None:
        return Expired()
    done = Expired()
    quarantine = folder(workspace, quarantine_name(ds.name))
    own = folder(workspace, ds.name)
    before = cutoff(ttl, ds, now)
    try:
        done.deleted += expire_folders(store, quarantine, now - timedelta(seconds=ttl.seconds))
        scheme = partition_column(ds)
        if scheme is not None and scheme[1] == ttl.column:
            done.deleted += expire_folders(store, own, before)
            if rows:  # the folders the cutoff falls inside; a null folder's rows never expire
                for part in store.folders(own):
                    span = partition_span(part[len(own) :])
                    if span is not None and span[0] <= before:
                        done += expire_files(store, store.keys(part), ttl.column, before)
        elif rows:
            done += expire_files(store, store.keys(own), ttl.column, before)
    except (StoreUnavailable, StoreRefused) as e:
        done.errors.append(f"{workspace}/{ds.name}: {e}")
    return done


def expire_all(store: ObjectStore, sources: AllSources, now: datetime) -> Expired:
    """The scheduled run: every data source of every workspace that has a TTL, rows judged one by one.
    One data source's failure is reported and the others still expire."""
    done = Expired()
    try:
        every = sources.every()
    except (StoreUnavailable, StoreRefused) as e:
        return Expired(errors=[f"data source listing: {e}"])
    for workspace, ds in every:
        if ds.ttl.strip():
            done += expire_datasource(store, workspace, ds, now)
    return done
