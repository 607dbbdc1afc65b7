"""`lakegate query`: parsing, and the answers and errors over a lake folder (no AWS)."""

from __future__ import annotations

from pathlib import Path

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakegate_cli.parser import build
from lakegate_local.query import QueryError, answer, render, views, workspaces


@pytest.mark.parametrize(
    "argv",
    [["--stack", "prod", "query", "SELECT 1"], ["query", "SELECT 1", "--stack", "prod"]],
)
def test_query_takes_one_sql_argument_and_the_target_either_side(argv: list[str]) -> None:
    args = build().parse_args(argv)
    assert (args.command, args.sql, args.stack, args.workspace) == ("query", "SELECT 1", "prod", None)


def test_a_second_argument_is_a_usage_error(capsys: pytest.CaptureFixture[str]) -> None:
    # An unquoted query arrives as several arguments: argparse refuses the extra ones.
    with pytest.raises(SystemExit) as exit_:
        build().parse_args(["query", "SELECT", "1"])
    assert exit_.value.code == 2
    assert "unrecognized arguments: 1" in capsys.readouterr().err


def _lake(root: Path, folder: str, rows: list[dict[str, object]], workspace: str = "ws1") -> None:
    part = root / "datasources" / workspace / folder / "date=2026-01-01" / "hour=00"
    part.mkdir(parents=True)
    pq.write_table(pa.Table.from_pylist(rows), part / "part-1.parquet")


def test_views_are_the_data_source_folders(tmp_path: Path) -> None:
    _lake(tmp_path, "b", [{"n": 1}])
    _lake(tmp_path, "a", [{"n": 2}])
    (tmp_path / "datasources" / "ws1" / "date=2026-01-01").mkdir()  # no data source's name
    assert views(tmp_path, "ws1") == ["a", "b"]
    assert answer(tmp_path, "SELECT sum(a.n + b.n) AS s FROM a, b", "here") == (["s"], [(3,)])


@pytest.mark.parametrize(
    ("sql", "message"),
    [
        ("", "no SQL: pass the query as one argument"),
        (
            "SELECT * FROM nope",
            "unknown table 'nope': the data sources with data in here (workspace ws1) are a",
        ),
        ("SELECT nope FROM a", 'Binder Error: Referenced column "nope" not found'),
    ],
)
def test_errors_say_what_to_change(tmp_path: Path, sql: str, message: str) -> None:
    _lake(tmp_path, "a", [{"n": 1}])
    with pytest.raises(QueryError) as error:
        answer(tmp_path, sql, "here")
    assert error.value.message.startswith(message)
    assert "\n" not in error.value.message


def test_an_empty_lake_has_no_data_yet(tmp_path: Path) -> None:
    with pytest.raises(QueryError, match=r"^no data yet in here: nothing has landed under datasources/"):
        answer(tmp_path, "SELECT * FROM events", "here")


def test_render_is_tab_separated_with_nulls_empty() -> None:
    assert render(["a", "b"], [(1, None), ("x", 2.5)]) == "a\tb\n1\t\nx\t2.5"


def test_a_query_reads_one_workspace_never_anothers_table_of_the_same_name(tmp_path: Path) -> None:
    _lake(tmp_path, "shared", [{"n": 1}], workspace="a")
    _lake(tmp_path, "shared", [{"n": 2, "secret": "b's"}], workspace="b")
    _lake(tmp_path, "only_b", [{"n": 3}], workspace="b")
    (tmp_path / "datasources" / "legacy" / "date=2026-01-01").mkdir(parents=True)  # an earlier layout's
    assert workspaces(tmp_path) == ["a", "b"]
    assert answer(tmp_path, "SELECT * FROM shared", "here", "a") == (
        ["n", "ingestion_date", "ingestion_hour"],
        [(1, "2026-01-01", "00")],
    )
    assert answer(tmp_path, "SELECT n, secret FROM shared", "here", "b") == (["n", "secret"], [(2, "b's")])
    with pytest.raises(QueryError, match=r"unknown table 'only_b': .* \(workspace a\) are shared$"):
        answer(tmp_path, "SELECT * FROM only_b", "here", "a")
    with pytest.raises(QueryError) as several:
        answer(tmp_path, "SELECT * FROM shared", "here")
    assert several.value.message == "2 workspaces have data in here: pass --workspace with one of a, b"
    with pytest.raises(
        QueryError, match=r"^no data in workspace 'c' in here: the workspaces with data are a, b$"
    ):
        answer(tmp_path, "SELECT * FROM shared", "here", "c")


def test_the_only_workspace_is_the_default(tmp_path: Path) -> None:
    _lake(tmp_path, "shared", [{"n": 1}], workspace="acme%2Fprod")
    assert workspaces(tmp_path) == ["acme/prod"]
    assert answer(tmp_path, "SELECT n FROM shared", "here") == (["n"], [(1,)])
