"""The landed Parquet read in place, as pyarrow datasets DuckDB scans: a folder (the `./lake` mirror) or a
bucket through pyarrow's S3 filesystem, nothing copied first.

What a query reads is narrowed three times: to one workspace's folder, to the data sources its SQL names
(one listing of each), and to the partitions its filters keep. Each file is a fragment whose partition
expression holds its folders' values under the Glue table's names (`ingestion_date`, `ingestion_hour`,
`partition_day`, ...: lake.layout's `FOLDER_COLUMNS`), so `WHERE ingestion_date = '2026-11-23'`, pushed
down by DuckDB, skips every other folder's files without a GET. The folders' own keys are not used as
column names: a data source's own `date` column would clash with the `date=` folders.

A data source's schema is its newest file's (the schema only grows, at its end): older files read the
columns they lack as null. Reading that one footer is the only GET outside the partitions kept.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.dataset as ds
import pyarrow.fs as pafs
import pyarrow.parquet as pq

from lakegate.lake.layout import PREFIX, folder, partition_values, workspace_folder, workspace_of
from lakegate.schema import NAME_RE

# Called with how many files a listing found so far, and with each file a scan opens.
Listed = Callable[[int], None]
Opened = Callable[[str], None]


def s3_filesystem(region: str, endpoint_url: str | None = None, credentials: Any = None) -> pafs.S3FileSystem:
    """pyarrow's S3 filesystem for a region, an endpoint (moto's) and frozen boto3 credentials."""
    kwargs: dict[str, Any] = {"region": region}
    if credentials is not None:
        kwargs |= {
            "access_key": credentials.access_key,
            "secret_key": credentials.secret_key,
            "session_token": credentials.token,
        }
    if endpoint_url:
        scheme, _, host = endpoint_url.partition("://")
        kwargs |= {"endpoint_override": host.rstrip("/"), "scheme": scheme or "https"}
    return pafs.S3FileSystem(**kwargs)


class _Counting(pafs.FileSystemHandler):  # type: ignore[misc]
    """Every call passed to `base`; each file opened for reading reported to `opened` (progress)."""

    def __init__(self, base: pafs.FileSystem, opened: Opened) -> None:
        self._base = base
        self._opened = opened

    def __eq__(self, other: object) -> bool:
        return isinstance(other, _Counting) and other._base.equals(self._base)

    def __ne__(self, other: object) -> bool:
        return not self == other

    def __hash__(self) -> int:
        return hash(self._base.type_name)

    def get_type_name(self) -> str:
        return f"lakegate-{self._base.type_name}"

    def normalize_path(self, path: str) -> str:
        return str(self._base.normalize_path(path))

    def get_file_info(self, paths: list[str]) -> list[pafs.FileInfo]:
        return list(self._base.get_file_info(paths))

    def get_file_info_selector(self, selector: pafs.FileSelector) -> list[pafs.FileInfo]:
        return list(self._base.get_file_info(selector))

    def open_input_file(self, path: str) -> Any:
        self._opened(path)
        return self._base.open_input_file(path)

    def open_input_stream(self, path: str) -> Any:
        self._opened(path)
        return self._base.open_input_stream(path)

    def _read_only(self, *_: Any, **__: Any) -> Any:
        raise OSError("lakegate query reads the lake and never writes it")

    create_dir = delete_dir = delete_dir_contents = delete_root_dir_contents = _read_only
    delete_file = move = copy_file = open_output_stream = open_append_stream = _read_only


@dataclass(frozen=True, slots=True)
class LakeFiles:
    """The lake at `base` (a bucket name, or a folder's absolute path) on `filesystem`."""

    filesystem: pafs.FileSystem
    base: str

    def _path(self, prefix: str) -> str:
        return f"{self.base.rstrip('/')}/{prefix}".rstrip("/")

    def _folders(self, prefix: str) -> list[str]:
        """Names of the folders directly under `prefix` (one delimited listing in S3)."""
        selector = pafs.FileSelector(self._path(prefix), allow_not_found=True)
        infos = self.filesystem.get_file_info(selector)
        return sorted(i.base_name for i in infos if i.type == pafs.FileType.Directory)

    def tables(self, workspace: str) -> list[str]:
        """The folders of `workspace`'s data sources and quarantines (named as data sources are)."""
        return [n for n in self._folders(workspace_folder(workspace)) if NAME_RE.fullmatch(n)]

    def workspaces(self) -> list[str]:
        """Workspaces with at least one data source folder (an earlier layout's `datasources/<name>/`,
        which holds partition folders, is none)."""
        return sorted(w for w in map(workspace_of, self._folders(PREFIX)) if self.tables(w))

    def dataset(self, workspace: str, name: str, listed: Listed, opened: Opened) -> ds.Dataset | None:
        """Data source (or quarantine) `name` of `workspace` as a dataset of its Parquet files, each with its
        partition values; None when it has no file yet."""
        root = self._path(folder(workspace, name))
        selector = pafs.FileSelector(root, recursive=True, allow_not_found=True)
        files: list[pafs.FileInfo] = []
        for info in self.filesystem.get_file_info(selector):
            if info.type == pafs.FileType.File and info.path.endswith(".parquet"):
                files.append(info)
                if len(files) % 1000 == 0:
                    listed(len(files))
        parts = [(f, partition_values(f.path[len(root) + 1 :])) for f in files]
        kept = [(f, p) for f, p in parts if p is not None]
        if not kept:
            return None
        newest = max(kept, key=lambda fp: (fp[0].mtime_ns or 0, fp[0].path))[0]
        columns = sorted({c for _, p in kept for c in p})
        fs = pafs.PyFileSystem(_Counting(self.filesystem, opened))
        schema = pq.read_schema(newest.path, filesystem=fs)
        schema = _with_columns(schema, columns)
        return ds.FileSystemDataset.from_paths(
            [f.path for f, _ in kept],
            schema=schema,
            format=ds.ParquetFileFormat(),
            filesystem=fs,
            partitions=[_expression(p, columns) for _, p in kept],
        )


def _with_columns(schema: pa.Schema, columns: Iterable[str]) -> pa.Schema:
    for column in columns:
        if schema.get_field_index(column) < 0:
            schema = schema.append(pa.field(column, pa.string()))
    return schema


def _expression(values: dict[str, str | None], columns: list[str]) -> pc.Expression:
    """What every row of a file holds in its partition columns (null for a column its folders lack)."""
    terms = [
        pc.field(c).is_null() if values.get(c) is None else pc.field(c) == pc.scalar(values[c])
        for c in columns
    ]
    out: pc.Expression = pc.scalar(True)
    for term in terms:
        out = out & term
    return out
