"""Record sinks: where framed records go. The Firehose adapter, and an in-memory fake for tests."""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING, Protocol

from botocore.exceptions import BotoCoreError, ClientError

from lakegate.errors import StoreUnavailable

if TYPE_CHECKING:
    from mypy_boto3_firehose import FirehoseClient


class RecordSink(Protocol):
    """Sends one call's worth of records; per record, None when acknowledged or an error code."""

    def put_records(self, records: Sequence[bytes]) -> list[str | None]: ...


class FirehoseSink:
    """PutRecordBatch to one delivery stream; a call that fails whole becomes StoreUnavailable."""

    def __init__(self, stream: str, client: FirehoseClient) -> None:
        self._stream = stream
        self._client = client

    def put_records(self, records: Sequence[bytes]) -> list[str | None]:
        try:
            resp = self._client.put_record_batch(
                DeliveryStreamName=self._stream, Records=[{"Data": r} for r in records]
            )
        except ClientError as e:
            code = e.response.get("Error", {}).get("Code", "")
            raise StoreUnavailable(f"Firehose PutRecordBatch failed: {code}") from e
        except BotoCoreError as e:  # connection errors and timeouts
            raise StoreUnavailable(f"Firehose PutRecordBatch failed: {type(e).__name__}") from e
        if not resp.get("FailedPutCount"):
            return [None] * len(records)
        return [r.get("ErrorCode") for r in resp["RequestResponses"]]


class MemorySink:
    """Keeps what it is sent; `fail_next` lets a test refuse chosen records once."""

    def __init__(self) -> None:
        self.records: list[bytes] = []
        self.calls = 0
        self.fail_next: list[set[int]] = []

    def put_records(self, records: Sequence[bytes]) -> list[str | None]:
        self.calls += 1
        failing = self.fail_next.pop(0) if self.fail_next else set()
        out: list[str | None] = []
        for i, r in enumerate(records):
            if i in failing:
                out.append("ServiceUnavailableException")
            else:
                self.records.append(r)
                out.append(None)
        return out
