"""`lakegate upgrade`'s lake step: Parquet that versions before workspace folders landed at
`datasources/<name>/` moves to `datasources/<workspace>/<name>/`, where this version's compactor, Glue
tables, TTL and query look.

A file of that layout holds one workspace's rows but does not say whose: a folder moves when exactly one
workspace of the registry has a data source of its name (for `<name>_quarantine`, of `<name>`); a folder
that several workspaces' data sources name is left where it is and reported, for an operator to sort.
Each object is copied, then deleted: a run cut short leaves copies that the next run overwrites."""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from lakegate.lake.layout import PREFIX, folder, legacy_folder
from lakegate.names import QUARANTINE_SUFFIX
from lakegate.schema import NAME_RE
from lakegate_cli.admin import Registered

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef

# A folder of the earlier layout holds partition folders (`date=`, `day=`, ...); a workspace's holds
# data source folders, whose names never have `=`.
_PARTITION = re.compile(r"[a-z_]+=")
_DELETE_BATCH = 1000  # DeleteObjects' limit


@dataclass
class Relocation:
    """Objects moved per folder, and the folders left in place with why."""

    moved: dict[str, int] = field(default_factory=dict)
    left: list[str] = field(default_factory=list)


def _subfolders(s3: S3Client, bucket: str, prefix: str) -> list[str]:
    pages = s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix, Delimiter="/")
    return [p["Prefix"][len(prefix) : -1] for page in pages for p in page.get("CommonPrefixes", [])]


def _keys(s3: S3Client, bucket: str, prefix: str) -> Iterator[str]:
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=prefix):
        yield from (o["Key"] for o in page.get("Contents", []))


def legacy_folders(s3: S3Client, bucket: str) -> list[str]:
    """Names of the folders under `datasources/` that are a data source's of the earlier layout."""
    return [
        name
        for name in _subfolders(s3, bucket, PREFIX)
        if NAME_RE.fullmatch(name)
        and any(_PARTITION.match(sub) for sub in _subfolders(s3, bucket, legacy_folder(name)))
    ]


def _owners(name: str, registered: Sequence[Registered]) -> list[str]:
    exact = sorted({r.workspace for r in registered if r.source.name == name})
    if exact or not name.endswith(QUARANTINE_SUFFIX):
        return exact
    base = name[: -len(QUARANTINE_SUFFIX)]
    return sorted({r.workspace for r in registered if r.source.name == base})


def relocate(s3: S3Client, bucket: str, registered: Sequence[Registered]) -> Relocation:
    done = Relocation()
    for name in legacy_folders(s3, bucket):
        owners = _owners(name, registered)
        if len(owners) != 1:
            why = (
                f"data sources of workspaces {', '.join(owners)}" if owners else "no workspace's data source"
            )
            done.left.append(f"{legacy_folder(name)} ({why}: its files do not say whose rows they hold)")
            continue
        old, new = legacy_folder(name), folder(owners[0], name)
        # Only its partition folders: a workspace of this version may have the data source's name.
        keys = [k for k in _keys(s3, bucket, old) if _PARTITION.match(k[len(old) :])]
        for key in keys:
            s3.copy_object(
                Bucket=bucket, Key=new + key[len(old) :], CopySource={"Bucket": bucket, "Key": key}
            )
        for i in range(0, len(keys), _DELETE_BATCH):
            batch: list[ObjectIdentifierTypeDef] = [{"Key": k} for k in keys[i : i + _DELETE_BATCH]]
            s3.delete_objects(Bucket=bucket, Delete={"Objects": batch, "Quiet": True})
        done.moved[f"{old} -> {new}"] = len(keys)
    return done
