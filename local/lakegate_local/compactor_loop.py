"""The local stand-in for Firehose's buffer and the EventBridge trigger: every few seconds, hand what arrived
in `raw/` to the real compactor handler as one object, then mirror what landed to a folder on disk.

Deployed, Firehose buffers records (template.yaml: 60 s or 64 MB) into one object under `raw/`, and S3
sends an `Object Created` event for it. moto's Firehose writes one object per PutRecordBatch instead, so
one per request: compacted one by one they cost the compactor ~60 ms of CPU each here (the Parquet, the
ref claims, the catalog and TTL checks of every object), more than the requests themselves. So the loop
does Firehose's part: the raw objects new since the last round are joined, as Firehose concatenates
records, into one object under `local-buffer/` (outside `raw/`, which keeps what moto wrote), the handler
gets the event for that object, and the object is deleted once it has landed. A round with one new
object hands over that object itself. The mirror (default `./lake/`, `LAKE_DIR` to move it) holds
`datasources/<workspace>/<name>/<partition>/part-*.parquet` and `errors/` exactly as the bucket does, so DuckDB,
pandas or pyarrow can read the lake without an AWS client.

It stands in for the TTL schedule too (template.yaml's `ExpirySchedule`): with `expire_every`, the handler
gets EventBridge's scheduled event on the first round and then once per that many seconds, so a data
source that receives no rows still loses the rows past its TTL, here as deployed.
"""

from __future__ import annotations

import re
import threading
import time
import traceback
from collections import deque
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from lakegate.lake.layout import ERRORS_PREFIX, PREFIX, RAW_PREFIX, error_key
from lakegate_local.mirror import Objects, S3Objects, sync

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

BUFFER_PREFIX = "local-buffer/"
MIRRORED_PREFIXES = (PREFIX, ERRORS_PREFIX)
# Firehose's buffer size in template.yaml: a backlog is compacted in objects no bigger.
BUFFER_BYTES = 64 * 1024 * 1024
# A raw object whose compaction keeps failing is given up after as many tries as Lambda makes (1 + 2).
MAX_ATTEMPTS = 3


class Invoker(Protocol):
    def invoke(self, event: dict[str, Any]) -> Any: ...


def object_created(bucket: str, key: str) -> dict[str, Any]:
    """The EventBridge event S3 sends when an object is created, as the compactor's rule passes it on."""
    return {
        "version": "0",
        "id": f"local-{key}",
        "detail-type": "Object Created",
        "source": "aws.s3",
        "resources": [f"arn:aws:s3:::{bucket}"],
        "detail": {"version": "0", "bucket": {"name": bucket}, "object": {"key": key}},
    }


def scheduled_event(
    rule_arn: str = "arn:aws:events:local:000000000000:rule/ExpirySchedule",
) -> dict[str, Any]:
    """What an EventBridge schedule rule sends its target (no Input configured): the TTL run."""
    return {
        "version": "0",
        "id": "local-expiry",
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "resources": [rule_arn],
        "detail": {},
    }


_RATE = re.compile(r"rate\((\d+) (minute|minutes|hour|hours|day|days)\)")
_UNIT_SECONDS = {"minute": 60, "hour": 3600, "day": 86400}


def rate_seconds(expression: str) -> float:
    """The period of an EventBridge `rate(N unit)` schedule expression, in seconds."""
    m = _RATE.fullmatch(expression.strip())
    if m is None:
        raise ValueError(f"not a rate(...) schedule expression: {expression!r}")
    return int(m.group(1)) * _UNIT_SECONDS[m.group(2).rstrip("s")]


