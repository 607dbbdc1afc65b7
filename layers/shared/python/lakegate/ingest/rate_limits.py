"""Rate limits: fixed one-second windows per scope (a data source, a workspace), and the 429 a full one is.
The counting is the port's (lakegate.aws.rate_limits counts in DynamoDB)."""

from __future__ import annotations

import math
from collections.abc import Sequence
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
