"""The lake's layout, known here alone: prefixes, a data source's folder, partition folder names and the time
span each holds, and part and error keys (lakegate.names names the quarantine's own columns). Pure, and
light to import (the CLI, the local server and the catalog read it without pyarrow)."""

from __future__ import annotations

import hashlib
import re
from calendar import monthrange
from datetime import UTC, date, datetime, timedelta
from urllib.parse import quote, unquote

from lakegate.names import COLUMN_PARTITION_PREFIX, INGESTION_COLUMNS, QUARANTINE_SUFFIX
from lakegate.schema import DataSource

RAW_PREFIX = "raw/"
PREFIX = "datasources/"
ERRORS_PREFIX = "errors/"
# Where `lakegate quarantine replay` stages the rows it lands: not under raw/, so no trigger fires on them.
REPLAY_PREFIX = "replay/"
PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet"
# Hive's name for the partition of a null value; Athena, Spark and DuckDB all read it as null.
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"

# The folders of the default partition: ingestion date and hour, UTC.
INGESTION_FOLDERS = ("date", "hour")
# A partition key on a Date/DateTime column of the data source: function -> (folder, strftime format).
COLUMN_FOLDERS = {"toDate": ("day", "%Y-%m-%d"), "toYYYYMM": ("month", "%Y%m"), "toYear": ("year", "%Y")}
_PARTITION_EXPR = re.compile(r"(?:(toDate|toYYYYMM|toYear)\()?\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)?")
# Each partition folder's key and the column the Glue table (and `lakegate query`) calls it: not the
# folder's own key, which a data source's column (`date`) may have.
FOLDER_COLUMNS = dict(zip(INGESTION_FOLDERS, INGESTION_COLUMNS, strict=True)) | {
    label: COLUMN_PARTITION_PREFIX + label for label, _ in COLUMN_FOLDERS.values()
}
_HOUR = re.compile(r"hour=(\d{2})")
# The first partition folder of each scheme, parsed back into the time span it holds.
_FOLDER = re.compile(r"(?P<key>date|day|month|year)=(?P<value>[0-9-]+)")


# A workspace's folder name is its id URL-encoded (`A-Za-z0-9_.-~` kept, anything else `%XX` of its
# UTF-8), and a leading dot too (`.`, `..` and hidden names are not folders a reader walks): `/` or `=`
# in an id can neither nest folders nor look like a partition, and the folder reads back to the exact id.
# An empty id (no token has one) gets `%`, which no other id's folder can be.
_EMPTY = "%"


def workspace_segment(workspace: str) -> str:
    """The folder name of a workspace under `datasources/` (see above)."""
    if not workspace:
        return _EMPTY
    encoded = quote(workspace, safe="")
    return "%2E" + encoded[1:] if encoded.startswith(".") else encoded


def workspace_of(segment: str) -> str:
    """The workspace id a folder name under `datasources/` holds (`workspace_segment`'s inverse)."""
    return "" if segment == _EMPTY else unquote(segment, errors="replace")  # a stray folder never raises


def workspace_folder(workspace: str) -> str:
    """`datasources/<workspace>/`: every folder of one workspace's data sources and quarantines."""
    return f"{PREFIX}{workspace_segment(workspace)}/"


def folder(workspace: str, name: str) -> str:
    """`datasources/<workspace>/<name>/`: where a data source's (or, named `<name>_quarantine`, its
    quarantine's) files go. Each workspace has its own: two with a data source of one name never share."""
    return f"{workspace_folder(workspace)}{name}/"


def legacy_folder(name: str) -> str:
    """`datasources/<name>/`: where versions before workspace folders landed a data source of any workspace
    (`lakegate upgrade` moves what is there)."""
    return f"{PREFIX}{name}/"


def quarantine_name(name: str) -> str:
    return name + QUARANTINE_SUFFIX


def ingestion_partition(ms: int) -> str:
    """The default partition: ingestion date and hour, UTC."""
    t = datetime.fromtimestamp(ms / 1000, UTC)
    return f"date={t:%Y-%m-%d}/hour={t:%H}"


def partition_column(ds: DataSource) -> tuple[str, str] | None:
    """(function, column) when the data source partitions by a Date/DateTime column of its own (`col`,
    `toDate(col)`, `toYYYYMM(col)`, `toYear(col)`); None: by ingestion date and hour (also for any other key)."""
    m = _PARTITION_EXPR.fullmatch(ds.partition_key.strip())
    column = next((c for c in ds.columns if m and c.name == m.group(2)), None)
    if m is None or column is None:
        return None
    if column.parsed_type.base not in ("Date", "Date32", "DateTime", "DateTime64"):
        return None
    return m.group(1) or "toDate", column.name


def partition_key_applies(ds: DataSource) -> bool:
    """Whether the compactor can apply the data source's partition key: none (`""`, `tuple()`: ingestion
    date and hour), or `col`, `toDate(col)`, `toYYYYMM(col)`, `toYear(col)` of one of its own Date or
    DateTime columns (not an Array)."""
    key = ds.partition_key.strip()
    scheme = partition_column(ds)
    columns = {c.name: c for c in ds.columns}
    return key in ("", "tuple()") or (scheme is not None and not columns[scheme[1]].parsed_type.array)


