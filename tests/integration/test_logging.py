"""Structured logs and metrics: what a request logs, that every failure is logged whatever the sample,
that metrics are summed over invocations, and that no token ever reaches a log line."""

from __future__ import annotations

import io
from collections.abc import Iterator

import orjson
import pytest

import app
from lakegate.ingest.events import Ingestor
from tests.integration.conftest import ADMIN, Lake

ROW = b'{"city": "Chicago"}'


@pytest.fixture
def logs(monkeypatch: pytest.MonkeyPatch) -> Iterator[io.StringIO]:
    """What powertools' log handler writes (it holds the stdout of import time, so capsys misses it).
    Every successful request is in the sample and metrics print on every invocation unless a test
    says otherwise (the app is built on the first request, after this)."""
    buffer = io.StringIO()
    monkeypatch.setattr(app.logger.registered_handler, "stream", buffer)
    monkeypatch.setenv("LOG_SAMPLE_RATE", "1")
    monkeypatch.setenv("METRICS_FLUSH_SECONDS", "0")
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


def _emf(out: str) -> list[dict[str, object]]:
    return [entry for entry in _lines(out) if "_aws" in entry]


def test_out_of_the_sample_a_success_logs_nothing_and_every_failure_logs_its_request_id(
    lake: Lake, logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given no successful request is sampled, and a mix of good and failing requests
    monkeypatch.setenv("LOG_SAMPLE_RATE", "0")
    lake.post(ROW)  # creates the data source: that one is always logged
    logs.truncate(0)
    logs.seek(0)
    sent = [b"" if i % 3 == 0 else ROW for i in range(12)]  # an empty body is a 400

    statuses = {f"req-{lake.invocations}": lake.post(body)["statusCode"] for body in sent}

    entries = _lines(logs.getvalue())
    failed = {rid for rid, status in statuses.items() if status >= 400}
    # Then each failure has its line, naming its request id, and nothing else was logged
    assert len(failed) == 4
    assert {e["function_request_id"] for e in entries} == failed
    assert all(e["message"] == "rejected" and e["status"] == 400 for e in entries)


def test_an_unexpected_error_logs_its_traceback_and_request_id_out_of_the_sample(
    lake: Lake, logs: io.StringIO, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("LOG_SAMPLE_RATE", "0")
    lake.post(ROW)

    def broken(*_: object, **__: object) -> None:
        raise RuntimeError("disk on fire")

    monkeypatch.setattr(Ingestor, "ingest", broken)
    resp = lake.post(ROW)

    assert resp["statusCode"] == 500
    (line,) = [e for e in _lines(logs.getvalue()) if e.get("message") == "unexpected error"]
    assert line["function_request_id"] == f"req-{lake.invocations - 1}"
    assert "disk on fire" in str(line["exception"])


def test_metrics_are_summed_over_invocations_and_flushed_once_an_interval(
    lake: Lake, logs: io.StringIO, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given metrics flushed at most once a minute, on a clock the test moves
    monkeypatch.setenv("METRICS_FLUSH_SECONDS", "60")
    now = [1000.0]
    monkeypatch.setattr("app.time.monotonic", lambda: now[0])
    for _ in range(3):
        lake.post(ROW + b"\n" + ROW)
    lake.post(b"")  # a 400
    assert _emf(capsys.readouterr().out) == []

    # When a request comes a minute later
    now[0] += 61
    lake.post(ROW)

    # Then one document carries the sums of all five invocations
    (doc,) = _emf(capsys.readouterr().out)
    assert doc["Requests"] == [5.0]
    assert doc["SuccessfulRows"] == [7.0]
    assert doc["Status4xx"] == [1.0]
    assert doc["BytesReceived"] == [3 * (2 * len(ROW) + 1) + len(ROW)]
