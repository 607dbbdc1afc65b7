"""Acknowledged means landed, once: through the real ingest and compactor handlers on moto, with Firehose's
at-least-once delivery (a record in two objects, a batch resent after its answer timed out), crashes
between the claims and the Parquet, rows the landing refuses after the ingest accepted them, and data
sources whose stored definition cannot be applied. Asserted on the Parquet in S3 and the claims in
DynamoDB."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import boto3
import orjson
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from lakegate.aws import clients
from lakegate.aws.refs import DynamoRefStore
from lakegate.aws.registry import DynamoRegistry
from lakegate.aws.s3 import S3ObjectStore
from lakegate.dedup import Claim
from lakegate.lake import landing
from lakegate.lake.parquet import Converted, rows_to_table
from lakegate.names import ERROR, LINE
from lakegate.schema import Column, DataSource
from tests.integration.compactor_env import Compact, landed, raw_keys, rows_of
from tests.integration.conftest import REGION, Lake, body_of
from tests.integration.test_vayu_api import batch, ev, send

WAIT = "name=orders&wait=true"
ASYNC = "name=orders"


def ndjson(*rows: dict[str, Any]) -> bytes:
    return b"".join(orjson.dumps(r) + b"\n" for r in rows)


def orders(*refs: str, v: int = 1) -> bytes:
    return ndjson(*({"ref": r, "v": v} for r in refs))


def claims(lake: Lake) -> dict[str, str]:
    items = boto3.client("dynamodb", region_name=REGION).scan(TableName=lake.env["REFS_TABLE"])["Items"]
    return {item["pk"]["S"]: item["owner"]["S"] for item in items}


def compact_all(lake: Lake, compact: Compact, done: set[str] | None = None) -> list[dict[str, Any]]:
    done = set() if done is None else done
    out = []
    for key in raw_keys(lake):
        if key not in done:
            done.add(key)
            out.append(compact(key))
    return out


def copy_object(lake: Lake, key: str, suffix: str) -> str:
    """Firehose delivering an object's records again, in an object of their own."""
    again = key + suffix
    lake.s3.copy_object(Bucket=lake.bucket, Key=again, CopySource={"Bucket": lake.bucket, "Key": key})
    return again


def refs_landed(lake: Lake, name: str = "orders") -> Counter[str]:
    return Counter(str(r["ref"]) for r in rows_of(landed(lake), name))


@pytest.mark.parametrize("query", [WAIT, ASYNC, "name=plain_once"])
def test_a_record_delivered_in_two_objects_lands_once(lake: Lake, compact: Compact, query: str) -> None:
    # Given rows promised exactly once: wait=true, async rows with a dedup key, a source that opted in
    if query.startswith("name=plain_once"):
        schema = "`ref` String `json:$.ref`, `v` Int32 `json:$.v`"
        params = {"name": "plain_once", "schema": schema, "exactly_once": "true", "dedup_key": "$.none"}
        defined = lake.post(urlencode(params).encode(), query="", path="/v0/datasources")
        assert defined["statusCode"] == 200, defined
    assert lake.post(orders("a", "b") + b"not json\n", query)["statusCode"] in (200, 202)
    (key,) = raw_keys(lake)
    again = copy_object(lake, key, "-redelivered")

    first, second = compact(key), compact(again)

    name = query.removeprefix("name=").split("&", maxsplit=1)[0]
    assert (first["rows"], first["quarantined_rows"]) == (2, 1)
    assert (second["rows"], second["quarantined_rows"], second["duplicate_records"]) == (0, 0, 2)
    tables = landed(lake)
    assert len(rows_of(tables, name)) == 2
    assert len(rows_of(tables, f"{name}_quarantine")) == 1


def test_unkeyed_async_rows_stay_at_least_once(lake: Lake, compact: Compact) -> None:
    assert lake.post(ndjson({"v": 1}), "name=plain")["statusCode"] == 202
    (key,) = raw_keys(lake)
    compact(key)
    compact(copy_object(lake, key, "-redelivered"))
    assert [r["v"] for r in rows_of(landed(lake), "plain")] == [1, 1]
    assert claims(lake) == {}


