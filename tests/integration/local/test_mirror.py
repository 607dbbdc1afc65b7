"""The disk mirror of a bucket's prefixes: new and changed objects copied, deleted ones removed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lakegate_local.mirror import S3Objects, Synced, sync

BUCKET = "lake"
OLD = "datasources/ws/events/date=2020-01-01/hour=00/part-a.parquet"
OLD_TOO = "datasources/ws/events/date=2020-01-01/hour=01/part-b.parquet"
NEW = "datasources/ws/events/date=2026-01-01/hour=00/part-c.parquet"


@pytest.fixture
def s3() -> Iterator[Any]:
    with mock_aws():
        client = boto3.client("s3", region_name="us-east-1")
        client.create_bucket(Bucket=BUCKET)
        for key in (OLD, OLD_TOO, NEW):
            client.put_object(Bucket=BUCKET, Key=key, Body=key.encode())
        yield client


def test_new_and_changed_objects_are_copied_once(s3: Any, tmp_path: Path) -> None:
    seen: dict[str, str] = {}

    assert sync(S3Objects(s3, BUCKET), tmp_path, ["datasources/"], seen) == Synced(3, 0)
    assert sync(S3Objects(s3, BUCKET), tmp_path, ["datasources/"], seen) == Synced(0, 0)
    s3.put_object(Bucket=BUCKET, Key=NEW, Body=b"rewritten")
    assert sync(S3Objects(s3, BUCKET), tmp_path, ["datasources/"], seen) == Synced(1, 0)

    assert (tmp_path / NEW).read_bytes() == b"rewritten"
    assert (tmp_path / OLD).read_bytes() == OLD.encode()
    assert not list(tmp_path.rglob("*.partial"))


def test_objects_the_bucket_deleted_are_deleted_with_their_emptied_folders(s3: Any, tmp_path: Path) -> None:
    seen: dict[str, str] = {}
    sync(S3Objects(s3, BUCKET), tmp_path, ["datasources/"], seen)

    s3.delete_objects(Bucket=BUCKET, Delete={"Objects": [{"Key": OLD}, {"Key": OLD_TOO}]})  # a TTL expiry
    assert sync(S3Objects(s3, BUCKET), tmp_path, ["datasources/"], seen) == Synced(0, 2)

    assert [p.relative_to(tmp_path).as_posix() for p in tmp_path.rglob("*") if p.is_file()] == [NEW]
    assert not (tmp_path / "datasources/ws/events/date=2020-01-01").exists()  # the expired day, whole
    assert (tmp_path / "datasources/ws/events/date=2026-01-01/hour=00").is_dir()
    assert set(seen) == {NEW}


def test_files_this_mirror_never_wrote_are_left_alone(s3: Any, tmp_path: Path) -> None:
    earlier = tmp_path / "datasources/ws/events/date=2019-01-01/hour=00/part-x.parquet"  # an earlier run's
    earlier.parent.mkdir(parents=True)
    earlier.write_bytes(b"kept")
    seen: dict[str, str] = {}
    sync(S3Objects(s3, BUCKET), tmp_path, ["datasources/"], seen)

    s3.delete_object(Bucket=BUCKET, Key=NEW)
    sync(S3Objects(s3, BUCKET), tmp_path, ["datasources/"], seen)

    assert earlier.read_bytes() == b"kept"
    assert not (tmp_path / NEW).exists()


def test_only_the_synced_prefixes_are_touched(s3: Any, tmp_path: Path) -> None:
    seen: dict[str, str] = {}
    s3.put_object(Bucket=BUCKET, Key="errors/raw/x", Body=b"bad")
    sync(S3Objects(s3, BUCKET), tmp_path, ["datasources/", "errors/"], seen)

    s3.delete_object(Bucket=BUCKET, Key=NEW)
    assert sync(S3Objects(s3, BUCKET), tmp_path, ["errors/"], seen) == Synced(
        0, 0
    )  # datasources/ not looked at

    assert (tmp_path / NEW).exists()
    assert (tmp_path / "errors/raw/x").read_bytes() == b"bad"


def test_a_key_that_would_land_outside_the_folder_is_skipped(s3: Any, tmp_path: Path) -> None:
    s3.put_object(Bucket=BUCKET, Key="datasources/../../escaped", Body=b"x")
    mirror = tmp_path / "mirror"
    mirror.mkdir()

    sync(S3Objects(s3, BUCKET), mirror, ["datasources/"], {})

    assert not (tmp_path.parent / "escaped").exists()
    assert not (tmp_path / "escaped").exists()
