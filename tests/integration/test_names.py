"""Names and ids through the real handler on moto: a 403 never counts in a window, `<x>_quarantine` is no
target, names are unique whatever their case, and every data source has a stored id that `name=` takes."""

from __future__ import annotations

import threading
from typing import Any

import orjson
import pytest

from lakegate.framing import decode_records
from lakegate.schema import ID_RE
from tests.integration.conftest import Lake, body_of

ROW = b'{"ref": "a", "n": 1}'
VAYU_EVENT = {"name": "signup", "timestamp": "2024-05-01T10:00:00Z", "customerAlias": "acme", "ref": "r1"}


def counters(lake: Lake) -> list[str]:
    return sorted(i["pk"]["S"] for i in lake.ddb.scan(TableName=lake.env["RATE_LIMITS_TABLE"])["Items"])


def registry_items(lake: Lake) -> list[str]:
    """Every key of the registry table: data sources and their index items (`#name:`, `#id:`)."""
    items = lake.ddb.scan(TableName=lake.env["DATASOURCES_TABLE"])["Items"]
    return sorted(f"{i['workspace_id']['S']}/{i['name']['S']}" for i in items)


def landed(lake: Lake) -> list[tuple[str, bytes]]:
    return [
        (rec.header.datasource, row)
        for b in lake.raw_objects()
        for rec in decode_records(b)
        for row in rec.rows
    ]


def vayu(lake: Lake, token: str, path: str = "/events", body: bytes | None = None) -> dict[str, Any]:
    sent = body if body is not None else orjson.dumps({"events": [VAYU_EVENT]})
    return lake.post(sent, "", path=path, token=token, headers={"content-type": "application/json"})


@pytest.fixture
def orders(lake: Lake) -> Lake:
    """`orders` exists; the windows its creation counted are cleared, so a test sees only its own."""
    assert lake.post(ROW, "name=orders")["statusCode"] == 202
    for pk in counters(lake):
        lake.ddb.delete_item(TableName=lake.env["RATE_LIMITS_TABLE"], Key={"pk": {"S": pk}})
    return lake


# --- rate limits count only who may write ----------------------------------------------------------------


@pytest.mark.parametrize(
    ("scopes", "query", "why"),
    [
        (["DATASOURCE:APPEND:other"], "name=orders", "DATASOURCE:APPEND scope for the Data Source 'orders'"),
        (["DATASOURCE:APPEND"], "name=brand_new", "DATASOURCE:CREATE scope needed to create it"),
        (["DATASOURCE:APPEND:other"], "name=orders&wait=true", "DATASOURCE:APPEND scope"),
    ],
)
def test_a_403_on_the_events_api_counts_in_no_window(
    orders: Lake, scopes: list[str], query: str, why: str
) -> None:
    orders.add_token("stranger", scopes)
    before = orders.raw_objects()

    answers = [orders.post(ROW, query, token="stranger") for _ in range(5)]

    assert {a["statusCode"] for a in answers} == {403}
    assert why in body_of(answers[0])["error"]
    assert "X-RateLimit-Limit" not in answers[0]["headers"]
    assert counters(orders) == []
    assert orders.raw_objects() == before
    # the data source's own writers still have their whole window
    assert orders.post(ROW, "name=orders")["headers"]["X-RateLimit-Remaining"] == "99"


@pytest.mark.parametrize("path", ["/events", "/events/dry-run", "/events/r1", "/login"])
def test_a_403_on_vayus_routes_counts_in_no_window(lake: Lake, path: str) -> None:
    lake.add_token("stranger", ["DATASOURCE:APPEND:orders"])

    if path == "/login":
        resp = lake.post(orjson.dumps({"refreshToken": "stranger"}), "", path=path, token=None)
    elif path == "/events/r1":
        resp = lake.post(b"", "", path=path, method="GET", token="stranger")
    else:
        resp = vayu(lake, "stranger", path)

    assert resp["statusCode"] == 403
    assert "DATASOURCE:APPEND scope for the Data Source 'events'" in body_of(resp)["error"]
    assert counters(lake) == [] and lake.raw_objects() == [] and registry_items(lake) == []


# --- <x>_quarantine is no target ---------------------------------------------------------------------------


@pytest.mark.parametrize("name", ["orders_quarantine", "Orders_Quarantine", "new_quarantine"])
def test_no_token_appends_to_or_creates_a_quarantine(orders: Lake, name: str) -> None:
    before = (orders.raw_objects(), registry_items(orders))

    resp = orders.post(ROW, f"name={name}")
    defined = orders.post(b"", f"name={name}&schema=a%20String", path="/v0/datasources")

    assert (resp["statusCode"], defined["statusCode"]) == (400, 400)
    assert f"The name '{name}' is reserved" in body_of(resp)["error"]
    assert (orders.raw_objects(), registry_items(orders)) == before
    assert counters(orders) == []


