"""`lakegate query "<SQL>"`: DuckDB over one workspace's landed Parquet, each data source (and quarantine) a view.

    python -m lakegate_local.query "SELECT city, count(*) FROM events_test GROUP BY city"
    python -m lakegate_local.query --bucket <lake bucket> "SELECT ..."   # the deployed lake (or moto's)
    python -m lakegate_local.query --workspace main "SELECT ..."         # when several workspaces have data

A query sees one workspace (`--workspace`, or the only one with data): another workspace's data source
of the same name is never read by it.

The admin CLI's `lakegate query` (cli/lakegate_cli) runs the same `answer` over a target's bucket.

By default it reads the local server's mirror (`./lake/`, or `LAKE_DIR`). With `--bucket` it first copies
the bucket's `datasources/<workspace>/` with boto3 into a folder (temporary unless `--cache` names one), so it needs
no DuckDB extension and works against any endpoint boto3 works against (`AWS_ENDPOINT_URL` for moto).

Files of a data source are read `union_by_name`, so files written before a column was added read it as
null. Hive partitioning is off: the default `date=` folders would replace a data source's own `date`
column (DuckDB lets the folder win), and ingestion time is not data.
"""

from __future__ import annotations

import argparse
import os
import re
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from lakegate.lake.layout import workspace_folder, workspace_of
from lakegate.schema import NAME_RE

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

REPO = Path(__file__).resolve().parents[2]
DATASOURCES = "datasources"


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


class QueryError(Exception):
    """A query that cannot be answered, said so that the person who typed it knows what to change."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message


def views(root: Path, workspace: str) -> list[str]:
    """The data sources (and quarantines) of `workspace` with landed Parquet under `root`: the views a
    query sees."""
    base = root / workspace_folder(workspace)
    folders = sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []
    return [f.name for f in folders if NAME_RE.fullmatch(f.name) and any(f.rglob("*.parquet"))]


def workspaces(root: Path) -> list[str]:
    """The workspaces with landed Parquet under `root` (a folder of an earlier layout,
    `datasources/<name>/date=...`, holds no data source folder and is not one)."""
    base = root / DATASOURCES
    found = (workspace_of(p.name) for p in base.iterdir() if p.is_dir()) if base.is_dir() else iter(())
    return sorted(w for w in found if views(root, w))


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


def connect(root: Path, workspace: str) -> Any:
    """An in-memory DuckDB with a view per folder of `workspace` under `<root>/datasources/` that holds
    Parquet."""
    import duckdb

    con = duckdb.connect()
    for name in views(root, workspace):
        files = _literal(str(root / workspace_folder(workspace) / name / "**" / "*.parquet"))
        # A quoted identifier and a quoted literal, both of our own folder names.
        reader = f"read_parquet({files}, union_by_name = true, hive_partitioning = false)"
        con.execute(f"CREATE VIEW {_quote(name)} AS SELECT * FROM {reader}")  # noqa: S608
    return con


def run(root: Path, sql: str, workspace: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and rows of `sql` over `workspace`'s data sources in the lake at `root`."""
    con = connect(root, workspace)
    try:
        # Through Arrow, not fetchall(): DuckDB's own conversion of TIMESTAMPTZ needs pytz.
        table = con.sql(sql).to_arrow_table()
    finally:
        con.close()
    return table.column_names, [tuple(row.values()) for row in table.to_pylist()]


# DuckDB's words for a name it cannot resolve in FROM: "Table with name nope does not exist!"
_MISSING_TABLE = re.compile(r"Table with name (.+?) does not exist")


def require_sql(sql: str) -> None:
    """Refuse a blank query before anything is copied or run."""
    if not sql.strip():
        raise QueryError('no SQL: pass the query as one argument, e.g. "SELECT count(*) FROM <data source>"')


def answer(
    root: Path, sql: str, where: str, workspace: str | None = None
) -> tuple[list[str], list[tuple[Any, ...]]]:
    """`run` over `workspace` (None: the only one with data), with every failure a QueryError that says
    what to do; `where` names the lake for messages."""
    import duckdb

    require_sql(sql)
    chosen = pick_workspace(workspaces(root), workspace, where)
    try:
        return run(root, sql, chosen)
    except duckdb.CatalogException as e:
        missing = _MISSING_TABLE.search(str(e))
        if missing is None:
            raise QueryError(_first_line(e)) from e
        known = views(root, chosen)
        raise QueryError(
            f"unknown table {missing.group(1)!r}: the data sources with data in {where} "
            f"(workspace {chosen}) are {', '.join(known) or 'none'}"
        ) from e
    except duckdb.Error as e:
        raise QueryError(_first_line(e)) from e


def _first_line(e: Exception) -> str:
    return str(e).strip().splitlines()[0] if str(e).strip() else type(e).__name__


def render(columns: Sequence[str], rows: Sequence[tuple[Any, ...]]) -> str:
    """Tab-separated, a header line first; null as an empty field."""
    lines = ["\t".join(columns)]
    lines += ["\t".join("" if v is None else str(v) for v in row) for row in rows]
    return "\n".join(lines)


def fetch(bucket: str, cache: Path, client: S3Client | None = None, workspace: str | None = None) -> Path:
    """Copy one workspace's data sources (`workspace`, else the only one there is) from the bucket into
    `cache`; the root to query. Several workspaces and none named: a QueryError that lists them."""
    from lakegate_local.mirror import S3Objects, sync

    if client is None:
        import boto3

        client = boto3.client("s3")
    if workspace is None:
        pages = client.get_paginator("list_objects_v2").paginate(
            Bucket=bucket, Prefix=f"{DATASOURCES}/", Delimiter="/"
        )
        prefixes = [p["Prefix"] for page in pages for p in page.get("CommonPrefixes", [])]
        if len(prefixes) > 1:  # nothing is copied before the person says which
            known = sorted(workspace_of(p[len(DATASOURCES) + 1 : -1]) for p in prefixes)
            pick_workspace(known, None, f"s3://{bucket}")
    else:
        prefixes = [workspace_folder(workspace)]
    for prefix in prefixes:
        sync(S3Objects(client, bucket), cache, [prefix], {})
    return cache


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lakegate query", description=__doc__.split("\n\n")[0])
    parser.add_argument("sql", help="the query; each data source is a view of its name")
    parser.add_argument("--lake", type=Path, help="a lake folder (default: LAKE_DIR, else ./lake)")
    parser.add_argument("--bucket", help="query this bucket's datasources/ instead of a folder")
    parser.add_argument(
        "--workspace", help="the workspace whose data sources are the views (default: the only one)"
    )
    parser.add_argument(
        "--cache", type=Path, help="where --bucket copies files (default: a temporary folder)"
    )
    args = parser.parse_args(argv)
    try:
        if args.bucket:
            with tempfile.TemporaryDirectory(prefix="lakegate-query-") as tmp:
                root = fetch(args.bucket, args.cache or Path(tmp), workspace=args.workspace)
                columns, rows = answer(root, args.sql, f"s3://{args.bucket}", args.workspace)
        else:
            lake = args.lake or Path(os.environ.get("LAKE_DIR") or REPO / "lake")
            columns, rows = answer(lake, args.sql, str(lake), args.workspace)
    except QueryError as e:
        print(f"query failed: {e.message}", file=sys.stderr)
        return 1
    print(render(columns, rows))
    return 0


if __name__ == "__main__":
    sys.exit(main())
