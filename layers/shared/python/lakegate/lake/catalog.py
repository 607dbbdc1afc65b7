"""The Glue catalog: one table per workspace's data source and one per its quarantine, with partition projection, so
Athena reads new partitions with no crawler. Derived from the registry schema, never written by hand.

Partition columns are named `ingestion_date`/`ingestion_hour` (or `partition_day`, ...) in Glue while the
folders stay `date=`/`hour=`: `storage.location.template` maps one to the other, and a data source with
its own `date` column (as Tinybird's examples have) does not clash with its partition column in Athena.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping
from datetime import date, timedelta
from typing import Any, Protocol

from lakegate.column_types import ColumnType
from lakegate.lake.layout import (
    COLUMN_FOLDERS,
    FOLDER_COLUMNS,
    INGESTION_FOLDERS,
    folder,
    partition_column,
    quarantine_name,
)
from lakegate.names import (
    ERROR,
    ERROR_COLUMN,
    IMPORT_ID,
    INGESTION_COLUMNS,
    INSERTION_DATE,
    LINE,
)
from lakegate.schema import DataSource
from lakegate.times import time_type

VERSION_PARAMETER = "lakegate.schema_version"
_GLUE_SCALARS = {
    "String": "string",
    "Int8": "tinyint",
    "Int16": "smallint",
    "Int32": "int",
    "Int64": "bigint",
    # Unsigned types widen to the next signed one; UInt64 as Spark and Trino read Parquet's UINT_64.
    "UInt8": "smallint",
    "UInt16": "int",
    "UInt32": "bigint",
    "UInt64": "decimal(20,0)",
    "Float32": "float",
    "Float64": "double",
    "Bool": "boolean",
    "Date": "date",
    "Date32": "date",
    "DateTime": "timestamp",
    "DateTime64": "timestamp",
}
_PARQUET = {
    "InputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetInputFormat",
    "OutputFormat": "org.apache.hadoop.hive.ql.io.parquet.MapredParquetOutputFormat",
    "SerdeInfo": {"SerializationLibrary": "org.apache.hadoop.hive.ql.io.parquet.serde.ParquetHiveSerDe"},
}
# Folder (lake.layout's), Glue column, and the projection of each partition scheme the compactor writes.
_INGESTION = tuple(
    zip(
        INGESTION_FOLDERS,
        INGESTION_COLUMNS,
        (
            {"type": "date", "format": "yyyy-MM-dd", "interval.unit": "DAYS"},
            {"type": "integer", "range": "0,23", "digits": "2"},
        ),
        strict=True,
    )
)
_PROJECTIONS = {
    "toDate": {"type": "date", "format": "yyyy-MM-dd", "interval.unit": "DAYS"},
    "toYYYYMM": {"type": "date", "format": "yyyyMM", "interval.unit": "MONTHS"},
    "toYear": {"type": "date", "format": "yyyy", "interval.unit": "YEARS"},
}
_BY_COLUMN = {
    fn: (label, FOLDER_COLUMNS[label], _PROJECTIONS[fn]) for fn, (label, _) in COLUMN_FOLDERS.items()
}
# Every folder the compactor writes must be in its table's projection, or Athena never reads its rows.
# Ingestion dates run from the deployment's first day (`projection_start`, a template parameter; GlueCatalog
# lowers it to cover every raw object the compactor may still land) to now. A data source's own date
# column runs over its whole type (Date 1970-2149, DateTime 1970-2106, Date32 and DateTime64 1900-2299):
# it may hold old and future dates alike. A day more at each end covers a zone's local date. Athena
# enumerates only what a query's filter on the partition column keeps, and all of it for a query without.
FIRST_DATE = "2000-01-01"
_EPOCH = date(1970, 1, 1)
_STRFTIME = {"yyyy-MM-dd": "%Y-%m-%d", "yyyyMM": "%Y%m", "yyyy": "%Y"}


def column_range(t: ColumnType, fmt: str) -> str:
    """The projection range (`first,last` in `fmt`) of every folder a partition on a column of type `t`
    can get: the type's first and last values, a day beyond each for its zone's local date."""
    span = time_type(t.base, t.precision, t.zone)
    per_day = 1 if t.base in ("Date", "Date32") else span.per_second * 86400
    first = _EPOCH + timedelta(days=span.low // per_day - 1)
    last = _EPOCH + timedelta(days=span.high // per_day + 1)
    return f"{first.strftime(_STRFTIME[fmt])},{last.strftime(_STRFTIME[fmt])}"


def keep_earlier_starts(new: Mapping[str, str], current: Mapping[str, str]) -> dict[str, str]:
    """`new`'s table parameters, each date projection starting no later than it does in `current`: a
    table update never hides a folder the older range covered."""
    merged = dict(new)
    for key, value in new.items():
        old = current.get(key)
        if key.endswith(".range") and old and new.get(key[: -len("range")] + "type") == "date":
            first, _, last = value.partition(",")
            old_first = old.partition(",")[0]
            if len(old_first) == len(first) and old_first < first:  # same format: text order is time order
                merged[key] = f"{old_first},{last}"
    return merged


def glue_type(t: ColumnType) -> str:
    scalar = _GLUE_SCALARS[t.base]
    return f"array<{scalar}>" if t.array else scalar


# Glue (and Athena) keep table names in lower case, `a-z0-9_`, at most 255 characters.
MAX_TABLE_NAME = 255
_NOT_TABLE = re.compile(r"[^a-z0-9_]")
# How much of a workspace id shows in its tables' names, and the hex digits of the hashes that tell
# workspaces (and cut names) apart: 40 bits, so ids that read alike once lowercased never share a table.
_LABEL = 32
_DIGITS = 10


def _digest(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()[:_DIGITS]


def table_name(workspace: str, name: str) -> str:
    """The Glue table of data source (or quarantine) `name` of `workspace`:
    `<label>_<hash of the workspace id>_<name, lowercased>`. The label is the id lowercased, characters
    other than `a-z0-9_` as `_`, cut at 32 and starting with a letter (`w` put first if not); the hash is
    of the exact id, so `Main` and `main` get two tables. Names are unique case-insensitively within a
    workspace, so its tables are too. Past 255 characters the name is cut and a hash of it appended."""
    label = _NOT_TABLE.sub("_", workspace.lower())[:_LABEL]
    if not label[:1].isalpha():
        label = "w" + label[: _LABEL - 1]
    head = f"{label}_{_digest(workspace)}_"
    tail = name.lower()
    if len(head) + len(tail) > MAX_TABLE_NAME:
        tail = tail[: MAX_TABLE_NAME - len(head) - _DIGITS - 1] + "_" + _digest(tail)
    return head + tail


def _partitions(ds: DataSource, quarantine: bool) -> tuple[tuple[str, str, dict[str, str]], ...]:
    """The partition scheme of the compactor (`lake.landing._partitions`), as Glue projections."""
    scheme = None if quarantine else partition_column(ds)
    return _INGESTION if scheme is None else (_BY_COLUMN[scheme[0]],)


def table_input(
    workspace: str, ds: DataSource, bucket: str, quarantine: bool = False, projection_start: str = FIRST_DATE
) -> dict[str, Any]:
    """Glue's TableInput for a workspace's data source's Parquet (or its quarantine's), over that
    workspace's folder alone; ingestion dates are projected from `projection_start` (YYYY-MM-DD)."""
    name = quarantine_name(ds.name) if quarantine else ds.name
    location = f"s3://{bucket}/{folder(workspace, name)}"
    if quarantine:
        columns = [{"Name": c.name, "Type": "string"} for c in ds.columns]
        columns += [
            {"Name": LINE, "Type": "string"},
            {"Name": ERROR_COLUMN, "Type": "array<string>"},
            {"Name": ERROR, "Type": "array<string>"},
            {"Name": IMPORT_ID, "Type": "string"},
            {"Name": INSERTION_DATE, "Type": "timestamp"},
        ]
    else:
        columns = [{"Name": c.name, "Type": glue_type(c.parsed_type)} for c in ds.columns]
    parameters = {
        "classification": "parquet",
        "parquet.compression": "ZSTD",
        "projection.enabled": "true",
        VERSION_PARAMETER: str(ds.version),
        "storage.location.template": location
        + "/".join(f"{folder}=${{{column}}}" for folder, column, _ in _partitions(ds, quarantine)),
    }
    partitions = _partitions(ds, quarantine)
    scheme = None if quarantine else partition_column(ds)
    for _, column, projection in partitions:
        for key, value in projection.items():
            parameters[f"projection.{column}.{key}"] = value
        if projection["type"] != "date":
            continue
        if scheme is None:
            parameters[f"projection.{column}.range"] = f"{projection_start},NOW"
        else:
            own = next(c for c in ds.columns if c.name == scheme[1])
            parameters[f"projection.{column}.range"] = column_range(own.parsed_type, projection["format"])
    return {
        "Name": table_name(workspace, name),
        "TableType": "EXTERNAL_TABLE",
        "Parameters": parameters,
        "PartitionKeys": [{"Name": column, "Type": "string"} for _, column, _ in _partitions(ds, quarantine)],
        "StorageDescriptor": {"Columns": columns, "Location": location, **_PARQUET},
    }


class Catalog(Protocol):
    def sync(self, workspace: str, ds: DataSource) -> None:
        """Make the tables of `workspace`'s data source (and its quarantine's) match `ds`."""
        ...
