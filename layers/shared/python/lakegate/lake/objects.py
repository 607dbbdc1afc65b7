"""The object store the compactor reads raw objects from and lands Parquet in: S3 adapter and in-memory fake."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef


class ObjectStore(Protocol):
    def get(self, key: str) -> bytes: ...

    def put(self, key: str, body: bytes, content_type: str) -> None: ...

    def copy(self, source: str, target: str, metadata: Mapping[str, str]) -> None:
        """Copy `source` to `target`, replacing its user metadata with `metadata`."""
        ...

    def folders(self, prefix: str) -> list[str]:
        """The folders directly under `prefix` (which ends with `/`), each as a prefix ending with `/`."""
        ...

    def delete_prefix(self, prefix: str) -> int:
        """Delete every object under `prefix`; how many there were."""
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

    def folders(self, prefix: str) -> list[str]:
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=prefix, Delimiter="/"
        )
        return [p["Prefix"] for page in pages for p in page.get("CommonPrefixes", [])]

    def delete_prefix(self, prefix: str) -> int:
        deleted = 0
        for page in self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=prefix
        ):
            keys: list[ObjectIdentifierTypeDef] = [{"Key": o["Key"]} for o in page.get("Contents", [])]
            if keys:  # a page holds at most 1,000 keys: DeleteObjects' limit too
                resp = self._client.delete_objects(
                    Bucket=self._bucket, Delete={"Objects": keys, "Quiet": True}
                )
                if resp.get("Errors"):
                    raise RuntimeError(f"S3 refused to delete {len(resp['Errors'])} objects under {prefix}")
                deleted += len(keys)
        return deleted


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

    def folders(self, prefix: str) -> list[str]:
        rests = (k[len(prefix) :] for k in self.objects if k.startswith(prefix))
        return sorted({prefix + r.split("/", 1)[0] + "/" for r in rests if "/" in r})

    def delete_prefix(self, prefix: str) -> int:
        gone = [k for k in self.objects if k.startswith(prefix)]
        for k in gone:
            del self.objects[k]
        return len(gone)
