"""Emulated AWS for the local server: moto on a local endpoint, holding the template's resources."""

from __future__ import annotations

import logging
import socket
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

import boto3

from lakegate.aws.tokens import DynamoTokenStore
from lakegate.ingest.auth import ADMIN, hash_token
from lakegate_local.moto_server import MotoServer
from lakegate_local.template import PSEUDO, Stack

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_firehose import FirehoseClient
    from mypy_boto3_s3 import S3Client

HOST = "127.0.0.1"
# moto checks no signature, but clients must sign with something.
CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
# The workspace of the admin token the server seeds: tokens made for its data sources name it.
ADMIN_WORKSPACE = "local"


class AwsClients(Protocol):
    """Where resources are created: the moto server here, or an in-process `mock_aws` in tests."""

    def dynamodb(self) -> DynamoDBClient: ...

    def s3(self) -> S3Client: ...

    def firehose(self) -> FirehoseClient: ...


@dataclass
class SessionClients:
    """The clients of one boto3 session: an in-process `mock_aws`, as tests and benchmarks use."""

    session: boto3.session.Session

    def dynamodb(self) -> DynamoDBClient:
        return self.session.client("dynamodb")

    def s3(self) -> S3Client:
        return self.session.client("s3")

    def firehose(self) -> FirehoseClient:
        return self.session.client("firehose")


@dataclass
class LocalAws:
    """A running moto server and clients aimed at it."""

    server: MotoServer
    endpoint: str

    def _client(self, service: str) -> Any:
        return boto3.session.Session().client(
            service,  # type: ignore[call-overload]
            endpoint_url=self.endpoint,
            region_name=PSEUDO.region,
            **CREDENTIALS,
        )

    def dynamodb(self) -> DynamoDBClient:
        return self._client("dynamodb")  # type: ignore[no-any-return]

    def s3(self) -> S3Client:
        return self._client("s3")  # type: ignore[no-any-return]

    def firehose(self) -> FirehoseClient:
        return self._client("firehose")  # type: ignore[no-any-return]

    def glue(self) -> Any:
        return self._client("glue")

    def objects(self, bucket: str) -> MotoObjects:
        """A bucket of this process's moto, read directly rather than over HTTP."""
        return MotoObjects(self.server, bucket)

    def stop(self) -> None:
        self.server.stop()


@dataclass
class MotoObjects:
    """A bucket's keys and bytes straight from this process's moto (lakegate_local.mirror.Objects), each
    read as one AWS call (under its lock). Over HTTP, listing costs ~0.5 ms a key (moto's XML, botocore's
    parse of it and of a timestamp a key) and a GetObject ~4 ms of this process's CPU, here."""

    server: MotoServer
    bucket: str

    def etags(self, prefix: str) -> dict[str, str]:
        with self.server.lock:
            # dict's own items(): moto's key store copies itself to iterate; a key's newest version last.
            return {k: v[-1].etag for k, v in dict.items(self._bucket().keys) if k.startswith(prefix)}

    def read(self, key: str) -> bytes:
        with self.server.lock:
            found = self._backend().get_object(self.bucket, key)
            if found is None:
                raise FileNotFoundError(f"s3://{self.bucket}/{key}")
            return bytes(found.value)

    def _backend(self) -> Any:
        from moto.s3.models import s3_backends

        return s3_backends[PSEUDO.account_id][PSEUDO.partition]

    def _bucket(self) -> Any:
        return self._backend().get_bucket(self.bucket)


def start(port: int) -> LocalAws:
    """moto on 127.0.0.1:port (0 picks a free port), reachable by any AWS client or the aws CLI."""
    if port:
        # werkzeug answers a port it cannot have with sys.exit: find out here, with an error a
        # person can act on.
        with socket.socket() as probe:
            probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            probe.bind((HOST, port))
    # One access-log line per AWS call would bury the handler's own logs.
    logging.getLogger("werkzeug").setLevel(logging.WARNING)
    server = MotoServer(HOST, port)
    server.start()
    host, bound = server.get_host_and_port()
    return LocalAws(server, f"http://{host}:{bound}")


def create_resources(aws: AwsClients, stack: Stack) -> None:
    """Buckets, then tables, then the delivery streams that write into the buckets."""
    s3 = aws.s3()
    for bucket in stack.buckets:
        s3.create_bucket(Bucket=bucket)
    ddb = aws.dynamodb()
    for table in stack.tables:
        ddb.create_table(**table.create_table_kwargs())
        if table.ttl_attribute:
            ddb.update_time_to_live(
                TableName=table.name,
                TimeToLiveSpecification={"AttributeName": table.ttl_attribute, "Enabled": True},
            )
    firehose = aws.firehose()
    for stream in stack.delivery_streams:
        firehose.create_delivery_stream(**stream.create_kwargs())


def seed_admin_token(aws: AwsClients, tokens_table: str, cluster: str, plain: str) -> None:
    """An ADMIN token of ADMIN_WORKSPACE, stored as the handler reads tokens: by hash, never plain."""
    store = DynamoTokenStore(tokens_table, aws.dynamodb())
    store.put(
        {
            "token_hash": hash_token(plain),
            "workspace_id": ADMIN_WORKSPACE,
            "cluster": cluster,
            "scopes": [ADMIN],
            "name": "admin",
        }
    )