@pytest.fixture
def accepted_then_timed_out(lake: Lake) -> Iterator[list[int]]:
    """Firehose takes the first PutRecordBatch, then its answer times out: the ingest sends it again."""
    firehose = clients.firehose()
    real = firehose.put_record_batch
    calls: list[int] = []

    def flaky(**kwargs: Any) -> Any:
        calls.append(len(kwargs["Records"]))
        answer = real(**kwargs)
        if len(calls) == 1:
            raise ReadTimeoutError(endpoint_url="https://firehose.us-east-1.amazonaws.com")
        return answer

    firehose.put_record_batch = flaky  # type: ignore[method-assign]
    yield calls
    firehose.put_record_batch = real  # type: ignore[method-assign]


@dataclass
class NoAnswer:
    """A Firehose that stores every PutRecordBatch and never answers; `compact`, when set, lands every new
    raw object before each answer times out; `answering()` gives the answers back."""

    lake: Lake
    compact: Compact | None = None
    done: set[str] = field(default_factory=set)

    def __post_init__(self) -> None:
        self.firehose = clients.firehose()
        self.real = self.firehose.put_record_batch
        self.firehose.put_record_batch = self._stored_then_lost  # type: ignore[method-assign]

    def _stored_then_lost(self, **kwargs: Any) -> Any:
        self.real(**kwargs)
        if self.compact is not None:
            compact_all(self.lake, self.compact, self.done)
        raise ReadTimeoutError(endpoint_url="https://firehose.us-east-1.amazonaws.com")

    def answering(self) -> None:
        self.firehose.put_record_batch = self.real  # type: ignore[method-assign]


@pytest.fixture
def never_answered(lake: Lake) -> Iterator[NoAnswer]:
    no_answer = NoAnswer(lake)
    yield no_answer
    no_answer.answering()


@pytest.mark.parametrize("opted_in", [False, True])
def test_a_batch_whose_every_answer_timed_out_is_abandoned_and_its_retry_lands_once(
    lake: Lake, compact: Compact, never_answered: NoAnswer, opted_in: bool
) -> None:
    # Given rows promised exactly once (wait=true, or a source that opted in), and a Firehose that stores
    # every try but never answers
    query = WAIT
    if opted_in:
        schema = "`ref` String `json:$.ref`, `v` Int32 `json:$.v`"
        params = {"name": "orders", "schema": schema, "exactly_once": "true"}
        assert lake.post(urlencode(params).encode(), query="", path="/v0/datasources")["statusCode"] == 200
        query = ASYNC
    resp = lake.post(orders("a", "b", "c"), query)

    # Then the answer is "not stored" (503), the rows' claims are released, and every stored copy is
    # dropped at landing: the request claimed its record's id for no object
    assert resp["statusCode"] == 503, resp
    assert claims(lake) and all(
        k.startswith("#record#") and o.startswith("abandoned:apigw-") for k, o in claims(lake).items()
    )
    results = compact_all(lake, compact, done := set[str]())
    assert len(results) >= 2 and refs_landed(lake) == Counter()
    assert sum(r["duplicate_records"] for r in results) == len(results)

    # When the client sends the same batch again (Firehose answering now), it lands once
    never_answered.answering()
    assert lake.post(orders("a", "b", "c"), query)["statusCode"] in (200, 202)
    compact_all(lake, compact, done)
    assert refs_landed(lake) == Counter({"a": 1, "b": 1, "c": 1})


def test_a_batch_that_landed_before_its_last_answer_timed_out_is_answered_stored(
    lake: Lake, compact: Compact, never_answered: NoAnswer
) -> None:
    # Given a Firehose that stores every try and never answers, and a compactor fast enough to land the
    # first copy before the request gives up
    never_answered.compact = compact
    resp = lake.post(orders("a", "b", "c"), WAIT)

    # Then the request finds its record landed, and says so: stored once, claims kept
    assert resp["statusCode"] == 200 and body_of(resp)["successful_rows"] == 3, resp
    assert refs_landed(lake) == Counter({"a": 1, "b": 1, "c": 1})
    assert {k for k in claims(lake) if k.startswith("ws1#")} == {f"ws1#orders#row:{r}" for r in "abc"}

    # And the client's retry of the same batch is answered duplicate, landing nothing twice
    never_answered.answering()
    again = lake.post(orders("a", "b", "c"), WAIT)
    assert body_of(again)["duplicate_rows"] == 3
    compact_all(lake, compact)
    assert refs_landed(lake) == Counter({"a": 1, "b": 1, "c": 1})


