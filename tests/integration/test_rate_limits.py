"""Rate limits on moto: leases from atomic counters per window, never more than the limit across warm
functions, headers on every answer, 429 inserts nothing."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from lakegate.aws.rate_limits import COUNTER_TTL_SECONDS, DynamoWindowCounters
from lakegate.ingest.rate_limits import LeasingRateLimiter, Scope
from tests.integration.conftest import Lake, body_of

ROW = b'{"city": "Chicago"}'
NOW = 1_800_000_000.25


def counters(lake: Lake, shard: int | None = None) -> DynamoWindowCounters:
    return DynamoWindowCounters(lake.env["RATE_LIMITS_TABLE"], boto3.client("dynamodb"), shard=shard)


def limiter(lake: Lake, shard: int | None = None) -> LeasingRateLimiter:
    """One warm function's limiter."""
    return LeasingRateLimiter(counters(lake, shard))


def counter(lake: Lake, key: str) -> int:
    item = boto3.client("dynamodb").get_item(TableName=lake.env["RATE_LIMITS_TABLE"], Key={"pk": {"S": key}})
    return int(item["Item"]["n"]["N"])


def test_a_window_admits_exactly_its_limit(lake: Lake) -> None:
    rl = limiter(lake)
    scope = [Scope("ds#ws1#events_test", 3)]

    decisions = [rl.hit(scope, NOW) for _ in range(5)]

    assert [d.allowed for d in decisions] == [True, True, True, False, False]
    assert [d.remaining for d in decisions] == [2, 1, 0, 0, 0]
    assert {d.reset for d in decisions} == {1}
    # the next second is a new window
    assert rl.hit(scope, NOW + 1).allowed


def test_counter_items_expire_by_ttl(lake: Lake) -> None:
    limiter(lake).hit([Scope("ws#ws1", 10)], NOW)

    item = boto3.client("dynamodb").get_item(
        TableName=lake.env["RATE_LIMITS_TABLE"], Key={"pk": {"S": f"ws#ws1#{int(NOW)}"}}
    )["Item"]
    assert item["n"] == {"N": "1"}
    assert item["expires_at"] == {"N": str(int(NOW) + COUNTER_TTL_SECONDS)}


@pytest.mark.usefixtures("atomic_items")
def test_burst_of_concurrent_requests_gets_exactly_the_limit(lake: Lake) -> None:
    # Given 40 requests racing for a limit of 17 in the same window
    rl = limiter(lake)
    scope = [Scope("ds#ws1#burst", 17)]
    barrier = threading.Barrier(8)

    def one(_: int) -> bool:
        if _ < 8:
            barrier.wait()
        return rl.hit(scope, NOW).allowed

    with ThreadPoolExecutor(max_workers=8) as pool:
        allowed = list(pool.map(one, range(40)))

    # Then exactly 17 got through
    assert allowed.count(True) == 17


def test_sharded_counter_admits_exactly_the_limit(lake: Lake) -> None:
    # Given a limit of 2,000/s: three shards of 667, 667 and 666, three functions each starting on its own,
    # taking turns until each is refused
    scope = [Scope("ws#big", 2000)]
    functions = [limiter(lake, shard=s) for s in range(3)]
    admitted = [0, 0, 0]
    open_ = {0, 1, 2}
    while open_:
        for i in sorted(open_):
            if functions[i].hit(scope, NOW).allowed:
                admitted[i] += 1
            else:
                open_.discard(i)

    # Then the shards add up to the limit exactly: a function spills onto another shard's room
    assert sum(admitted) == 2000
    assert [counter(lake, f"ws#big#{int(NOW)}#{s}") for s in range(3)] == [667, 667, 666]


def test_a_lease_that_does_not_fit_takes_what_is_left(lake: Lake) -> None:
    c = counters(lake)

    assert c.take("ds#ws1#fit", 7, 10, int(NOW)).taken == 7
    grant = c.take("ds#ws1#fit", 7, 10, int(NOW))

    assert (grant.taken, grant.count) == (3, 10)
    assert c.take("ds#ws1#fit", 1, 10, int(NOW)).taken == 0
    assert counter(lake, "ds#ws1#fit") == 10


