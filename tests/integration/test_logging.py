"""Structured logs and metrics: what a request logs, and that no token ever reaches a log line."""

from __future__ import annotations

import io
from collections.abc import Iterator

import orjson
import pytest

import app
from tests.integration.conftest import ADMIN, Lake

ROW = b'{"city": "Chicago"}'


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """What powertools' log handler writes (it holds the stdout of import time, so capsys misses it)."""
    buffer = io.StringIO()
    monkeypatch.setattr(app.logger.registered_handler, "stream", buffer)
    yield buffer


def _lines(out: str) -> list[dict[str, object]]:
    return [orjson.loads(line) for line in out.splitlines() if line.startswith("{")]


def test_a_request_logs_its_data_source_rows_and_bytes(
    lake: Lake, logs: io.StringIO, capsys: pytest.CaptureFixture[str]
) -> None:
    lake.post(ROW + b"\nbad\n")

    entries = _lines(logs.getvalue())
    (line,) = [entry for entry in entries if entry.get("message") == "ingested"]
    assert line["datasource"] == "events_test"
    assert line["rows"] == 1
    assert line["quarantined_rows"] == 1
    assert line["bytes"] == len(ROW) + 5
    assert line["function_request_id"] == "req-0"
    metrics = [entry for entry in _lines(capsys.readouterr().out) if "_aws" in entry]
    assert metrics and metrics[-1]["SuccessfulRows"] == [1.0]


@pytest.mark.parametrize("where", ["header", "query"])
def test_tokens_never_reach_the_logs(
    lake: Lake, logs: io.StringIO, capsys: pytest.CaptureFixture[str], where: str
) -> None:
    lake.add_token("secret-append-token", ["DATASOURCE:APPEND"])

    for token in (ADMIN, "secret-append-token", "secret-wrong-token"):
        if where == "header":
            lake.post(ROW, token=token)
            lake.post(ROW, token=token, query="name=other_source")
        else:
            lake.post(ROW, token=None, query=f"name=events_test&token={token}")
            lake.post(ROW, token=None, query=f"name=other_source&token={token}")

    out = capsys.readouterr()
    text = logs.getvalue() + out.out + out.err
    assert "ingested" in text and "rejected" in text
    for token in (ADMIN, "secret-append-token", "secret-wrong-token"):
        assert token not in text