# --- names unique whatever their case ----------------------------------------------------------------------


def test_a_name_in_another_case_is_a_400_naming_the_existing_one_on_every_creating_route(lake: Lake) -> None:
    assert lake.post(ROW, "name=Rt_Case")["statusCode"] == 202
    assert lake.post(ROW, "name=Events")["statusCode"] == 202  # Vayu's target is `events`
    objects = lake.raw_objects()

    inferred = lake.post(ROW, "name=rt_case&wait=true")
    defined = lake.post(b"", "name=RT_CASE&schema=a%20String", path="/v0/datasources")
    vayu_answer = vayu(lake, "lakegate-sample-admin-token")

    for resp, taken, existing in ((inferred, "rt_case", "Rt_Case"), (defined, "RT_CASE", "Rt_Case"), (vayu_answer, "events", "Events")):  # fmt: skip
        assert resp["statusCode"] == 400, body_of(resp)
        assert body_of(resp)["error"].startswith(f"The Data Source name '{taken}' is taken by '{existing}'")
    assert lake.raw_objects() == objects
    assert [k for k in registry_items(lake) if "#" not in k] == ["ws1/Events", "ws1/Rt_Case"]
    assert "ws1/#name:rt_case" in registry_items(lake)


def test_another_workspace_may_use_the_name_in_any_case(lake: Lake) -> None:
    lake.add_token("ws2-admin", ["ADMIN"], workspace_id="ws2")
    assert lake.post(ROW, "name=Rt_Case")["statusCode"] == 202

    assert lake.post(ROW, "name=rt_case", token="ws2-admin")["statusCode"] == 202

    assert {(ds, row) for ds, row in landed(lake)} == {("Rt_Case", ROW), ("rt_case", ROW)}


@pytest.mark.usefixtures("atomic_items")
def test_two_creators_racing_with_names_in_two_cases_store_one(lake: Lake) -> None:
    answers: dict[str, dict[str, Any]] = {}
    barrier = threading.Barrier(2)

    def create(name: str) -> None:
        barrier.wait()
        answers[name] = lake.post(ROW, f"name={name}&wait=true")

    threads = [threading.Thread(target=create, args=(n,)) for n in ("Race", "race")]
    for t in threads:
        t.start()
    for t in threads:
        t.join()

    assert sorted(a["statusCode"] for a in answers.values()) == [200, 400]
    (winner,) = [n for n, a in answers.items() if a["statusCode"] == 200]
    assert [k for k in registry_items(lake) if "#" not in k] == [f"ws1/{winner}"]
    assert [ds for ds, _ in landed(lake)] == [winner]


# --- ids -----------------------------------------------------------------------------------------------


def test_every_data_source_gets_a_stored_id_that_the_api_shows_and_name_takes(lake: Lake) -> None:
    assert lake.post(ROW, "name=orders")["statusCode"] == 202
    stored = lake.datasource("orders")
    assert stored is not None and ID_RE.fullmatch(stored["id"])
    ds_id = stored["id"]

    listed = body_of(lake.post(b"", "", path="/v0/datasources", method="GET"))["datasources"]
    shown = body_of(lake.post(b"", "", path=f"/v0/datasources/{ds_id}", method="GET"))
    by_id = lake.post(b'{"ref": "b", "n": 2}', f"name={ds_id}&wait=true")

    assert [(d["name"], d["id"]) for d in listed] == [("orders", ds_id)]
    assert (shown["name"], shown["id"]) == ("orders", ds_id)
    assert by_id["statusCode"] == 200, body_of(by_id)
    assert sorted(landed(lake)) == [("orders", ROW), ("orders", b'{"ref": "b", "n": 2}')]
    assert [k for k in registry_items(lake) if "#" not in k] == ["ws1/orders"]
    assert f"ws1/#id:{ds_id}" in registry_items(lake)
    assert any(c.startswith("ds#ws1#orders#") for c in counters(lake))  # counted as the data source


def test_an_id_no_data_source_has_creates_nothing(lake: Lake) -> None:
    resp = lake.post(ROW, "name=t_" + "0" * 32)

    assert resp["statusCode"] == 400
    assert "is shaped like a Data Source id" in body_of(resp)["error"]
    assert registry_items(lake) == [] and lake.raw_objects() == []


def test_ids_are_per_data_source_not_per_name(lake: Lake) -> None:
    lake.add_token("ws2-admin", ["ADMIN"], workspace_id="ws2")
    lake.post(ROW, "name=orders")
    lake.post(ROW, "name=orders", token="ws2-admin")

    one, two = lake.datasource("orders"), lake.datasource("orders", "ws2")

    assert one is not None and two is not None and one["id"] != two["id"]
    assert lake.post(ROW, f"name={two['id']}")["statusCode"] == 400  # another workspace's id is unknown here
