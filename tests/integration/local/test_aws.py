"""Emulated AWS: the template's resources created in moto, and the admin token seeded by hash."""

import http.client
import socket
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from moto.moto_server.werkzeug_app import DomainDispatcherApplication

from lakegate.ingest.auth import hash_token
from lakegate_local import aws
from lakegate_local.template import Stack, load_stack

TEMPLATE = Path(__file__).parents[2] / "unit" / "local" / "data" / "template.yaml"


@pytest.fixture(scope="module")
def stack() -> Stack:
    return load_stack(TEMPLATE)


@pytest.fixture(scope="module")
def local_aws(stack: Stack) -> Iterator[aws.LocalAws]:
    running = aws.start(0)
    aws.create_resources(running, stack)
    yield running
    running.stop()


def test_endpoint_on_a_free_port(local_aws: aws.LocalAws) -> None:
    assert local_aws.endpoint.startswith("http://127.0.0.1:")
    assert not local_aws.endpoint.endswith(":0")


def test_tables_with_keys_and_ttl(local_aws: aws.LocalAws, stack: Stack) -> None:
    ddb = local_aws.dynamodb()
    for table in stack.tables:
        described = ddb.describe_table(TableName=table.name)["Table"]
        assert described["KeySchema"] == table.key_schema
        ttl = ddb.describe_time_to_live(TableName=table.name)["TimeToLiveDescription"]
        if table.ttl_attribute:
            assert ttl.get("AttributeName") == table.ttl_attribute
        else:
            assert ttl["TimeToLiveStatus"] == "DISABLED"


def test_stream_delivers_into_the_bucket_prefix(local_aws: aws.LocalAws, stack: Stack) -> None:
    stream = stack.raw_stream
    local_aws.firehose().put_record_batch(DeliveryStreamName=stream.name, Records=[{"Data": b"row\n"}])
    listed = local_aws.s3().list_objects_v2(Bucket=stream.bucket, Prefix=stream.prefix)
    keys = [o["Key"] for o in listed.get("Contents", [])]
    assert keys
    body = local_aws.s3().get_object(Bucket=stream.bucket, Key=keys[-1])["Body"].read()
    assert body == b"row\n"


def test_admin_token_stored_by_hash(local_aws: aws.LocalAws, stack: Stack) -> None:
    table = stack.function.environment["TOKENS_TABLE"]
    aws.seed_admin_token(local_aws, table, "eu-1", "plain-secret")
    item = local_aws.dynamodb().get_item(
        TableName=table, Key={"token_hash": {"S": hash_token("plain-secret")}}
    )["Item"]
    assert item["workspace_id"] == {"S": "local"}
    assert item["cluster"] == {"S": "eu-1"}
    assert item["scopes"] == {"L": [{"S": "ADMIN"}]}
    assert "plain-secret" not in str(item)


def test_busy_port_is_an_error_not_a_hang(local_aws: aws.LocalAws) -> None:
    port = int(local_aws.endpoint.rsplit(":", 1)[1])
    with pytest.raises(OSError):
        aws.start(port)


def test_a_client_slow_to_send_holds_no_one_else(local_aws: aws.LocalAws) -> None:
    """AWS calls take turns (lakegate_local.moto_server), but a body is read before a call's turn."""
    host, port = local_aws.endpoint.removeprefix("http://").rsplit(":", 1)
    with socket.create_connection((host, int(port))) as stalled:
        stalled.sendall(
            b"POST / HTTP/1.1\r\nHost: x\r\nX-Amz-Target: DynamoDB_20120810.ListTables\r\n"
            b"Content-Type: application/x-amz-json-1.0\r\nContent-Length: 100\r\n\r\n{"
        )
        started = time.monotonic()
        assert local_aws.dynamodb().list_tables()["TableNames"]
        assert time.monotonic() - started < 5


