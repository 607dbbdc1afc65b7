"""The Lambda side: environment, context, lazy import and one invocation at a time."""

import threading
import time
from typing import Any

import pytest

from lakegate_local.runtime import LocalFunction, lambda_environment
from lakegate_local.template import Function, Route

FUNCTION = Function(
    logical_id="IngestFunction",
    name="lakegate-local-IngestFunction",
    handler="app.lambda_handler",
    timeout_seconds=10,
    memory_mb=512,
    environment={"TOKENS_TABLE": "t", "CLUSTER_ID": "local"},
    routes=(Route("POST", "/v0/events"),),
)


class _Module:
    def __init__(self, handler: Any) -> None:
        self.lambda_handler = handler


def test_environment_points_clients_at_the_endpoint() -> None:
    env = lambda_environment(FUNCTION, "http://127.0.0.1:4566")
    assert env["TOKENS_TABLE"] == "t"
    assert env["AWS_ENDPOINT_URL"] == "http://127.0.0.1:4566"
    assert env["AWS_DEFAULT_REGION"] == env["AWS_REGION"] == "us-east-1"
    assert env["AWS_ACCESS_KEY_ID"] == "testing"
    assert env["AWS_LAMBDA_FUNCTION_MEMORY_SIZE"] == "512"


def test_handler_imported_on_first_call_with_a_context() -> None:
    imported: list[str] = []
    seen: list[Any] = []

    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append(context)
        return {"statusCode": 200, "echo": event}

    def importer(name: str) -> _Module:
        imported.append(name)
        return _Module(handler)

    now = [1000.0]
    function = LocalFunction(FUNCTION, clock=lambda: now[0], importer=importer)
    assert imported == []
    assert function.invoke({"a": 1}) == {"statusCode": 200, "echo": {"a": 1}}
    function.invoke({})
    assert imported == ["app"]
    first, second = seen
    assert first.aws_request_id != second.aws_request_id
    assert first.function_name == "lakegate-local-IngestFunction"
    assert first.invoked_function_arn.endswith(":function:lakegate-local-IngestFunction")
    assert first.memory_limit_in_mb == 512
    assert first.log_group_name == "/aws/lambda/lakegate-local-IngestFunction"
    assert first.get_remaining_time_in_millis() == 10_000
    now[0] += 4
    assert first.get_remaining_time_in_millis() == 6_000
    now[0] += 60
    assert first.get_remaining_time_in_millis() == 0


def test_result_must_survive_json() -> None:
    function = LocalFunction(FUNCTION, importer=lambda _: _Module(lambda e, c: {"body": b"bytes"}))
    with pytest.raises(TypeError):
        function.invoke({})


def test_invocations_never_overlap() -> None:
    active = 0
    peak = 0
    guard = threading.Lock()

    def handler(event: dict[str, Any], context: Any) -> None:
        nonlocal active, peak
        with guard:
            active += 1
            peak = max(peak, active)
        time.sleep(0.02)
        with guard:
            active -= 1

    function = LocalFunction(FUNCTION, importer=lambda _: _Module(handler))
    threads = [threading.Thread(target=function.invoke, args=({},)) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert peak == 1
