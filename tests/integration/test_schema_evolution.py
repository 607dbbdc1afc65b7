"""Schemas grow only where they may, and never drop a value unseen (issues 12 §2, 14 §3), through the real
ingest handler and the real compactor on moto, read back from the Parquet in S3: a defined data source keeps
its columns (what it does not read is counted in the compactor's log line and metric), unless its definition
opts in; an inferred one at its column cap adds what fits and quarantines the rows holding the rest; a value
at a path that columns only read inside of is quarantined with its reason, at ingest or at landing."""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote, urlencode

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import app
from lakegate.config import Limits
from lakegate.lake import evolution
from lakegate.names import ERROR, LINE
from lakegate.schema import DataSource
from tests.evolution_cases import CAP as SMALL_CAP
from tests.evolution_cases import accounted, objects
from tests.integration.compactor_env import Compact, landed, raw_keys, rows_of
from tests.integration.conftest import Lake, body_of

NAME = "events_test"
_example = 0  # numbers the generated cases' data sources
CAP = Limits().max_columns
MISPLACED = (
    "value '7345' on $.x fits no column: column 'x_z' reads $.x.z inside it, "
    "so only an object or null fits there"
)


@pytest.fixture
def compactor_logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """What the compactor's powertools logger writes."""
    import compactor_app

    buffer = io.StringIO()
    monkeypatch.setattr(compactor_app.logger.registered_handler, "stream", buffer)
    yield buffer


def _entries(text: str) -> list[dict[str, Any]]:
    return [orjson.loads(line) for line in text.splitlines() if line.startswith("{")]


def define(lake: Lake, **params: str) -> dict[str, Any]:
    return lake.post(b"", query=urlencode({"name": NAME} | params, quote_via=quote), path="/v0/datasources")


def send(lake: Lake, compact: Compact, *rows: dict[str, Any] | bytes) -> dict[str, Any]:
    """Post the rows as one request and land the raw object it makes; the answer's body."""
    before = set(raw_keys(lake))
    resp = lake.post(b"\n".join(r if isinstance(r, bytes) else orjson.dumps(r) for r in rows))
    assert resp["statusCode"] == 202, resp
    for key in sorted(set(raw_keys(lake)) - before):
        compact(key)
    answer: dict[str, Any] = body_of(resp)
    return answer


def quarantine(lake: Lake) -> list[tuple[dict[str, Any], str]]:
    tables = landed(lake)
    return [(orjson.loads(r[LINE]), r[ERROR][0]) for r in rows_of(tables, f"{NAME}_quarantine")]


