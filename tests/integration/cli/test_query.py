"""`lakegate --local query "<SQL>"`: DuckDB over the Parquet in the local server's lake bucket."""

from __future__ import annotations

import io
from pathlib import Path
from typing import Any
from urllib.parse import unquote, urlsplit

import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from tests.integration.cli.conftest import Local


def _parquet(rows: list[dict[str, object]]) -> bytes:
    sink = io.BytesIO()
    pq.write_table(pa.Table.from_pylist(rows), sink)
    return sink.getvalue()


def _land(local: Local, key: str, rows: list[dict[str, object]]) -> None:
    bucket = local.stack.raw_stream.bucket
    local.aws.s3().put_object(Bucket=bucket, Key=key, Body=_parquet(rows))


def test_query_reads_every_part_of_a_data_source_from_the_bucket(local: Local) -> None:
    # Given two parts, the second written after a column was added
    _land(local, "datasources/ws1/events_test/date=2026-01-01/hour=00/part-1.parquet", [{"city": "Chicago"}])
    _land(
        local,
        "datasources/ws1/events_test/date=2026-01-01/hour=01/part-2.parquet",
        [{"city": "Madrid", "temp": 21.5}, {"city": "Lyon", "temp": 9.0}],
    )
    # When the CLI queries the local server's bucket
    run = local.cli("query", "SELECT city, temp FROM events_test ORDER BY city")
    # Then every row is there, tab-separated, the older part reading the new column as null
    assert run.status == 0, run.err
    assert run.out == "city\ttemp\nChicago\t\nLyon\t9.0\nMadrid\t21.5\n"


def test_no_data_yet_says_so(local: Local) -> None:
    run = local.cli("query", "SELECT count(*) FROM events_test")
    assert run.status == 2
    bucket = local.stack.raw_stream.bucket
    assert run.err == (
        f"lakegate: no data yet in s3://{bucket}: nothing has landed under datasources/ (the compactor "
        "writes Parquet there once Firehose has delivered, about a minute after ingest)\n"
    )


def test_unknown_table_names_the_ones_there_are(local: Local) -> None:
    _land(local, "datasources/ws1/clicks/date=2026-01-01/hour=00/part-1.parquet", [{"n": 1}])
    _land(
        local, "datasources/ws1/clicks_quarantine/date=2026-01-01/hour=00/part-1.parquet", [{"c__line": "x"}]
    )
    run = local.cli("query", "SELECT * FROM events_test")
    assert run.status == 2
    assert run.err.endswith("unknown table 'events_test': the data sources with data in "
                            f"s3://{local.stack.raw_stream.bucket} (workspace ws1) are clicks, clicks_quarantine\n")  # fmt: skip
    assert run.err.count("\n") == 1


def test_misuse_is_one_line_with_status_2(local: Local) -> None:
    _land(local, "datasources/ws1/clicks/date=2026-01-01/hour=00/part-1.parquet", [{"n": 1}])
    cases = {
        ("query", "   "): 'lakegate: no SQL: pass the query as one argument, e.g. "SELECT count(*) FROM <data source>"\n',
        ("query", "SELEC 1"): 'lakegate: Parser Error: syntax error at or near "SELEC"\n',
        ("query", "SELECT 1", "--bucket", "nope"): "lakegate: no such bucket at ",
        ("query", "SELECT 1 FROM clicks", "--workspace", "nobody"): "lakegate: no data in workspace 'nobody' in s3://",
    }  # fmt: skip
    for argv, expected in cases.items():
        run = local.cli(*argv)
        assert run.status == 2, argv
        assert run.err.startswith(expected), (argv, run.err)
        assert run.err.count("\n") == 1


def test_a_missing_sql_argument_is_a_usage_error(local: Local) -> None:
    with pytest.raises(SystemExit) as exit_:
        local.cli("query")
    assert exit_.value.code == 2
    assert "the following arguments are required: SQL" in local.capsys.readouterr().err


def test_a_query_reads_its_workspace_alone(local: Local) -> None:
    # Given two workspaces with a data source of the same name
    _land(local, "datasources/ws1/shared/date=2026-01-01/hour=00/part-1.parquet", [{"n": 1}])
    _land(local, "datasources/ws2/shared/date=2026-01-01/hour=00/part-1.parquet", [{"n": 2, "b_only": "x"}])
    # When the query names no workspace, it reads nothing and lists them
    run = local.cli("query", "SELECT n FROM shared")
    assert run.status == 2
    assert run.err.endswith("2 workspaces have data in " f"s3://{local.stack.raw_stream.bucket}: pass --workspace with one of ws1, ws2\n")  # fmt: skip
    # And each workspace sees its own rows only
    one = local.cli("query", "--workspace", "ws1", "SELECT * FROM shared")
    assert (one.status, one.out) == (0, "n\tingestion_date\tingestion_hour\n1\t2026-01-01\t00\n")
    two = local.cli(
        "query", "SELECT * EXCLUDE (ingestion_date, ingestion_hour) FROM shared", "--workspace", "ws2"
    )
    assert (two.status, two.out) == (0, "n\tb_only\n2\tx\n")


