"""Both front doors serve every route: the real handler behind the HTTP API (route keys, path parameters,
CORS answered by the function) and behind a Function URL (`$default`, no path parameters, CORS left to
the URL's configuration), on moto, with what lands checked."""

from __future__ import annotations

from typing import Any

import orjson
import pytest

from lakegate_local.apigw import api_event
from lakegate_local.template import Route, load_stack
from tests.integration.conftest import ADMIN, ROOT, Lake, body_of
from tests.integration.test_vayu_api import batch, ev

ROUTES = [r for r in load_stack(ROOT / "template.yaml").function.routes if r.method != "OPTIONS"]
ORIGIN = "https://app.example"

# What each route is sent: a target (query included), a body, and the status it answers when served.
REQUESTS: dict[str, tuple[str, bytes, int]] = {
    "POST /v0/events": ("/v0/events?name=front_door&wait=true", b'{"city": "Chicago"}\n', 200),
    "POST /events": ("/events", batch(ev("door-1")), 200),
    "PUT /events": ("/events", batch(ev("door-2")), 200),
    "POST /events/dry-run": ("/events/dry-run", batch(ev("door-3")), 200),
    "GET /events/{ref}": ("/events/door%2F4", b"", 404),  # served: Vayu's "not found" for an unknown ref
    "POST /login": ("/login", orjson.dumps({"refreshToken": ADMIN}), 200),
    "POST /v0/datasources": ("/v0/datasources?name=defined&schema=a%20String%20%60json%3A%24.a%60", b"", 200),
    "POST /v0/datasources/{name}/alter": (  # runs after the create above: routes are sent in key order
        "/v0/datasources/defined/alter",
        orjson.dumps({"schema": "a String `json:$.a`, b Nullable(String) `json:$.b`"}),
        200,
    ),
    "GET /v0/datasources": ("/v0/datasources", b"", 200),
    "GET /v0/datasources/{name}": ("/v0/datasources/front_door", b"", 200),
    "POST /v0/analyze": ("/v0/analyze", b'{"a": 1}\n', 200),
}


def _event(door: str, route: Route, target: str, body: bytes) -> dict[str, Any]:
    headers = {"authorization": f"Bearer {ADMIN}", "content-type": "application/json", "origin": ORIGIN}
    if door == "FunctionUrl":  # a URL has no routes: every request is `$default`, no path parameters
        return api_event(route.method, target, headers, body, route_key="$default")
    raw = target.split("?", maxsplit=1)[0].split("/")
    params = {
        name[1:-1]: raw[i].replace("%2F", "/")
        for i, name in enumerate(route.path.split("/"))
        if name.startswith("{")
    }
    return api_event(route.method, target, headers, body, route_key=route.key, path_parameters=params)


def test_every_route_has_a_request_here() -> None:
    assert sorted(REQUESTS) == sorted(r.key for r in ROUTES)


@pytest.mark.parametrize("door", ["HttpApi", "FunctionUrl"])
def test_both_front_doors_serve_every_route(lake: Lake, monkeypatch: pytest.MonkeyPatch, door: str) -> None:
    monkeypatch.setenv("FRONT_DOOR", door)  # as template.yaml sets it from FrontDoor
    lake.post(b'{"city": "Paris"}\n', query="name=front_door&wait=true")

    for route in sorted(ROUTES, key=lambda r: r.key):
        target, body, status = REQUESTS[route.key]
        resp = lake.invoke(_event(door, route, target, body))

        assert resp["statusCode"] == status, (route.key, resp)
        assert "No route" not in str(body_of(resp))
        cors = {k.lower(): v for k, v in resp["headers"].items() if k.lower().startswith("access-control-")}
        if door == "HttpApi":  # the function answers CORS behind the HTTP API ...
            assert cors["access-control-allow-origin"] == "*", route.key
        else:  # ... and leaves it to the URL's configuration behind a Function URL
            assert cors == {}, route.key

    # And what was sent through this door reached Firehose: both rows, and the two Vayu events sent
    raw = b"".join(lake.raw_objects())
    for sent in (b'{"city": "Chicago"}', b'{"city": "Paris"}', b"door-1", b"door-2"):
        assert raw.count(sent) == 1, sent
    assert b"door-3" not in raw  # the dry run sends nothing
