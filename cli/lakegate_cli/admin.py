"""What the CLI reads and changes: tokens, data sources and quarantine objects of one deployment.

Thin over the service's own adapters (`DynamoTokenStore`, `DynamoRegistry`), so items are written
and read exactly as the functions write and read them; only the listings and the revocation, which
no function needs, are added here.
"""

from __future__ import annotations

import secrets
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from lakegate.aws.items import from_item
from lakegate.aws.registry import DynamoRegistry, datasource_of
from lakegate.aws.tokens import DynamoTokenStore
from lakegate.ingest.auth import Token, hash_token
from lakegate.ingest.registry import resolve
from lakegate.lake.layout import PREFIX, workspace_folder, workspace_of
from lakegate.names import QUARANTINE_SUFFIX
from lakegate.schema import DataSource
from lakegate_cli.errors import CliError

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

# How a token is named in listings and `revoke`: the start of its hash, never the hash in full.
ID_LENGTH = 12
# A shorter prefix than this would match by accident more often than by intent.
MIN_PREFIX = 4


def token_id(token: Token) -> str:
    return token.token_hash[:ID_LENGTH]


class TokenAdmin:
    """Create, list and revoke tokens; the plain token exists only in `create`'s return value."""

    def __init__(self, table: str, client: DynamoDBClient) -> None:
        self._table = table
        self._client = client
        self._store = DynamoTokenStore(table, client)

    def create(
        self,
        workspace: str,
        cluster: str,
        scopes: list[str],
        name: str,
        expires_at: int | None,
        now: int,
    ) -> tuple[str, Token]:
        if name:
            taken = [t for t in self.all() if t.name == name]
            if taken:
                raise CliError(
                    f"a token named {name!r} exists (id {token_id(taken[0])}): choose another --name"
                )
        plain = secrets.token_urlsafe(32)
        item: dict[str, Any] = {
            "token_hash": hash_token(plain),
            "workspace_id": workspace,
            "cluster": cluster,
            "scopes": scopes,
            "name": name,
            "expires_at": expires_at,
            "created_at": now,
        }
        self._store.put(item)
        return plain, Token.from_item(item)

    def all(self) -> list[Token]:
        pages = self._client.get_paginator("scan").paginate(TableName=self._table)
        return [Token.from_item(from_item(item)) for page in pages for item in page.get("Items", [])]

    def revoke(self, token: Token) -> None:
        # The condition keeps a mistyped table from growing a token-less item.
        self._client.update_item(
            TableName=self._table,
            Key={"token_hash": {"S": token.token_hash}},
            UpdateExpression="SET revoked = :t",
            ConditionExpression="attribute_exists(token_hash)",
            ExpressionAttributeValues={":t": {"BOOL": True}},
        )


def find_token(tokens: Iterable[Token], ref: str) -> Token:
    """The one token whose name is `ref` or whose id starts with it; none or several is an error."""
    ref = ref.strip()
    if not ref:
        raise CliError("unknown token '': give a token's name or the start of its id")
    prefix = ref.lower() if len(ref) >= MIN_PREFIX else None
    found = {
        t.token_hash: t
        for t in tokens
        if t.name == ref or (prefix is not None and t.token_hash.startswith(prefix))
    }
    if not found:
        hint = f" (an id prefix needs at least {MIN_PREFIX} characters)" if len(ref) < MIN_PREFIX else ""
        raise CliError(f"unknown token {ref!r}: no token has that name or id{hint}")
    if len(found) > 1:
        ids = ", ".join(sorted(token_id(t) for t in found.values()))
        raise CliError(
            f"ambiguous token {ref!r}: it matches {len(found)} tokens ({ids}); give more of the id"
        )
    return next(iter(found.values()))


@dataclass(frozen=True, slots=True)
class Registered:
    """A data source as the registry holds it: its workspace, schema and creation time."""

    workspace: str
    source: DataSource
    created_at: int | None


class DataSourceAdmin:
    """Data sources of the registry, one workspace's or all of them."""

    def __init__(self, table: str, client: DynamoDBClient) -> None:
        self._table = table
        self._client = client
        self._registry = DynamoRegistry(table, client)

    def list(self, workspace: str | None) -> list[Registered]:
        if workspace:
            pages: Iterator[Any] = iter(
                self._client.get_paginator("query").paginate(
                    TableName=self._table,
                    KeyConditionExpression="workspace_id = :w",
                    ExpressionAttributeValues={":w": {"S": workspace}},
                )
            )
        else:
            pages = iter(self._client.get_paginator("scan").paginate(TableName=self._table))
        found = [_registered(item) for page in pages for item in page.get("Items", [])]
        return sorted((r for r in found if r is not None), key=lambda r: (r.workspace, r.source.name))

    def show(self, name: str, workspace: str | None) -> Registered:
        """By name or by id (as `name=` takes either)."""
        if workspace:
            ds = resolve(self._registry, workspace, name)
            if ds is None:
                raise CliError(f"unknown data source {name!r} in workspace {workspace!r}")
            return Registered(workspace, ds, None)
        matches = [r for r in self.list(None) if name in (r.source.name, r.source.ident)]
        if not matches:
            raise CliError(f"unknown data source {name!r}")
        if len(matches) > 1:
            spaces = ", ".join(r.workspace for r in matches)
            raise CliError(f"data source {name!r} exists in workspaces {spaces}: pass --workspace")
        return matches[0]


def _registered(item: dict[str, Any]) -> Registered | None:
    """A data source's item as the CLI lists it; None for the registry's index items."""
    ds = datasource_of(item)
    if ds is None:
        return None
    created = item.get("created_at")
    return Registered(
        workspace=item["workspace_id"]["S"], source=ds, created_at=int(created["N"]) if created else None
    )


@dataclass(frozen=True, slots=True)
class Quarantined:
    """Objects the compactor wrote to one workspace's data source's `<name>_quarantine` folder."""

    workspace: str
    datasource: str
    objects: int
    size: int
    latest: datetime | None


def _subfolders(s3: S3Client, bucket: str, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/")
    return [p["Prefix"] for page in pages for p in page.get("CommonPrefixes", [])]


def quarantine_summary(s3: S3Client, bucket: str, workspace: str | None = None) -> list[Quarantined]:
    """One entry per `datasources/<workspace>/<name>_quarantine/` folder, of one workspace or all;
    objects, not rows (no Parquet read)."""
    spaces = [workspace_folder(workspace)] if workspace is not None else _subfolders(s3, bucket, PREFIX)
    folders = [
        (space, folder)
        for space in spaces
        for folder in _subfolders(s3, bucket, space)
        if folder.rstrip("/").endswith(QUARANTINE_SUFFIX)
    ]
    summary = []
    for space, folder in sorted(folders):
        objects = [
            o
            for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=folder)
            for o in page.get("Contents", [])
        ]
        summary.append(
            Quarantined(
                workspace=workspace_of(space[len(PREFIX) : -1]),
                datasource=folder[len(space) : -len(QUARANTINE_SUFFIX) - 1],
                objects=len(objects),
                size=sum(o.get("Size", 0) for o in objects),
                latest=max((o["LastModified"] for o in objects), default=None),
            )
        )
    return summary