@pytest.fixture
def gets(monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """The key of every GetObject the moto server answers (it runs in this process), in order."""
    from moto.s3.responses import S3Response

    seen: list[str] = []
    original = S3Response.get_object

    def counted(self: S3Response) -> Any:
        seen.append(unquote(urlsplit(self.path).path).split("/", 2)[2])
        return original(self)

    monkeypatch.setattr(S3Response, "get_object", counted)
    return seen


def test_a_query_reads_in_place_only_the_partitions_its_filter_keeps(local: Local, gets: list[str]) -> None:
    # Given 5 days x 4 hours of one data source, another data source, and another workspace's of its name
    days = [f"2026-01-0{d}" for d in range(1, 6)]
    for day in days:
        for hour in ("00", "01", "02", "03"):
            where = f"date={day}/hour={hour}/part-1.parquet"
            _land(local, f"datasources/ws1/events_test/{where}", [{"city": f"{day} {hour}", "n": 1}])
            _land(local, f"datasources/ws1/other/{where}", [{"x": 1}])
            _land(local, f"datasources/ws2/events_test/{where}", [{"city": "ws2's"}])
    newest = "datasources/ws1/events_test/date=2026-01-05/hour=03/part-2.parquet"  # written last
    _land(local, newest, [{"city": "late", "n": 2}])
    gets.clear()

    # When a query filters on the partition column the Glue table has
    sql = "SELECT count(*) AS rows, min(city) AS first FROM events_test WHERE ingestion_date = '2026-01-03'"
    run = local.cli("query", "--workspace", "ws1", sql)

    # Then it answers from the 4 files of that day, and opened no other but the newest, for the schema
    assert (run.status, run.out) == (0, "rows\tfirst\n4\t2026-01-03 00\n"), run.err
    kept = {
        f"datasources/ws1/events_test/date=2026-01-03/hour={h}/part-1.parquet"
        for h in ("00", "01", "02", "03")
    }
    assert set(gets) == kept | {newest}
    assert len(gets) <= 2 * len(set(gets))  # a footer and a body per file at most: no re-reads

    # And a filter on the hour too narrows it to one file; a query without a filter reads the table alone
    gets.clear()
    one = local.cli("query", "--workspace", "ws1", "SELECT city FROM events_test WHERE ingestion_date = '2026-01-02' AND ingestion_hour = '01'")  # fmt: skip
    assert one.out == "city\n2026-01-02 01\n"
    assert set(gets) == {"datasources/ws1/events_test/date=2026-01-02/hour=01/part-1.parquet", newest}
    gets.clear()
    assert local.cli("query", "--workspace", "ws1", "SELECT count(*) AS n FROM events_test").out == "n\n21\n"
    assert {k.split("/")[1:3] == ["ws1", "events_test"] for k in gets} == {True} and len(set(gets)) == 21


def test_the_query_module_reads_a_bucket_in_place_at_boto3s_endpoint(
    local: Local, monkeypatch: pytest.MonkeyPatch, tmp_path: Path, gets: list[str]
) -> None:
    from lakegate_local.query import main

    _land(local, "datasources/ws1/clicks/date=2026-01-01/hour=00/part-1.parquet", [{"n": 1}])
    _land(local, "datasources/ws1/clicks/date=2026-01-02/hour=00/part-1.parquet", [{"n": 2}])
    for key, value in {"AWS_ENDPOINT_URL": local.aws.endpoint, "AWS_DEFAULT_REGION": "us-east-1",
                       "AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing"}.items():  # fmt: skip
        monkeypatch.setenv(key, value)
    monkeypatch.chdir(tmp_path)
    gets.clear()
    sql = "SELECT sum(n) AS n FROM clicks WHERE ingestion_date = '2026-01-02'"
    assert main(["--bucket", local.stack.raw_stream.bucket, sql]) == 0
    assert local.capsys.readouterr().out == "n\n2\n"
    assert set(gets) == {"datasources/ws1/clicks/date=2026-01-02/hour=00/part-1.parquet"}
    assert not list(tmp_path.iterdir())  # nothing copied
