"""The data-source registry: DynamoDB adapter (conditional create, converging) and an in-memory fake."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TYPE_CHECKING, Protocol

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from lakegate.dynamo import error_code, unavailable
from lakegate.schema import DataSource

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


class Registry(Protocol):
    def get(self, workspace: str, name: str) -> DataSource | None: ...

    def create(self, workspace: str, ds: DataSource) -> DataSource:
        """Store `ds` unless one exists; return whichever is stored, so racing creators agree."""
        ...

    def list(self, workspace: str) -> list[DataSource]:
        """Every data source of the workspace, by name."""
        ...


class DynamoRegistry:
    """Items keyed (workspace_id, name); the schema is kept as one JSON attribute."""

    def __init__(self, table: str, client: DynamoDBClient) -> None:
        self._table = table
        self._client = client

    def get(self, workspace: str, name: str) -> DataSource | None:
        try:
            resp = self._client.get_item(
                TableName=self._table,
                Key={"workspace_id": {"S": workspace}, "name": {"S": name}},
                ConsistentRead=True,
            )
        except (ClientError, BotoCoreError) as e:
            raise unavailable(e, "data source lookup") from e
        item = resp.get("Item")
        return DataSource.from_dict(orjson.loads(item["schema"]["S"])) if item else None

    def create(self, workspace: str, ds: DataSource) -> DataSource:
        try:
            self._client.put_item(
                TableName=self._table,
                Item={
                    "workspace_id": {"S": workspace},
                    "name": {"S": ds.name},
                    "schema": {"S": orjson.dumps(ds.to_dict()).decode()},
                    "version": {"N": str(ds.version)},
                    "created_at": {"N": str(int(time.time()))},
                },
                ConditionExpression="attribute_not_exists(#n)",
                ExpressionAttributeNames={"#n": "name"},
            )
        except ClientError as e:
            if error_code(e) != "ConditionalCheckFailedException":
                raise unavailable(e, "data source creation") from e
            winner = self.get(workspace, ds.name)
            if winner is None:  # deleted between our write and read: extremely unlikely, retry once
                return self.create(workspace, ds)
            return winner
        except BotoCoreError as e:
            raise unavailable(e, "data source creation") from e
        return ds

    def list(self, workspace: str) -> list[DataSource]:
        pages = self._client.get_paginator("query").paginate(
            TableName=self._table,
            KeyConditionExpression="workspace_id = :w",
            ExpressionAttributeValues={":w": {"S": workspace}},
            ProjectionExpression="#s",
            ExpressionAttributeNames={"#s": "schema"},
            ConsistentRead=True,
        )
        try:
            items = [item for page in pages for item in page.get("Items", [])]
        except (ClientError, BotoCoreError) as e:
            raise unavailable(e, "data source listing") from e
        return sorted(
            (DataSource.from_dict(orjson.loads(i["schema"]["S"])) for i in items), key=lambda d: d.name
        )

    def evolve(self, workspace: str, ds: DataSource) -> DataSource:
        """Store `ds` (version N + 1) only over version N; return whichever is stored, so racing
        writers see the winner and merge their own change into it."""
        try:
            self._client.update_item(
                TableName=self._table,
                Key={"workspace_id": {"S": workspace}, "name": {"S": ds.name}},
                UpdateExpression="SET #s = :schema, #v = :new",
                ConditionExpression="#v = :old",
                ExpressionAttributeNames={"#s": "schema", "#v": "version"},
                ExpressionAttributeValues={
                    ":schema": {"S": orjson.dumps(ds.to_dict()).decode()},
                    ":new": {"N": str(ds.version)},
                    ":old": {"N": str(ds.version - 1)},
                },
            )
        except ClientError as e:
            if error_code(e) != "ConditionalCheckFailedException":
                raise unavailable(e, "data source update") from e
            winner = self.get(workspace, ds.name)
            if winner is None:
                raise unavailable(e, "data source update") from e
            return winner
        except BotoCoreError as e:
            raise unavailable(e, "data source update") from e
        return ds


class MemoryRegistry:
    """A dict registry for unit tests; `create` converges like the real one."""

    def __init__(self) -> None:
        self.items: dict[tuple[str, str], DataSource] = {}

    def get(self, workspace: str, name: str) -> DataSource | None:
        return self.items.get((workspace, name))

    def create(self, workspace: str, ds: DataSource) -> DataSource:
        return self.items.setdefault((workspace, ds.name), ds)

    def list(self, workspace: str) -> list[DataSource]:
        return [ds for (ws, _), ds in sorted(self.items.items()) if ws == workspace]

    def evolve(self, workspace: str, ds: DataSource) -> DataSource:
        """Like the real one: stored only over version `ds.version - 1`."""
        current = self.items.get((workspace, ds.name))
        if current is not None and current.version == ds.version - 1:
            self.items[(workspace, ds.name)] = ds
            return ds
        if current is None:
            raise KeyError((workspace, ds.name))
        return current


class CachedRegistry:
    """Keeps found data sources for a short TTL (misses are not kept: a new source must be seen)."""

    def __init__(self, inner: Registry, ttl: float, clock: Callable[[], float]) -> None:
        self._inner = inner
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, DataSource]] = {}

    def get(self, workspace: str, name: str) -> DataSource | None:
        now = self._clock()
        hit = self._cache.get((workspace, name))
        if hit is not None and hit[0] > now:
            return hit[1]
        ds = self._inner.get(workspace, name)
        if ds is not None:
            self._cache[(workspace, name)] = (now + self._ttl, ds)
        return ds

    def create(self, workspace: str, ds: DataSource) -> DataSource:
        stored = self._inner.create(workspace, ds)
        self._cache[(workspace, ds.name)] = (self._clock() + self._ttl, stored)
        return stored

    def list(self, workspace: str) -> list[DataSource]:
        """Never cached: a listing is rare and must show what exists now."""
        return self._inner.list(workspace)
