"""Tenants never share a folder, a table, a schema or a TTL: two workspaces with a data source of one
name, through the real ingest handler and the real compactor on moto."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from urllib.parse import quote, urlencode

import boto3
import orjson
import pytest

from lakegate.lake.catalog import table_name
from lakegate.lake.layout import PREFIX, folder
from lakegate_local.mirror import S3Objects, sync
from lakegate_local.query import main as query_main
from tests.integration.compactor_env import GLUE_DATABASE, Compact, landed, raw_keys, rows_in
from tests.integration.conftest import REGION, Lake, body_of
from tests.integration.test_vayu_api import batch, ev, send

A, B = "ws_a", "Ws-B/prod"  # B's id holds what a folder or a Glue name cannot: it is encoded, not mixed up
TOKEN_A, TOKEN_B = "token-of-workspace-a", "token-of-workspace-b"
NOW = datetime.now(UTC).replace(microsecond=0)
OLD = NOW - timedelta(days=60)


def _stamp(t: datetime) -> str:
    return t.strftime("%Y-%m-%d %H:%M:%S")


def _define(lake: Lake, token: str, **params: str) -> None:
    resp = lake.post(b"", query=urlencode({"name": "shared"} | params, quote_via=quote), path="/v0/datasources",
                     token=token)  # fmt: skip
    assert resp["statusCode"] == 200, body_of(resp)


def _send(lake: Lake, token: str, compact: Compact, *rows: dict[str, Any]) -> None:
    before = set(raw_keys(lake))
    resp = lake.post(b"\n".join(orjson.dumps(r) for r in rows), "name=shared", token=token)
    assert resp["statusCode"] == 202, body_of(resp)
    for key in sorted(set(raw_keys(lake)) - before):
        assert compact(key)["rows"] >= 1


@pytest.fixture
def tenants(lake: Lake, compact: Compact) -> Lake:
    """A: `shared` by day of `ts`, a 1-day TTL, a `city`; B: by month of `ts`, ten years' TTL, an `n`.
    Each lands a row of now and one of 60 days ago."""
    lake.add_token(TOKEN_A, ["ADMIN"], workspace_id=A)
    lake.add_token(TOKEN_B, ["ADMIN"], workspace_id=B)
    _define(lake, TOKEN_A, schema="ts DateTime `json:$.ts`, city String `json:$.city`",
            engine_partition_key="toDate(ts)", engine_ttl="ts + toIntervalDay(1)",
            schema_evolution="true")  # fmt: skip
    _define(lake, TOKEN_B, schema="ts DateTime `json:$.ts`, n Int32 `json:$.n`",
            engine_partition_key="toYYYYMM(ts)", engine_ttl="ts + toIntervalDay(3650)",
            schema_evolution="true")  # fmt: skip
    _send(lake, TOKEN_B, compact, {"ts": _stamp(OLD), "n": 1}, {"ts": _stamp(NOW), "n": 2})
    _send(lake, TOKEN_A, compact, {"ts": _stamp(OLD), "city": "a-old"}, {"ts": _stamp(NOW), "city": "a-new"})
    return lake


def test_each_workspace_lands_in_its_own_folder_with_its_own_partitions(tenants: Lake) -> None:
    tables = landed(tenants)
    assert all(k.startswith((folder(A, "shared"), folder(B, "shared"))) for k in tables)
    assert folder(B, "shared") == "datasources/Ws-B%2Fprod/shared/"
    a_folders = {k.split("/")[3] for k in tables if k.startswith(folder(A, "shared"))}
    b_folders = {k.split("/")[3] for k in tables if k.startswith(folder(B, "shared"))}
    # A's TTL deleted A's 60-day-old day; B's month of that day is B's and stays.
    assert a_folders == {f"day={NOW:%Y-%m-%d}"}
    assert b_folders == {f"month={OLD:%Y%m}", f"month={NOW:%Y%m}"}
    assert [r["city"] for r in rows_in(tables, A, "shared")] == ["a-new"]
    assert sorted(r["n"] for r in rows_in(tables, B, "shared")) == [1, 2]
    assert all("city" not in t.column_names for k, t in tables.items() if k.startswith(folder(B, "shared")))


def test_each_workspace_has_its_own_glue_tables_schema_and_projection(
    tenants: Lake, compact: Compact
) -> None:
    glue = boto3.client("glue", region_name=REGION)

    def table(workspace: str, name: str = "shared") -> dict[str, Any]:
        found = glue.get_table(DatabaseName=GLUE_DATABASE, Name=table_name(workspace, name))
        return dict(found["Table"])

    # A's schema evolves; B's does not follow it
    _send(tenants, TOKEN_A, compact, {"ts": _stamp(NOW), "city": "x", "only_a": 7})
    a, b = table(A), table(B)
    assert a["Name"] != b["Name"] and a["Name"].endswith("_shared") and b["Name"].endswith("_shared")
    assert [c["Name"] for c in a["StorageDescriptor"]["Columns"]] == ["ts", "city", "only_a"]
    assert [c["Name"] for c in b["StorageDescriptor"]["Columns"]] == ["ts", "n"]
    assert tenants.datasource("shared", B)["columns"][-1]["name"] == "n"  # type: ignore[index]
    # Each table reads its own workspace's folder alone, with its own partition scheme
    bucket = f"s3://{tenants.bucket}/"
    assert a["StorageDescriptor"]["Location"] == bucket + folder(A, "shared")
    assert b["StorageDescriptor"]["Location"] == bucket + folder(B, "shared")
    assert (
        a["Parameters"]["storage.location.template"] == bucket + folder(A, "shared") + "day=${partition_day}"
    )
    assert b["Parameters"]["storage.location.template"] == bucket + folder(B, "shared") + "month=${partition_month}"  # fmt: skip
    assert table(A, "shared_quarantine")["StorageDescriptor"]["Location"] == bucket + folder(
        A, "shared_quarantine"
    )
    assert table(B, "shared_quarantine")["StorageDescriptor"]["Location"] == bucket + folder(
        B, "shared_quarantine"
    )
    # And nothing under one table's location holds the other's rows
    tables = landed(tenants, folder(B, "shared"))
    assert tables and all(set(t.column_names) == {"ts", "n"} for t in tables.values())


def test_one_workspaces_rows_are_never_read_by_the_others_query(
    tenants: Lake, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    sync(S3Objects(tenants.s3, tenants.bucket), tmp_path, [PREFIX], {})  # the local server's mirror of it
    sql = "SELECT * EXCLUDE (partition_day, partition_month) FROM shared ORDER BY ts"
    sql_b = sql.replace("partition_day, ", "")
    assert query_main(["--lake", str(tmp_path), "--workspace", B, sql_b]) == 0
    out = capsys.readouterr().out
    assert out.splitlines()[0] == "ts\tn" and "a-new" not in out and len(out.splitlines()) == 3
    sql_a = sql.replace(", partition_month", "")
    assert query_main(["--lake", str(tmp_path), "--workspace", A, sql_a]) == 0
    lines = capsys.readouterr().out.splitlines()
    assert lines[0] == "ts\tcity" and lines[1].endswith("\ta-new") and len(lines) == 2
    # Naming none of two is a question back, not a mix
    assert query_main(["--lake", str(tmp_path), sql_a]) == 1
    assert "pass --workspace with one of Ws-B/prod, ws_a" in capsys.readouterr().err


def test_vayu_events_of_two_workspaces_stay_apart(lake: Lake, compact: Compact) -> None:
    lake.add_token(TOKEN_A, ["ADMIN"], workspace_id=A)
    lake.add_token(TOKEN_B, ["ADMIN"], workspace_id=B)
    # The same ref in both workspaces: each is its own event, neither a duplicate of the other
    for token, who in ((TOKEN_A, "a"), (TOKEN_B, "b")):
        resp = send(
            lake, batch(ev("r1", customerAlias=who), ev(f"only-{who}", customerAlias=who)), token=token
        )
        assert resp["statusCode"] == 200, body_of(resp)
        assert not body_of(resp).get("invalidEvents"), body_of(resp)
    for key in raw_keys(lake):
        compact(key)
    tables = landed(lake)
    for ws, who in ((A, "a"), (B, "b")):
        rows = rows_in(tables, ws, "events")
        assert sorted(r["ref"] for r in rows) == ["only-" + who, "r1"]
        assert {r["customerAlias"] for r in rows} == {who}
    got = lake.post(b"", path="/events/r1", query="", method="GET", token=TOKEN_B)
    assert body_of(got)["event"]["customerAlias"] == "b"