def test_a_defined_schema_keeps_its_columns_and_counts_what_it_does_not_read(
    lake: Lake, compact: Compact, compactor_logs: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    schema = "`a` Int32 `json:$.a`, `region` Nullable(String) `json:$.geo.region`"
    assert define(lake, schema=schema)["statusCode"] == 200
    shown = body_of(lake.post(b"", query="", path=f"/v0/datasources/{NAME}", method="GET"))
    assert shown["schema_evolution"] is False

    answer = send(
        lake,
        compact,
        {"a": 1, "extra": "x", "geo": {"region": "eu", "city": "Paris"}},
        {"a": 2, "geo": 7},  # Tinybird's $.geo.region reads nothing here: null, counted
        {"a": 3, "more": {"deep": [1, 2]}},
    )

    assert answer == {"successful_rows": 3, "quarantined_rows": 0}
    stored = lake.datasource(NAME)
    assert stored is not None and stored["version"] == 1 and stored["schema_evolution"] is False
    assert [c["name"] for c in stored["columns"]] == ["a", "region"]
    tables = landed(lake)
    assert {t.column_names == ["a", "region"] for t in tables.values()} == {True}
    assert sorted((r["a"], r["region"]) for r in rows_of(tables, NAME)) == [(1, "eu"), (2, None), (3, None)]
    assert quarantine(lake) == []
    (line,) = [e for e in _entries(compactor_logs.getvalue()) if e.get("message") == "raw object landed"]
    assert line["unread_values"] == 4
    assert sorted(line["unread_fields"]) == sorted(
        [f"{NAME} $.extra", f"{NAME} $.geo.city", f"{NAME} $.geo", f"{NAME} $.more"]
    )
    metrics = [e for e in _entries(capsys.readouterr().out) if "_aws" in e and "UnreadValues" in e]
    assert metrics and metrics[-1]["UnreadValues"] == [4.0]


def test_a_definition_may_opt_in_to_evolution(lake: Lake, compact: Compact) -> None:
    assert define(lake, schema="`a` Int32", schema_evolution="maybe")["statusCode"] == 400
    resp = define(lake, schema="`a` Int32", schema_evolution="true")
    assert body_of(resp)["datasource"]["schema_evolution"] is True

    send(lake, compact, {"a": 1, "temp": 21.5})

    stored = lake.datasource(NAME)
    assert stored is not None and stored["version"] == 2 and "schema_evolution" not in stored
    assert stored["columns"][-1] == {"name": "temp", "type": "Nullable(Float64)", "jsonpath": "$.temp"}
    assert [(r["a"], r["temp"]) for r in rows_of(landed(lake), NAME)] == [(1, 21.5)]


def test_an_inferred_source_at_its_cap_adds_what_fits_and_quarantines_the_rest(
    lake: Lake, compact: Compact, compactor_logs: io.StringIO
) -> None:
    send(lake, compact, {"a": 1})  # created by inference: one column
    wide = {"a": 2} | {f"k{i:03}": i for i in range(CAP)}

    answer = send(lake, compact, {"a": 3, "x": "keep me"}, wide)

    assert answer == {"successful_rows": 2, "quarantined_rows": 0}  # the landing decides, see below
    stored = lake.datasource(NAME)
    assert stored is not None and len(stored["columns"]) == CAP
    names = [c["name"] for c in stored["columns"]]
    assert names[:3] == ["a", "x", "k000"] and names[-1] == f"k{CAP - 3:03}"  # first seen, first added
    rows = rows_of(landed(lake), NAME)
    assert sorted((r["a"], r.get("x")) for r in rows) == [(1, None), (3, "keep me")]
    ((line, error),) = quarantine(lake)
    assert line == wide
    past = [f"$.k{i:03}" for i in (CAP - 2, CAP - 1)]
    assert error == (
        f"fields past the column limit: {', '.join(past)} (Data Source '{NAME}' has {CAP} columns, "
        f"the limit is {CAP}): the row is kept here whole"
    )
    (warning,) = [
        e for e in _entries(compactor_logs.getvalue()) if e.get("message") == "fields past the column limit"
    ]
    assert warning["fields"] == [f"{NAME} {p}" for p in past]


def test_a_full_schema_answers_which_fields_it_cannot_store(
    lake: Lake, compact: Compact, monkeypatch: pytest.MonkeyPatch
) -> None:
    send(lake, compact, {"a": 1})
    send(lake, compact, {"a": 2} | {f"k{i:03}": i for i in range(CAP - 1)})  # now exactly at the cap
    stored = lake.datasource(NAME)
    assert stored is not None and len(stored["columns"]) == CAP
    monkeypatch.setattr(app, "_app", None)  # a fresh Lambda: no cached (older) schema

    answer = send(lake, compact, {"a": 3, "k000": 0}, {"a": 4, "late": True, "later": {"z": 1}})

    assert answer == {
        "successful_rows": 1,
        "quarantined_rows": 1,
        "fields_not_stored": ["$.late", "$.later.z"],
    }
    assert sorted(r["a"] for r in rows_of(landed(lake), NAME)) == [1, 2, 3]
    ((line, error),) = quarantine(lake)
    assert line == {"a": 4, "late": True, "later": {"z": 1}}
    assert error.startswith("fields past the column limit: $.late, $.later.z (")


def test_a_scalar_where_an_object_was_is_quarantined_at_ingest(lake: Lake, compact: Compact) -> None:
    send(lake, compact, {"x": {"z": 1}}, {"y": 1})  # inferred: x_z Nullable(Int64) reads $.x.z

    answer = send(lake, compact, {"x": 7345}, {"x": {"z": 2}}, {"x": None})

    assert answer == {"successful_rows": 2, "quarantined_rows": 1}
    assert sorted(r["x_z"] or 0 for r in rows_of(landed(lake), NAME)) == [0, 0, 1, 2]
    assert quarantine(lake) == [({"x": 7345}, MISPLACED)]


def test_a_scalar_where_an_object_was_is_quarantined_at_landing(lake: Lake, compact: Compact) -> None:
    """The ingest checks against the schema it knows (x unknown there: both rows fit); the landing against
    the one evolution made of the first."""
    keys: list[str] = []
    for row in ({"a": 1}, {"a": 2, "x": {"z": 1}}, {"a": 3, "x": 7345}):
        assert body_of(lake.post(orjson.dumps(row))) == {"successful_rows": 1, "quarantined_rows": 0}
        keys += sorted(set(raw_keys(lake)) - set(keys))
    for key in keys:  # in the order they were sent
        compact(key)

    rows = rows_of(landed(lake), NAME)
    assert sorted((r["a"], r.get("x_z")) for r in rows) == [(1, None), (2, 1)]
    assert quarantine(lake) == [({"a": 3, "x": 7345}, MISPLACED)]


@settings(
    max_examples=30,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(
    kind=st.sampled_from(["inferred", "defined", "evolving"]),
    requests=st.lists(st.lists(objects, min_size=1, max_size=3), min_size=1, max_size=3),
)
def test_generated_shapes_lose_no_value_through_the_handlers(
    lake: Lake,
    compact: Compact,
    compactor_logs: io.StringIO,
    monkeypatch: pytest.MonkeyPatch,
    kind: str,
    requests: list[list[dict[str, Any]]],
) -> None:
    """tests/unit/lake/test_evolution_property.py's cases, fewer, through the real handlers on moto, with the
    column cap lowered to SMALL_CAP for both (the ingest's from its environment, the landing's in-process)."""
    global _example  # noqa: PLW0603 - one data source per example: the fixtures live across examples
    _example += 1
    name = f"gen_{kind}_{_example}"
    monkeypatch.setenv("MAX_COLUMNS", str(SMALL_CAP))
    monkeypatch.setattr(evolution, "MAX_COLUMNS", SMALL_CAP)
    monkeypatch.setattr(app, "_app", None)
    if kind != "inferred":
        schema = "`u` Int64, `x_z` Nullable(Int64) `json:$.x.z`, `y` Nullable(String) `json:$.y`"
        params = {"name": name, "schema": schema, "schema_evolution": str(kind == "evolving").lower()}
        assert (
            lake.post(b"", query=urlencode(params, quote_via=quote), path="/v0/datasources")["statusCode"]
            == 200
        )
    sent: dict[int, dict[str, Any]] = {}
    u = 0
    for rows in requests:
        marked = [{"u": u + i, **row} for i, row in enumerate(rows)]
        u += len(rows)
        before = set(raw_keys(lake))
        resp = lake.post(b"\n".join(orjson.dumps(r) for r in marked), query=f"name={name}")
        if resp["statusCode"] == 400:  # too many fields to create the data source from: nothing acknowledged
            continue
        assert resp["statusCode"] == 202, resp
        sent.update({r["u"]: r for r in marked})
        for key in sorted(set(raw_keys(lake)) - before):
            compact(key)
    stored = lake.datasource(name)
    if stored is None:
        assert not sent
        return
    tables = landed(lake)
    rows_landed = {r["u"]: r for r in rows_of(tables, name)}
    quarantined = {orjson.loads(r[LINE])["u"]: r[ERROR][0] for r in rows_of(tables, f"{name}_quarantine")}
    lines = [e for e in _entries(compactor_logs.getvalue()) if e.get("message") == "raw object landed"]
    unread = {f for e in lines for f in e["unread_fields"]}
    accounted(kind, name, DataSource.from_dict(stored), sent, rows_landed, quarantined, unread)
