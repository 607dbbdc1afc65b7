"""Rate-limit rules without AWS: scopes and overrides, the 429 and its headers."""

from __future__ import annotations

import pytest

from lakegate.errors import RateLimited
from lakegate.ingest.rate_limits import Decision, Scope, check, scopes_for
from lakegate.memory import MemoryRateLimiter

from ..fakes import make_token


def test_scopes_are_data_source_then_workspace_with_defaults() -> None:
    assert scopes_for(make_token("ADMIN"), "events", 0, 100, 1000) == [
        Scope("ds#ws1#events", 100),
        Scope("ws#ws1", 1000),
    ]


def test_a_data_source_override_beats_the_default_and_a_token_override_beats_both() -> None:
    token = make_token("ADMIN")
    assert scopes_for(token, "events", 50, 100, 1000)[0].limit == 50

    from dataclasses import replace

    fast = replace(token, datasource_rate_limit=500, workspace_rate_limit=5000)
    assert scopes_for(fast, "events", 50, 100, 1000) == [Scope("ds#ws1#events", 500), Scope("ws#ws1", 5000)]


def test_check_admits_until_the_window_is_full_then_raises_with_headers() -> None:
    limiter = MemoryRateLimiter()
    scopes = [Scope("ds#ws1#e", 2), Scope("ws#ws1", 10)]

    first = check(limiter, scopes, 100.4)
    second = check(limiter, scopes, 100.9)
    with pytest.raises(RateLimited) as caught:
        check(limiter, scopes, 100.95)

    assert first == Decision(True, 2, 1, 1)
    assert second == Decision(True, 2, 0, 1)
    assert caught.value.retry_after == 1
    assert caught.value.headers == {
        "X-RateLimit-Limit": "2",
        "X-RateLimit-Remaining": "0",
        "X-RateLimit-Reset": "1",
    }
    assert check(limiter, scopes, 101.0).allowed  # a new window


def test_the_tightest_scope_names_the_headers() -> None:
    limiter = MemoryRateLimiter()
    decision = check(limiter, [Scope("ds#a", 100), Scope("ws#a", 3)], 5.0)

    assert (decision.limit, decision.remaining) == (3, 2)
