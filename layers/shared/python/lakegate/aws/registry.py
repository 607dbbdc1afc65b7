"""The data-source registry in DynamoDB (lakegate.ingest.registry.Registry, lakegate.lake.evolution.SchemaStore):
conditional create and evolve, so racing writers converge.

A data source is one item keyed (workspace_id, name), its schema one JSON attribute. Two index items
beside it, in the same table and partition, make names unique whatever their case and ids findable:
`#name:<lowercased name>` and `#id:<id>`, each holding `target`, the data source's name (`#` is in no
data source name, so they never meet one). The three are written in one transaction, each on the
condition that it does not exist: no race can store two names that Glue would lowercase into one table.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

import orjson
from botocore.exceptions import BotoCoreError, ClientError

from lakegate.aws.errors import error_code, refused_reasons, translate
from lakegate.errors import NameTaken, StoreUnavailable
from lakegate.schema import DataSource

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_dynamodb.type_defs import TransactWriteItemTypeDef

CASE_KEY = "#name:"
ID_KEY = "#id:"
_ATTEMPTS = 5  # transactions that conflict with another creator's, before answering 503


def case_key(name: str) -> str:
    return CASE_KEY + name.lower()


def id_key(ds_id: str) -> str:
    return ID_KEY + ds_id


def datasource_of(item: Mapping[str, Any]) -> DataSource | None:
    """The data source an item of the table holds; None for an index item."""
    schema = item.get("schema")
    return DataSource.from_dict(orjson.loads(schema["S"])) if schema else None


class DynamoRegistry:
    """Items keyed (workspace_id, name); the schema is kept as one JSON attribute."""

    def __init__(
        self, table: str, client: DynamoDBClient, sleep: Callable[[float], None] = time.sleep
    ) -> None:
        self._table = table
        self._client = client
        self._sleep = sleep

    def _item(self, workspace: str, key: str, what: str) -> dict[str, Any] | None:
        try:
            resp = self._client.get_item(
                TableName=self._table,
                Key={"workspace_id": {"S": workspace}, "name": {"S": key}},
                ConsistentRead=True,
            )
        except (ClientError, BotoCoreError) as e:
            raise translate(e, what) from e
        return resp.get("Item")

    def get(self, workspace: str, name: str) -> DataSource | None:
        item = self._item(workspace, name, "data source lookup")
        return datasource_of(item) if item else None

    def get_by_id(self, workspace: str, ds_id: str) -> DataSource | None:
        index = self._item(workspace, id_key(ds_id), "data source lookup")
        return self.get(workspace, index["target"]["S"]) if index else None

    def create(self, workspace: str, ds: DataSource) -> DataSource:
        now = str(int(time.time()))
        main = {
            "name": {"S": ds.name},
            "schema": {"S": orjson.dumps(ds.to_dict()).decode()},
            "version": {"N": str(ds.version)},
            "created_at": {"N": now},
        }
        items = [
            self._put(workspace, main),
            self._put(workspace, self._index(case_key(ds.name), ds.name, now)),
        ]
        if ds.id:
            items.append(self._put(workspace, self._index(id_key(ds.id), ds.name, now)))
        for attempt in range(_ATTEMPTS):
            try:
                self._client.transact_write_items(TransactItems=items)
                return ds
            except ClientError as e:
                if error_code(e) != "TransactionCanceledException":
                    raise translate(e, "data source creation") from e
                reasons = [str(r.get("Code", "None")) for r in e.response.get("CancellationReasons") or []]
                refused = refused_reasons("data source creation", reasons)
                if refused is not None:
                    raise refused from e
                if "ConditionalCheckFailed" in reasons[:2]:
                    return self._existing(workspace, ds)
                if attempt + 1 < _ATTEMPTS:  # a racing creator's transaction, or throttling
                    self._sleep(0.02 * 2**attempt)
                    continue
                raise StoreUnavailable(f"data source creation failed: {sorted(set(reasons))}") from e
            except BotoCoreError as e:
                raise translate(e, "data source creation") from e
        raise AssertionError("unreachable: the last attempt returns or raises")

    def _existing(self, workspace: str, ds: DataSource) -> DataSource:
        """What stopped a creation: the same name (a racing creator's, returned so both agree), or the
        same name in another case (NameTaken)."""
        winner = self.get(workspace, ds.name)
        if winner is not None:
            return winner
        index = self._item(workspace, case_key(ds.name), "data source creation")
        holder = index["target"]["S"] if index else ""
        if holder and holder != ds.name:
            raise NameTaken(ds.name, holder)
        raise StoreUnavailable(f"data source creation failed: the index of '{ds.name}' has no data source")

    def _put(self, workspace: str, item: dict[str, Any]) -> TransactWriteItemTypeDef:
        return {
            "Put": {
                "TableName": self._table,
                "Item": {"workspace_id": {"S": workspace}} | item,
                "ConditionExpression": "attribute_not_exists(#n)",
                "ExpressionAttributeNames": {"#n": "name"},
            }
        }

    @staticmethod
    def _index(key: str, target: str, now: str) -> dict[str, Any]:
        return {"name": {"S": key}, "target": {"S": target}, "created_at": {"N": now}}

    def index(self, workspace: str, ds: DataSource) -> str:
        """Write the index items of a data source stored before they existed (`lakegate upgrade`); idempotent.
        Returns "" or, when another name of the workspace holds its lowercased name, that name."""
        now = str(int(time.time()))
        holder = ""
        for key in (case_key(ds.name), id_key(ds.ident)):
            try:
                self._client.put_item(
                    TableName=self._table,
                    Item={"workspace_id": {"S": workspace}} | self._index(key, ds.name, now),
                    ConditionExpression="attribute_not_exists(#n) OR #t = :target",
                    ExpressionAttributeNames={"#n": "name", "#t": "target"},
                    ExpressionAttributeValues={":target": {"S": ds.name}},
                )
            except ClientError as e:
                if error_code(e) != "ConditionalCheckFailedException":
                    raise translate(e, "data source index") from e
                held = self._item(workspace, key, "data source index")
                holder = holder or (held["target"]["S"] if held else "")
            except BotoCoreError as e:
                raise translate(e, "data source index") from e
        return holder

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
        found = (datasource_of(i) for i in items)
        return sorted((ds for ds in found if ds is not None), key=lambda d: d.name)

    def every(self) -> Sequence[tuple[str, DataSource]]:
        """Every data source of every workspace (lakegate.lake.expiry.AllSources): a Scan, for the
        scheduled TTL run; the table holds one small item per data source and two index items."""
        pages = self._client.get_paginator("scan").paginate(
            TableName=self._table,
            ProjectionExpression="workspace_id, #s",
            ExpressionAttributeNames={"#s": "schema"},
            ConsistentRead=True,
        )
        try:
            items = [item for page in pages for item in page.get("Items", [])]
        except (ClientError, BotoCoreError) as e:
            raise translate(e, "data source scan") from e
        found = ((i["workspace_id"]["S"], datasource_of(i)) for i in items)
        return sorted(((ws, ds) for ws, ds in found if ds is not None), key=lambda p: (p[0], p[1].name))

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