class CompactorLoop:
    """Compacts each raw object once, in the order they arrived, and keeps the disk mirror in step."""

    def __init__(
        self,
        function: Invoker,
        s3: S3Client,
        bucket: str,
        mirror: Path | None,
        log: TextIO,
        objects: Objects | None = None,
        expire_every: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        """`objects` lists and reads the bucket's raw objects and what the mirror copies (default:
        through `s3`). Through the S3 API a listing costs the server's process ~0.5 ms a key (XML both
        ways, a timestamp parsed a key), each round, for every object of the run so far: the local
        server reads its own moto directly. `expire_every`: seconds between TTL runs (None: none)."""
        self._function = function
        self._s3 = s3
        self._objects = objects or S3Objects(s3, bucket)
        self._bucket = bucket
        self._mirror = mirror
        self._log = log
        self._done: set[str] = set()
        self._mirrored: dict[str, str] = {}
        # Raw objects to compact together, the first batch the one being tried (`_tries` times so far).
        self._batches: deque[list[str]] = deque()
        self._tries = 0
        self._expire_every = expire_every
        self._clock = clock
        self._next_expiry = clock()

    def run_once(self) -> int:
        """Compact the raw objects not seen yet, then mirror; how many raw objects were compacted."""
        if not self._batches:
            new = [k for k in sorted(self._objects.etags(RAW_PREFIX)) if k not in self._done]
            if new:
                self._batches.append(new)
        compacted = 0
        while self._batches:
            landed = self._compact_first()
            if landed is None:
                break  # failed: the same batch again next round
            compacted += landed
        if self._expire_every is not None and self._clock() >= self._next_expiry:
            self._expire(self._expire_every)
        if self._mirror is not None:
            sync(self._objects, self._mirror, MIRRORED_PREFIXES, self._mirrored)
        return compacted

    def _compact_first(self) -> int | None:
        """Compact the first batch: how many raw objects landed, or None when it is to be tried again."""
        key = self._batches[0][0] if len(self._batches[0]) == 1 else self._join(self._batches[0])
        keys = self._batches[0]  # what _join kept of it
        what = key if key == keys[0] else f"{key} ({len(keys)} raw objects)"
        try:
            result = self._function.invoke(object_created(self._bucket, key))
        except Exception:  # noqa: BLE001 - a failing object must not stop the loop, as in Lambda
            self._tries += 1
            self._write(
                f"compactor failed on {what} (try {self._tries}/{MAX_ATTEMPTS}):\n{traceback.format_exc()}"
            )
            if self._tries < MAX_ATTEMPTS:
                return None
            landed = 0  # given up, as Lambda gives up: the raw objects stay in raw/ for a replay
        else:
            landed = len(keys)
            if key != keys[0] and isinstance(result, dict) and result.get("unreadable"):
                # One of them is no lakegate framing, and the joined object was set aside whole before
                # anything landed: compact them one by one, so that only that one goes to errors/.
                self._s3.delete_object(Bucket=self._bucket, Key=error_key(key))
                self._s3.delete_object(Bucket=self._bucket, Key=key)
                self._batches.popleft()
                self._batches.extendleft([k] for k in reversed(keys))
                self._tries = 0
                return 0
        if key != keys[0]:
            self._s3.delete_object(Bucket=self._bucket, Key=key)
        self._done.update(keys)
        self._batches.popleft()
        self._tries = 0
        return landed

    def _expire(self, every: float) -> None:
        """The scheduled TTL run; a failure is logged and waits for the next period, as in AWS."""
        self._next_expiry = self._clock() + every
        try:
            self._function.invoke(scheduled_event())
        except Exception:  # noqa: BLE001 - as Lambda: the run failed, the loop goes on
            self._write(f"ttl expiry failed:\n{traceback.format_exc()}")

    def _join(self, keys: list[str]) -> str:
        """The raw objects' bytes, concatenated as Firehose concatenates records, as one object under
        `local-buffer/`, named after the first; objects past BUFFER_BYTES go to the next batch."""
        key = BUFFER_PREFIX + keys[0].removeprefix(RAW_PREFIX)
        if self._tries:  # a retry: the object is there from the first try
            return key
        parts: list[bytes] = []
        size = 0
        for i, raw in enumerate(keys):
            body = self._objects.read(raw)
            if parts and size + len(body) > BUFFER_BYTES:
                self._batches[0] = keys[:i]
                self._batches.insert(1, keys[i:])
                break
            parts.append(body)
            size += len(body)
        self._s3.put_object(Bucket=self._bucket, Key=key, Body=b"".join(parts))
        return key

    def run(self, stop: threading.Event, interval: float) -> None:
        while not stop.wait(interval):
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - moto restarting, a disk error: try again next round
                self._write(f"compactor loop failed:\n{traceback.format_exc()}")

    def _write(self, text: str) -> None:
        self._log.write(text.rstrip("\n") + "\n")
        self._log.flush()
