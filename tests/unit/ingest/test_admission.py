"""Admission without AWS: the name, then the token, then the windows; each failure is the client's to act on."""

from __future__ import annotations

import pytest

from lakegate.errors import Forbidden, InvalidRequest, RateLimited, WrongCluster
from lakegate.ingest.admission import Admission
from lakegate.memory import MemoryRateLimiter, MemoryRegistry, MemoryTokenStore
from lakegate.schema import Column, DataSource

from ..fakes import FakeClock, make_token

TOKEN = make_token("ADMIN", plain="secret")
ELSEWHERE = make_token("ADMIN", cluster="us-1", plain="elsewhere")


def admission(
    limit: int = 2, registry: MemoryRegistry | None = None, limiter: MemoryRateLimiter | None = None
) -> Admission:
    tokens = MemoryTokenStore([TOKEN, ELSEWHERE])
    return Admission(
        tokens,
        registry or MemoryRegistry(),
        limiter or MemoryRateLimiter(),
        "eu-1",
        limit,
        1000,
        FakeClock(100.25),
    )


def test_an_admitted_request_has_its_token_and_the_tightest_window() -> None:
    admitted = admission().admit("secret", "events")
    assert admitted.token == TOKEN
    assert admitted.decision.headers() == {
        "X-RateLimit-Limit": "2",
        "X-RateLimit-Remaining": "1",
        "X-RateLimit-Reset": "1",
    }


@pytest.mark.parametrize(
    ("plain", "name", "error"),
    [
        ("secret", None, InvalidRequest),
        ("secret", "bad-name", InvalidRequest),
        (None, "bad-name", InvalidRequest),  # the name is checked before the token
        (None, "events", Forbidden),
        ("unknown", "events", Forbidden),
        ("elsewhere", "events", WrongCluster),
    ],
)
def test_a_request_that_cannot_be_admitted_says_why(
    plain: str | None, name: str | None, error: type[Exception]
) -> None:
    limiter = MemoryRateLimiter()
    with pytest.raises(error):
        admission(limiter=limiter).admit(plain, name)
    assert limiter.counts == {}


def test_a_full_window_is_a_429_with_the_figures() -> None:
    gate = admission(limit=1)
    gate.admit("secret", "events")
    with pytest.raises(RateLimited) as caught:
        gate.admit("secret", "events")
    assert caught.value.headers["X-RateLimit-Remaining"] == "0"


def test_a_data_source_s_own_limit_counts() -> None:
    registry = MemoryRegistry()
    registry.create("ws1", DataSource("slow", (Column("a", "String", "$.a"),), rate_limit=1))
    gate = admission(limit=100, registry=registry)
    assert gate.admit("secret", "slow").decision.limit == 1
    with pytest.raises(RateLimited):
        gate.admit("secret", "slow")
    assert gate.admit("secret", "other").decision.limit == 100
