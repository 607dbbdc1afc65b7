"""The local stand-in for Firehose's buffer and the EventBridge trigger: every few seconds, hand each new
raw object to the real compactor handler, then mirror what landed to a folder on disk.

Deployed, S3 sends an `Object Created` event per raw object; here the loop finds new objects by listing
`raw/` and sends the handler the same event. The mirror (default `./lake/`, `LAKE_DIR` to move it) holds
`datasources/<name>/<partition>/part-*.parquet` and `errors/` exactly as the bucket does, so DuckDB,
pandas or pyarrow can read the lake without an AWS client.
"""

from __future__ import annotations

import threading
import traceback
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, TextIO

from lakegate_local.mirror import list_keys, sync

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client

RAW_PREFIX = "raw/"
MIRRORED_PREFIXES = ("datasources/", "errors/")
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


class CompactorLoop:
    """Compacts each raw object once, in the order they arrived, and keeps the disk mirror in step."""

    def __init__(
        self, function: Invoker, s3: S3Client, bucket: str, mirror: Path | None, log: TextIO
    ) -> None:
        self._function = function
        self._s3 = s3
        self._bucket = bucket
        self._mirror = mirror
        self._log = log
        self._attempts: dict[str, int] = {}
        self._done: set[str] = set()
        self._mirrored: dict[str, str] = {}

    def run_once(self) -> int:
        """Compact the raw objects not seen yet, then mirror; how many objects were compacted."""
        compacted = 0
        for key in sorted(list_keys(self._s3, self._bucket, RAW_PREFIX)):
            if key in self._done:
                continue
            try:
                self._function.invoke(object_created(self._bucket, key))
            except Exception:  # noqa: BLE001 - a failing object must not stop the loop, as in Lambda
                self._attempts[key] = tries = self._attempts.get(key, 0) + 1
                self._write(
                    f"compactor failed on {key} (try {tries}/{MAX_ATTEMPTS}):\n{traceback.format_exc()}"
                )
                if tries >= MAX_ATTEMPTS:
                    self._done.add(key)
                continue
            self._done.add(key)
            compacted += 1
        if self._mirror is not None:
            sync(self._s3, self._bucket, self._mirror, MIRRORED_PREFIXES, self._mirrored)
        return compacted

    def run(self, stop: threading.Event, interval: float) -> None:
        while not stop.wait(interval):
            try:
                self.run_once()
            except Exception:  # noqa: BLE001 - moto restarting, a disk error: try again next round
                self._write(f"compactor loop failed:\n{traceback.format_exc()}")

    def _write(self, text: str) -> None:
        self._log.write(text.rstrip("\n") + "\n")
        self._log.flush()
