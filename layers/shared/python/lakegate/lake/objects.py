"""The object store the compactor reads raw objects from and lands Parquet in (lakegate.aws.s3 is S3's)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Protocol


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

    def keys(self, prefix: str) -> list[str]:
        """Every object's key under `prefix`, in key order."""
        ...

    def tail(self, key: str, size: int) -> bytes:
        """The last `size` bytes of an object (all of it when it is smaller): a Parquet footer, read
        without the rows."""
        ...

    def delete(self, key: str) -> None:
        """Delete one object (nothing happens when it is not there)."""
        ...
