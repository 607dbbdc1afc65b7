"""Warm instances in processes of their own: concurrent invocations on different instances, one at a time
on each, and what Lambda does when one raises, outruns its timeout or dies."""

from __future__ import annotations

import os
import textwrap
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from lakegate_local import instances
from lakegate_local.instances import FunctionError, FunctionTimeoutError, InstanceLostError, InstancePool
from lakegate_local.runtime import BACKGROUND_APP_ID
from lakegate_local.template import Function

HANDLER = textwrap.dedent(
    """
    import os, pathlib, time

    def handler(event, context):
        do = event.get("do")
        if do == "raise":
            raise RuntimeError("boom")
        if do == "sleep":
            time.sleep(event["seconds"])
        if do == "exit":
            os._exit(3)
        if do == "meet":  # wait until n invocations are inside at once
            here = pathlib.Path(event["dir"])
            (here / str(os.getpid())).touch()
            deadline = time.monotonic() + 20
            while len(list(here.iterdir())) < event["n"] and time.monotonic() < deadline:
                time.sleep(0.01)
        if do == "alone":  # fails if another invocation of any instance is inside
            fd = os.open(pathlib.Path(event["dir"]) / "inside", os.O_CREAT | os.O_EXCL)
            time.sleep(0.02)
            os.close(fd)
            os.unlink(pathlib.Path(event["dir"]) / "inside")
        return {
            "pid": os.getpid(),
            "value": os.environ.get("INSTANCE_TEST_VALUE"),
            "nice": os.nice(0),
            "app_id": os.environ.get("AWS_SDK_UA_APP_ID"),
        }
    """
)


@pytest.fixture
def function(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Function:
    (tmp_path / "instance_test_handler.py").write_text(HANDLER)
    monkeypatch.syspath_prepend(str(tmp_path))  # an instance's process starts with this path
    monkeypatch.setenv("INSTANCE_TEST_VALUE", "inherited")
    monkeypatch.setattr(instances, "INIT_SECONDS", 0)
    return Function(
        logical_id="TestFunction",
        name="test-function",
        handler="instance_test_handler.handler",
        timeout_seconds=2,
        memory_mb=128,
        environment={},
        routes=(),
    )


@pytest.fixture
def pool(function: Function) -> Iterator[InstancePool]:
    running = InstancePool(function, 3)
    yield running
    running.close()


def _at_once(pool: InstancePool, events: list[dict[str, Any]]) -> list[Any]:
    results: list[Any] = [None] * len(events)

    def call(i: int) -> None:
        try:
            results[i] = pool.invoke(events[i])
        except Exception as e:  # noqa: BLE001 - returned for the test to look at
            results[i] = e

    threads = [threading.Thread(target=call, args=(i,)) for i in range(len(events))]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return results


def test_concurrent_invocations_run_on_different_instances(pool: InstancePool, tmp_path: Path) -> None:
    meeting = tmp_path / "meeting"
    meeting.mkdir()

    results = _at_once(pool, [{"do": "meet", "dir": str(meeting), "n": 3}] * 3)

    assert len({r["pid"] for r in results}) == 3
    assert len(list(meeting.iterdir())) == 3  # all three were inside together
    assert {r["value"] for r in results} == {"inherited"}
    assert os.getpid() not in {r["pid"] for r in results}


def test_background_instances_yield_the_cpu_and_mark_their_aws_calls(function: Function) -> None:
    background, foreground = InstancePool(function, 1, background=True), InstancePool(function, 1)
    try:
        low, normal = background.invoke({}), foreground.invoke({})
    finally:
        background.close()
        foreground.close()

    assert (low["nice"], low["app_id"]) == (19, BACKGROUND_APP_ID)
    assert (normal["nice"], normal["app_id"]) == (os.nice(0), None)


def test_an_instance_serves_one_invocation_at_a_time(function: Function, tmp_path: Path) -> None:
    one = InstancePool(function, 1)
    try:
        results = _at_once(one, [{"do": "alone", "dir": str(tmp_path)}] * 6)
    finally:
        one.close()

    assert len({r["pid"] for r in results}) == 1, results  # no FileExistsError: never two inside


def test_a_handler_error_comes_back_with_its_traceback(pool: InstancePool) -> None:
    with pytest.raises(FunctionError, match=r"(?s)Traceback.*RuntimeError: boom"):
        pool.invoke({"do": "raise"})
    assert pool.invoke({})["value"] == "inherited"  # the instance lives on, as a Lambda instance does


def test_an_invocation_past_the_timeout_loses_its_instance(function: Function) -> None:
    one = InstancePool(function, 1)
    try:
        first = one.invoke({})["pid"]
        with pytest.raises(FunctionTimeoutError, match=r"Task timed out after 2\.00 seconds"):
            one.invoke({"do": "sleep", "seconds": 30})
        assert one.invoke({})["pid"] != first  # a new instance, cold
    finally:
        one.close()


def test_an_instance_that_dies_is_replaced(function: Function) -> None:
    one = InstancePool(function, 1)
    try:
        first = one.invoke({})["pid"]
        with pytest.raises(InstanceLostError):
            one.invoke({"do": "exit"})
        assert one.invoke({})["pid"] != first
    finally:
        one.close()


def test_close_ends_every_instance(function: Function) -> None:
    pool = InstancePool(function, 2)
    pids = {r["pid"] for r in _at_once(pool, [{}, {}])}

    pool.close()

    for pid in pids:
        with pytest.raises(ProcessLookupError):
            os.kill(pid, 0)
