"""Copy a bucket's prefixes to a folder, key for key, fetching only objects that are new or changed and
removing the copies of objects the bucket no longer has (the compactor's TTL expiry deletes partitions)."""

from __future__ import annotations

import os
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


class Objects(Protocol):
    """A bucket's objects: which there are (with their ETags) and their bytes."""

    def etags(self, prefix: str) -> dict[str, str]: ...

    def read(self, key: str) -> bytes: ...


class S3Objects:
    """A bucket through the S3 API."""

    def __init__(self, s3: S3Client, bucket: str) -> None:
        self._s3 = s3
        self._bucket = bucket

    def etags(self, prefix: str) -> dict[str, str]:
        return list_keys(self._s3, self._bucket, prefix)

    def read(self, key: str) -> bytes:
        return self._s3.get_object(Bucket=self._bucket, Key=key)["Body"].read()


@dataclass(frozen=True, slots=True)
class Synced:
    """What one sync changed on disk."""

    written: int
    deleted: int


def list_keys(s3: S3Client, bucket: str, prefix: str) -> dict[str, str]:
    """Every key under `prefix` with its ETag."""
    found: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            found[o["Key"]] = o.get("ETag", "")
    return found


def sync(objects: Objects, root: Path, prefixes: Iterable[str], seen: dict[str, str]) -> Synced:
    """Mirror `prefixes` of a bucket under `root`; `seen` (key -> ETag) remembers what this mirror wrote.

    Only files this mirror wrote are ever deleted: files already in `root` that it never saw (an earlier
    run's, someone's own) stay as they are.
    """
    written = deleted = 0
    for prefix in prefixes:
        listed = objects.etags(prefix)
        for key, etag in listed.items():
            target = _local_path(root, key)
            if target is None or seen.get(key) == etag:
                continue
            target.parent.mkdir(parents=True, exist_ok=True)
            body = objects.read(key)
            # Readers never see half a file: write beside it, then rename over it.
            partial = target.with_name(f".{target.name}.partial")
            partial.write_bytes(body)
            os.replace(partial, target)
            seen[key] = etag
            written += 1
        for key in [k for k in seen if k.startswith(prefix) and k not in listed]:
            target = _local_path(root, key)
            if target is not None:
                _remove(root, target)
            del seen[key]
            deleted += 1
    return Synced(written, deleted)


def _local_path(root: Path, key: str) -> Path | None:
    """Where `key` goes under `root`; None for a key that would land outside it (`../` in a key)."""
    target = (root / key).resolve()
    return target if target.is_relative_to(root.resolve()) else None


def _remove(root: Path, target: Path) -> None:
    """Delete a file, then the folders its deletion emptied: S3 has no folders, so an expired partition
    leaves none behind (readers would see an empty partition)."""
    target.unlink(missing_ok=True)
    top = root.resolve()
    folder = target.parent
    while folder != top:
        try:
            folder.rmdir()
        except OSError:  # not empty (or already gone): the folders above are not empty either
            return
        folder = folder.parent
