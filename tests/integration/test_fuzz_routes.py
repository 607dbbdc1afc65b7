"""Every route the template declares, fuzzed through the real handler on moto: no 500, and every error the
function answers is `{"error", "documentation"}` linking to lakegate's README.

Generated with hypothesis, derandomized (a fixed seed per test, the same cases every run): methods and
paths (the declared ones, and undeclared ones the function must still answer cleanly if invoked), query
strings, headers (content types, encodings, tokens of every kind), and bodies (NDJSON of generated JSON
values, Vayu batches, data source parameters, garbage, gzip and zstd of them, JSON nested 0 to 10,000
levels). A 500 is only acceptable for a real bug, which KNOWN_BUGS then names; today it names none (the
one it found, a 500 on every request to a data source with a backslash, a quote or a control character in a nested
key, is fixed in lakegate.ingest.blocks). Every refusal is also checked to have sent nothing to Firehose.

Cases per run: 200 + 200 + 200 + 30 generated, and 2 x 20 depths x 12 requests = 480 nested ones.
"""

from __future__ import annotations

import gzip
import time
import traceback
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote, urlencode

import orjson
import pytest
import zstandard
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

import app
from lakegate.aws import clients
from lakegate.ingest.auth import issue_access_token
from lakegate_local.apigw import api_event
from lakegate_local.template import Route, load_stack
from tests.integration.conftest import ADMIN, ROOT, Lake

ROUTES = load_stack(ROOT / "template.yaml").function.routes
# Methods API Gateway would never bring to the function for these paths; invoked anyway, the function
# must answer its own 404, not crash.
UNDECLARED = [Route("GET", "/v0/events"), Route("DELETE", "/events"), Route("PATCH", "/v0/datasources"), Route("POST", "/nowhere")]  # fmt: skip
# A real bug that still answers 500 is named here, with the issue that tracks it: (route key, reason).
KNOWN_BUGS: dict[str, str] = {}
APPEND = "fuzz-append-token"
CREATE = "fuzz-create-token"


@dataclass
class Tally:
    """What the fuzzing sent and got, for the report at the end of each test."""

    cases: int = 0
    statuses: dict[int, int] = field(default_factory=dict)
    failures: list[str] = field(default_factory=list)
    errors: dict[str, int] = field(default_factory=dict)


@pytest.fixture
def fuzz_lake(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> Iterator[Lake]:
    """The deployment with tokens of each scope and a few data sources, and every 500's traceback kept."""
    lake.add_token(APPEND, ["DATASOURCE:APPEND"])
    lake.add_token(CREATE, ["DATASOURCE:CREATE"])
    assert lake.post(b'{"ref": "a", "n": 1, "ts": "2024-01-01 00:00:00"}', "name=orders")["statusCode"] == 202
    events = orjson.dumps({"events": [{"name": "n", "timestamp": "2024-01-01T00:00:00Z", "customerAlias": "c", "ref": "r"}]})  # fmt: skip
    assert (
        lake.post(events, "", path="/events", headers={"content-type": "application/json"})["statusCode"]
        == 200
    )
    real = app.logger.exception
    traces: list[str] = []

    def keep(msg: object, *args: Any, **kwargs: Any) -> None:
        traces.append(traceback.format_exc())
        real(msg, *args, **kwargs)

    monkeypatch.setattr(app.logger, "exception", keep)
    lake.traces = traces  # type: ignore[attr-defined]
    # Every PutRecordBatch the function makes, counted as it is made (cheaper than listing raw/ each time).
    sends: list[int] = []
    clients.firehose().meta.events.register(
        "before-call.firehose.PutRecordBatch", lambda **_: sends.append(1), unique_id="fuzz-sends"
    )
    lake.sends = sends  # type: ignore[attr-defined]
    yield lake


# --- what a request is made of --------------------------------------------------------------------------

TEXT = st.text(st.characters(codec="utf-8"), max_size=40)
VALID_NAMES = st.sampled_from(["orders", "events", "new_one", "fresh_a", "fresh_b", "fresh_c"])
ODD_NAMES = st.sampled_from(["Orders", "orders_quarantine", "t_" + "0" * 32, "", "a" * 256, "bad-name", "évents", "x y", "%00"])  # fmt: skip
NAMES = st.one_of(VALID_NAMES, ODD_NAMES, TEXT)
JSON_SCALARS = (
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**63), max_value=2**64 - 1)
    | st.floats(allow_nan=False, allow_infinity=False)
    | TEXT
)
JSON = st.recursive(
    JSON_SCALARS,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=16,
)
ROW = st.dictionaries(
    st.sampled_from(["ref", "n", "ts", "city", "a", "b", "[:]", "$.x", ""]) | TEXT, JSON, max_size=6
)
DEPTHS = [
    0,
    1,
    31,
    32,
    33,
    100,
    252,
    253,
    254,
    255,
    256,
    300,
    512,
    1000,
    1022,
    1023,
    1024,
    1025,
    2000,
    10_000,
]


