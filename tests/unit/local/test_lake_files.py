"""The lake read in place: partition columns named as in Glue, pruning by them, one workspace at a time,
and the progress line a slow query shows on a terminal."""

from __future__ import annotations

import io
from pathlib import Path

import pyarrow as pa
import pyarrow.fs as pafs
import pyarrow.parquet as pq
import pytest

from lakegate.lake.layout import NULL_PARTITION, folder
from lakegate_local.lake_files import LakeFiles
from lakegate_local.progress import AFTER_SECONDS, Progress
from lakegate_local.query import connect


def _file(root: Path, key: str, rows: list[dict[str, object]]) -> None:
    path = root / key
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(pa.Table.from_pylist(rows), path)


def _lake(root: Path) -> LakeFiles:
    return LakeFiles(pafs.LocalFileSystem(), str(root))


def _scan(root: Path, sql: str) -> tuple[list[tuple[object, ...]], list[str]]:
    opened: list[str] = []
    lake = _lake(root)
    con = connect(lake, "ws", sql)
    # The same scan, with the files it opens recorded
    for name in lake.tables("ws"):
        dataset = lake.dataset("ws", name, lambda n: None, opened.append)
        if dataset is not None:
            con.register(name, dataset)
    opened.clear()
    rows = [tuple(r.values()) for r in con.sql(sql).to_arrow_table().to_pylist()]
    con.close()
    return rows, [p.rsplit("/", 2)[-2] for p in opened]


def test_a_filter_on_a_partition_column_opens_only_its_files(tmp_path: Path) -> None:
    for month in ("202601", "202602", "202603"):
        _file(tmp_path, folder("ws", "sales") + f"month={month}/part-1.parquet", [{"date": "own", "n": 1}])
    _file(
        tmp_path,
        folder("ws", "sales") + f"month={NULL_PARTITION}/part-1.parquet",
        [{"date": "unknown", "n": 5}],
    )
    rows, opened = _scan(
        tmp_path, "SELECT date, n, partition_month FROM sales WHERE partition_month = '202602'"
    )
    assert rows == [("own", 1, "202602")]  # the data source's own `date` is its own, not a folder's
    assert opened == ["month=202602"]
    rows, opened = _scan(tmp_path, "SELECT n FROM sales WHERE partition_month IS NULL")
    assert (rows, opened) == ([(5,)], [f"month={NULL_PARTITION}"])


def test_older_files_read_newer_columns_as_null_and_stray_files_are_not_read(tmp_path: Path) -> None:
    base = folder("ws", "ev")
    _file(tmp_path, base + "date=2026-01-01/hour=00/part-1.parquet", [{"a": 1}])
    _file(tmp_path, base + "date=2026-01-02/hour=00/part-1.parquet", [{"a": 2, "b": "x"}])
    _file(tmp_path, base + "notes/part-9.parquet", [{"z": 1}])  # not a folder lakegate writes
    rows, _ = _scan(tmp_path, "SELECT a, b, ingestion_date FROM ev ORDER BY a")
    assert rows == [(1, None, "2026-01-01"), (2, "x", "2026-01-02")]


def test_only_the_tables_the_sql_names_are_listed(tmp_path: Path) -> None:
    _file(tmp_path, folder("ws", "a") + "date=2026-01-01/hour=00/part-1.parquet", [{"n": 1}])
    _file(tmp_path, folder("ws", "b") + "date=2026-01-01/hour=00/part-1.parquet", [{"n": 2}])
    con = connect(_lake(tmp_path), "ws", "WITH t AS (SELECT * FROM A) SELECT * FROM t")
    assert [r[0] for r in con.sql("SHOW TABLES").fetchall()] == ["a"]
    con.close()


class Tty(io.StringIO):
    def isatty(self) -> bool:
        return True


def test_progress_shows_only_on_a_terminal_and_after_a_second() -> None:
    now = [0.0]
    tty = Tty()
    progress = Progress(tty, clock=lambda: now[0])
    progress.show("listing ev: 1000 files")
    assert tty.getvalue() == ""  # a quick step says nothing
    now[0] = AFTER_SECONDS + 1
    progress.show("listing ev: 2000 files")
    assert tty.getvalue() == "\rlisting ev: 2000 files (2 s)"
    progress.clear()
    assert tty.getvalue().endswith("\r")
    piped = io.StringIO()
    late = Progress(piped, clock=lambda: now[0] * 10)
    late.show("reading")
    assert piped.getvalue() == ""


@pytest.mark.parametrize("workspace", ["acme/prod", "..", ""])
def test_workspaces_read_back_from_their_folders(tmp_path: Path, workspace: str) -> None:
    _file(tmp_path, folder(workspace, "ev") + "date=2026-01-01/hour=00/part-1.parquet", [{"n": 1}])
    (tmp_path / "datasources" / "legacy" / "date=2026-01-01").mkdir(parents=True)
    (tmp_path / "datasources" / "%FF" / "ev").mkdir(parents=True)  # not a folder lakegate writes
    assert _lake(tmp_path).workspaces() == [workspace]
