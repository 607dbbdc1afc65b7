"""The local stack derived from a template: tables, bucket, stream and the function's env and routes."""

from pathlib import Path

import pytest

from lakegate_local.intrinsics import TemplateError
from lakegate_local.template import Route, Stack, derive, load_stack

DATA = Path(__file__).parent / "data"
REPO_TEMPLATE = Path(__file__).parents[3] / "template.yaml"


@pytest.fixture(scope="module")
def stack() -> Stack:
    return load_stack(DATA / "template.yaml")


def test_tables_from_their_definitions(stack: Stack) -> None:
    tables = {t.logical_id: t for t in stack.tables}
    # ProdOnlyTable's condition is false with the parameters' defaults.
    assert set(tables) == {"TokensTable", "RefsTable"}
    tokens = tables["TokensTable"].create_table_kwargs()
    assert tokens["TableName"] == "lakegate-local-TokensTable"
    assert tokens["KeySchema"] == [{"AttributeName": "token_hash", "KeyType": "HASH"}]
    assert tokens["BillingMode"] == "PAY_PER_REQUEST"
    # CloudFormation-only index settings are not CreateTable parameters.
    assert tokens["GlobalSecondaryIndexes"] == [
        {
            "IndexName": "by-workspace",
            "KeySchema": [{"AttributeName": "workspace_id", "KeyType": "HASH"}],
            "Projection": {"ProjectionType": "KEYS_ONLY"},
        }
    ]
    assert tables["TokensTable"].ttl_attribute is None
    assert tables["RefsTable"].ttl_attribute == "expires_at"
    assert tables["RefsTable"].billing_mode == "PAY_PER_REQUEST"


def test_bucket_and_stream(stack: Stack) -> None:
    assert stack.buckets == ("lakegate-local-lakebucket",)
    stream = stack.raw_stream
    assert (stream.name, stream.bucket, stream.prefix) == (
        "lakegate-local-RawStream",
        "lakegate-local-lakebucket",
        "raw/",
    )
    destination = stream.create_kwargs()["ExtendedS3DestinationConfiguration"]
    assert destination["BucketARN"] == "arn:aws:s3:::lakegate-local-lakebucket"
    assert destination["RoleARN"] == "arn:aws:iam::123456789012:role/lakegate-local-FirehoseRole"


def test_function_environment_merges_globals(stack: Stack) -> None:
    f = stack.function
    assert (f.handler, f.timeout_seconds, f.memory_mb) == ("app.lambda_handler", 10, 512)
    assert f.environment == {
        "POWERTOOLS_SERVICE_NAME": "lakegate",
        "LOG_LEVEL": "DEBUG",  # the function's own value wins over Globals
        "BUCKET": "lakegate-local-lakebucket",
        "TOKENS_TABLE": "lakegate-local-TokensTable",
        "REFS_TABLE": "lakegate-local-RefsTable",
        "DELIVERY_STREAM": "lakegate-local-RawStream",
        "CLUSTER_ID": "eu-1",
        "SEND_BUDGET_SECONDS": "8",
        "STRICT": "true",
        "STREAM_ARN": "arn:aws:firehose:us-east-1:123456789012:deliverystream/lakegate-local-RawStream",
    }


def test_routes_are_the_http_api_events(stack: Stack) -> None:
    assert stack.function.routes == (Route("POST", "/v0/events"), Route("POST", "/events"))
    assert [r.key for r in stack.function.routes] == ["POST /v0/events", "POST /events"]


def test_event_without_path_is_the_default_route() -> None:
    template = {
        "Resources": {
            "IngestFunction": {
                "Type": "AWS::Serverless::Function",
                "Properties": {"Handler": "app.h", "Events": {"All": {"Type": "HttpApi"}}},
            }
        }
    }
    assert derive(template).function.routes == (Route("ANY", "$default"),)


def test_payload_format_1_is_refused() -> None:
    template = {
        "Resources": {
            "IngestFunction": {
                "Type": "AWS::Serverless::Function",
                "Properties": {
                    "Handler": "app.h",
                    "Events": {"E": {"Type": "HttpApi", "Properties": {"PayloadFormatVersion": "1.0"}}},
                },
            }
        }
    }
    with pytest.raises(TemplateError, match=r"2\.0"):
        derive(template)


def test_missing_function_is_an_error() -> None:
    with pytest.raises(TemplateError, match="IngestFunction"):
        derive({"Resources": {}})


@pytest.mark.skipif(not REPO_TEMPLATE.exists(), reason="template.yaml not written yet")
def test_repo_template_names_only_resources_the_local_server_creates() -> None:
    """Every table and stream the ingest function is told about exists in the local stack."""
    stack = load_stack(REPO_TEMPLATE)
    env = stack.function.environment
    tables = {t.name for t in stack.tables}
    for name in ("TOKENS_TABLE", "DATASOURCES_TABLE", "RATE_LIMITS_TABLE", "REFS_TABLE"):
        assert env[name] in tables, name
    assert env["DELIVERY_STREAM"] in {s.name for s in stack.delivery_streams}
    assert env["CLUSTER_ID"]
    assert any(r.key == "POST /v0/events" for r in stack.function.routes)


def test_a_parameter_override_must_be_declared_and_allowed() -> None:
    template = Path(__file__).resolve().parents[3] / "template.yaml"
    with pytest.raises(TemplateError, match="must be one of HttpApi, FunctionUrl"):
        load_stack(template, parameters={"FrontDoor": "Cloudfront"})
    with pytest.raises(TemplateError, match="not declared"):
        load_stack(template, parameters={"NoSuchParameter": "1"})
