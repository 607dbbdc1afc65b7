"""Warm instances of a function, each a process of its own, as Lambda scales a function out: an instance
serves one invocation at a time, and concurrent requests go to different instances.

Threads could not share one instance: the handlers keep per-invocation state in their process (powertools'
event handler holds the current event on a class attribute, its Metrics one metric set, its Logger the
request's keys), written, as Lambda allows, for one invocation at a time. So each instance imports the
handler in its own process, on its first invocation, as a cold start does.
"""

from __future__ import annotations

import multiprocessing
import os
import queue
import signal
import time
import traceback
from multiprocessing.connection import Connection
from multiprocessing.process import BaseProcess
from typing import Any

from lakegate_local.runtime import BACKGROUND_APP_ID, LocalFunction
from lakegate_local.template import Function

# Lambda gives a cold start's init phase up to 10 s beyond the function's own timeout.
INIT_SECONDS = 10
# spawn, not fork: the server's process runs threads (moto's, the HTTP server's) that a fork would copy
# mid-step; and each instance then imports the handler afresh, as a cold start does.
_SPAWN = multiprocessing.get_context("spawn")


class FunctionError(Exception):
    """The handler raised: the message is its traceback, as the instance saw it."""


class FunctionTimeoutError(Exception):
    """The invocation outran the function's timeout: Lambda stops the instance, and so does the pool."""


class InstanceLostError(Exception):
    """The instance's process ended in the middle of an invocation."""


def _serve(conn: Connection, function: Function, background: bool) -> None:
    """An instance's process: invocations in, results (or the handler's traceback) out, until the pipe closes."""
    # Ctrl-C reaches the whole process group; the server stops its instances itself.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    if background:
        # Deployed, a background function has compute of its own; here it shares the machine with the
        # requests: it takes the CPU left over, and moto answers its calls after the requests' ones.
        os.nice(19)
        os.environ["AWS_SDK_UA_APP_ID"] = BACKGROUND_APP_ID  # read by botocore when the handler makes clients
    instance = LocalFunction(function)
    while True:
        try:
            event = conn.recv()
        except EOFError:
            return
        try:
            answer: tuple[bool, Any] = (True, instance.invoke(event))
        except Exception:  # noqa: BLE001 - the handler's error goes back to the server, which answers 500
            answer = (False, traceback.format_exc())
        conn.send(answer)


class _Instance:
    def __init__(self, function: Function, background: bool) -> None:
        self._function = function
        self._conn, child = _SPAWN.Pipe()
        self._process: BaseProcess = _SPAWN.Process(
            target=_serve,
            args=(child, function, background),
            name=f"{function.logical_id} instance",
            daemon=True,
        )
        self._process.start()
        child.close()
        self._warm = False

    def invoke(self, event: dict[str, Any]) -> Any:
        timeout = self._function.timeout_seconds + (0 if self._warm else INIT_SECONDS)
        try:
            self._conn.send(event)
            if not self._conn.poll(timeout):
                raise FunctionTimeoutError(f"Task timed out after {timeout:.2f} seconds")
            ok, value = self._conn.recv()
        except (EOFError, OSError) as e:
            raise InstanceLostError(f"the instance's process ended ({self._process.exitcode})") from e
        self._warm = True
        if not ok:
            raise FunctionError(value)
        return value

    def stop(self, wait: float) -> None:
        self._conn.close()  # the instance reads EOF and returns
        self._process.join(wait)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()


class InstancePool:
    """`size` instances of `function`; an invocation takes an idle one, or waits for one to be free.

    `background`: the function does work no request waits for (the compactor), in processes at the lowest
    CPU priority whose AWS calls moto answers after the others'. On 2 cores the requests wait while the
    compactor claims a round's records (bench/local_server.py, 100 keyed req/s, 3 runs each, alternating:
    p99 2.3-3.2 s, max 4.0-5.0 s; with no compaction, p50 12 ms, p99 0.5 s); as background work p99
    1.9-2.1 s, max 3.0-3.7 s, the same rate served, rows landing ~2 s later."""

    def __init__(self, function: Function, size: int, background: bool = False) -> None:
        if size < 1:
            raise ValueError(f"a pool needs at least one instance, got {size}")
        self._function = function
        self._background = background
        self._idle: queue.Queue[_Instance] = queue.Queue()
        self._all = [_Instance(function, background) for _ in range(size)]
        for instance in self._all:
            self._idle.put(instance)

    def invoke(self, event: dict[str, Any]) -> Any:
        instance = self._idle.get()
        try:
            return instance.invoke(event)
        except (FunctionTimeoutError, InstanceLostError):
            # As Lambda does: the instance is gone, the next invocation gets a new one (cold).
            instance.stop(0)
            self._all.remove(instance)
            instance = _Instance(self._function, self._background)
            self._all.append(instance)
            raise
        finally:
            self._idle.put(instance)

    def close(self, wait: float = 5.0) -> None:
        """Stop every instance, once the invocations under way have finished (within the function's timeout)."""
        deadline = time.monotonic() + self._function.timeout_seconds + wait
        for _ in range(len(self._all)):
            try:
                self._idle.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
        for instance in list(self._all):
            instance.stop(wait)
