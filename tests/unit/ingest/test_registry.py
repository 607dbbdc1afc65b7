"""The data-source registry fake and the read cache in front of any registry."""

from __future__ import annotations

import pytest

from lakegate.errors import NameTaken
from lakegate.http import status_of
from lakegate.ingest.registry import CachedRegistry, resolve
from lakegate.memory import MemoryRegistry
from lakegate.schema import Column, DataSource

from ..fakes import FakeClock

FIRST = DataSource("events", (Column("city", "String", "$.city"),))
SECOND = DataSource("events", (Column("city", "Int64", "$.city"),))


class CountingRegistry(MemoryRegistry):
    """MemoryRegistry that counts reads, to see what the cache spares."""

    def __init__(self) -> None:
        super().__init__()
        self.gets = 0

    def get(self, workspace: str, name: str) -> DataSource | None:
        self.gets += 1
        return super().get(workspace, name)


def _cached(ttl: float = 60.0) -> tuple[CachedRegistry, CountingRegistry, FakeClock]:
    inner, clock = CountingRegistry(), FakeClock()
    return CachedRegistry(inner, ttl, clock), inner, clock


def test_memory_registry_get_and_create() -> None:
    reg = MemoryRegistry()
    assert reg.get("ws1", "events") is None
    assert reg.create("ws1", FIRST) is FIRST
    assert reg.get("ws1", "events") is FIRST


def test_memory_registry_create_converges_on_the_first_writer() -> None:
    # Given a data source created by one writer
    reg = MemoryRegistry()
    reg.create("ws1", FIRST)
    # When another writer creates the same name with another schema
    winner = reg.create("ws1", SECOND)
    # Then it gets the stored schema back and the store is unchanged
    assert winner is FIRST
    assert reg.items == {("ws1", "events"): FIRST}


def test_memory_registry_is_per_workspace() -> None:
    reg = MemoryRegistry()
    reg.create("ws1", FIRST)
    assert reg.get("ws2", "events") is None
    assert reg.create("ws2", SECOND) is SECOND
    assert reg.get("ws1", "events") is FIRST


def test_cached_registry_serves_hits_until_the_ttl() -> None:
    cached, inner, clock = _cached(ttl=60.0)
    inner.create("ws1", FIRST)
    assert cached.get("ws1", "events") is FIRST
    clock.advance(59.9)
    assert cached.get("ws1", "events") is FIRST
    assert inner.gets == 1
    # At the TTL the entry expires and a changed schema is seen.
    inner.items[("ws1", "events")] = SECOND
    clock.advance(0.1)
    assert cached.get("ws1", "events") is SECOND
    assert inner.gets == 2


def test_cached_registry_does_not_remember_misses() -> None:
    # Given a lookup that misses
    cached, inner, _ = _cached()
    assert cached.get("ws1", "events") is None
    # When another Lambda creates the data source
    inner.create("ws1", FIRST)
    # Then the very next lookup sees it
    assert cached.get("ws1", "events") is FIRST
    assert inner.gets == 2


def test_cached_registry_create_caches_what_is_stored() -> None:
    cached, inner, _ = _cached()
    assert cached.create("ws1", FIRST) is FIRST
    assert cached.get("ws1", "events") is FIRST
    assert inner.gets == 0


def test_cached_registry_create_returns_and_caches_the_winner() -> None:
    # Given another creator already stored the data source
    cached, inner, _ = _cached()
    inner.create("ws1", FIRST)
    # When this one tries to create it with its own inferred schema
    stored = cached.create("ws1", SECOND)
    # Then it gets the winner's schema, and later reads are served from the cache
    assert stored is FIRST
    assert cached.get("ws1", "events") is FIRST
    assert inner.gets == 0


def test_cached_registry_keys_by_workspace_and_name() -> None:
    cached, inner, _ = _cached()
    other = DataSource("other", (Column("n", "Int64", "$.n"),))
    inner.create("ws1", FIRST)
    inner.create("ws1", other)
    inner.create("ws2", SECOND)
    assert cached.get("ws1", "events") is FIRST
    assert cached.get("ws1", "other") is other
    assert cached.get("ws2", "events") is SECOND
    assert cached.get("ws3", "events") is None
    assert inner.gets == 4


# --- names unique whatever their case; ids ---------------------------------------------------------------

WITH_ID = DataSource("Rt_Case", (Column("a", "String", "$.a"),), id="t_" + "9" * 32)


def test_a_name_taken_in_another_case_is_refused_naming_the_stored_one() -> None:
    reg = MemoryRegistry()
    reg.create("ws1", WITH_ID)

    with pytest.raises(NameTaken) as e:
        reg.create("ws1", DataSource("rt_case", WITH_ID.columns))

    assert e.value.existing == "Rt_Case"
    assert status_of(e.value) == 400
    assert "'rt_case' is taken by 'Rt_Case'" in e.value.message
    assert reg.create("ws2", DataSource("rt_case", WITH_ID.columns)).name == "rt_case"  # per workspace
    assert reg.create("ws1", WITH_ID) is WITH_ID  # the same name again converges


def test_resolve_takes_a_name_or_an_id() -> None:
    reg = MemoryRegistry()
    reg.create("ws1", WITH_ID)

    assert resolve(reg, "ws1", "Rt_Case") is WITH_ID
    assert resolve(reg, "ws1", WITH_ID.id) is WITH_ID
    assert resolve(reg, "ws2", WITH_ID.id) is None
    assert resolve(reg, "ws1", "t_" + "8" * 32) is None


def test_cached_registry_keeps_ids_apart_from_names() -> None:
    cached, inner, clock = _cached(ttl=60.0)
    inner.create("ws1", WITH_ID)

    assert cached.get_by_id("ws1", WITH_ID.id) is WITH_ID
    inner.items.clear()
    assert cached.get_by_id("ws1", WITH_ID.id) is WITH_ID  # cached
    assert cached.get("ws1", WITH_ID.id) is None  # an id is not a name
    clock.advance(61)
    assert cached.get_by_id("ws1", WITH_ID.id) is None