def nested(depth: int, kind: str) -> bytes:
    """A JSON value `depth` containers deep, written as text (orjson cannot write past 254 levels)."""
    if kind == "array":
        return b"[" * depth + b"1" + b"]" * depth
    return b'{"d":' * depth + b"1" + b"}" * depth


def ndjson(rows: list[Any], garbage: list[bytes]) -> bytes:
    lines = [orjson.dumps(r) for r in rows] + garbage
    return b"\n".join(lines)


def vayu_batch(events: list[Any]) -> bytes:
    return orjson.dumps({"events": events})


EVENT = st.fixed_dictionaries(
    {},
    optional={
        "name": st.sampled_from(["api_call", "", "x" * 300]) | TEXT | JSON_SCALARS,
        "timestamp": st.sampled_from(
            ["2023-09-13T18:25:43.511Z", "2023-09-13T18:25:43+00:00", "2021-02-30T00:00:00Z", "bad"]
        )
        | JSON_SCALARS,
        "customerAlias": st.sampled_from(["c1", ""]) | JSON_SCALARS,
        "ref": st.sampled_from(["r", "ref:X", "\x01" * 500, "é" * 300]) | TEXT | JSON_SCALARS,
        "data": JSON,
    },
)
GARBAGE = st.lists(st.binary(max_size=30) | st.sampled_from([b"", b"   ", b"\r", b"not json", b"[1,2]", b"null"]), max_size=3)  # fmt: skip
BODIES = st.one_of(
    st.builds(ndjson, st.lists(ROW, max_size=5), GARBAGE),
    st.builds(ndjson, st.lists(ROW, min_size=1, max_size=5), st.just([])),
    st.builds(vayu_batch, st.lists(EVENT | JSON, max_size=4)),
    st.builds(
        orjson.dumps,
        st.dictionaries(
            st.sampled_from(
                [
                    "name",
                    "schema",
                    "engine_sorting_key",
                    "engine_ttl",
                    "engine_partition_key",
                    "dedup_key",
                    "dedup_window_seconds",
                    "mode",
                    "refreshToken",
                ]
            ),
            TEXT | JSON,
            max_size=5,
        ),
    ),
    st.builds(
        lambda p: urlencode(p).encode(),
        st.dictionaries(st.sampled_from(["name", "schema", "engine_sorting_key", "mode"]), TEXT, max_size=3),
    ),
    st.builds(nested, st.sampled_from(DEPTHS), st.sampled_from(["array", "object"])),
    st.binary(max_size=200),
    st.just(b""),
)
VAYU_BODIES = st.builds(vayu_batch, st.lists(EVENT, min_size=1, max_size=4))
PARAMS = st.fixed_dictionaries(
    {
        "name": NAMES,
        "schema": st.sampled_from(
            ["a String", "`a` Int64 `json:$.a`, `b` Array(String) `json:$.b[:]`", "x Nope", ""]
        )
        | TEXT,
    },
    optional={
        "engine_sorting_key": st.sampled_from(["a", "zz"]) | TEXT,
        "engine_ttl": TEXT,
        "engine_partition_key": TEXT,
        "dedup_key": st.sampled_from(["$.a", "$.b[:]", "x"]),
        "mode": st.sampled_from(["create", "append"]),
    },
)
# The body each route expects, generated most of the time (else any body at all).
FAMILIES: dict[str, st.SearchStrategy[bytes]] = {
    "/v0/events": st.builds(ndjson, st.lists(ROW, min_size=1, max_size=5), GARBAGE),
    "/v0/analyze": st.builds(ndjson, st.lists(ROW, min_size=1, max_size=5), GARBAGE),
    "/events": VAYU_BODIES,
    "/events/dry-run": VAYU_BODIES,
    "/events/{ref}": st.just(b""),
    "/login": st.builds(
        lambda t: orjson.dumps({"refreshToken": t}), st.sampled_from([ADMIN, APPEND, "nope", ""])
    ),
    "/v0/datasources": st.builds(lambda p: urlencode(p).encode(), PARAMS) | st.builds(orjson.dumps, PARAMS),
    "/v0/datasources/{name}": st.just(b""),
    "/v0/datasources/{name}/alter": st.builds(lambda p: urlencode(p).encode(), PARAMS)
    | st.builds(orjson.dumps, PARAMS),
    "/nowhere": BODIES,
}
# True nine times in ten: hypothesis draws booleans and small integers towards False and 0.
MOSTLY = st.sampled_from([True] * 9 + [False])
CONTENT_TYPES = st.sampled_from([None, "application/json", "text/plain", "application/x-ndjson", "application/octet-stream", "application/x-www-form-urlencoded", "multipart/form-data", "text/csv; charset=latin-1", "\x00"])  # fmt: skip
ENCODINGS = st.sampled_from([None, "gzip", "zstd", "identity", "br", "GZIP", "gzip, zstd", "x-gzip", ""])


