"""Integration fixtures: the real handler against moto, with resources built from template.yaml."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
from moto import mock_aws

from lakegate.ingest.auth import hash_token
from lakegate_local.apigw import api_event
from lakegate_local.runtime import fake_context

ROOT = Path(__file__).resolve().parents[2]
ADMIN = "lakegate-sample-admin-token"  # the token the sample events in events/ carry
REGION = "us-east-1"


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
        return self.handler(event, fake_context(request_id=f"req-{self.invocations - 1}"))

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
        target = f"{path}?{query}" if query else path
        event = api_event(method, target, h, body, request_id=f"apigw-{len(self.events)}")
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
        context = fake_context("CompactorFunction", request_id=f"compact-{key[-8:]}")
        result: dict[str, Any] = compactor_app.lambda_handler(object_created(lake.bucket, key), context)
        return result

    return run
