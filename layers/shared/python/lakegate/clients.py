"""The one place boto3 clients are made: lazily, once per warm Lambda, with tight timeouts.

`AWS_ENDPOINT_URL` (honoured by boto3 itself) points every client at the local server's moto.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_firehose import FirehoseClient
    from mypy_boto3_s3 import S3Client


def _config(max_attempts: int) -> object:
    from botocore.config import Config

    # A request has seconds, not minutes: fail fast and let the caller's own retry loop decide.
    return Config(
        connect_timeout=2,
        read_timeout=5,
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        tcp_keepalive=True,
    )


@cache
def _session() -> object:
    # botocore, not boto3: the same clients without boto3's own imports on the cold start.
    import botocore.session

    return botocore.session.get_session()


@cache
def dynamodb() -> DynamoDBClient:
    return _session().create_client("dynamodb", config=_config(3))  # type: ignore[attr-defined, no-any-return]


@cache
def firehose() -> FirehoseClient:
    # Delivery retries refused records itself (lakegate.delivery), inside the request's budget.
    return _session().create_client("firehose", config=_config(1))  # type: ignore[attr-defined, no-any-return]


@cache
def s3() -> S3Client:
    # The compactor's reads and writes are idempotent: botocore's own retries are safe here.
    return _session().create_client("s3", config=_config(3))  # type: ignore[attr-defined, no-any-return]


@cache
def glue() -> Any:
    # No mypy-boto3-glue stubs are pinned: the catalog adapter is typed against its own narrow use.
    return _session().create_client("glue", config=_config(3))  # type: ignore[attr-defined]
