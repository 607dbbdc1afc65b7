"""Rate limits on moto: atomic counters per window, headers on every answer, 429 inserts nothing."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor

import boto3
import pytest

from lakegate.aws.rate_limits import COUNTER_TTL_SECONDS, DynamoRateLimiter
from lakegate.ingest.rate_limits import Scope
from tests.integration.conftest import Lake, body_of

ROW = b'{"city": "Chicago"}'
NOW = 1_800_000_000.25


def limiter(lake: Lake, shard: int | None = None) -> DynamoRateLimiter:
    return DynamoRateLimiter(lake.env["RATE_LIMITS_TABLE"], boto3.client("dynamodb"), shard=shard)


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


def test_sharded_counter_never_admits_more_than_the_limit(lake: Lake) -> None:
    # Given a limit of 2,000/s: three shards of 667 each
    scope = [Scope("ws#big", 2000)]
    counts = [sum(limiter(lake, shard=s).hit(scope, NOW).allowed for _ in range(700)) for s in range(3)]

    assert counts == [667, 667, 667]


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
