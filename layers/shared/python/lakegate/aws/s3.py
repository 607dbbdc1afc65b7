"""The lake bucket as the compactor's object store (lakegate.lake.objects.ObjectStore)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

from botocore.exceptions import BotoCoreError, ClientError

from lakegate.aws.errors import translate
from lakegate.errors import StoreUnavailable

if TYPE_CHECKING:
    from mypy_boto3_s3 import S3Client
    from mypy_boto3_s3.type_defs import ObjectIdentifierTypeDef


class S3ObjectStore:
    """One bucket. Errors become StoreUnavailable: the compactor's invocation fails and Lambda retries the event."""

    def __init__(self, bucket: str, client: S3Client) -> None:
        self._bucket = bucket
        self._client = client

    def get(self, key: str) -> bytes:
        try:
            return self._client.get_object(Bucket=self._bucket, Key=key)["Body"].read()
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"S3 GetObject {key}") from e

    def put(self, key: str, body: bytes, content_type: str) -> None:
        try:
            self._client.put_object(Bucket=self._bucket, Key=key, Body=body, ContentType=content_type)
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"S3 PutObject {key}") from e

    def copy(self, source: str, target: str, metadata: Mapping[str, str]) -> None:
        try:
            self._client.copy_object(
                Bucket=self._bucket,
                Key=target,
                CopySource={"Bucket": self._bucket, "Key": source},
                Metadata=dict(metadata),
                MetadataDirective="REPLACE",
            )
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"S3 CopyObject {source}") from e

    def folders(self, prefix: str) -> list[str]:
        pages = self._client.get_paginator("list_objects_v2").paginate(
            Bucket=self._bucket, Prefix=prefix, Delimiter="/"
        )
        try:
            return [p["Prefix"] for page in pages for p in page.get("CommonPrefixes", [])]
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"S3 ListObjectsV2 {prefix}") from e

    def keys(self, prefix: str) -> list[str]:
        pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=prefix)
        try:
            return sorted(o["Key"] for page in pages for o in page.get("Contents", []))
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"S3 ListObjectsV2 {prefix}") from e

    def delete(self, key: str) -> None:
        try:
            self._client.delete_object(Bucket=self._bucket, Key=key)
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"S3 DeleteObject {key}") from e

    def delete_prefix(self, prefix: str) -> int:
        deleted = 0
        pages = self._client.get_paginator("list_objects_v2").paginate(Bucket=self._bucket, Prefix=prefix)
        try:
            for page in pages:
                keys: list[ObjectIdentifierTypeDef] = [{"Key": o["Key"]} for o in page.get("Contents", [])]
                if keys:  # a page holds at most 1,000 keys: DeleteObjects' limit too
                    resp = self._client.delete_objects(
                        Bucket=self._bucket, Delete={"Objects": keys, "Quiet": True}
                    )
                    if resp.get("Errors"):
                        codes = sorted({str(e.get("Code", "")) for e in resp["Errors"]})
                        raise StoreUnavailable(
                            f"S3 refused to delete {len(resp['Errors'])} objects under {prefix}: {codes}"
                        )
                    deleted += len(keys)
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"S3 DeleteObjects {prefix}") from e
        return deleted

    def tail(self, key: str, size: int) -> bytes:
        try:
            return self._client.get_object(Bucket=self._bucket, Key=key, Range=f"bytes=-{size}")[
                "Body"
            ].read()
        except (ClientError, BotoCoreError) as e:
            raise translate(e, f"S3 GetObject {key}") from e
