"""The Glue catalog: one table per workspace's data source and one per its quarantine, with partition projection, so
Athena reads new partitions with no crawler. Derived from the registry schema, never written by hand.

Partition columns are named `ingestion_date`/`ingestion_hour` (or `partition_day`, ...) in Glue while the
folders stay `date=`/`hour=`: `storage.location.template` maps one to the other, and a data source with
its own `date` column (as Tinybird's examples have) does not clash with its partition column in Athena.
"""

from __future__ import annotations

import hashlib
import re
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
# Projected dates run from here to now: Athena enumerates only what a query's filter keeps, and all of it
# for a query without one. Ingestion dates start with the deployment (`projection_start`, a template
# parameter); a data source's own date columns may hold older dates, so they start in 2000.
_FIRST_DATE = {"yyyy-MM-dd": "2000-01-01", "yyyyMM": "200001", "yyyy": "2000"}
FIRST_DATE = _FIRST_DATE["yyyy-MM-dd"]


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
    for _, column, projection in partitions:
        for key, value in projection.items():
            parameters[f"projection.{column}.{key}"] = value
        if projection["type"] == "date":
            first = projection_start if partitions is _INGESTION else _FIRST_DATE[projection["format"]]
            parameters[f"projection.{column}.range"] = f"{first},NOW"
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
