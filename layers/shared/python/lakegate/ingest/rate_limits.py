"""Rate limits: fixed one-second windows per scope (a data source, a workspace), and the 429 a full one is.

A warm function does not count each request in the shared counter: it leases a share of the window
(one conditional write of `n` requests through the WindowCounters port, lakegate.aws.rate_limits in
DynamoDB) and spends it locally. The shared counter is the sum of the leases and never passes the limit,
so no window admits more than its limit whatever the number of functions. A lease is sized to what the
function asked of that scope in its previous window (scaled to the part of the window left), and doubles
when spent before the window ends: a quiet source leases one request at a time and gets an exact
answer; a steady stream of R requests a second costs about one write per scope per second instead of R.
"""

from __future__ import annotations

import math
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from typing import Protocol

from lakegate.errors import RateLimited
from lakegate.ingest.auth import Token


@dataclass(frozen=True, slots=True)
class Scope:
    """What is counted (e.g. a data source of a workspace) and how many requests a second it may take."""

    key: str
    limit: int


@dataclass(frozen=True, slots=True)
class Decision:
    """The answer for one request, and the figures of its tightest scope for the headers."""

    allowed: bool
    limit: int
    remaining: int
    reset: int

    def headers(self) -> dict[str, str]:
        return {
            "X-RateLimit-Limit": str(self.limit),
            "X-RateLimit-Remaining": str(self.remaining),
            "X-RateLimit-Reset": str(self.reset),
        }


def scopes_for(
    token: Token, datasource: str, datasource_limit: int, default_datasource: int, default_workspace: int
) -> list[Scope]:
    """The data source's scope, then the workspace's; a token's override wins over the source's own."""
    ws = token.workspace_id
    return [
        Scope(f"ds#{ws}#{datasource}", token.datasource_rate_limit or datasource_limit or default_datasource),
        Scope(f"ws#{ws}", token.workspace_rate_limit or default_workspace),
    ]


def check(limiter: RateLimiter, scopes: Sequence[Scope], now: float) -> Decision:
    """Count the request; a full window is a 429 that carries the figures and `Retry-After`."""
    decision = limiter.hit(scopes, now)
    if not decision.allowed:
        error = RateLimited(
            f"Too many requests: the limit is {decision.limit} requests per second, retry after "
            f"{decision.reset} s",
            retry_after=decision.reset,
        )
        error.headers.update(decision.headers())
        raise error
    return decision


class RateLimiter(Protocol):
    def hit(self, scopes: Sequence[Scope], now: float) -> Decision:
        """Count one request against every scope, tightest first; stop at the first that is full."""
        ...


def reset_after(now: float) -> int:
    """Whole seconds until the window of `now` ends (at least 1): `X-RateLimit-Reset` and `Retry-After`."""
    return max(1, math.ceil(math.floor(now) + 1 - now))


@dataclass(frozen=True, slots=True)
class Grant:
    """What a lease got: `taken` of the requests asked for (0 when the window is full), and the window's
    shared count after it (every function's leases together)."""

    taken: int
    count: int


class WindowCounters(Protocol):
    def take(self, key: str, want: int, limit: int, window: int) -> Grant:
        """Add up to `want` to the counter of `key` in `window`, never past `limit`, atomically: all of
        `want` when it fits, else what is left, else nothing."""
        ...


@dataclass(slots=True)
class _Lease:
    """One scope's share in this function: the window it is for, what is left of it, and demand."""

    window: int
    held: int = 0  # requests leased and not yet spent
    leased: int = 0  # requests leased in this window
    count: int = 0  # the shared counter as the last lease saw it
    asked: int = 0  # requests asked of this scope in this window
    asked_before: int = 0  # ... in the window before
    full: bool = False  # the shared counter had no room left: refuse locally until the window ends


class LeasingRateLimiter:
    """The RateLimiter of a warm function: leases from WindowCounters, spends them locally.

    `X-RateLimit-Remaining` is what the window had unleased at this function's last lease plus what this
    function still holds: exact with one function; with several, other functions' unspent shares are not
    counted (they may admit that many more, never beyond the limit)."""

    def __init__(self, counters: WindowCounters) -> None:
        self._counters = counters
        self._leases: dict[str, _Lease] = {}
        self._lock = threading.Lock()
        self._pool: ThreadPoolExecutor | None = None  # made on the first window needing two leases at once

    def hit(self, scopes: Sequence[Scope], now: float) -> Decision:
        window, reset = int(now), reset_after(now)
        with self._lock:
            leases = [self._lease(scope.key, window) for scope in scopes]
            self._refill(scopes, leases, now)
            spent: list[_Lease] = []
            tightest: Decision | None = None
            for scope, lease in zip(scopes, leases, strict=True):
                lease.asked += 1
                if lease.held == 0:  # the refill found the window full
                    for s in spent:  # a refused request holds no unit of the scopes it passed
                        s.held += 1
                    return Decision(False, scope.limit, 0, reset)
                lease.held -= 1
                spent.append(lease)
                remaining = max(0, scope.limit - lease.count) + lease.held
                if tightest is None or remaining < tightest.remaining:
                    tightest = Decision(True, scope.limit, remaining, reset)
            assert tightest is not None, "at least one scope is always counted"
            return tightest

    def _lease(self, key: str, window: int) -> _Lease:
        lease = self._leases.get(key)
        if lease is None or lease.window != window:
            before = lease.asked if lease is not None and lease.window == window - 1 else 0
            lease = self._leases[key] = _Lease(window, asked_before=before)
            if len(self._leases) > 4096:  # scopes of past windows: drop them all but this one
                self._leases = {key: lease}
        return lease

    def _refill(self, scopes: Sequence[Scope], leases: Sequence[_Lease], now: float) -> None:
        """Lease again for every scope whose share is spent. The leases of one request are independent
        writes: they go out together (a round trip, not one per scope, at the start of each window). A
        lease taken for a request another scope then refuses stays with this function for the next."""
        empty = [(scope, lease) for scope, lease in zip(scopes, leases, strict=True) if not lease.held]
        asks = [(scope, lease) for scope, lease in empty if not lease.full]
        if not asks:
            return
        if len(asks) == 1:
            grants = [self._take(*asks[0], now)]
        else:
            if self._pool is None:
                self._pool = ThreadPoolExecutor(max_workers=4, thread_name_prefix="rate-lease")
            pending = [self._pool.submit(self._take, scope, lease, now) for scope, lease in asks[1:]]
            first = self._take(*asks[0], now)
            grants = [first, *(f.result() for f in pending)]
        for (_, lease), grant in zip(asks, grants, strict=True):
            lease.count = grant.count
            lease.held += grant.taken
            lease.leased += grant.taken
            lease.full = grant.taken == 0

    def _take(self, scope: Scope, lease: _Lease, now: float) -> Grant:
        left = lease.window + 1 - now  # the part of the window still ahead
        want = max(1, math.ceil(lease.asked_before * left), lease.leased)
        key = f"{scope.key}#{lease.window}"
        return self._counters.take(key, min(want, scope.limit), scope.limit, lease.window)
