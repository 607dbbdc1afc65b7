"""The data-source registry as the ingest side uses it: the port, and a warm-Lambda cache in front of it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from lakegate.schema import DataSource


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
