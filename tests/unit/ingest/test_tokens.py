"""The warm-Lambda token cache: hits within the TTL, shorter-lived misses, a bounded size."""

from __future__ import annotations

import dataclasses

from lakegate.ingest.auth import APPEND, hash_token
from lakegate.ingest.tokens import CachedTokenStore
from lakegate.memory import MemoryTokenStore

from ..fakes import FakeClock, make_token

TOKEN = make_token(APPEND, plain="p.one")


def _cached(
    inner: MemoryTokenStore, ttl: float = 30.0, max_entries: int = 10_000
) -> tuple[CachedTokenStore, FakeClock]:
    clock = FakeClock()
    return CachedTokenStore(inner, ttl, clock, max_entries=max_entries), clock


def test_memory_store_finds_tokens_by_hash_and_counts_lookups() -> None:
    store = MemoryTokenStore([TOKEN])
    assert store.get(hash_token("p.one")) is TOKEN
    assert store.get(hash_token("p.other")) is None
    assert store.lookups == 2


def test_hit_is_served_from_the_cache_until_the_ttl() -> None:
    # Given a cache with a 30-second TTL in front of the store
    inner = MemoryTokenStore([TOKEN])
    cache, clock = _cached(inner)
    # When the same token is looked up again and again within 30 seconds
    assert cache.get(TOKEN.token_hash) is TOKEN
    clock.advance(29.999)
    assert cache.get(TOKEN.token_hash) is TOKEN
    # Then the store was read once; at 30 seconds the entry has expired and the store is read again
    assert inner.lookups == 1
    clock.advance(0.001)
    assert cache.get(TOKEN.token_hash) is TOKEN
    assert inner.lookups == 2


def test_miss_is_remembered_for_five_seconds_only() -> None:
    # Given a token unknown at first
    inner = MemoryTokenStore()
    cache, clock = _cached(inner, ttl=30.0)
    assert cache.get(TOKEN.token_hash) is None
    # When it is created just after, it is not seen while the miss is remembered
    inner.tokens[TOKEN.token_hash] = TOKEN
    clock.advance(4.9)
    assert cache.get(TOKEN.token_hash) is None
    assert inner.lookups == 1
    # Then it works once the 5-second miss TTL is over
    clock.advance(0.1)
    assert cache.get(TOKEN.token_hash) is TOKEN
    assert inner.lookups == 2


def test_miss_ttl_is_never_longer_than_the_ttl() -> None:
    inner = MemoryTokenStore()
    cache, clock = _cached(inner, ttl=2.0)
    assert cache.get(TOKEN.token_hash) is None
    inner.tokens[TOKEN.token_hash] = TOKEN
    clock.advance(2.0)
    assert cache.get(TOKEN.token_hash) is TOKEN
    assert inner.lookups == 2


def test_zero_ttl_reads_the_store_every_time() -> None:
    inner = MemoryTokenStore([TOKEN])
    cache, _ = _cached(inner, ttl=0.0)
    for _ in range(3):
        assert cache.get(TOKEN.token_hash) is TOKEN
    assert inner.lookups == 3


def test_revocation_is_seen_within_the_ttl() -> None:
    # Given a cached live token
    inner = MemoryTokenStore([TOKEN])
    cache, clock = _cached(inner, ttl=30.0)
    assert cache.get(TOKEN.token_hash) is TOKEN
    # When it is revoked in the store
    revoked = dataclasses.replace(TOKEN, revoked=True)
    inner.tokens[TOKEN.token_hash] = revoked
    # Then the cache serves the old entry until the TTL, and the revoked one after
    clock.advance(10)
    assert cache.get(TOKEN.token_hash) is TOKEN
    clock.advance(20)
    assert cache.get(TOKEN.token_hash) is revoked


def test_cache_is_cleared_when_full() -> None:
    # Given a cache of two entries holding tokens a and b
    a, b, c = (make_token(APPEND, plain=p) for p in ("p.a", "p.b", "p.c"))
    inner = MemoryTokenStore([a, b, c])
    cache, _ = _cached(inner, max_entries=2)
    cache.get(a.token_hash)
    cache.get(b.token_hash)
    assert inner.lookups == 2
    # When a third token is looked up, the cache is emptied to make room
    assert cache.get(c.token_hash) is c
    assert inner.lookups == 3
    # Then a must be read again, while c is still cached
    assert cache.get(a.token_hash) is a
    assert inner.lookups == 4
    assert cache.get(c.token_hash) is c
    assert inner.lookups == 4


def test_hits_and_misses_are_cached_per_hash() -> None:
    a, b = make_token(APPEND, plain="p.a"), make_token(APPEND, plain="p.b")
    inner = MemoryTokenStore([a, b])
    cache, _ = _cached(inner)
    assert [
        cache.get(h) for h in (a.token_hash, b.token_hash, "nope", a.token_hash, b.token_hash, "nope")
    ] == [
        a,
        b,
        None,
        a,
        b,
        None,
    ]
    assert inner.lookups == 3
