"""What must hold (issue 9): every acknowledged row is found exactly once in its data source or its
quarantine, and nothing else is there. Generated batches (valid, invalid and edge values mixed; several data
sources, wait=true and async, keyed and unkeyed, Vayu's API) go through the real ingest handler and the real
compactor on moto, while Firehose delivers at least once (a batch resent after its answer timed out, an
object delivered again), the compactor crashes between its claims and its Parquet, and objects are
replayed. Read back from the Parquet in S3.

The oracle needs no knowledge of which values the ingest or the landing refuses: the records in `raw/` say
what the ingest acknowledged (q=0 rows sent, q=1 rows quarantined), and each landed or quarantined row is
found by its marker (`U<seed>x<n>Z`, unique per generated row). What a path promises decides the count:
exactly once where rows are keyed, Vayu's or the data source opted in; once per raw object holding them
where rows are unkeyed (Firehose's at least once); none for a row dropped as a duplicate of a landed key.
"""

from __future__ import annotations

import contextlib
import os
import random
import re
from collections import Counter, defaultdict
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import urlencode

import orjson
import pytest
from botocore.exceptions import ClientError, ReadTimeoutError

from lakegate.aws import clients
from lakegate.aws.s3 import S3ObjectStore
from lakegate.dedup import key_of
from lakegate.framing import decode_records
from lakegate.names import LINE
from tests.integration.compactor_env import Compact, landed, raw_keys
from tests.integration.conftest import Lake, body_of
from tests.integration.test_vayu_api import batch, send

MARK = re.compile(rb"U\d+x\d+Z")
KEYED = "inv_keyed"  # a ref column: exactly once per ref (wait=true claims at ingest, async at landing)
ONCE = "inv_once"  # no key, exactly_once=true: each accepted row once; partitioned by its own date
PLAIN = "inv_plain"  # inferred, no key: once per raw object holding it (at least once)
EVENTS = "events"  # Vayu's: exactly once per (name, ref)
DEFINITIONS = {
    KEYED: {
        "schema": "`ref` Nullable(String) `json:$.ref`, `u` String `json:$.u`, `n` Nullable(Int32) `json:$.n`, "
        "`ts` Nullable(DateTime) `json:$.ts`, `s` Nullable(String) `json:$.s`",
        "engine_sorting_key": "u",
    },
    ONCE: {
        "schema": "`u` String `json:$.u`, `ts` DateTime `json:$.ts`, `d` Nullable(Date) `json:$.d`, "
        "`tags` Array(String) `json:$.tags[:]`, `x` Nullable(Float64) `json:$.x`",
        "engine_partition_key": "toYYYYMM(ts)",
        "engine_sorting_key": "ts",
        "exactly_once": "true",
    },
}


@dataclass(frozen=True)
class Raw:
    """A JSON value written as is: past what orjson writes (nesting over 254, integers over 64 bits)."""

    text: str


def deep(depth: int) -> Raw:
    return Raw("[" * depth + "]" * depth)


def dump(row: dict[str, Any]) -> bytes:
    raws: list[Raw] = []

    def placeholder(value: Any) -> str:
        if not isinstance(value, Raw):
            raise TypeError(value)
        raws.append(value)
        return f"@RAW{len(raws) - 1}@"

    out = orjson.dumps(row, default=placeholder)
    for i, raw in enumerate(raws):
        out = out.replace(f'"@RAW{i}@"'.encode(), raw.text.encode())
    return out


EDGE_TS: list[Any] = [
    "2024-02-29 23:59:59",
    "0000-01-01 00:00:00",
    "1969-12-31 23:59:59",
    "2106-02-07 06:28:16",
    "9999-12-31 23:59:59",
    "2021-02-30 00:00:00",
    1e18,
    -1e18,
    9223372036854775807,
    1e300,
    0,
    "yesterday",
]
EDGE_VALUES: list[Any] = [
    None,
    "",
    "ünïcödé ✓ 🌞",
    "x" * 5000,
    2**31,
    Raw(str(2**63)),
    Raw(str(-(2**63) - 1)),
    1.5,
    True,
    [],
    {"a": {"b": [1, 2]}},
    "2021-02-30",
    "[:]",
]