def test_a_bucket_read_straight_from_moto(local_aws: aws.LocalAws, stack: Stack) -> None:
    bucket = stack.raw_stream.bucket
    s3 = local_aws.s3()
    for key in ("raw/direct/a", "raw/direct/b", "elsewhere/c"):
        s3.put_object(Bucket=bucket, Key=key, Body=b"\x00bytes of " + key.encode())
    s3.delete_object(Bucket=bucket, Key="raw/direct/b")
    objects = local_aws.objects(bucket)

    listed = objects.etags("raw/direct/")
    assert list(listed) == ["raw/direct/a"]
    assert listed == {"raw/direct/a": s3.head_object(Bucket=bucket, Key="raw/direct/a")["ETag"]}
    assert objects.read("raw/direct/a") == b"\x00bytes of raw/direct/a"
    with pytest.raises(FileNotFoundError):
        objects.read("raw/direct/b")


def _call(conn: http.client.HTTPConnection, method: str, url: str, body: bytes = b"") -> Any:
    conn.request(method, "/" + url.split("/", 3)[3], body)  # the path and query of a presigned URL
    response = conn.getresponse()
    return response, response.read()


def test_connections_are_kept_alive(local_aws: aws.LocalAws, stack: Stack) -> None:
    """One connection serves call after call, a HEAD's answer included (its length given, no body sent)."""
    s3, bucket = local_aws.s3(), stack.raw_stream.bucket
    url = {
        (op, key): s3.generate_presigned_url(op, Params={"Bucket": bucket, "Key": f"kept/{key}"})
        for op in ("put_object", "head_object", "get_object")
        for key in ("alive", "missing")
    }
    host, port = local_aws.endpoint.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        put, _ = _call(conn, "PUT", url["put_object", "alive"], b"0123456789")
        head, head_body = _call(conn, "HEAD", url["head_object", "alive"])
        get, body = _call(conn, "GET", url["get_object", "alive"])
        missing, _ = _call(conn, "GET", url["get_object", "missing"])
        sock = conn.sock
        again, _ = _call(conn, "GET", url["get_object", "alive"])

        assert (put.status, head.status, get.status, missing.status, again.status) == (
            200,
            200,
            200,
            404,
            200,
        )
        assert head.getheader("Content-Length") == "10"
        assert head_body == b""
        assert body == b"0123456789"
        assert get.getheader("Content-Length") == "10"
        assert conn.sock is sock is not None  # the same connection throughout
        assert not again.will_close
    finally:
        conn.close()


def test_a_chunked_body_closes_its_connection(local_aws: aws.LocalAws, stack: Stack) -> None:
    """A de-chunked body may leave its trailer unread: the server reads no other request after it."""
    bucket = stack.raw_stream.bucket
    host, port = local_aws.endpoint.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        url = local_aws.s3().generate_presigned_url(
            "put_object", Params={"Bucket": bucket, "Key": "kept/chunked"}
        )
        conn.request(
            "PUT",
            "/" + url.split("/", 3)[3],
            iter([b"01234", b"56789"]),
            {"Transfer-Encoding": "chunked"},
            encode_chunked=True,
        )
        put = conn.getresponse()
        put.read()
    finally:
        conn.close()

    assert put.status == 200
    assert put.will_close
    assert local_aws.objects(bucket).read("kept/chunked") == b"0123456789"


def test_a_moto_crash_is_a_500_and_the_server_goes_on(
    local_aws: aws.LocalAws, monkeypatch: pytest.MonkeyPatch
) -> None:
    def crash(self: Any, environ: dict[str, Any]) -> Any:
        raise KeyError("a moto bug")

    monkeypatch.setattr(DomainDispatcherApplication, "get_application", crash)
    host, port = local_aws.endpoint.removeprefix("http://").rsplit(":", 1)
    conn = http.client.HTTPConnection(host, int(port), timeout=10)
    try:
        conn.request(
            "POST",
            "/",
            b"{}",
            {"X-Amz-Target": "DynamoDB_20120810.ListTables", "Content-Type": "application/x-amz-json-1.0"},
        )
        crashed = conn.getresponse()
        page = crashed.read()
    finally:
        conn.close()
    monkeypatch.undo()

    assert crashed.status == 500
    assert b"Internal Server Error" in page
    assert crashed.will_close
    assert local_aws.dynamodb().list_tables()["TableNames"]
