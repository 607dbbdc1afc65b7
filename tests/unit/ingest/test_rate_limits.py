"""Rate-limit rules without AWS: scopes and overrides, the 429 and its headers, leases."""

from __future__ import annotations

from collections import Counter

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lakegate.errors import RateLimited
from lakegate.ingest.rate_limits import Decision, Grant, LeasingRateLimiter, Scope, check, scopes_for
from lakegate.memory import MemoryRateLimiter, MemoryWindowCounters

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


# --- leases: a warm function spends a share of the window it took with one write ---------------------------


@settings(max_examples=200, deadline=None)
@given(
    st.integers(1, 30),
    st.lists(st.tuples(st.integers(0, 4), st.floats(0, 3.999)), min_size=1, max_size=300),
)
def test_leases_of_any_number_of_functions_never_admit_more_than_the_limit(
    limit: int, requests: list[tuple[int, float]]
) -> None:
    counters = MemoryWindowCounters()
    functions = [LeasingRateLimiter(counters) for _ in range(5)]
    scopes = [Scope("ds#a", limit), Scope("ws#a", limit + 3)]
    admitted: Counter[int] = Counter()

    for function, now in sorted(requests, key=lambda r: r[1]):
        if functions[function].hit(scopes, 100 + now).allowed:
            admitted[int(now)] += 1

    assert all(n <= limit for n in admitted.values())
    assert all(n <= limit + (3 if key.startswith("ws#") else 0) for key, n in counters.counts.items())


@settings(max_examples=200, deadline=None)
@given(st.integers(1, 30), st.lists(st.floats(0, 3.999), min_size=1, max_size=200))
def test_one_function_gets_an_exact_answer(limit: int, times: list[float]) -> None:
    # Alone on its scope, a function is refused only when the window is full: it admits min(asked, limit)
    limiter = LeasingRateLimiter(MemoryWindowCounters())
    admitted: Counter[int] = Counter()
    for now in sorted(times):
        decision = limiter.hit([Scope("ds#a", limit)], 100 + now)
        admitted[int(now)] += decision.allowed
        # and Remaining is what the window has left
        assert decision.remaining == limit - admitted[int(now)]

    asked = Counter(int(t) for t in times)
    assert admitted == Counter({w: min(n, limit) for w, n in asked.items()})


def test_a_quiet_source_leases_one_request_at_a_time() -> None:
    counters = MemoryWindowCounters()
    limiter = LeasingRateLimiter(counters)

    decisions = [limiter.hit([Scope("ds#a", 100)], 100.5 + w) for w in range(5)]

    assert counters.counts == {f"ds#a#{100 + w}": 1 for w in range(5)}
    assert [d.remaining for d in decisions] == [99] * 5


def test_a_steady_stream_costs_at_most_a_fifth_of_a_write_per_request() -> None:
    counters = MemoryWindowCounters()
    limiter = LeasingRateLimiter(counters)
    scopes = [Scope("ds#a", 100), Scope("ws#a", 1000)]

    assert all(limiter.hit(scopes, 100 + i / 20).allowed for i in range(200))

    assert counters.takes / 200 <= 0.2


def test_a_request_refused_by_the_workspace_keeps_its_data_source_unit() -> None:
    counters = MemoryWindowCounters()
    limiter = LeasingRateLimiter(counters)
    tight_ws = [Scope("ds#a", 10), Scope("ws#a", 1)]

    assert limiter.hit(tight_ws, 100.0).allowed
    assert not limiter.hit(tight_ws, 100.1).allowed
    # the data source's lease lost nothing to the refusal: 10 more fit once the workspace has room
    assert sum(limiter.hit([Scope("ds#a", 10)], 100.2).allowed for _ in range(20)) == 9


def test_the_leases_of_one_request_go_out_together() -> None:
    # Given counters that let a lease through only once the other scope's lease is being taken too
    import threading

    together = threading.Barrier(2, timeout=10)

    class Meeting(MemoryWindowCounters):
        def take(self, key: str, want: int, limit: int, window: int) -> Grant:
            together.wait()  # BrokenBarrierError (after 10 s) if the two leases were taken one after the other
            return super().take(key, want, limit, window)

    limiter = LeasingRateLimiter(Meeting())

    # Then the first request of a window, which needs both its scopes' leases, is admitted
    assert limiter.hit([Scope("ds#a", 10), Scope("ws#a", 100)], 100.0).allowed