def tokens(now: float) -> st.SearchStrategy[str | None]:
    """Every kind of token: the admin's, of each scope, none, unknown, access tokens live and expired."""
    return st.sampled_from(
        [
            ADMIN,
            APPEND,
            CREATE,
            None,
            "unknown",
            "",
            "x" * 5000,
            issue_access_token(ADMIN, now),
            issue_access_token(ADMIN, now - 7200),  # expired
            "eyJhbGciOiJub25lIn0.e30.",
            "a.b.c",
        ]
    )


@st.composite
def requests(draw: st.DrawFn, routes: list[Route]) -> dict[str, Any]:
    """One API Gateway event for one of `routes`, everything about it generated."""
    served = [r for r in routes if r.method != "OPTIONS"] or routes
    route = draw(st.sampled_from(served) if draw(MOSTLY) else st.sampled_from(routes))
    path_parameters: dict[str, str] = {}
    path = route.path
    for param in ("ref", "name"):
        if "{" + param + "}" in path:
            value = draw(NAMES | st.sampled_from(["r", "x" * 3000]))
            path_parameters[param] = value
            path = path.replace("{" + param + "}", quote(value, safe="") or "%20")
    query: dict[str, str] = draw(
        st.dictionaries(
            st.sampled_from(["wait", "mode", "format", "schema", "dry", "from"]), NAMES, max_size=3
        )
    )
    if draw(MOSTLY):
        query["name"] = draw(VALID_NAMES if draw(MOSTLY) else NAMES)  # mostly one that gets far
    if draw(st.booleans()):
        query["wait"] = draw(st.sampled_from(["true", "1", "TRUE", "false", "yes", ""]))
    token = ADMIN if draw(MOSTLY) else draw(tokens(time.time()))  # mostly one that gets far
    headers: dict[str, str] = {}
    if token is not None:
        if draw(MOSTLY):
            headers["authorization"] = (
                draw(st.sampled_from(["Bearer ", "bearer ", "Bearer ", "Basic ", "Bearer  "])) + token
            )
        else:
            query["token"] = token
    body = draw(FAMILIES[route.path] if draw(MOSTLY) else BODIES)
    encoding = draw(ENCODINGS) if draw(st.booleans()) else None
    if encoding in ("gzip", "zstd") and draw(st.booleans()):
        body = gzip.compress(body) if encoding == "gzip" else zstandard.ZstdCompressor().compress(body)
    if encoding is not None:
        headers["content-encoding"] = encoding
    if not draw(MOSTLY):
        headers["origin"] = draw(st.sampled_from(["https://app.example.com", "null", ""]))
        headers["x-forwarded-for"] = draw(st.sampled_from(["1.2.3.4", "", "::1, 10.0.0.1"]))
    content_type = draw(CONTENT_TYPES)
    if content_type is not None:
        headers["content-type"] = content_type
    target = path + ("?" + urlencode(query) if query else "")
    return api_event(
        route.method,
        target,
        headers,
        body,
        route_key=route.key,
        path_parameters=path_parameters or None,
        request_id=f"fuzz-{draw(st.integers(0, 10**9))}",
    )


# --- the checks -----------------------------------------------------------------------------------------


def check(lake: Lake, event: dict[str, Any], tally: Tally) -> None:
    sends = len(lake.sends)  # type: ignore[attr-defined]
    resp = lake.invoke(event)
    status = resp["statusCode"]
    tally.cases += 1
    tally.statuses[status] = tally.statuses.get(status, 0) + 1
    what = (
        f"{event['requestContext']['http']['method']} {event['rawPath'][:80]}?{event['rawQueryString'][:200]}"
    )
    if status == 500:
        trace = lake.traces[-1] if lake.traces else "(no traceback)"  # type: ignore[attr-defined]
        if event["routeKey"] not in KNOWN_BUGS:
            tally.failures.append(f"500 for {what}\n{trace}")
        return
    assert resp["headers"].get("Content-Type", "application/json") == "application/json", what
    if status >= 400:
        body = orjson.loads(resp["body"])
        assert {"error", "documentation"} <= set(body), (what, body)
        assert body["documentation"].startswith("README.md#"), (what, body)
        assert "message" not in body
        reason = body["error"][:60]
        tally.errors[reason] = tally.errors.get(reason, 0) + 1
        assert len(lake.sends) == sends, (what, body)  # type: ignore[attr-defined] # a refusal sends nothing


