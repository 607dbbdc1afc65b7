"""`lakegate upgrade`: what an earlier version stored, brought to this version's shapes. Idempotent: run it
once after deploying this version (a second run finds nothing left to do).

- The registry: every data source gets the index items this version writes along with it
  (`DynamoRegistry.index`): its lowercased name, so no name differing only in case can be created beside
  it, and its id (the stored one, or for a data source stored before ids, the one the API derived from
  its name then), so `name=` finds it by id. Two names of one workspace that differ only in case could
  be created before: the first (in sort order) keeps the lowercased name, the others are reported.
- The refs: a row's claim keyed `<ws>#<ds>#<key>`, from before rows had their own key space, is copied
  to `<ws>#<ds>#row:<key>` with its owner, payload and expiry, so a resend stays a duplicate. The data
  source is recognised from the registry. On Vayu's data source a key starting `event:[` or `ref:` is
  Vayu's own claim and stays as it is (before this version a row's key could spell one: the collision
  this version removes).
"""

from __future__ import annotations

from collections import Counter
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lakegate.aws.registry import DynamoRegistry
from lakegate.dedup import key_prefix, ref_key
from lakegate_cli.admin import DataSourceAdmin

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient

_VAYU_KEYS = ("event:[", "ref:")


@dataclass
class Upgrade:
    """What a run did: data sources indexed, name clashes found, and claims by what became of them."""

    indexed: int = 0
    clashes: list[str] = field(default_factory=list)
    claims: Counter[str] = field(default_factory=Counter)


def upgrade(client: DynamoDBClient, datasources_table: str, refs_table: str, vayu_datasource: str) -> Upgrade:
    done = Upgrade()
    registry = DynamoRegistry(datasources_table, client)
    found = DataSourceAdmin(datasources_table, client).list(None)
    for r in found:
        holder = registry.index(r.workspace, r.source)
        if holder:
            done.clashes.append(f"{r.workspace}/{r.source.name} (its lowercased name is {holder}'s)")
        done.indexed += 1
    # Longest prefix first: a workspace id may itself hold `#`.
    prefixes = sorted(((f"{r.workspace}#{r.source.name}#", r) for r in found), key=lambda p: -len(p[0]))
    for page in client.get_paginator("scan").paginate(TableName=refs_table):
        for item in page.get("Items", []):
            pk = item["pk"]["S"]
            match = next(((p, r) for p, r in prefixes if pk.startswith(p)), None)
            if match is None:
                done.claims["of no data source"] += 1
                continue
            prefix, r = match
            rest = pk[len(prefix) :]
            if pk.startswith(key_prefix(r.workspace, r.source.name)):
                done.claims["already row keys"] += 1
            elif r.source.name == vayu_datasource and rest.startswith(_VAYU_KEYS):
                done.claims["Vayu's"] += 1
            else:
                copied = item | {"pk": {"S": ref_key(r.workspace, r.source.name, rest)}}
                try:
                    client.put_item(
                        TableName=refs_table, Item=copied, ConditionExpression="attribute_not_exists(pk)"
                    )
                    done.claims["copied to row keys"] += 1
                except client.exceptions.ConditionalCheckFailedException:
                    done.claims["copied before"] += 1
    return done
