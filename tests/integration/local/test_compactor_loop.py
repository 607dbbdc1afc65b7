"""The local server's compactor loop on moto: new raw objects compacted once, the lake mirrored to disk."""

from __future__ import annotations

import io
import threading
from pathlib import Path
from typing import Any

import pyarrow.parquet as pq
import pytest

from lakegate_local import compactor_loop
from lakegate_local.compactor_loop import BUFFER_PREFIX, MAX_ATTEMPTS, CompactorLoop
from lakegate_local.mirror import S3Objects
from lakegate_local.runtime import fake_context
from lakegate_local.template import load_function
from tests.integration.compactor_env import prepare_compactor
from tests.integration.conftest import ROOT, Lake

CHICAGO = b'{"date": "2020-04-05 00:05:38", "city": "Chicago"}'


class Handler:
    """The real compactor handler, invoked as the local server's LocalFunction would; records events."""

    def __init__(self) -> None:
        self.events: list[dict[str, Any]] = []

    def invoke(self, event: dict[str, Any]) -> Any:
        import compactor_app

        self.events.append(event)
        return compactor_app.lambda_handler(event, fake_context("CompactorFunction"))


class Failing:
    def __init__(self) -> None:
        self.calls = 0
        self.keys: list[str] = []

    def invoke(self, event: dict[str, Any]) -> Any:
        self.calls += 1
        self.keys.append(event["detail"]["object"]["key"])
        raise RuntimeError("boom")


def _keys(lake: Lake, prefix: str) -> list[str]:
    listed = lake.s3.list_objects_v2(Bucket=lake.bucket, Prefix=prefix)
    return [o["Key"] for o in listed.get("Contents", [])]


def _cities(root: Path) -> list[str]:
    return sorted(c for p in root.rglob("*.parquet") for c in pq.read_table(p).column("city").to_pylist())


