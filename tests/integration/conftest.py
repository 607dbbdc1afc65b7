"""Integration fixtures: the real handler against moto, with resources built from template.yaml."""

from __future__ import annotations

import base64
import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl

import boto3
import orjson
import pytest
from moto import mock_aws

from lakegate.ingest.auth import hash_token

ROOT = Path(__file__).resolve().parents[2]
ADMIN = "lakegate-sample-admin-token"  # the token the sample events in events/ carry
REGION = "us-east-1"


@dataclass
class Context:
    """Just what powertools reads from a Lambda context."""

    function_name: str = "IngestFunction"
    function_version: str = "$LATEST"
    memory_limit_in_mb: int = 1024
    invoked_function_arn: str = "arn:aws:lambda:us-east-1:123456789012:function:IngestFunction"
    aws_request_id: str = "test-request"

    def get_remaining_time_in_millis(self) -> int:
        return 15_000


@dataclass
class Lake:
    """Handles on the emulated deployment a test drives and inspects."""

    env: dict[str, str]
    bucket: str
    ddb: Any
    s3: Any
    handler: Callable[[dict[str, Any], Any], dict[str, Any]]
    events: list[dict[str, Any]] = field(default_factory=list)
    invocations: int = 0

    def add_token(self, plain: str, scopes: list[str], cluster: str | None = None, **extra: Any) -> None:
        item = {
            "token_hash": {"S": hash_token(plain)},
            "workspace_id": {"S": extra.pop("workspace_id", "ws1")},
            "cluster": {"S": cluster or self.env["CLUSTER_ID"]},
            "scopes": {"L": [{"S": s} for s in scopes]},
            "name": {"S": plain[:8]},
        }
        for k, v in extra.items():
            item[k] = {"N": str(v)} if isinstance(v, int | float) and not isinstance(v, bool) else {"BOOL": v}
        self.ddb.put_item(TableName=self.env["TOKENS_TABLE"], Item=item)

    def invoke(self, event: dict[str, Any]) -> dict[str, Any]:
        self.invocations += 1
        return self.handler(event, Context(aws_request_id=f"req-{self.invocations - 1}"))

    def post(
        self,
        body: bytes,
        query: str = "name=events_test",
        headers: dict[str, str] | None = None,
        path: str = "/v0/events",
        method: str = "POST",
        token: str | None = ADMIN,
    ) -> dict[str, Any]:
        """An API Gateway v2 event as HTTP APIs build it for a non-text content type (base64)."""
        h = {"content-type": "application/x-www-form-urlencoded"} | (headers or {})
        if token is not None:
            h.setdefault("authorization", f"Bearer {token}")
        qs: dict[str, str] = {}
        for k, v in parse_qsl(query, keep_blank_values=True):  # decoded, as API Gateway passes them
            qs[k] = f"{qs[k]},{v}" if k in qs else v
        event: dict[str, Any] = {
            "version": "2.0",
            "routeKey": f"{method} {path}",
            "rawPath": path,
            "rawQueryString": query,
            "headers": h,
            "requestContext": {
                "http": {"method": method, "path": path, "protocol": "HTTP/1.1", "sourceIp": "127.0.0.1"},
                "requestId": f"apigw-{len(self.events)}",
                "stage": "$default",
            },
            "isBase64Encoded": bool(body),
        }
        if qs:
            event["queryStringParameters"] = qs
        if body:
            event["body"] = base64.b64encode(body).decode()
        self.events.append(event)
        return self.invoke(event)

    def raw_objects(self) -> list[bytes]:
        """Every object Firehose delivered under raw/, oldest first."""
        listed = self.s3.list_objects_v2(Bucket=self.bucket, Prefix="raw/").get("Contents", [])
        keys = [o["Key"] for o in sorted(listed, key=lambda o: (o["LastModified"], o["Key"]))]
        return [self.s3.get_object(Bucket=self.bucket, Key=k)["Body"].read() for k in keys]

    def datasource(self, name: str, workspace: str = "ws1") -> dict[str, Any] | None:
        item = self.ddb.get_item(
            TableName=self.env["DATASOURCES_TABLE"],
            Key={"workspace_id": {"S": workspace}, "name": {"S": name}},
        ).get("Item")
        return orjson.loads(item["schema"]["S"]) if item else None


def body_of(resp: dict[str, Any]) -> Any:
    return orjson.loads(resp["body"]) if resp.get("body") else None


def offline_aws(monkeypatch: pytest.MonkeyPatch) -> None:
    """Credentials and region for moto, and nothing that could aim a client at a real account."""
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE"):
        monkeypatch.delenv(key, raising=False)
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")


@pytest.fixture
def lake(monkeypatch: pytest.MonkeyPatch) -> Iterator[Lake]:
    """A fresh moto deployment per test, from the template, and a fresh (cold) handler."""
    from lakegate_local.aws import SessionClients, create_resources
    from lakegate_local.template import load_stack

    offline_aws(monkeypatch)
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        stack = load_stack(ROOT / "template.yaml")
        create_resources(SessionClients(session), stack)
        for k, v in stack.function.environment.items():
            monkeypatch.setenv(k, v)
        monkeypatch.setenv("SEND_BUDGET_SECONDS", "0.5")
        import app
        from lakegate.aws import clients

        clients.dynamodb.cache_clear()
        clients.firehose.cache_clear()
        clients._session.cache_clear()
        monkeypatch.setattr(app, "_app", None)
        lake = Lake(
            env=dict(stack.function.environment) | {"SEND_BUDGET_SECONDS": os.environ["SEND_BUDGET_SECONDS"]},
            bucket=stack.buckets[0],
            ddb=session.client("dynamodb"),
            s3=session.client("s3"),
            handler=app.lambda_handler,
        )
        lake.add_token(ADMIN, ["ADMIN"])
        yield lake


@pytest.fixture
def atomic_items(monkeypatch: pytest.MonkeyPatch) -> None:
    """DynamoDB applies each write (and each transaction) atomically; in-process moto does not
    across threads, so give it that guarantee. Code that read before writing would still race."""
    import threading

    from moto.dynamodb.models import DynamoDBBackend

    lock = threading.RLock()  # reentrant: a transaction calls the item writes itself
    for name in ("update_item", "put_item", "transact_write_items"):
        original = getattr(DynamoDBBackend, name)

        def locked(self: object, *args: object, _original: Any = original, **kwargs: object) -> object:
            with lock:
                return _original(self, *args, **kwargs)

        monkeypatch.setattr(DynamoDBBackend, name, locked)


@pytest.fixture
def compact(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> Callable[[str], dict[str, Any]]:
    """Invoke the compactor handler for one raw object, as the EventBridge rule does (cold on the first)."""
    import compactor_app
    from tests.integration.compactor_env import object_created, prepare_compactor

    prepare_compactor(lake, monkeypatch)

    def run(key: str) -> dict[str, Any]:
        context = Context(function_name="CompactorFunction", aws_request_id=f"compact-{key[-8:]}")
        result: dict[str, Any] = compactor_app.lambda_handler(object_created(lake.bucket, key), context)
        return result

    return run