@dataclass
class World:
    """What the test sent and what it expects, from the records the ingest wrote."""

    rng: random.Random
    seed: int
    n: int = 0
    rows: int = 0
    batches: int = 0
    # marker -> (data source, promise: "once" | "per_object"), for every acknowledged row
    acknowledged: dict[str, tuple[str, str]] = field(default_factory=dict)
    # per unkeyed marker, the raw objects that hold it
    holders: dict[str, set[str]] = field(default_factory=lambda: defaultdict(set))
    # rows of keyed sources sent async: they may be dropped at landing as duplicates of their ref
    async_keyed: dict[str, str] = field(default_factory=dict)
    # wait=true rows answered duplicate (never sent): their ref must have landed
    waited_duplicates: dict[str, str] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)  # marker -> ref, keyed rows

    def mark(self) -> str:
        self.n += 1
        return f"U{self.seed}x{self.n}Z"


def keyed_row(w: World, refs: list[str], wait: bool) -> tuple[bytes, str]:
    u = w.mark()
    r = w.rng
    ref = r.choice(refs) if refs and r.random() < 0.3 else f"r{w.n}"
    refs.append(ref)
    kind = r.random()
    row: dict[str, Any] = {"u": u, "ref": ref, "n": r.randint(-5, 5), "ts": "2024-05-01 10:00:00", "s": "ok"}
    if kind < 0.15:
        row["ts"] = r.choice(EDGE_TS)
    elif kind < 0.3:
        column = r.choice(["n", "s", "ref"])
        # A ref over DynamoDB's key size is answered 503 with wait=true, for ever: the ingest's to refuse
        # (issue 9 §6, not this test's). Without wait the landing quarantines it, which is tested here.
        row[column] = r.choice([v for v in EDGE_VALUES if not (wait and column == "ref" and v == "x" * 5000)])
    elif kind < 0.35:
        row["s"] = deep(r.choice([200, 255, 300, 1000]))
    elif kind < 0.4:
        return b'{"u":"' + u.encode() + b'", "ref": broken', u
    elif kind < 0.43:
        return b'["' + u.encode() + b'"]', u
    elif kind < 0.46:
        del row["ref"]
    line = dump(row)
    key = key_of(orjson.loads(line), ("ref",))  # the key the ingest and the compactor read
    if key is not None:
        w.refs[u] = key
    return line, u


def once_row(w: World) -> tuple[bytes, str]:
    u = w.mark()
    r = w.rng
    row: dict[str, Any] = {
        "u": u,
        "ts": f"2024-0{r.randint(1, 9)}-1{r.randint(0, 9)} 12:00:00",
        "tags": ["a"],
    }
    kind = r.random()
    if kind < 0.2:
        row["ts"] = r.choice(EDGE_TS)
    elif kind < 0.35:
        row[r.choice(["d", "x", "tags"])] = r.choice(EDGE_VALUES)
    elif kind < 0.4:
        del row["ts"]
    elif kind < 0.45:
        return b"not json " + u.encode(), u
    return dump(row), u


def plain_row(w: World) -> tuple[bytes, str]:
    u = w.mark()
    r = w.rng
    row: dict[str, Any] = {"u": u, "city": r.choice(["Madrid", "Lima"]), "n": r.randint(0, 9)}
    kind = r.random()
    if kind < 0.15:
        row["n"] = r.choice(EDGE_VALUES)
    elif kind < 0.3:
        row[f"new_{r.randint(0, 3)}"] = r.choice([1, "x", [1], {"k": 2}, None])  # evolves the schema
    elif kind < 0.35:
        row["city"] = deep(r.choice([255, 400]))
    elif kind < 0.4:
        return b"{" + u.encode(), u
    return dump(row), u


def vayu_event(w: World, refs: list[str]) -> dict[str, Any]:
    u = w.mark()
    r = w.rng
    ref = r.choice(refs) if refs and r.random() < 0.3 else f"e{w.n}"
    refs.append(ref)
    event: dict[str, Any] = {
        "name": r.choice(["api_call", "login"]),
        "timestamp": "2023-09-13T18:25:43.511Z",
        "customerAlias": "c1",
        "ref": ref,
        "data": {"u": u},
    }
    if r.random() < 0.15:
        event[r.choice(["timestamp", "name", "ref"])] = r.choice(["", 5, "2023-13-45T00:00:00Z"])
    return event


