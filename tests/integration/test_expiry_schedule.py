"""TTL on a schedule, on moto: rows landed through the real ingest and compactor handlers, then the
compactor invoked as template.yaml's ExpirySchedule invokes it. What is left is read back from S3."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta
from typing import Any

import orjson
import pyarrow.parquet as pq
import pytest

from lakegate.aws.registry import DynamoRegistry
from lakegate.lake.layout import folder
from lakegate.schema import Column, DataSource
from lakegate_local.cfn_yaml import load
from lakegate_local.runtime import fake_context
from tests.integration.compactor_env import Compact, raw_keys
from tests.integration.conftest import ROOT, Lake

NOW = datetime.now(UTC)
ORDERS = DataSource(
    "orders",
    (
        Column("i", "Int64", "$.i"),
        Column("event_date", "Date", "$.event_date"),
        Column("received_at", "DateTime", "$.received_at"),
    ),
    partition_key="toYYYYMM(event_date)",
    ttl="received_at + toIntervalDay(30)",
)


def scheduled_event() -> dict[str, Any]:
    """What an EventBridge schedule rule sends its target (no Input configured)."""
    return {
        "version": "0",
        "id": "53dc4d37-cffa-4f76-80c9-8b7d4a4d2eaa",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": "123456789012",
        "time": f"{NOW:%Y-%m-%dT%H:%M:%SZ}",
        "region": "us-east-1",
        "resources": ["arn:aws:events:us-east-1:123456789012:rule/lakegate-ExpirySchedule"],
        "detail": {},
    }


def run_schedule() -> dict[str, Any]:
    import compactor_app

    result: dict[str, Any] = compactor_app.lambda_handler(
        scheduled_event(), fake_context("CompactorFunction")
    )
    return result


def _ids(lake: Lake, workspace: str, name: str) -> list[int]:
    listed = lake.s3.list_objects_v2(Bucket=lake.bucket, Prefix=folder(workspace, name)).get("Contents", [])
    bodies = [lake.s3.get_object(Bucket=lake.bucket, Key=o["Key"])["Body"].read() for o in listed]
    return sorted(r["i"] for b in bodies for r in pq.read_table(io.BytesIO(b)).to_pylist())


def _at(days_ago: float) -> str:
    return f"{NOW - timedelta(days=days_ago):%Y-%m-%d %H:%M:%S}"


def _send(lake: Lake, compact: Compact, rows: list[dict[str, object]], name: str = "orders") -> None:
    before = set(raw_keys(lake))
    body = b"\n".join(orjson.dumps(r) for r in rows)
    assert lake.post(body, f"name={name}")["statusCode"] == 202
    (key,) = set(raw_keys(lake)) - before
    assert compact(key)["rows"] == len(rows)


def test_the_schedule_removes_exactly_the_rows_past_their_own_ttl_of_an_idle_data_source(
    lake: Lake, compact: Compact, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given the definition, and rows that landed (each landing kept every row its folders cannot
    # prove past: an old event_date received now stays)
    DynamoRegistry(lake.env["DATASOURCES_TABLE"], lake.ddb).create("ws1", ORDERS)
    _send(
        lake,
        compact,
        [
            {"i": 1, "event_date": "2024-01-15", "received_at": _at(0)},
            {"i": 2, "event_date": "2024-01-20", "received_at": _at(31)},
            {"i": 3, "event_date": f"{NOW:%Y-%m-%d}", "received_at": _at(29)},
            {"i": 4, "event_date": f"{NOW:%Y-%m-%d}", "received_at": _at(45)},
        ],
    )
    assert _ids(lake, "ws1", "orders") == [1, 2, 3, 4]
    capsys.readouterr()

    # When the schedule runs, with no new row for the data source
    result = run_schedule()

    # Then the rows past their received_at + 30 days are gone, and only they
    assert _ids(lake, "ws1", "orders") == [1, 3]
    assert result == {"expired": 0, "rewritten": 2, "failures": 0}
    metrics = [orjson.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [(m["ExpiryRuns"], m["ExpiryRewrittenFiles"]) for m in metrics] == [([1.0], [2.0])]
    assert "ExpiryFailures" not in metrics[0]
    # And again: nothing more to do
    assert run_schedule() == {"expired": 0, "rewritten": 0, "failures": 0}
    assert _ids(lake, "ws1", "orders") == [1, 3]


def test_one_data_source_that_cannot_expire_is_reported_and_the_others_still_expire(
    lake: Lake, compact: Compact, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    registry = DynamoRegistry(lake.env["DATASOURCES_TABLE"], lake.ddb)
    registry.create("ws1", ORDERS)
    # Stored before definitions were checked: a TTL on a column that holds no time.
    registry.create("ws2", DataSource("broken", ORDERS.columns, ttl="i + toIntervalDay(1)"))
    _send(lake, compact, [{"i": 9, "event_date": "2024-01-15", "received_at": _at(90)}])
    capsys.readouterr()

    result = run_schedule()

    assert result == {"expired": 1, "rewritten": 0, "failures": 1}
    assert _ids(lake, "ws1", "orders") == []
    out = capsys.readouterr().out
    (metrics,) = [orjson.loads(line) for line in out.splitlines() if '"_aws"' in line]
    assert (metrics["ExpiryFailures"], metrics["ExpiredPartitions"]) == ([1.0], [1.0])
    (failed,) = [r for r in caplog.records if r.getMessage() == "ttl expiry failed"]
    assert failed.__dict__["reasons"] == [
        "ws2/broken: engine_ttl uses 'i', which is not a Date or DateTime column of 'broken'"
    ]


def test_the_template_schedules_the_compactor_at_least_daily_and_alarms_when_it_fails_or_stops() -> None:
    resources = load(ROOT / "template.yaml")["Resources"]
    rule = resources["ExpirySchedule"]["Properties"]
    every, unit = rule["ScheduleExpression"].removeprefix("rate(").rstrip(")").split()
    assert int(every) * {"hour": 3600, "hours": 3600, "day": 86400, "days": 86400}[unit] <= 86400
    (target,) = rule["Targets"]
    assert target["Arn"] == {"Fn::GetAtt": ["CompactorFunction", "Arn"]} and "Input" not in target
    permission = resources["ExpirySchedulePermission"]["Properties"]
    assert permission["SourceArn"] == {"Fn::GetAtt": ["ExpirySchedule", "Arn"]}
    alarms = {
        r["Properties"]["MetricName"]: r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    }
    assert alarms["ExpiryFailures"]["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    stale = alarms["ExpiryRuns"]
    assert (stale["ComparisonOperator"], stale["TreatMissingData"], stale["Period"]) == (
        "LessThanThreshold",
        "breaching",
        86400,
    )
