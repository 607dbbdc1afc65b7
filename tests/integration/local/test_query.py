"""`lakegate query`: DuckDB over what the compactor landed, from the disk mirror or from the bucket."""

from __future__ import annotations

import io
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from lakegate_local.compactor_loop import CompactorLoop
from lakegate_local.query import main, run
from lakegate_local.runtime import fake_context
from tests.integration.compactor_env import prepare_compactor
from tests.integration.conftest import Lake

CHICAGO = b'{"date": "2020-04-05 00:05:38", "city": "Chicago"}'
MADRID = b'{"date": "2020-04-05 00:07:22", "city": "Madrid", "temp": 21.5}'


class Handler:
    def invoke(self, event: dict[str, Any]) -> Any:
        import compactor_app

        return compactor_app.lambda_handler(event, fake_context("CompactorFunction"))


@pytest.fixture
def landed(lake: Lake, monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    """Two batches, the second with a new field, compacted and mirrored to disk one after the other."""
    prepare_compactor(lake, monkeypatch)
    loop = CompactorLoop(Handler(), lake.s3, lake.bucket, tmp_path, io.StringIO())
    lake.post(CHICAGO + b"\n[1]")
    loop.run_once()
    lake.post(MADRID)
    loop.run_once()
    return tmp_path


def test_each_data_source_is_a_view_and_older_files_read_new_columns_as_null(landed: Path) -> None:
    columns, rows = run(landed, "SELECT date, city, temp FROM events_test ORDER BY city", "ws1")
    assert columns == ["date", "city", "temp"]
    # Not the `date=` folder's value: the data source's own `date` column.
    assert [(d.astimezone(UTC), c, t) for d, c, t in rows] == [
        (datetime(2020, 4, 5, 0, 5, 38, tzinfo=UTC), "Chicago", None),
        (datetime(2020, 4, 5, 0, 7, 22, tzinfo=UTC), "Madrid", 21.5),
    ]


def test_quarantine_is_queryable_with_its_error_columns(landed: Path) -> None:
    _, rows = run(landed, "SELECT c__line, c__error, c__import_id FROM events_test_quarantine", "ws1")
    assert rows == [("[1]", ["the line is not a JSON object"], "apigw-0")]


def test_the_command_prints_tab_separated_rows(landed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--lake", str(landed), "SELECT city FROM events_test ORDER BY city"]) == 0
    assert capsys.readouterr().out == "city\nChicago\nMadrid\n"


def test_the_command_reports_a_bad_query(landed: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--lake", str(landed), "SELECT * FROM nowhere"]) == 1
    assert capsys.readouterr().err.startswith("query failed: ")


def test_an_empty_lake_has_no_views(tmp_path: Path) -> None:
    assert run(tmp_path, "SELECT 1 AS one", "ws1") == (["one"], [(1,)])


def test_a_statement_without_rows_answers_with_duckdbs_status(tmp_path: Path) -> None:
    assert run(tmp_path, "SET threads = 1", "ws1") == (["Success"], [])