class Firehose:
    """Firehose as the ingest meets it, at least once: `timeout_next` makes the next PutRecordBatch go
    through and its answer time out, so the ingest sends it again."""

    def __init__(self) -> None:
        self.client = clients.firehose()
        self.real = self.client.put_record_batch
        self.timeout_next = False
        self.client.put_record_batch = self.put  # type: ignore[method-assign]

    def put(self, **kwargs: Any) -> Any:
        answer = self.real(**kwargs)
        if self.timeout_next:
            self.timeout_next = False
            raise ReadTimeoutError(endpoint_url="https://firehose.us-east-1.amazonaws.com")
        return answer

    def restore(self) -> None:
        self.client.put_record_batch = self.real  # type: ignore[method-assign]


@pytest.fixture
def firehose(lake: Lake) -> Iterator[Firehose]:
    f = Firehose()
    yield f
    f.restore()


@pytest.fixture
def crashing(monkeypatch: pytest.MonkeyPatch) -> list[bool]:
    """Set the flag and the compactor's next Parquet write fails (the function dies after its claims)."""
    flag = [False]
    real = S3ObjectStore.put

    def put(self: S3ObjectStore, key: str, body: bytes, content_type: str) -> None:
        if flag[0]:
            flag[0] = False
            raise ClientError({"Error": {"Code": "InternalError", "Message": "died"}}, "PutObject")
        real(self, key, body, content_type)

    monkeypatch.setattr(S3ObjectStore, "put", put)
    return flag


def markers(data: bytes) -> list[str]:
    return [m.decode() for m in MARK.findall(data)]


def record_rows(lake: Lake, keys: list[str]) -> Iterator[tuple[str, bool, bytes]]:
    """(object, quarantined at ingest, row) for every row of these raw objects."""
    for key in keys:
        blob = lake.s3.get_object(Bucket=lake.bucket, Key=key)["Body"].read()
        for rec in decode_records(blob):
            for row in rec.rows:
                yield key, rec.header.quarantine, row


def send_batch(w: World, lake: Lake, refs: dict[str, list[str]]) -> list[str]:
    """One generated request; what it acknowledged is recorded from the raw objects it produced."""
    r = w.rng
    before = set(raw_keys(lake))
    target = r.choice([KEYED, KEYED, ONCE, PLAIN, EVENTS])
    w.batches += 1
    if target == EVENTS:
        events = [vayu_event(w, refs[EVENTS]) for _ in range(r.randint(1, 12))]
        w.rows += len(events)
        answer = body_of(send(lake, batch(*events)))
        assert "validEvents" in answer, answer
        for e in answer["validEvents"]:
            w.acknowledged[e["data"]["u"]] = (EVENTS, "once")
        new = sorted(set(raw_keys(lake)) - before)
        sent = Counter(u for _, q, row in record_rows(lake, new) if not q for u in markers(row))
        assert set(sent) == {e["data"]["u"] for e in answer["validEvents"]}
        return new
    wait = target != PLAIN and r.random() < 0.5
    make = {
        KEYED: lambda: keyed_row(w, refs[KEYED], wait),
        ONCE: lambda: once_row(w),
        PLAIN: lambda: plain_row(w),
    }
    lines = [make[target]() for _ in range(r.randint(1, 25))]
    w.rows += len(lines)
    query = f"name={target}" + ("&wait=true" if wait else "")
    resp = lake.post(b"\n".join(line for line, _ in lines) + b"\n", query)
    answer = body_of(resp)
    new = sorted(set(raw_keys(lake)) - before)
    if resp["statusCode"] == 400 and target == PLAIN:  # a first batch with no object to infer from
        assert "no line of the body is a JSON object" in answer["error"] and not new
        return new
    assert resp["statusCode"] in (200, 202), resp
    found: dict[str, tuple[bool, set[str]]] = {}
    for key, quarantined, row in record_rows(lake, new):
        for u in markers(row):
            found.setdefault(u, (quarantined, set()))[1].add(key)
    accepted = [u for u, (q, _) in found.items() if not q]
    assert (answer["successful_rows"], answer["quarantined_rows"]) == (
        len(accepted),
        len(found) - len(accepted),
    )
    promise = "per_object" if target == PLAIN else "once"
    for _, u in lines:
        if u in found:
            w.acknowledged[u] = (target, promise)
            if promise == "per_object":
                w.holders[u] |= found[u][1]
            if target == KEYED and not wait and not found[u][0] and u in w.refs:
                w.async_keyed[u] = w.refs[u]
        else:  # never sent: only a wait=true row whose ref was taken
            assert target == KEYED and wait and u in w.refs, (u, answer)
            w.waited_duplicates[u] = w.refs[u]
    assert answer.get("duplicate_rows", 0) == sum(u not in found for _, u in lines)
    return new


