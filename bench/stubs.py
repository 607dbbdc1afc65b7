"""AWS answered at the HTTP layer, after botocore has serialised each request (so that cost is
measured, not AWS's), and API Gateway events and a Lambda context, for the benchmarks."""

from __future__ import annotations

from typing import Any

import orjson

from lakegate.schema import DataSource
from lakegate_local import apigw
from lakegate_local.runtime import LambdaContext, fake_context

TOKEN = "bench-token"
ENV = {
    "TOKENS_TABLE": "tokens",
    "DATASOURCES_TABLE": "datasources",
    "RATE_LIMITS_TABLE": "rate",
    "REFS_TABLE": "refs",
    "DELIVERY_STREAM": "stream",
    "CLUSTER_ID": "bench",
    "POWERTOOLS_METRICS_NAMESPACE": "Bench",
    "POWERTOOLS_SERVICE_NAME": "lakegate",
    "LOG_LEVEL": "WARNING",
    "AWS_DEFAULT_REGION": "us-east-1",
    "AWS_ACCESS_KEY_ID": "bench",
    "AWS_SECRET_ACCESS_KEY": "bench",
}


class _Raw:
    """Just enough of urllib3's response for botocore."""

    def __init__(self, body: bytes) -> None:
        self._body = body

    def stream(self, *_: object, **__: object) -> Any:
        yield self._body

    def read(self, *_: object) -> bytes:
        return self._body


def _count_records(body: bytes) -> int:
    """The records in a PutRecordBatch body, hopping over each base64 value with memchr-speed finds:
    parsing the ~13 MB of JSON would bill AWS's side of the call to the handler (~15 ms)."""
    count, pos = 0, body.find(b'"Data"')
    while pos >= 0:
        count += 1
        value = body.find(b'"', pos + len(b'"Data"')) + 1  # base64 holds no quote
        pos = body.find(b'"Data"', body.find(b'"', value) + 1)
    return count


def _stub_aws(request: Any, **_: object) -> Any:
    """Answer at the HTTP layer, after botocore has serialised the request (that cost is measured)."""
    from botocore.awsrequest import AWSResponse, HTTPHeaders

    target = request.headers.get("X-Amz-Target", b"")
    target = target.decode() if isinstance(target, bytes) else target
    if target.endswith("PutRecordBatch"):
        n = _count_records(request.body)
        body = orjson.dumps(
            {"FailedPutCount": 0, "Encrypted": False, "RequestResponses": [{"RecordId": "r"}] * n}
        )
    elif target.endswith("GetItem") and b'"token_hash"' in request.body:
        from lakegate.ingest.auth import hash_token

        body = orjson.dumps(
            {
                "Item": {
                    "token_hash": {"S": hash_token(TOKEN)},
                    "workspace_id": {"S": "ws"},
                    "cluster": {"S": "bench"},
                    "scopes": {"L": [{"S": "ADMIN"}]},
                }
            }
        )
    elif target.endswith("GetItem"):
        body = orjson.dumps({"Item": _SCHEMA_ITEM}) if _SCHEMA_ITEM else b"{}"
    elif target.endswith("UpdateItem"):  # a rate-limit counter: always the first hit of its window
        body = orjson.dumps({"Attributes": {"n": {"N": "1"}}})
    else:
        body = b"{}"
    headers = HTTPHeaders()
    headers["Content-Type"] = "application/x-amz-json-1.1"
    return AWSResponse(request.url, 200, headers, _Raw(body))


_SCHEMA_ITEM: dict[str, Any] = {}


def stub_aws(datasource: DataSource) -> None:
    """Point the handler's clients at the stub; the registry answers with `datasource`."""
    from lakegate.aws import clients

    _SCHEMA_ITEM.update(
        {
            "workspace_id": {"S": "ws"},
            "name": {"S": datasource.name},
            "schema": {"S": orjson.dumps(datasource.to_dict()).decode()},
        }
    )
    for client in (clients.dynamodb(), clients.firehose()):
        client.meta.events.register("before-send", _stub_aws)


def api_event(body: bytes, query: str, headers: dict[str, str] | None = None) -> dict[str, Any]:
    """An HTTP API (payload 2.0) event for POST /v0/events, the body base64 as API Gateway sends NDJSON."""
    sent = {"authorization": f"Bearer {TOKEN}", "content-type": "application/x-ndjson"} | (headers or {})
    return apigw.api_event("POST", f"/v0/events?{query}", sent, body, request_id="bench")


def context() -> LambdaContext:
    """A Lambda context with the function's whole timeout ahead."""
    return fake_context("bench", "bench", timeout_seconds=30.0)
