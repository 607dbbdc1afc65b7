"""Copy a bucket's prefixes to a folder, key for key, fetching only objects that are new or changed."""

from __future__ import annotations

import os
from collections.abc import Iterable
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client


def list_keys(s3: S3Client, bucket: str, prefix: str) -> dict[str, str]:
    """Every key under `prefix` with its ETag."""
    found: dict[str, str] = {}
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        for o in page.get("Contents", []):
            found[o["Key"]] = o.get("ETag", "")
    return found


def sync(s3: S3Client, bucket: str, root: Path, prefixes: Iterable[str], seen: dict[str, str]) -> int:
    """Mirror `prefixes` of `bucket` under `root`; `seen` (key -> ETag) remembers what is already there.
    Returns how many objects were written."""
    written = 0
    for prefix in prefixes:
        for key, etag in list_keys(s3, bucket, prefix).items():
            if seen.get(key) == etag:
                continue
            target = root / key
            target.parent.mkdir(parents=True, exist_ok=True)
            body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
            # Readers never see half a file: write beside it, then rename over it.
            partial = target.with_name(f".{target.name}.partial")
            partial.write_bytes(body)
            os.replace(partial, target)
            seen[key] = etag
            written += 1
    return written