def check(w: World, lake: Lake) -> None:
    """Every acknowledged row exactly where its promise says, nothing else anywhere."""
    seen: dict[str, list[str]] = defaultdict(list)  # marker -> folders it was found in
    landed_refs: dict[str, set[str]] = defaultdict(set)  # ref -> markers of the rows in the data source
    somewhere: set[str] = set()  # refs of keyed rows found in the data source or its quarantine
    for key, table in landed(lake).items():
        folder_name = key.split("/")[2]  # datasources/<workspace>/<folder>/...
        # The text columns only: a landed date-time may be one Python's datetime cannot hold (year 0).
        texts = [c for c in (LINE, "u", "data") if c in table.column_names]
        for row in table.select(texts).to_pylist():
            (u,) = set(markers(orjson.dumps(row)))
            seen[u].append(folder_name)
            if u in w.refs and folder_name.startswith(KEYED):
                somewhere.add(w.refs[u])
                if folder_name == KEYED:
                    landed_refs[w.refs[u]].add(u)
    assert set(seen) <= set(w.acknowledged), (
        f"found rows never acknowledged: {set(seen) - set(w.acknowledged)}"
    )
    for u, (source, promise) in w.acknowledged.items():
        where = seen.get(u, [])
        assert {f.removesuffix("_quarantine") for f in where} <= {source}, (u, where)
        if promise == "per_object":
            assert len(where) == len(w.holders[u]), (u, where, w.holders[u])
        elif u in w.async_keyed and not where:  # dropped at landing: a duplicate of a landed ref
            assert landed_refs[w.async_keyed[u]], (u, w.async_keyed[u])
        else:
            assert len(where) == 1, (u, source, where)
    for ref, us in landed_refs.items():
        assert len(us) == 1, f"ref {ref} landed {len(us)} times: {us}"
    for u, ref in w.waited_duplicates.items():
        # a duplicate of a row acknowledged before it (which may have ended in quarantine since)
        assert ref in somewhere, f"{u} was refused as a duplicate of {ref}, which was never acknowledged"


def define(lake: Lake) -> None:
    for name, params in DEFINITIONS.items():
        resp = lake.post(urlencode({"name": name} | params).encode(), query="", path="/v0/datasources")
        assert resp["statusCode"] == 200, resp


# 4 seeds x 14 batches (~750 rows, ~40 s on moto) in CI; LAKEGATE_INVARIANT_SEEDS=<n> runs more locally.
SIZES = [(seed, 14) for seed in range(int(os.environ.get("LAKEGATE_INVARIANT_SEEDS", "4")))]


@pytest.mark.parametrize(("seed", "batches"), SIZES)
def test_every_acknowledged_row_lands_once_where_its_promise_says(
    lake: Lake, compact: Compact, firehose: Firehose, crashing: list[bool], seed: int, batches: int
) -> None:
    w = World(random.Random(seed), seed)
    define(lake)
    refs: dict[str, list[str]] = defaultdict(list)
    done: list[str] = []
    outcomes: Counter[str] = Counter()
    for _ in range(batches):
        firehose.timeout_next = w.rng.random() < 0.2  # the batch is in S3 twice
        new = send_batch(w, lake, refs)
        if new and w.rng.random() < 0.2:  # Firehose delivers an object again
            again = new[0] + "-again"
            lake.s3.copy_object(
                Bucket=lake.bucket, Key=again, CopySource={"Bucket": lake.bucket, "Key": new[0]}
            )
            new.append(again)
            for _, _q, row in record_rows(lake, [again]):
                for u in markers(row):
                    if u in w.holders:
                        w.holders[u].add(again)
        w.rng.shuffle(new)
        for key in new:
            if w.rng.random() < 0.15:  # dies between its claims and its Parquet; Lambda retries
                crashing[0] = True
                with contextlib.suppress(ClientError):  # unless it had no file to write
                    compact(key)
                crashing[0] = False
            outcomes.update(compact(key))
            done.append(key)
        if done and w.rng.random() < 0.2:  # an operator replays an object landed earlier
            compact(w.rng.choice(done))
    check(w, lake)
    print(
        f"seed {seed}: {w.batches} batches, {w.rows} rows, {len(w.acknowledged)} acknowledged, {len(done)} objects;"
        f" landed {outcomes['rows']}, quarantined {outcomes['quarantined_rows']}, duplicate rows "
        f"{outcomes['duplicate_rows']}, duplicate records {outcomes['duplicate_records']}"
    )
