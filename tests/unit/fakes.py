"""Test doubles shared by the unit tests: a clock that only moves when told, and a sleep that records."""

from __future__ import annotations

from lakegate.ingest.auth import Token, hash_token


class FakeClock:
    """`time.time` stand-in: returns `now`, which only a test or a FakeSleep moves."""

    def __init__(self, now: float = 1_700_000_000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


class FakeSleep:
    """`time.sleep` stand-in: records each delay and moves the clock instead of waiting."""

    def __init__(self, clock: FakeClock) -> None:
        self.clock = clock
        self.delays: list[float] = []

    def __call__(self, seconds: float) -> None:
        self.delays.append(seconds)
        self.clock.advance(seconds)


def make_token(*scopes: str, workspace: str = "ws1", cluster: str = "eu-1", plain: str = "p.token") -> Token:
    """A live token with the given (already normalised) scopes."""
    return Token(hash_token(plain), workspace, cluster, frozenset(scopes))
