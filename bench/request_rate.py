"""Request-rate benchmark (issue 3): single-row requests through the real handler.

Run: `make bench` (or `python bench/request_rate.py`). Reports, in one run:
- requests/s with AWS answered by a stub at the HTTP layer (botocore still serialises and signs);
- requests/s with rate limiting and wait=true ref dedup against moto (in-process), and the DynamoDB
  calls each request makes, by operation;
- claiming 1,000 refs as TransactWriteItems of 100 against parallel conditional PutItems, on moto:
  calls per batch (what latency on real DynamoDB follows: a call is ~5-10 ms there) and moto's time.
moto's own speed dominates its figures: read them as ratios and call counts, not as AWS figures.
"""

from __future__ import annotations

import os
import time
from collections import Counter
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import stubs
from stubs import ENV

ROOT = Path(__file__).resolve().parent.parent
ROW = b'{"ref": "%d", "city": "Chicago", "amount": 42}\n'
N = 400


def rate(fn: Callable[[int], object], n: int = N) -> float:
    fn(-1)  # warm: the first request creates the data source and fills the caches
    t = time.perf_counter()
    for i in range(n):
        fn(i)
    return n / (time.perf_counter() - t)


def count_calls(client: Any) -> Counter[str]:
    calls: Counter[str] = Counter()
    client.meta.events.register("before-call", lambda model, **_: calls.update([model.name]))
    return calls


def stubbed() -> float:
    os.environ.update(ENV)
    import app
    from lakegate.schema import Column, DataSource

    stubs.stub_aws(
        DataSource("orders", (Column("ref", "String", "$.ref"), Column("city", "String", "$.city")))
    )

    def one(i: int) -> object:
        resp = app.lambda_handler(stubs.api_event(ROW % i, "name=orders"), stubs.context())
        assert resp["statusCode"] == 202, resp
        return resp

    return rate(one)


def on_moto() -> tuple[float, float, Counter[str], Counter[str]]:
    import boto3
    from moto import mock_aws

    from lakegate_local.aws import SessionClients, create_resources
    from lakegate_local.template import load_stack

    with mock_aws():
        stack = load_stack(ROOT / "template.yaml")
        create_resources(SessionClients(boto3.session.Session(region_name="us-east-1")), stack)
        os.environ.update(stack.function.environment | {"DATASOURCE_RATE_LIMIT": "1000000"})
        import app
        from lakegate.aws import clients
        from lakegate.ingest.auth import hash_token

        for cached in (clients._session, clients.dynamodb, clients.firehose):
            cached.cache_clear()  # the stubbed run's clients predate moto's hooks
        app._app = None
        ddb = clients.dynamodb()
        ddb.put_item(
            TableName=stack.function.environment["TOKENS_TABLE"],
            Item={
                "token_hash": {"S": hash_token(stubs.TOKEN)},
                "workspace_id": {"S": "ws"},
                "cluster": {"S": stack.function.environment["CLUSTER_ID"]},
                "scopes": {"L": [{"S": "ADMIN"}]},
            },
        )
        calls = count_calls(ddb)

        def send(query: str) -> Callable[[int], object]:
            def one(i: int) -> object:
                resp = app.lambda_handler(stubs.api_event(ROW % i, query), stubs.context())
                assert resp["statusCode"] in (200, 202), resp
                return resp

            return one

        plain = rate(send("name=orders"))
        plain_calls = calls.copy()
        calls.clear()
        waited = rate(send("name=orders&wait=true"))
        return plain, waited, plain_calls, calls


def claim_strategies() -> dict[str, tuple[float, int]]:
    import boto3
    from moto import mock_aws

    from lakegate.aws.refs import DynamoRefStore
    from lakegate.dedup import Claim

    out: dict[str, tuple[float, int]] = {}
    with mock_aws():
        ddb = boto3.client("dynamodb", region_name="us-east-1")
        ddb.create_table(
            TableName="refs",
            KeySchema=[{"AttributeName": "pk", "KeyType": "HASH"}],
            AttributeDefinitions=[{"AttributeName": "pk", "AttributeType": "S"}],
            BillingMode="PAY_PER_REQUEST",
        )
        calls = count_calls(ddb)
        store = DynamoRefStore("refs", ddb)
        t = time.perf_counter()
        store.claim([Claim(f"t{i}") for i in range(1000)], "bench", 1.0)
        out["TransactWriteItems x100"] = (time.perf_counter() - t, sum(calls.values()))
        calls.clear()

        def put(i: int) -> None:
            ddb.put_item(
                TableName="refs",
                Item={"pk": {"S": f"p{i}"}, "owner": {"S": "bench"}},
                ConditionExpression="attribute_not_exists(pk) OR expires_at < :now",
                ExpressionAttributeValues={":now": {"N": "1"}},
            )

        t = time.perf_counter()
        with ThreadPoolExecutor(max_workers=16) as pool:
            list(pool.map(put, range(1000)))
        out["parallel PutItem (16 threads)"] = (time.perf_counter() - t, sum(calls.values()))
        calls.clear()
        # The compactor's record claims: conditional PutItems in parallel that name the holder on a loss.
        t = time.perf_counter()
        store.claim_once([Claim(f"#record#{i}", "[]", 2) for i in range(1000)], "raw:bench", 1.0)
        out["record claims (claim_once)"] = (time.perf_counter() - t, sum(calls.values()))
    return out


def main() -> None:
    print(f"single-row requests, {N} each")
    print(f"  AWS stubbed (HTTP layer)        : {stubbed():8.0f} req/s")
    plain, waited, plain_calls, wait_calls = on_moto()
    print(
        f"  moto, rate limit                : {plain:8.0f} req/s, DynamoDB calls/request {_per(plain_calls)}"
    )
    print(
        f"  moto, rate limit + wait=true    : {waited:8.0f} req/s, DynamoDB calls/request {_per(wait_calls)}"
    )
    print("claiming 1,000 refs on moto")
    for name, (seconds, calls) in claim_strategies().items():
        print(f"  {name:<30}: {calls:5d} DynamoDB calls, {seconds * 1000:7.0f} ms on moto")


def _per(calls: Counter[str]) -> str:
    return ", ".join(f"{op} {n / (N + 1):.2f}" for op, n in sorted(calls.items()))


if __name__ == "__main__":
    main()
