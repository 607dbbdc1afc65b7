"""The data-source registry in DynamoDB (lakegate.ingest.registry.Registry, lakegate.lake.evolution.SchemaStore):
conditional create and evolve, so racing writers converge."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from lakegate.aws.errors import error_code, translate
from lakegate.schema import DataSource

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient


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
            raise translate(e, "data source lookup") from e
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
                raise translate(e, "data source creation") from e
            winner = self.get(workspace, ds.name)
            if winner is None:  # deleted between our write and read: extremely unlikely, retry once
                return self.create(workspace, ds)
            return winner
        except BotoCoreError as e:
            raise translate(e, "data source creation") from e
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
            raise translate(e, "data source listing") from e
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
                raise translate(e, "data source update") from e
            winner = self.get(workspace, ds.name)
            if winner is None:
                raise translate(e, "data source update") from e
            return winner
        except BotoCoreError as e:
            raise translate(e, "data source update") from e
        return ds
