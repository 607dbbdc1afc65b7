"""What the compactor tests need beside the `lake` fixture: the handler's own variables, the Glue
database, the event that triggers it, and readers of what landed."""

from __future__ import annotations

import io
from collections.abc import Callable
from typing import Any

import boto3
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from lakegate.lake.layout import folder
from lakegate_local.template import load_function
from tests.integration.conftest import REGION, ROOT, Lake

GLUE_DATABASE = "lakegate_test"
PROJECTION_START = "2026-01-01"


def prepare_compactor(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    """Set the compactor's environment as template.yaml does, and make its next invocation a cold start."""
    import compactor_app
    from lakegate.aws import clients

    boto3.client("glue", region_name=REGION).create_database(DatabaseInput={"Name": GLUE_DATABASE})
    monkeypatch.setenv("LAKE_BUCKET", lake.bucket)
    monkeypatch.setenv("GLUE_DATABASE", GLUE_DATABASE)
    monkeypatch.setenv("PARTITION_PROJECTION_START", PROJECTION_START)
    own = load_function(ROOT / "template.yaml", "CompactorFunction").environment
    monkeypatch.setenv("RAW_RETENTION_DAYS", own["RAW_RETENTION_DAYS"])
    clients.s3.cache_clear()
    clients.glue.cache_clear()
    monkeypatch.setattr(compactor_app, "_compactor", None)
    monkeypatch.setattr(compactor_app, "_expiry", None)


Compact = Callable[[str], dict[str, Any]]


def object_created(bucket: str, key: str) -> dict[str, Any]:
    """The EventBridge event S3 sends for a new object (the deployed trigger)."""
    return {
        "version": "0",
        "id": "17793124-05d4-b198-2fde-7ededc63b103",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "account": "123456789012",
        "time": "2026-11-23T20:00:00Z",
        "region": "us-east-1",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {"version": "0", "bucket": {"name": bucket}, "object": {"key": key, "size": 1}},
    }


def raw_keys(lake: Lake) -> list[str]:
    listed = lake.s3.list_objects_v2(Bucket=lake.bucket, Prefix="raw/").get("Contents", [])
    return [o["Key"] for o in sorted(listed, key=lambda o: (o["LastModified"], o["Key"]))]


def landed(lake: Lake, prefix: str = "datasources/") -> dict[str, pa.Table]:
    listed = lake.s3.list_objects_v2(Bucket=lake.bucket, Prefix=prefix).get("Contents", [])
    return {
        o["Key"]: pq.read_table(
            io.BytesIO(lake.s3.get_object(Bucket=lake.bucket, Key=o["Key"])["Body"].read())
        )
        for o in listed
    }


def rows_of(tables: dict[str, pa.Table], name: str) -> list[dict[str, Any]]:
    """Rows of data source (or quarantine) `name` of workspace ws1 (the default token's)."""
    return rows_in(tables, "ws1", name)


def rows_in(tables: dict[str, pa.Table], workspace: str, name: str) -> list[dict[str, Any]]:
    base = folder(workspace, name)
    return [r for key, t in sorted(tables.items()) if key.startswith(base) for r in t.to_pylist()]
