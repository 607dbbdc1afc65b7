"""The object store the compactor reads raw objects from and lands Parquet in: S3 adapter and in-memory fake."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class ObjectStore(Protocol):
    def get(self, key: str) -> bytes: ...

    def put(self, key: str, body: bytes, content_type: str) -> None: ...

    def copy(self, source: str, target: str, metadata: Mapping[str, str]) -> None:
        """Copy `source` to `target`, replacing its user metadata with `metadata`."""
        ...


class S3ObjectStore:
    """One bucket. Errors propagate: the compactor's invocation fails and Lambda retries the event."""

    def __init__(self, bucket: str, client: S3Client) -> None:
        self._bucket = bucket
        self._client = client

    def get(self, key: str) -> bytes:
        return self._client.get_object(Bucket=self._bucket, Key=key)["Body"].read()

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self._client.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType=content_type)

    def copy(self, source: str, target: str, metadata: Mapping[str, str]) -> None:
        self._client.copy_object(
            Bucket=self._bucket,
            Key=target,
            CopySource={"Bucket": self._bucket, "Key": source},
            Metadata=dict(metadata),
            MetadataDirective="REPLACE",
        )


@dataclass
class MemoryObjectStore:
    """A dict of objects for unit tests."""

    objects: dict[str, bytes] = field(default_factory=dict)
    metadata: dict[str, dict[str, str]] = field(default_factory=dict)

    def get(self, key: str) -> bytes:
        return self.objects[key]

    def put(self, key: str, body: bytes, content_type: str) -> None:
        self.objects[key] = body

    def copy(self, source: str, target: str, metadata: Mapping[str, str]) -> None:
        self.objects[target] = self.objects[source]
        self.metadata[target] = dict(metadata)
