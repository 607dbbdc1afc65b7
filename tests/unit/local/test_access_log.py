"""The HTTP API's access log: a JSON line per request that never holds a token and stays small (it is
billed on every request: README's cost table counts its size)."""

from __future__ import annotations

from pathlib import Path

import orjson

from lakegate_local import access_log

ROOT = Path(__file__).resolve().parents[3]
FORMAT = access_log.log_format(ROOT / "template.yaml")


def test_a_line_is_one_json_object_with_what_operations_need() -> None:
    line = orjson.loads(access_log.render(FORMAT))
    assert line == {
        "id": "JcVBdgZ9iAMEMbA=",
        "ip": "203.0.113.195",
        "route": "POST /v0/events",
        "status": "202",
        "ms": "14",
        "error": "-",
    }


def test_no_variable_can_carry_the_query_string_or_a_header() -> None:
    # ?token= and Authorization: the route key has neither; $context.path, $request.* would
    assert set(access_log.variables(FORMAT)) <= {
        "requestId",
        "identity.sourceIp",
        "routeKey",
        "status",
        "integrationLatency",
        "integrationErrorMessage",
        "responseLength",
        "requestTime",
        "protocol",
    }
    assert "$request." not in FORMAT and "$context.path" not in FORMAT


def test_a_line_is_at_most_the_size_the_cost_table_counts() -> None:
    assert len(access_log.render(FORMAT).encode()) <= 110  # README: ~110 B a request
