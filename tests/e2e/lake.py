"""What landed, read back as a person reads it: `lakegate query` (DuckDB over the local server's mirror of
the bucket), so these tests follow the lake's layout wherever the compactor puts a data source's files."""

from __future__ import annotations

import time
from typing import Any

import pytest

from lakegate.names import PARTITION_COLUMNS
from lakegate_local.query import QueryError, answer
from tests.e2e.local_server import LocalServer

LANDING_SECONDS = 30


def _quote(identifier: str) -> str:
    return '"' + identifier.replace('"', '""') + '"'


def landed(
    server: LocalServer, name: str, count: int, order_by: str | None = None, where: str | None = None
) -> list[dict[str, Any]]:
    """The rows of data source `name` (or `<name>_quarantine`), `where` the SQL condition holds, once at
    least `count` have landed: the compactor loop writes Parquet every COMPACT_INTERVAL_SECONDS and the
    server mirrors it to disk."""
    lake = server.workdir / "lake"
    sql = f"SELECT * FROM {_quote(name)}"
    sql += (f" WHERE {where}" if where else "") + (f" ORDER BY {order_by}" if order_by else "")
    deadline = time.monotonic() + LANDING_SECONDS
    rows: list[tuple[Any, ...]] = []
    while True:
        try:
            columns, rows = answer(lake, sql, str(lake))
        except QueryError:
            columns, rows = [], []
        if len(rows) >= count:
            # The rows as sent: without the partition columns each view adds (named as in Glue)
            return [
                {c: v for c, v in zip(columns, row, strict=True) if c not in PARTITION_COLUMNS}
                for row in rows
            ]
        if time.monotonic() > deadline:
            pytest.fail(
                f"{len(rows)} of {count} rows of {name} landed in {LANDING_SECONDS}s; "
                f"server stderr:\n{server.stderr.read_text()[-3000:]}"
            )
        time.sleep(0.2)
