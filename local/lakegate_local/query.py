"""`lakegate query "<SQL>"`: DuckDB over the landed Parquet, each data source (and quarantine) a view.

    python -m lakegate_local.query "SELECT city, count(*) FROM events_test GROUP BY city"
    python -m lakegate_local.query --bucket <lake bucket> "SELECT ..."   # the deployed lake (or moto's)

By default it reads the local server's mirror (`./lake/`, or `LAKE_DIR`). With `--bucket` it first copies
the bucket's `datasources/` into a cache folder with boto3 (only new or changed files), so it needs no
DuckDB extension and works against any endpoint boto3 works against (`AWS_ENDPOINT_URL` for moto).

Files of a data source are read `union_by_name`, so files written before a column was added read it as
null. Hive partitioning is off: the default `date=` folders would replace a data source's own `date`
column (DuckDB lets the folder win), and ingestion time is not data.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
from collections.abc import Sequence
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[2]
DATASOURCES = "datasources"


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def connect(root: Path) -> Any:
    """An in-memory DuckDB with a view per folder under `<root>/datasources/` that holds Parquet."""
    import duckdb

    con = duckdb.connect()
    base = root / DATASOURCES
    for folder in sorted(p for p in base.iterdir() if p.is_dir()) if base.is_dir() else []:
        if not any(folder.rglob("*.parquet")):
            continue
        files = _literal(str(folder / "**" / "*.parquet"))
        # A quoted identifier and a quoted literal, both of our own folder names.
        reader = f"read_parquet({files}, union_by_name = true, hive_partitioning = false)"
        con.execute(f"CREATE VIEW {_quote(folder.name)} AS SELECT * FROM {reader}")  # noqa: S608
    return con


def run(root: Path, sql: str) -> tuple[list[str], list[tuple[Any, ...]]]:
    """Column names and rows of `sql` over the lake at `root`."""
    con = connect(root)
    try:
        # Through Arrow, not fetchall(): DuckDB's own conversion of TIMESTAMPTZ needs pytz.
        table = con.sql(sql).to_arrow_table()
    finally:
        con.close()
    return table.column_names, [tuple(row.values()) for row in table.to_pylist()]


def fetch(bucket: str, cache: Path) -> Path:
    """Mirror the bucket's data sources into `cache`; the root to query."""
    import boto3

    from lakegate_local.mirror import sync

    sync(boto3.client("s3"), bucket, cache, [f"{DATASOURCES}/"], {})
    return cache


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="lakegate query", description=__doc__.split("\n\n")[0])
    parser.add_argument("sql", help="the query; each data source is a view of its name")
    parser.add_argument("--lake", type=Path, help="a lake folder (default: LAKE_DIR, else ./lake)")
    parser.add_argument("--bucket", help="query this bucket's datasources/ instead of a folder")
    parser.add_argument(
        "--cache", type=Path, help="where --bucket copies files (default: a temporary folder)"
    )
    args = parser.parse_args(argv)
    import duckdb

    try:
        if args.bucket:
            with tempfile.TemporaryDirectory(prefix="lakegate-query-") as tmp:
                columns, rows = run(fetch(args.bucket, args.cache or Path(tmp)), args.sql)
        else:
            columns, rows = run(args.lake or Path(os.environ.get("LAKE_DIR") or REPO / "lake"), args.sql)
    except duckdb.Error as e:
        print(f"query failed: {e}", file=sys.stderr)
        return 1
    print("\t".join(columns))
    for row in rows:
        print("\t".join("" if v is None else str(v) for v in row))
    return 0


if __name__ == "__main__":
    sys.exit(main())
