"""`lakegate query "<SQL>"`: DuckDB over one workspace's landed Parquet, each data source (and quarantine) a view.

    python -m lakegate_local.query "SELECT city, count(*) FROM events_test GROUP BY city"
    python -m lakegate_local.query --bucket <lake bucket> "SELECT ..."   # the deployed lake (or moto's)
    python -m lakegate_local.query --workspace main "SELECT ..."         # when several workspaces have data

A query sees one workspace (`--workspace`, or the only one with data): another workspace's data source
of the same name is never read by it. The admin CLI's `lakegate query` (cli/lakegate_cli) runs the same
`answer` over a target's bucket.

By default it reads the local server's mirror (`./lake/`, or `LAKE_DIR`); with `--bucket`, the bucket in
place through pyarrow's S3 filesystem (`AWS_ENDPOINT_URL` for moto). Nothing is copied: only the data
sources the SQL names are listed, and only the partitions its filters keep are read (lake_files).
Each view has the data source's columns and its partition columns as the Glue table names them
(`ingestion_date`, `ingestion_hour`, or `partition_day/month/year`), so the same filter works in Athena.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakegate_local.progress import Progress

if TYPE_CHECKING:  # pyarrow loads when a query runs, not with every CLI command
    from lakegate_local.lake_files import LakeFiles

REPO = Path(__file__).resolve().parents[2]
DATASOURCES = "datasources"


class QueryError(Exception):
    """A query that cannot be answered, said so that the person who typed it knows what to change."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def _lake(root: Path | LakeFiles) -> LakeFiles:
    if not isinstance(root, Path):
        return root
    import pyarrow.fs as pafs

    from lakegate_local.lake_files import LakeFiles

    return LakeFiles(pafs.LocalFileSystem(), str(root.resolve()))


def views(root: Path | LakeFiles, workspace: str) -> list[str]:
    """The data sources (and quarantines) of `workspace` in the lake: the views a query can name."""
    return _lake(root).tables(workspace)


def workspaces(root: Path | LakeFiles) -> list[str]:
    """The workspaces with a data source folder in the lake."""
    return _lake(root).workspaces()


def pick_workspace(known: Sequence[str], asked: str | None, where: str) -> str:
    """The workspace a query reads: `asked`, else the only one with data; several is the caller's choice."""
    if asked is not None:
        if asked not in known and known:
            raise QueryError(
                f"no data in workspace {asked!r} in {where}: the workspaces with data are {', '.join(known)}"
            )
        return asked
    if len(known) > 1:
        raise QueryError(
            f"{len(known)} workspaces have data in {where}: pass --workspace with one of {', '.join(known)}"
        )
    if not known:
        raise QueryError(
            f"no data yet in {where}: nothing has landed under {DATASOURCES}/ (the compactor writes "
            "Parquet there once Firehose has delivered, about a minute after ingest)"
        )
    return known[0]


def named_tables(sql: str) -> set[str]:
    """The tables `sql` names (not its CTEs), lowercased as DuckDB matches them."""
    import duckdb

    try:
        return {t.lower() for t in duckdb.get_table_names(sql)}
    except duckdb.Error as e:
        raise QueryError(_first_line(e)) from e


def connect(lake: LakeFiles, workspace: str, sql: str, progress: Progress | None = None) -> Any:
    """An in-memory DuckDB with a view for each data source of `workspace` that `sql` names and that has
    files; each a dataset read in place, its partitions pruned by the filters DuckDB pushes down."""
    import duckdb

    wanted = named_tables(sql)
    opened: list[str] = []

    def on_open(path: str) -> None:
        opened.append(path)
        if progress is not None:
            progress.show(f"reading: {len(opened)} files opened")

    con = duckdb.connect()
    for name in lake.tables(workspace):
        if name.lower() not in wanted:
            continue

        def on_list(n: int, name: str = name) -> None:
            if progress is not None:
                progress.show(f"listing {name}: {n} files")

        dataset = lake.dataset(workspace, name, on_list, on_open)
        if dataset is not None:
            con.register(name, dataset)
    return con