def report(tally: Tally) -> None:
    print(f"\nfuzz: {tally.cases} cases, statuses {dict(sorted(tally.statuses.items()))}")
    for reason, n in sorted(tally.errors.items(), key=lambda x: -x[1])[:12]:
        print(f"  {n:4d} {reason}")
    assert not tally.failures, f"{len(tally.failures)} answers were 500:\n\n" + "\n\n".join(
        tally.failures[:3]
    )


def run(lake: Lake, routes: list[Route], examples: int) -> None:
    tally = Tally()

    @settings(
        max_examples=examples,
        deadline=None,
        derandomize=True,
        database=None,
        suppress_health_check=list(HealthCheck),
    )
    @given(event=requests(routes))
    def fuzz(event: dict[str, Any]) -> None:
        check(lake, event, tally)

    fuzz()
    report(tally)


# --- the tests ------------------------------------------------------------------------------------------


def by_path(prefix: str) -> list[Route]:
    return [r for r in ROUTES if r.path.startswith(prefix)]


def test_the_template_declares_the_routes_fuzzed_here() -> None:
    assert {r.key for r in ROUTES} >= {"POST /v0/events", "POST /events", "PUT /events", "GET /events/{ref}", "POST /login", "POST /v0/datasources", "GET /v0/datasources/{name}", "POST /v0/datasources/{name}/alter", "POST /v0/analyze"}  # fmt: skip
    assert all(r.path != "$default" for r in ROUTES)


def test_fuzz_the_events_api(fuzz_lake: Lake) -> None:
    run(fuzz_lake, by_path("/v0/events"), 200)


def test_fuzz_vayus_routes(fuzz_lake: Lake) -> None:
    run(fuzz_lake, by_path("/events") + by_path("/login"), 200)


def test_fuzz_the_data_sources_api(fuzz_lake: Lake) -> None:
    run(fuzz_lake, by_path("/v0/datasources") + by_path("/v0/analyze"), 200)


def test_fuzz_routes_api_gateway_never_brings(fuzz_lake: Lake) -> None:
    run(fuzz_lake, UNDECLARED, 30)


@pytest.mark.parametrize("kind", ["array", "object"])
def test_json_nested_0_to_10000_levels_on_every_route_with_a_json_body(fuzz_lake: Lake, kind: str) -> None:
    """Each depth on each route, as a row's value, an event's data, a parameter and a whole body."""
    tally = Tally()
    for depth in DEPTHS:
        value = nested(depth, kind)
        row = b'{"ref": "deep", "v": ' + value + b"}"
        event = b'{"name": "n", "timestamp": "2024-01-01T00:00:00Z", "customerAlias": "c", "ref": "d%d", "data": ' % depth  # fmt: skip
        bodies = [
            ("POST", "/v0/events", "name=orders", row),
            ("POST", "/v0/events", "name=orders&wait=true", row),
            ("POST", "/v0/events", f"name=deep_{kind}_{depth}", row),
            ("POST", "/v0/events", "name=orders", value),
            ("POST", "/v0/analyze", "", row),
            ("POST", "/v0/analyze", "name=orders", row),
            ("POST", "/events", "", b'{"events": [' + event + value + b"}]}"),
            ("PUT", "/events", "", b'{"events": [' + event + value + b"}]}"),
            ("POST", "/events/dry-run", "", b'{"events": [' + event + value + b"}]}"),
            ("POST", "/events", "", value),
            ("POST", "/v0/datasources", "", b'{"name": "deep", "schema": "a String", "x": ' + value + b"}"),
            ("POST", "/login", "", b'{"refreshToken": ' + value + b"}"),
        ]
        for method, path, query, body in bodies:
            headers = {"content-type": "application/json", "authorization": f"Bearer {ADMIN}"}
            target = f"{path}?{query}" if query else path
            check(fuzz_lake, api_event(method, target, headers, body, request_id=f"deep-{depth}"), tally)
    report(tally)
    assert tally.cases == len(DEPTHS) * 12
