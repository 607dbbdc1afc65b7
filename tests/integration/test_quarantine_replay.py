"""`lakegate quarantine replay` on moto: rows quarantined by the real ingest and compactor handlers land once
their data source's schema is altered to take them, exactly once however often the replay runs or wherever
it dies; a dry run writes nothing."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import pyarrow.parquet as pq
import pytest

from lakegate.aws.s3 import S3ObjectStore
from lakegate.lake.compactor import Compactor
from lakegate_cli.main import main
from tests.integration.compactor_env import Compact, landed, raw_keys, rows_of
from tests.integration.conftest import Lake

SCHEMA = "`id` Int64 `json:$.id`, `qty` Int32 `json:$.qty`, `note` String `json:$.note`"
WIDER = "`id` Int64 `json:$.id`, `qty` Int64 `json:$.qty`, `note` Nullable(String) `json:$.note`"
ROWS = (
    b'{"id": 1, "qty": 5, "note": "fits"}\n'
    b'{"id": 2, "qty": 3000000000, "note": "too big for Int32"}\n'
    b'{"id": 3, "qty": 7, "note": null}\n'
    b"not json\n"
)


def cli(lake: Lake, capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    out = io.StringIO()
    capsys.readouterr()
    names = ["--datasources-table", lake.env["DATASOURCES_TABLE"], "--refs-table", lake.env["REFS_TABLE"]]
    status = main([*names, "--bucket", lake.bucket, *argv], out=out)
    return status, out.getvalue(), capsys.readouterr().err


def objects(lake: Lake, prefix: str = "") -> dict[str, bytes]:
    listed = lake.s3.list_objects_v2(Bucket=lake.bucket, Prefix=prefix).get("Contents", [])
    return {o["Key"]: lake.s3.get_object(Bucket=lake.bucket, Key=o["Key"])["Body"].read() for o in listed}


def items(lake: Lake, table: str) -> list[dict[str, Any]]:
    return list(lake.ddb.scan(TableName=lake.env[table])["Items"])


def quarantined(lake: Lake) -> list[dict[str, Any]]:
    return rows_of(landed(lake), "orders_quarantine")


def ids(lake: Lake) -> list[int]:
    return sorted(r["id"] for r in rows_of(landed(lake), "orders"))


@pytest.fixture
def quarantine(lake: Lake, compact: Compact) -> Iterator[Lake]:
    """`orders` with one row landed and three quarantined (Int64-size qty, null note, not JSON), then its
    schema widened through the API so that two of those would now fit."""
    query = urlencode({"name": "orders", "schema": SCHEMA}, quote_via=quote)
    assert lake.post(b"", query=query, path="/v0/datasources")["statusCode"] == 200
    assert lake.post(ROWS, "name=orders")["statusCode"] == 202
    (key,) = raw_keys(lake)
    compact(key)
    assert ids(lake) == [1]
    assert len(quarantined(lake)) == 3
    alter = urlencode({"schema": WIDER}).encode()
    assert lake.post(alter, query="", path="/v0/datasources/orders/alter")["statusCode"] == 200
    yield lake


def test_replay_lands_the_rows_that_now_fit_once_and_keeps_the_rest(
    quarantine: Lake, capsys: pytest.CaptureFixture[str]
) -> None:
    lake = quarantine
    status, out, err = cli(lake, capsys, "quarantine", "replay", "orders")

    assert status == 0, err
    assert out == "orders: replayed 2, still failing 1, skipped 0 (1 quarantine files read, 1 rewritten)\n"
    assert ids(lake) == [1, 2, 3]
    replayed = {r["id"]: r for r in rows_of(landed(lake), "orders")}
    assert (replayed[2]["qty"], replayed[3]["note"]) == (3_000_000_000, None)
    (left,) = quarantined(lake)
    assert left["c__line"] == "not json"
    assert left["c__error"][0].startswith("invalid JSON")
    assert objects(lake, "replay/") == {}  # the staged object is gone
    # The same again finds nothing more to land
    status, out, _ = cli(lake, capsys, "quarantine", "replay", "orders", "--workspace", "ws1")
    assert out == "orders: replayed 0, still failing 1, skipped 0 (1 quarantine files read, 1 rewritten)\n"
    assert ids(lake) == [1, 2, 3]
    assert len(quarantined(lake)) == 1


def test_a_dry_run_counts_and_writes_nothing(quarantine: Lake, capsys: pytest.CaptureFixture[str]) -> None:
    lake = quarantine
    before = (objects(lake), items(lake, "REFS_TABLE"), items(lake, "DATASOURCES_TABLE"))

    status, out, err = cli(lake, capsys, "quarantine", "replay", "orders", "--dry-run")

    assert status == 0, err
    assert out == (
        "orders: dry run, nothing written: would be replayed 2, still failing 1, skipped 0 "
        "(1 quarantine files read)\n"
    )
    assert (objects(lake), items(lake, "REFS_TABLE"), items(lake, "DATASOURCES_TABLE")) == before


def test_rows_outside_the_window_are_skipped(quarantine: Lake, capsys: pytest.CaptureFixture[str]) -> None:
    lake = quarantine
    before = objects(lake)
    _, out, _ = cli(lake, capsys, "quarantine", "replay", "orders", "--until", "2000-01-01")
    assert out == "orders: replayed 0, still failing 0, skipped 0 (0 quarantine files read, 0 rewritten)\n"
    _, out, _ = cli(lake, capsys, "quarantine", "replay", "orders", "--since", "2999-01-01T00:00:00Z")
    assert out.startswith("orders: replayed 0, still failing 0, skipped 0 (0 quarantine files read")
    assert objects(lake) == before


class Died(Exception):
    """The replay's process killed at one step."""


