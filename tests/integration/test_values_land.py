"""Values land as sent, through the real handlers: the value table of tests/unit/test_values.py posted to the
ingest on moto (one data source per type, every case of the type in one batch), compacted by the real
compactor, and read back from the Parquet in S3. Each value is in its data source as the type defines it,
or in its quarantine with its text as sent: never missing, never changed, never both."""

from __future__ import annotations

from collections import defaultdict
from urllib.parse import urlencode

import orjson
import pyarrow as pa
import pyarrow.compute as pc
import pytest

from lakegate.lake.arrow_types import arrow_schema
from lakegate.names import LINE
from lakegate.schema import Column, DataSource
from tests.integration.compactor_env import Compact, landed, raw_keys
from tests.integration.conftest import Lake
from tests.unit.test_values import CASES, NO, Case, _landed, _same

BY_TYPE: dict[str, list[tuple[int, Case]]] = defaultdict(list)
for n, case in enumerate(CASES):
    BY_TYPE[case.type].append((n, case))


def _path(t: str) -> str:
    return "$.v[:]" if t.startswith(("Array", "Nullable(Array")) else "$.v"


def _table(tables: dict[str, pa.Table], name: str) -> pa.Table | None:
    parts = [t for key, t in sorted(tables.items()) if f"/{name}/" in f"/{key}"]
    return pa.concat_tables(parts, promote_options="permissive") if parts else None


@pytest.mark.parametrize("t", sorted(BY_TYPE))
def test_every_value_lands_as_sent_or_in_quarantine_as_written(lake: Lake, compact: Compact, t: str) -> None:
    # Given a data source with one column of the type, defined through the API
    schema = f"`v` {t} `json:{_path(t)}`, `n` Int64 `json:$.n`"
    defined = lake.post(
        urlencode({"name": "vals", "schema": schema}).encode(), query="", path="/v0/datasources"
    )
    assert defined["statusCode"] == 200, defined
    cases = BY_TYPE[t]

    # When every case of the type is sent in one batch and the raw objects are compacted
    body = b"".join(b'{"v":' + c.json.encode() + b',"n":' + str(n).encode() + b"}\n" for n, c in cases)
    resp = lake.post(body, "name=vals")
    assert resp["statusCode"] == 202, resp
    for key in raw_keys(lake):
        compact(key)

    # Then each value is where its verdict says, once, with the value as the type defines it
    tables = landed(lake)
    good, bad = _table(tables, "vals"), _table(tables, "vals_quarantine")
    ds = DataSource("vals", (Column("v", t, _path(t)), Column("n", "Int64", "$.n")))
    quarantined = defaultdict(list)
    for row in [] if bad is None else bad.to_pylist():
        quarantined[orjson.loads(row[LINE])["n"]].append(row)
    for n, case in cases:
        here = good.filter(pc.equal(good["n"], n)) if good is not None else None
        landed_rows = 0 if here is None else here.num_rows
        if case.lands is NO:
            assert (landed_rows, len(quarantined[n])) == (0, 1), case
            kept = quarantined[n][0]["v"]
            assert kept == (
                None
                if case.json == "null"
                else orjson.loads(case.json)
                if case.json.startswith('"')
                else case.json
            ), case
        else:
            assert (landed_rows, len(quarantined[n])) == (1, 0), (case, quarantined[n])
            assert here is not None
            value = here.select(["v"]).cast(pa.schema([arrow_schema(ds).field("v")]))
            assert _same(_landed(value, t), case.lands), (case, value)
