"""Token lookup as admission uses it: the port, and a warm-Lambda cache in front of it."""

from __future__ import annotations

from collections.abc import Callable
from typing import Protocol

from lakegate.ingest.auth import Token


class TokenStore(Protocol):
    def get(self, token_hash: str) -> Token | None: ...


class CachedTokenStore:
    """Remembers lookups for a short TTL so a warm Lambda does not read DynamoDB on every request.

    Misses are remembered for a shorter time so a flood of bad tokens cannot hammer the table,
    while a token created a moment ago starts working within seconds.
    """

    def __init__(self, inner: TokenStore, ttl: float, clock: Callable[[], float], max_entries: int = 10_000):
        self._inner = inner
        self._ttl = ttl
        self._miss_ttl = min(ttl, 5.0)
        self._clock = clock
        self._max = max_entries
        self._cache: dict[str, tuple[float, Token | None]] = {}

    def get(self, token_hash: str) -> Token | None:
        now = self._clock()
        hit = self._cache.get(token_hash)
        if hit is not None and hit[0] > now:
            return hit[1]
        token = self._inner.get(token_hash)
        if len(self._cache) >= self._max:
            self._cache.clear()
        self._cache[token_hash] = (now + (self._ttl if token else self._miss_ttl), token)
        return token
