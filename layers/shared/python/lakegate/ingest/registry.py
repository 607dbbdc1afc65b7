"""The data-source registry as the ingest side uses it: the port, and a warm-Lambda cache in front of it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import orjson

from lakegate.errors import InvalidRequest
from lakegate.schema import DataSource

# The registry keeps a data source in one DynamoDB item (400 KB at most, attribute names included), its
# schema as JSON; what this leaves is for the item's other attributes and the columns evolution appends.
MAX_SCHEMA_BYTES = 320 * 1024


def storable(ds: DataSource) -> DataSource:
    """`ds`, if its schema fits a registry item: else a 400 naming the limit, before anything is written."""
    size = len(orjson.dumps(ds.to_dict()))
    if size > MAX_SCHEMA_BYTES:
        raise InvalidRequest(
            f"The schema of Data Source '{ds.name}' takes {size} bytes as stored, the limit is "
            f"{MAX_SCHEMA_BYTES} bytes (a data source is kept in one DynamoDB item of at most 400 KB): "
            "define fewer or shorter columns"
        )
    return ds


class Registry(Protocol):
    def get(self, workspace: str, name: str) -> DataSource | None: ...

    def create(self, workspace: str, ds: DataSource) -> DataSource:
        """Store `ds` unless one exists; return whichever is stored, so racing creators agree."""
        ...

    def list(self, workspace: str) -> list[DataSource]:
        """Every data source of the workspace, by name."""
        ...


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
