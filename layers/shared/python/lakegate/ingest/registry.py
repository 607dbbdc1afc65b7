"""The data-source registry as the ingest side uses it: the port, and a warm-Lambda cache in front of it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

import orjson

from lakegate.errors import InvalidRequest
from lakegate.schema import ID_RE, DataSource

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

    def get_by_id(self, workspace: str, ds_id: str) -> DataSource | None:
        """The data source this id was given to."""
        ...

    def create(self, workspace: str, ds: DataSource) -> DataSource:
        """Store `ds` unless one of its name exists; return whichever is stored, so racing creators agree.
        A name that differs only in case from a stored one raises NameTaken: names are unique whatever
        their case, in one conditional write with the data source (no race lets two in)."""
        ...

    def list(self, workspace: str) -> list[DataSource]:
        """Every data source of the workspace, by name."""
        ...

    def evolve(self, workspace: str, ds: DataSource) -> DataSource:
        """Store `ds` only over version `ds.version - 1`; return whichever is stored (an alter's write)."""
        ...


def resolve(registry: Registry, workspace: str, name_or_id: str) -> DataSource | None:
    """The data source `name=` means: by name, else (for an id-shaped value) by id, as Tinybird takes both."""
    ds = registry.get(workspace, name_or_id)
    if ds is None and ID_RE.fullmatch(name_or_id):
        ds = registry.get_by_id(workspace, name_or_id)
    return ds


class CachedRegistry:
    """Keeps found data sources for a short TTL (misses are not kept: a new source must be seen)."""

    def __init__(self, inner: Registry, ttl: float, clock: Callable[[], float]) -> None:
        self._inner = inner
        self._ttl = ttl
        self._clock = clock
        self._cache: dict[tuple[str, str], tuple[float, DataSource]] = {}

    def get(self, workspace: str, name: str) -> DataSource | None:
        return self._cached((workspace, name), lambda: self._inner.get(workspace, name))

    def get_by_id(self, workspace: str, ds_id: str) -> DataSource | None:
        """Kept like a name's (an id names one data source for ever), keyed apart: `#` is in no name."""
        return self._cached((workspace, f"#id:{ds_id}"), lambda: self._inner.get_by_id(workspace, ds_id))

    def _cached(self, key: tuple[str, str], load: Callable[[], DataSource | None]) -> DataSource | None:
        now = self._clock()
        hit = self._cache.get(key)
        if hit is not None and hit[0] > now:
            return hit[1]
        ds = load()
        if ds is not None:
            self._cache[key] = (now + self._ttl, ds)
        return ds

    def create(self, workspace: str, ds: DataSource) -> DataSource:
        stored = self._inner.create(workspace, ds)
        self._cache[(workspace, ds.name)] = (self._clock() + self._ttl, stored)
        return stored

    def list(self, workspace: str) -> list[DataSource]:
        """Never cached: a listing is rare and must show what exists now."""
        return self._inner.list(workspace)

    def evolve(self, workspace: str, ds: DataSource) -> DataSource:
        """This instance sees its own alter at once; other warm instances within their TTL."""
        stored = self._inner.evolve(workspace, ds)
        self._cache[(workspace, stored.name)] = (self._clock() + self._ttl, stored)
        if stored.id:
            self._cache[(workspace, f"#id:{stored.id}")] = (self._clock() + self._ttl, stored)
        return stored