@pytest.mark.parametrize("query", [WAIT, ASYNC])
def test_a_batch_resent_after_its_answer_timed_out_lands_once(
    lake: Lake, compact: Compact, accepted_then_timed_out: list[int], query: str
) -> None:
    assert lake.post(orders("seed"), query)["statusCode"] in (200, 202)  # creates the source
    compact_all(lake, compact, done := set[str]())
    accepted_then_timed_out.clear()

    resp = lake.post(orders("a", "b", "c"), query)

    assert resp["statusCode"] in (200, 202) and len(accepted_then_timed_out) >= 2
    results = compact_all(lake, compact, done)
    assert len(results) == 2  # moto wrote one object per call: the batch is in S3 twice
    assert sum(r["duplicate_records"] for r in results) == 1
    assert refs_landed(lake) == Counter({"seed": 1, "a": 1, "b": 1, "c": 1})


def test_a_vayu_batch_resent_after_its_answer_timed_out_stores_each_event_once(
    lake: Lake, compact: Compact, accepted_then_timed_out: list[int]
) -> None:
    resp = send(lake, batch(ev("r1"), ev("r2", name="login")))
    assert len(body_of(resp)["validEvents"]) == 2
    compact_all(lake, compact)
    assert Counter((r["name"], r["ref"]) for r in rows_of(landed(lake), "events")) == Counter(
        {("api_call", "r1"): 1, ("login", "r2"): 1}
    )


