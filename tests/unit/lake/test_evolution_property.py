"""No value is dropped unseen (issues 12 §2, 14 §3): generated sequences of requests (a key sent as an object,
then as a scalar, or the reverse; many keys around the column cap; inferred, defined and defined-evolving data
sources) go through the ingest use case and the compactor with the in-memory stores, and every value sent
is read back from a landed Parquet column, or its row is in quarantine with a reason; where a defined schema
does not read a value, the landing counts it. tests/integration/test_schema_evolution.py does the same
through the real handlers on moto."""

from __future__ import annotations

import io
from typing import Any
from unittest.mock import patch

import orjson
import pyarrow.parquet as pq
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakegate.config import Limits
from lakegate.definitions import definition
from lakegate.errors import InvalidRequest
from lakegate.ingest.auth import CREATE
from lakegate.ingest.events import Ingestor
from lakegate.lake import evolution
from lakegate.lake.compactor import Compactor, Outcome
from lakegate.memory import MemoryObjectStore, MemoryRefStore, MemoryRegistry, MemorySink
from lakegate.names import ERROR, LINE
from lakegate.schema import DataSource
from tests.evolution_cases import CAP, accounted, objects
from tests.unit.fakes import FakeClock, FakeSleep, make_token

NAME = "gen"


def read_back(store: MemoryObjectStore) -> tuple[dict[int, dict[str, Any]], dict[int, str]]:
    """Landed rows, and quarantined rows' errors, by their `u`."""
    landed: dict[int, dict[str, Any]] = {}
    quarantined: dict[int, str] = {}
    for key, blob in store.objects.items():
        parts = key.split("/")
        if f"{NAME}_quarantine" in parts:
            for q in pq.read_table(io.BytesIO(blob)).to_pylist():
                quarantined[orjson.loads(q[LINE])["u"]] = q[ERROR][0]
        elif NAME in parts:
            landed.update({r["u"]: r for r in pq.read_table(io.BytesIO(blob)).to_pylist()})
    return landed, quarantined


def run(kind: str, requests: list[list[dict[str, Any]]]) -> None:
    registry, sink = MemoryRegistry(), MemorySink()
    clock = FakeClock(1_795_464_301.0)
    ingestor = Ingestor(registry, sink, MemoryRefStore(), Limits(max_columns=CAP), clock, FakeSleep(clock))
    if kind != "inferred":
        ds = definition(
            NAME, "`u` Int64, `x_z` Nullable(Int64) `json:$.x.z`, `y` Nullable(String) `json:$.y`"
        )
        registry.create("ws1", DataSource(ds.name, ds.columns, schema_evolution=kind == "evolving"))
    store = MemoryObjectStore({})
    sent: dict[int, dict[str, Any]] = {}
    outcomes: list[Outcome] = []
    u = 0
    for n, rows in enumerate(requests):
        marked = []
        for row in rows:
            marked.append({"u": u, **row})
            u += 1
        body = b"\n".join(orjson.dumps(r) for r in marked)
        try:
            ingestor.ingest(make_token(CREATE), NAME, body, f"req-{n}")
        except InvalidRequest:  # too many fields to create the data source from: nothing acknowledged
            continue
        sent.update({r["u"]: r for r in marked})
        key = f"raw/2026/11/23/20/stream-{n}"
        store.objects[key] = b"".join(sink.records)
        sink.records.clear()
        outcomes.append(Compactor(store, registry).process(key))

    final = registry.get("ws1", NAME)
    if final is None:  # never created: no request was acknowledged
        assert not sent
        return
    assert len(final.columns) <= max(CAP, 3)
    landed, quarantined = read_back(store)
    accounted(kind, NAME, final, sent, landed, quarantined, {f for o in outcomes for f in o.unread_fields})


@settings(max_examples=150, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(["inferred", "defined", "evolving"]),
    requests=st.lists(st.lists(objects, min_size=1, max_size=4), min_size=1, max_size=4),
)
def test_every_value_sent_is_in_a_column_or_in_quarantine(
    kind: str, requests: list[list[dict[str, Any]]]
) -> None:
    with patch.object(evolution, "MAX_COLUMNS", CAP):
        run(kind, requests)


@settings(max_examples=60, deadline=None, derandomize=True, suppress_health_check=[HealthCheck.too_slow])
@given(
    kind=st.sampled_from(["inferred", "evolving"]),
    first=st.sampled_from([{"z": 1}, {"z": None}, 5, "a", [1]]),
    later=st.lists(st.sampled_from([{"z": 2}, {"w": "b"}, 7345, "c", [2], None, {}]), min_size=1, max_size=4),
    split=st.booleans(),
)
def test_a_key_sent_as_an_object_and_as_a_scalar_loses_nothing(
    kind: str, first: object, later: list[object], split: bool
) -> None:
    rows = [{"x": first}] + [{"x": v} for v in later]
    requests = [[r] for r in rows] if split else [rows]
    with patch.object(evolution, "MAX_COLUMNS", CAP):
        run(kind, requests)