def run(
    root: Path | LakeFiles, sql: str, workspace: str, progress: Progress | None = None
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and rows of `sql` over `workspace`'s data sources in the lake at `root`."""
    con = connect(_lake(root), workspace, sql, progress)
    try:
        # Through Arrow, not fetchall(): DuckDB's own conversion of TIMESTAMPTZ needs pytz.
        table = con.sql(sql).to_arrow_table()
    finally:
        con.close()
        if progress is not None:
            progress.clear()
    return table.column_names, [tuple(row.values()) for row in table.to_pylist()]


# DuckDB's words for a name it cannot resolve in FROM: "Table with name nope does not exist!"
_MISSING_TABLE = re.compile(r"Table with name (.+?) does not exist")


def require_sql(sql: str) -> None:
    """Refuse a blank query before anything is listed or run."""
    if not sql.strip():
        raise QueryError('no SQL: pass the query as one argument, e.g. "SELECT count(*) FROM <data source>"')


def answer(
    root: Path | LakeFiles,
    sql: str,
    where: str,
    workspace: str | None = None,
    progress: Progress | None = None,
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """`run` over `workspace` (None: the only one with data), with every failure a QueryError that says
    what to do; `where` names the lake for messages."""
    import duckdb

    require_sql(sql)
    lake = _lake(root)
    if workspace is not None and lake.tables(workspace):
        chosen = workspace  # named and there: no need to list every workspace
    else:
        chosen = pick_workspace(lake.workspaces(), workspace, where)
    try:
        return run(lake, sql, chosen, progress)
    except duckdb.CatalogException as e:
        missing = _MISSING_TABLE.search(str(e))
        if missing is None:
            raise QueryError(_first_line(e)) from e
        known = lake.tables(chosen)
        raise QueryError(
            f"unknown table {missing.group(1)!r}: the data sources with data in {where} "
            f"(workspace {chosen}) are {', '.join(known) or 'none'}"
        ) from e
    except (duckdb.Error, OSError) as e:
        raise QueryError(_first_line(e)) from e


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def render(columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> str:
    """Tab-separated, a header line first; null as an empty field."""
    lines = ["\t".join(columns)]
    lines += ["\t".join("" if v is None else str(v) for v in row) for row in rows]
    return "\n".join(lines)


def bucket_lake(bucket: str) -> LakeFiles:
    """The bucket, read in place with boto3's credentials, region and endpoint (`AWS_ENDPOINT_URL`)."""
    import boto3

    from lakegate_local.lake_files import LakeFiles, s3_filesystem

    session = boto3.session.Session()
    credentials = session.get_credentials()
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL")
    frozen = credentials.get_frozen_credentials() if credentials is not None else None
    return LakeFiles(s3_filesystem(session.region_name or "us-east-1", endpoint, frozen), bucket)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lakegate query", description=__doc__.split("\n\n")[0])
    parser.add_argument("sql", help="the query; each data source is a view of its name")
    parser.add_argument("--lake", type=Path, help="a lake folder (default: LAKE_DIR, else ./lake)")
    parser.add_argument("--bucket", help="query this bucket's datasources/ in place instead of a folder")
    parser.add_argument(
        "--workspace", help="the workspace whose data sources are the views (default: the only one)"
    )
    args = parser.parse_args(argv)
    progress = Progress(sys.stderr)
    try:
        if args.bucket:
            lake = bucket_lake(args.bucket)
            columns, rows = answer(lake, args.sql, f"s3://{args.bucket}", args.workspace, progress)
        else:
            root = args.lake or Path(os.environ.get("LAKE_DIR") or REPO / "lake")
            columns, rows = answer(root, args.sql, str(root), args.workspace, progress)
    except QueryError as e:
        print(f"query failed: {e.message}", file=sys.stderr)
        return 1
    print(render(columns, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
