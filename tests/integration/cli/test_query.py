"""`lakegate --local query "<SQL>"`: DuckDB over the Parquet in the local server's lake bucket."""

from __future__ import annotations

import io

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
    # When the query names no workspace, it copies nothing and lists them
    run = local.cli("query", "SELECT n FROM shared")
    assert run.status == 2
    assert run.err.endswith("2 workspaces have data in " f"s3://{local.stack.raw_stream.bucket}: pass --workspace with one of ws1, ws2\n")  # fmt: skip
    # And each workspace sees its own rows only
    one = local.cli("query", "--workspace", "ws1", "SELECT * FROM shared")
    assert (one.status, one.out) == (0, "n\n1\n")
    two = local.cli("query", "SELECT * FROM shared", "--workspace", "ws2")
    assert (two.status, two.out) == (0, "n\tb_only\n2\tx\n")