def test_a_compaction_retried_after_a_crash_between_the_claims_and_the_parquet_lands_every_row(
    lake: Lake, compact: Compact, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a wait=true batch and an async one, and a compactor that dies writing its first Parquet
    assert lake.post(orders("w1", "w2"), WAIT)["statusCode"] == 200
    assert lake.post(orders("a1", "a1", "a2"), ASYNC)["statusCode"] == 202
    keys = raw_keys(lake)
    real_put = S3ObjectStore.put

    def dying(self: S3ObjectStore, key: str, body: bytes, content_type: str) -> None:
        raise ClientError({"Error": {"Code": "InternalError", "Message": "died"}}, "PutObject")

    monkeypatch.setattr(S3ObjectStore, "put", dying)
    for key in keys:
        with pytest.raises(ClientError):
            compact(key)
    assert landed(lake) == {}
    assert sum(k.startswith("#record#") for k in claims(lake)) == 2  # claimed, nothing landed

    # When Lambda retries each object
    monkeypatch.setattr(S3ObjectStore, "put", real_put)
    results = [compact(key) for key in keys]

    # Then every row lands, once
    assert [r["rows"] for r in results] == [2, 2]
    assert refs_landed(lake) == Counter({"w1": 1, "w2": 1, "a1": 1, "a2": 1})


@pytest.fixture
def landing_refuses_unlucky(monkeypatch: pytest.MonkeyPatch) -> None:
    """The landing raises on rows holding `unlucky` that the ingest accepted (a disagreement it must survive)."""

    def converting(ds: DataSource, lines: Sequence[bytes], *args: Any) -> Converted:
        if any(b"unlucky" in line for line in lines):
            raise ValueError("13 is unlucky")
        return rows_to_table(ds, lines, *args)

    monkeypatch.setattr(landing, "rows_to_table", converting)
    monkeypatch.setattr(landing, "fast_table", lambda ds, data, rows: None)


@pytest.mark.usefixtures("landing_refuses_unlucky")
def test_a_waited_row_quarantined_at_landing_gives_its_ref_back_and_its_corrected_resend_lands(
    lake: Lake, compact: Compact
) -> None:
    # Given a wait=true batch whose one row the landing refuses
    assert (
        lake.post(ndjson({"ref": "ok", "v": 1}, {"ref": "bad", "v": 13, "note": "unlucky"}), WAIT)[
            "statusCode"
        ]
        == 200
    )
    compact_all(lake, compact, done := set[str]())
    quarantined = rows_of(landed(lake), "orders_quarantine")
    assert [(orjson.loads(q[LINE])["ref"], q[ERROR]) for q in quarantined] == [
        ("bad", ["the row cannot be landed: ValueError: 13 is unlucky"])
    ]
    assert "ws1#orders#row:bad" not in claims(lake)
    assert claims(lake)["ws1#orders#row:ok"] == "apigw-0"

    # When the client sends the corrected row again
    resp = lake.post(ndjson({"ref": "bad", "v": 14}, {"ref": "ok", "v": 2}), WAIT)

    # Then it lands (not answered duplicate for ever), and the landed one stays a duplicate
    assert body_of(resp) == {"successful_rows": 1, "quarantined_rows": 0, "duplicate_rows": 1}
    compact_all(lake, compact, done)
    assert refs_landed(lake) == Counter({"ok": 1, "bad": 1})


@pytest.mark.usefixtures("landing_refuses_unlucky")
def test_a_vayu_event_quarantined_at_landing_can_be_sent_again(lake: Lake, compact: Compact) -> None:
    send(lake, batch(ev("r1") | {"data": {"note": "unlucky"}}))
    compact_all(lake, compact, done := set[str]())
    assert rows_of(landed(lake), "events") == []
    assert lake.post(b"", "", path="/events/r1", method="GET")["statusCode"] == 404

    again = send(lake, batch(ev("r1") | {"data": {"note": "lucky"}}))

    assert len(body_of(again)["validEvents"]) == 1
    compact_all(lake, compact, done)
    assert [r["ref"] for r in rows_of(landed(lake), "events")] == ["r1"]


BROKEN = [
    DataSource(
        "broken",
        (Column("v", "Int32", "$.v"), Column("tags", "Array(String)", "$.tags[:]")),
        sorting_key=("tags",),
    ),
    DataSource(
        "broken",
        (Column("v", "Int32", "$.v"), Column("ts", "Array(DateTime)", "$.ts[:]")),
        partition_key="toDate(ts)",
    ),
]


@pytest.mark.parametrize("ds", BROKEN, ids=["array-sorting-key", "array-partition"])
def test_a_stored_definition_that_cannot_be_applied_sets_aside_only_its_rows(
    lake: Lake, compact: Compact, ds: DataSource, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given a definition stored past the API's checks, and one raw object with its rows and others'
    DynamoRegistry(lake.env["DATASOURCES_TABLE"], boto3.client("dynamodb", region_name=REGION)).create(
        "ws1", ds
    )
    firehose = clients.firehose()
    real = firehose.put_record_batch
    held: list[Any] = []

    def buffered(**kwargs: Any) -> Any:  # Firehose buffers both requests into one object
        held.extend(kwargs["Records"])
        return {
            "FailedPutCount": 0,
            "Encrypted": False,
            "RequestResponses": [{"RecordId": "r"}] * len(kwargs["Records"]),
        }

    firehose.put_record_batch = buffered  # type: ignore[method-assign]
    try:
        assert (
            lake.post(ndjson({"v": 1, "tags": ["a"], "ts": ["2024-01-01 00:00:00"]}), "name=broken")[
                "statusCode"
            ]
            == 202
        )
        assert lake.post(ndjson({"ok": 1}), "name=fine")["statusCode"] == 202
    finally:
        firehose.put_record_batch = real  # type: ignore[method-assign]
    real(DeliveryStreamName=lake.env["DELIVERY_STREAM"], Records=held)
    (key,) = raw_keys(lake)

    result = compact(key)

    tables = landed(lake)
    assert [r["ok"] for r in rows_of(tables, "fine")] == [1]
    assert rows_of(tables, "broken") == []
    (aside,) = rows_of(tables, "broken_quarantine")
    assert aside[ERROR][0].startswith("set aside: the Data Source 'broken' cannot land rows as defined")
    assert result["set_aside_rows"] == 1
    assert '"SetAsideRows"' in capsys.readouterr().out  # the EMF metric the alarm watches


def test_record_claims_on_dynamodb_take_free_keys_and_name_the_holder_of_the_others(lake: Lake) -> None:
    store = DynamoRefStore(lake.env["REFS_TABLE"], boto3.client("dynamodb", region_name=REGION))
    first = [Claim("#record#a", "[]", 2_000), Claim("#record#b", "[1]", 2_000)]
    assert store.claim_once(first, "raw:1", 1_000.0) == {}

    held = store.claim_once([Claim(f"#record#{k}", "[]", 3_000) for k in ("a", "b", "c")], "raw:1", 1_500.0)

    # Its owner's own claim is not overwritten either: the stored decision is what a replay reuses
    assert held == {"#record#a": ("raw:1", "[]"), "#record#b": ("raw:1", "[1]")}
    assert store.claim_once([Claim("#record#c", "[2]", 4_000)], "raw:2", 1_600.0) == {
        "#record#c": ("raw:1", "[]")
    }
    assert store.claim_once([Claim("#record#c", "[2]", 4_000)], "raw:2", 3_001.0) == {}  # expired: free
    assert claims(lake) == {"#record#a": "raw:1", "#record#b": "raw:1", "#record#c": "raw:2"}