@pytest.mark.parametrize("step", ["before landing", "after landing", "after the rewrite"])
def test_a_replay_that_dies_half_way_lands_each_row_once_when_run_again(
    quarantine: Lake, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch, step: str
) -> None:
    lake = quarantine
    real_process, real_put, real_delete = Compactor.process, S3ObjectStore.put, S3ObjectStore.delete

    def process(self: Compactor, key: str) -> Any:
        if step == "before landing":
            raise Died(step)
        return real_process(self, key)

    def put(self: S3ObjectStore, key: str, body: bytes, content_type: str) -> None:
        if step == "after landing" and "_quarantine/" in key:
            raise Died(step)
        real_put(self, key, body, content_type)

    def delete(self: S3ObjectStore, key: str) -> None:
        if step == "after the rewrite" and key.startswith("replay/"):
            raise Died(step)
        real_delete(self, key)

    with monkeypatch.context() as m:
        m.setattr(Compactor, "process", process)
        m.setattr(S3ObjectStore, "put", put)
        m.setattr(S3ObjectStore, "delete", delete)
        with pytest.raises(Died):
            cli(lake, capsys, "quarantine", "replay", "orders")
    assert ids(lake) == ([1] if step == "before landing" else [1, 2, 3])

    for _ in range(2):  # run again, and once more
        status, _, err = cli(lake, capsys, "quarantine", "replay", "orders")
        assert status == 0, err
        assert ids(lake) == [1, 2, 3]
    assert [r["c__line"] for r in quarantined(lake)] == ["not json"]
    assert objects(lake, "replay/") == {}


def test_an_unknown_data_source_or_a_bad_time_is_one_line_with_status_2(
    lake: Lake, capsys: pytest.CaptureFixture[str]
) -> None:
    status, _, err = cli(lake, capsys, "quarantine", "replay", "nowhere")
    assert (status, err) == (2, "lakegate: unknown data source 'nowhere'\n")
    status, _, err = cli(lake, capsys, "quarantine", "replay", "nowhere", "--since", "yesterday")
    assert status == 2
    assert err.startswith("lakegate: --since 'yesterday' is not a time")
    status, _, err = cli(
        lake, capsys, "quarantine", "replay", "x", "--since", "2026-02-01", "--until", "2026-01-01"
    )
    assert (status, err) == (2, "lakegate: --since must be before --until\n")


def test_the_quarantine_summary_still_answers_without_an_action(
    quarantine: Lake, capsys: pytest.CaptureFixture[str]
) -> None:
    status, out, _ = cli(quarantine, capsys, "quarantine")
    assert status == 0
    assert "orders" in out
    assert pq.read_table is not None