@pytest.mark.usefixtures("atomic_items")
def test_warm_functions_leasing_in_parallel_never_admit_more_than_the_limit(lake: Lake) -> None:
    # Given six warm functions (threads, each its own limiter) sending 25 requests a window for 4 windows
    # to a scope of 60 a second, with demand that varies so leases are sized differently
    scope = [Scope("ds#ws1#shared", 60), Scope("ws#ws1", 1000)]
    barrier = threading.Barrier(6)

    def function(i: int) -> list[int]:
        rl = limiter(lake)
        admitted = [0] * 5
        for w in range(4):
            barrier.wait()
            asks = 25 if (i + w) % 3 else 5
            for r in range(asks):
                admitted[w] += rl.hit(scope, int(NOW) + w + r / asks).allowed
        barrier.wait()
        # a last window where every function asks until it is refused: no lease is left unspent
        while rl.hit(scope, int(NOW) + 4.5).allowed:
            admitted[4] += 1
        return admitted

    with ThreadPoolExecutor(max_workers=6) as pool:
        per_function = list(pool.map(function, range(6)))

    for w in range(4):
        total = sum(f[w] for f in per_function)
        # Then no window admits more than its limit, and its counter (the sum of the leases) stays within it
        assert total <= 60
        assert total <= counter(lake, f"ds#ws1#shared#{int(NOW) + w}") <= 60
    # and a window whose every function asks until refused admits exactly the limit
    assert sum(f[4] for f in per_function) == 60


def test_a_steady_stream_through_one_function_writes_once_a_window_per_scope(lake: Lake) -> None:
    # Given one warm function admitting 20 single-row requests a second for 5 seconds
    rl = limiter(lake)
    scope = [Scope("ds#ws1#steady", 100), Scope("ws#ws1", 1000)]
    calls = []
    boto_client = rl._counters._client  # type: ignore[attr-defined]
    boto_client.meta.events.register("before-call.dynamodb.UpdateItem", lambda **_: calls.append(1))

    allowed = [rl.hit(scope, int(NOW) + i / 20).allowed for i in range(100)]

    # Then all are admitted with at most 0.2 writes each (the first window leases 1, 2, 4, ...)
    assert all(allowed)
    assert len(calls) / len(allowed) <= 0.2
    # and the counters hold exactly what the function leased: 20 a window once it knows its rate
    assert counter(lake, f"ds#ws1#steady#{int(NOW) + 3}") == 20


def test_every_answer_carries_the_rate_headers(lake: Lake) -> None:
    ok = lake.post(ROW)
    bad = lake.post(b"not json at all\n", query="name=other")  # 400: nothing to infer from

    for resp in (ok, bad):
        assert resp["headers"]["X-RateLimit-Limit"] == "100"
        assert int(resp["headers"]["X-RateLimit-Remaining"]) in (98, 99)
        assert resp["headers"]["X-RateLimit-Reset"] == "1"
    assert bad["statusCode"] == 400


def test_over_the_limit_is_429_with_retry_after_and_inserts_nothing(
    lake: Lake, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given the deployment allows 2 requests a second per data source, in a frozen second
    monkeypatch.setenv("DATASOURCE_RATE_LIMIT", "2")
    monkeypatch.setattr("app.time.time", lambda: NOW)
    assert lake.post(ROW)["statusCode"] == 202
    assert lake.post(ROW)["statusCode"] == 202
    before = lake.raw_objects()

    resp = lake.post(ROW)

    assert resp["statusCode"] == 429
    assert resp["headers"]["Retry-After"] == "1"
    assert resp["headers"]["X-RateLimit-Limit"] == "2"
    assert resp["headers"]["X-RateLimit-Remaining"] == "0"
    assert body_of(resp)["error"].startswith("Too many requests: the limit is 2 requests per second")
    assert lake.raw_objects() == before


def test_token_and_data_source_overrides(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("app.time.time", lambda: NOW)
    lake.add_token("slow-token", ["ADMIN"], datasource_rate_limit=1)

    assert lake.post(ROW, token="slow-token")["headers"]["X-RateLimit-Limit"] == "1"
    assert lake.post(ROW, token="slow-token")["statusCode"] == 429
    # the admin token has no override: the default 100 applies to the same source
    assert lake.post(ROW)["headers"]["X-RateLimit-Limit"] == "100"


def test_workspace_limit_applies_across_data_sources(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("app.time.time", lambda: NOW)
    lake.add_token("ws-token", ["ADMIN"], workspace_rate_limit=2)

    assert lake.post(ROW, token="ws-token", query="name=a")["statusCode"] == 202
    assert lake.post(ROW, token="ws-token", query="name=b")["statusCode"] == 202
    resp = lake.post(ROW, token="ws-token", query="name=c")

    assert resp["statusCode"] == 429
    assert resp["headers"]["X-RateLimit-Limit"] == "2"