def column_partition(function: str, value: date | None) -> str:
    """The folder of a row partitioned by its own date column's `value` under `function`."""
    label, fmt = COLUMN_FOLDERS[function]
    return f"{label}={NULL_PARTITION if value is None else value.strftime(fmt)}"


def part_key(source_key: str, workspace: str, name: str, partition: str, chunk: int = 0) -> str:
    """`datasources/<workspace>/<name>/<partition>/part-<id>.parquet`, the id a hash of the input, the group and the
    chunk of the group (the first chunk's id is the one objects landed whole had): a retried raw object
    overwrites its own files."""
    text = f"{source_key}\n{workspace}\n{name}\n{partition}" + (f"\n{chunk}" if chunk else "")
    digest = hashlib.sha256(text.encode()).hexdigest()[:24]
    return f"{folder(workspace, name)}{partition}/part-{digest}.parquet"


def replay_prefix(workspace: str, name: str) -> str:
    """`replay/<the data source's folder>`: the staged objects of a replay of that data source."""
    return REPLAY_PREFIX + folder(workspace, name)


def replay_key(workspace: str, name: str, quarantine_key: str, digest: str) -> str:
    """The staged object holding the rows of one quarantine file (`quarantine_key`, whose bytes hash to
    `digest`) that a replay lands: the same for the same file content, so a replay that died resumes it."""
    return f"{replay_prefix(workspace, name)}{quarantine_file_id(quarantine_key)}-{digest}.lg"


def replay_source(key: str) -> tuple[str, str]:
    """(hash of the quarantine file's key, digest of its content) that `replay_key` made `key` of."""
    which, _, digest = key.rsplit("/", 1)[-1].removesuffix(".lg").partition("-")
    return which, digest


def quarantine_file_id(quarantine_key: str) -> str:
    """The hash of a quarantine file's key, as `replay_key` names it."""
    return hashlib.sha256(quarantine_key.encode()).hexdigest()[:24]


def error_key(source_key: str) -> str:
    """Where an unreadable raw object is kept for an operator: beside the lake, never under `raw/`."""
    return ERRORS_PREFIX + source_key


def partition_values(relative: str) -> dict[str, str | None] | None:
    """The partition columns (`FOLDER_COLUMNS`' names) and values of a file at `relative`, its path under
    a data source's folder (`date=2026-11-23/hour=20/part-x.parquet`); a null partition's value is None.
    None for a path lakegate does not write."""
    *folders, _ = relative.split("/")
    values: dict[str, str | None] = {}
    for name in folders:
        key, eq, value = name.partition("=")
        if not eq or key not in FOLDER_COLUMNS or not value:
            return None
        values[FOLDER_COLUMNS[key]] = None if value == NULL_PARTITION else value
    return values


def partition_span(folder_name: str) -> tuple[datetime, datetime] | None:
    """When the span of a first-level partition folder (`date=2026-11-23`, `day=...`, `month=202611`,
    `year=2026`) starts and ends (UTC days); None for a folder that holds no time (nulls, or a name
    lakegate did not write)."""
    m = _FOLDER.fullmatch(folder_name.strip("/"))
    if m is None:
        return None
    key, value = m.group("key"), m.group("value")
    try:
        if key in ("date", "day"):
            start = datetime.strptime(value, "%Y-%m-%d").replace(tzinfo=UTC)
            return start, start + timedelta(days=1)
        if key == "month":
            start = datetime.strptime(value, "%Y%m").replace(tzinfo=UTC)
            return start, start + timedelta(days=monthrange(start.year, start.month)[1])
        return datetime(int(value), 1, 1, tzinfo=UTC), datetime(int(value) + 1, 1, 1, tzinfo=UTC)
    except ValueError:
        return None


def partition_end(folder_name: str) -> datetime | None:
    """When the span of a first-level partition folder ends (`partition_span`)."""
    span = partition_span(folder_name)
    return None if span is None else span[1]


def hour_end(day_end: datetime, folder_name: str) -> datetime | None:
    """When an `hour=HH` folder inside a day that ends at `day_end` ends."""
    m = _HOUR.fullmatch(folder_name.strip("/"))
    if m is None or int(m.group(1)) > 23:
        return None
    return day_end - timedelta(days=1) + timedelta(hours=int(m.group(1)) + 1)


def hour_span(key: str, prefix: str) -> tuple[datetime, datetime] | None:
    """The ingestion hour an object under `prefix` (`<prefix>date=YYYY-MM-DD/hour=HH/...`) holds rows of, as
    [start, end); None for a key of another shape."""
    parts = key[len(prefix) :].split("/")
    day_end = partition_end(parts[0]) if len(parts) > 2 else None
    end = hour_end(day_end, parts[1]) if day_end is not None else None
    return None if end is None else (end - timedelta(hours=1), end)
