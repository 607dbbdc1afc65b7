"""The lake's layout, known here alone: prefixes, a data source's folder, partition folder names and the time
span each holds, and part and error keys (lakegate.names names the quarantine's own columns). Pure, and
light to import (the CLI, the local server and the catalog read it without pyarrow)."""

from __future__ import annotations

import hashlib
import re
from calendar import monthrange
from datetime import UTC, date, datetime, timedelta

from lakegate.names import QUARANTINE_SUFFIX
from lakegate.schema import DataSource

RAW_PREFIX = "raw/"
PREFIX = "datasources/"
ERRORS_PREFIX = "errors/"
PARQUET_CONTENT_TYPE = "application/vnd.apache.parquet"
# Hive's name for the partition of a null value; Athena, Spark and DuckDB all read it as null.
NULL_PARTITION = "__HIVE_DEFAULT_PARTITION__"

# The folders of the default partition: ingestion date and hour, UTC.
INGESTION_FOLDERS = ("date", "hour")
# A partition key on a Date/DateTime column of the data source: function -> (folder, strftime format).
COLUMN_FOLDERS = {"toDate": ("day", "%Y-%m-%d"), "toYYYYMM": ("month", "%Y%m"), "toYear": ("year", "%Y")}
_PARTITION_EXPR = re.compile(r"(?:(toDate|toYYYYMM|toYear)\()?\s*([A-Za-z_][A-Za-z0-9_]*)\s*\)?")
_HOUR = re.compile(r"hour=(\d{2})")
# The first partition folder of each scheme, parsed back into the time span it holds.
_FOLDER = re.compile(r"(?P<key>date|day|month|year)=(?P<value>[0-9-]+)")


def folder(workspace: str, name: str) -> str:
    """`datasources/<name>/`: where a data source's (or, named `<name>_quarantine`, its quarantine's) files go."""
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
    """`datasources/<name>/<partition>/part-<id>.parquet`, the id a hash of the input, the group and the
    chunk of the group (the first chunk's id is the one objects landed whole had): a retried raw object
    overwrites its own files."""
    text = f"{source_key}\n{workspace}\n{name}\n{partition}" + (f"\n{chunk}" if chunk else "")
    digest = hashlib.sha256(text.encode()).hexdigest()[:24]
    return f"{folder(workspace, name)}{partition}/part-{digest}.parquet"


def error_key(source_key: str) -> str:
    """Where an unreadable raw object is kept for an operator: beside the lake, never under `raw/`."""
    return ERRORS_PREFIX + source_key


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