@pytest.fixture
def handler(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> Handler:
    prepare_compactor(lake, monkeypatch)
    return Handler()


def test_new_raw_objects_are_compacted_once_and_mirrored(
    lake: Lake, handler: Handler, tmp_path: Path
) -> None:
    loop = CompactorLoop(handler, lake.s3, lake.bucket, tmp_path, io.StringIO())
    lake.post(CHICAGO)

    assert loop.run_once() == 1
    assert loop.run_once() == 0  # nothing new: the object is not compacted again

    (event,) = handler.events
    assert event["detail-type"] == "Object Created" and event["detail"]["object"]["key"].startswith("raw/")
    (path,) = (tmp_path / "datasources" / "ws1" / "events_test").rglob("*.parquet")
    assert pq.read_table(path).column("city").to_pylist() == ["Chicago"]
    assert not list(tmp_path.rglob("*.partial"))

    lake.post(CHICAGO)
    assert loop.run_once() == 1
    assert len(list((tmp_path / "datasources").rglob("*.parquet"))) == 2


def test_partitions_the_bucket_loses_leave_the_mirror_too(
    lake: Lake, handler: Handler, tmp_path: Path
) -> None:
    loop = CompactorLoop(handler, lake.s3, lake.bucket, tmp_path, io.StringIO())
    lake.post(CHICAGO)
    loop.run_once()
    (path,) = (tmp_path / "datasources").rglob("*.parquet")
    key = path.relative_to(tmp_path).as_posix()

    lake.s3.delete_object(Bucket=lake.bucket, Key=key)  # as the compactor's TTL expiry deletes partitions
    loop.run_once()

    assert not path.exists()
    assert not path.parent.exists()  # the partition's folder went with its last file


def test_unreadable_objects_are_mirrored_under_errors(lake: Lake, handler: Handler, tmp_path: Path) -> None:
    lake.s3.put_object(Bucket=lake.bucket, Key="raw/x/bad", Body=b"garbage")

    CompactorLoop(handler, lake.s3, lake.bucket, tmp_path, io.StringIO()).run_once()

    assert (tmp_path / "errors" / "raw" / "x" / "bad").read_bytes() == b"garbage"


def test_a_failing_object_is_retried_then_given_up_and_logged(lake: Lake, tmp_path: Path) -> None:
    failing, log = Failing(), io.StringIO()
    loop = CompactorLoop(failing, lake.s3, lake.bucket, None, log)
    lake.post(CHICAGO)

    for _ in range(MAX_ATTEMPTS + 2):
        assert loop.run_once() == 0

    assert failing.calls == MAX_ATTEMPTS
    assert f"(try {MAX_ATTEMPTS}/{MAX_ATTEMPTS})" in log.getvalue() and "RuntimeError: boom" in log.getvalue()


def test_run_stops_when_told(lake: Lake, handler: Handler, tmp_path: Path) -> None:
    stop = threading.Event()
    loop = CompactorLoop(handler, lake.s3, lake.bucket, tmp_path, io.StringIO())
    lake.post(CHICAGO)
    thread = threading.Thread(target=loop.run, args=(stop, 0.01))
    thread.start()
    try:
        for _ in range(500):
            if list(tmp_path.rglob("*.parquet")):
                break
            threading.Event().wait(0.01)
    finally:
        stop.set()
        thread.join(timeout=10)
    assert not thread.is_alive()
    assert list(tmp_path.rglob("*.parquet"))


def test_the_compactor_function_comes_from_the_template() -> None:
    function = load_function(ROOT / "template.yaml", "CompactorFunction")
    assert function.handler == "compactor_app.lambda_handler"
    assert function.routes == ()
    assert function.environment["LAKE_BUCKET"] == "lakegate-local-lakebucket"
    assert function.environment["DATASOURCES_TABLE"] == "lakegate-local-DataSourcesTable"


def test_a_round_s_raw_objects_are_compacted_as_one_object(
    lake: Lake, handler: Handler, tmp_path: Path
) -> None:
    loop = CompactorLoop(handler, lake.s3, lake.bucket, tmp_path, io.StringIO())
    for city in ("Chicago", "Madrid", "Lima"):
        lake.post(b'{"date": "2020-04-05 00:05:38", "city": "%s"}' % city.encode())

    assert loop.run_once() == 3
    assert loop.run_once() == 0

    (event,) = handler.events  # one invocation, as for one object Firehose buffered
    assert event["detail"]["object"]["key"].startswith(BUFFER_PREFIX)
    assert _cities(tmp_path / "datasources" / "ws1" / "events_test") == ["Chicago", "Lima", "Madrid"]
    assert len(list((tmp_path / "datasources").rglob("*.parquet"))) == 1
    assert _keys(lake, BUFFER_PREFIX) == []  # gone once landed
    assert len(_keys(lake, "raw/")) == 3  # what moto's Firehose wrote stays as it was


def test_an_unreadable_object_in_a_round_lands_the_others(
    lake: Lake, handler: Handler, tmp_path: Path
) -> None:
    loop = CompactorLoop(handler, lake.s3, lake.bucket, tmp_path, io.StringIO())
    lake.post(CHICAGO)
    lake.s3.put_object(Bucket=lake.bucket, Key="raw/x/bad", Body=b"garbage")
    lake.post(b'{"date": "2020-04-05 00:05:38", "city": "Madrid"}')

    assert loop.run_once() == 3

    assert _cities(tmp_path / "datasources" / "ws1" / "events_test") == ["Chicago", "Madrid"]
    assert (tmp_path / "errors" / "raw" / "x" / "bad").read_bytes() == b"garbage"
    assert [p.name for p in (tmp_path / "errors").rglob("*") if p.is_file()] == ["bad"]
    assert _keys(lake, BUFFER_PREFIX) == [] and _keys(lake, "errors/" + BUFFER_PREFIX) == []
    assert loop.run_once() == 0


def test_a_failing_round_is_retried_whole_then_given_up(lake: Lake, tmp_path: Path) -> None:
    failing, log = Failing(), io.StringIO()
    loop = CompactorLoop(failing, lake.s3, lake.bucket, None, log)
    lake.post(CHICAGO)
    lake.post(CHICAGO)

    for _ in range(MAX_ATTEMPTS + 2):
        assert loop.run_once() == 0

    assert failing.calls == MAX_ATTEMPTS
    assert len(set(failing.keys)) == 1  # the same object each time: its ref claims are its own
    assert f"(2 raw objects) (try {MAX_ATTEMPTS}/{MAX_ATTEMPTS})" in log.getvalue()
    assert _keys(lake, BUFFER_PREFIX) == []
    assert len(_keys(lake, "raw/")) == 2  # kept for a replay


def test_objects_are_found_and_read_where_the_loop_is_told(
    lake: Lake, handler: Handler, tmp_path: Path
) -> None:
    class Recording(S3Objects):
        def __init__(self) -> None:
            super().__init__(lake.s3, lake.bucket)
            self.calls: list[str] = []

        def etags(self, prefix: str) -> dict[str, str]:
            self.calls.append(f"list {prefix}")
            return super().etags(prefix)

        def read(self, key: str) -> bytes:
            self.calls.append(f"read {key}")
            return super().read(key)

    objects = Recording()
    loop = CompactorLoop(handler, lake.s3, lake.bucket, tmp_path, io.StringIO(), objects=objects)
    lake.post(CHICAGO)
    lake.post(CHICAGO)

    assert loop.run_once() == 2
    assert objects.calls[:3] == ["list raw/", *(f"read {k}" for k in sorted(_keys(lake, "raw/")))]
    (parquet,) = _keys(lake, "datasources/")
    assert objects.calls[3:] == ["list datasources/", f"read {parquet}", "list errors/"]  # the mirror
    assert _cities(tmp_path / "datasources") == ["Chicago", "Chicago"]


def test_a_backlog_is_compacted_in_objects_no_bigger_than_firehose_s(
    lake: Lake, handler: Handler, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    loop = CompactorLoop(handler, lake.s3, lake.bucket, tmp_path, io.StringIO())
    for _ in range(5):
        lake.post(CHICAGO)
    size = max(o["Size"] for o in lake.s3.list_objects_v2(Bucket=lake.bucket, Prefix="raw/")["Contents"])
    monkeypatch.setattr(compactor_loop, "BUFFER_BYTES", 2 * size)

    assert loop.run_once() == 5

    assert len(handler.events) == 3  # 2 + 2 + 1
    assert _cities(tmp_path / "datasources") == ["Chicago"] * 5


def test_the_loop_runs_the_ttl_schedule_on_its_first_round_then_once_a_period(
    lake: Lake, handler: Handler, tmp_path: Path
) -> None:
    from lakegate.aws.registry import DynamoRegistry
    from lakegate.schema import Column, DataSource

    # A data source whose rows are all past a one-day TTL on their own column, landed while no TTL ran.
    ds = DataSource("old", (Column("ts", "DateTime", "$.ts"),), ttl="ts + toIntervalDay(1)")
    DynamoRegistry(lake.env["DATASOURCES_TABLE"], lake.ddb).create("ws1", ds)
    now = [0.0]
    loop = CompactorLoop(
        handler, lake.s3, lake.bucket, tmp_path, io.StringIO(), expire_every=43200, clock=lambda: now[0]
    )
    lake.post(b'{"ts": "2020-04-05 00:05:38"}', "name=old")
    landing = CompactorLoop(handler, lake.s3, lake.bucket, None, io.StringIO())
    assert landing.run_once() == 1 and list(_keys(lake, "datasources/"))

    loop.run_once()  # the first round: the schedule's run, and the mirror follows the bucket

    assert [e["detail-type"] for e in handler.events] == [
        "Object Created",
        "Object Created",
        "Scheduled Event",
    ]
    assert _keys(lake, "datasources/") == [] and not list(tmp_path.rglob("*.parquet"))
    loop.run_once()
    now[0] = 43199.0
    loop.run_once()
    assert [e["detail-type"] for e in handler.events].count("Scheduled Event") == 1
    now[0] = 43200.0
    loop.run_once()
    assert [e["detail-type"] for e in handler.events].count("Scheduled Event") == 2


def test_the_local_ttl_period_is_the_template_s_schedule() -> None:
    from lakegate_local.__main__ import _expiry_period
    from lakegate_local.compactor_loop import rate_seconds

    assert _expiry_period(ROOT / "template.yaml") == 43200
    assert [rate_seconds(e) for e in ("rate(1 day)", "rate(5 minutes)", "rate(2 hours)")] == [
        86400,
        300,
        7200,
    ]
    with pytest.raises(ValueError, match="not a rate"):
        rate_seconds("cron(0 12 * * ? *)")
