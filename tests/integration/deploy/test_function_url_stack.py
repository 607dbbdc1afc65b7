"""template.yaml deployed with FrontDoor=FunctionUrl: the URL in front of the ingest function, its CORS the
URL's, the HTTP API closed by its throttle, and the real handler serving a URL's event on that stack."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from lakegate.ingest.auth import hash_token
from lakegate_local.apigw import api_event
from lakegate_local.runtime import fake_context
from tests.integration.deploy.sam_stack import REGION, Deployed, cold_start, deploy

STACK = "lakegate-url"


@pytest.fixture(scope="module")
def url_stack(transformed: dict[str, Any]) -> Iterator[Deployed]:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("AWS_ENDPOINT_URL", raising=False)
        for key, value in {
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }.items():
            mp.setenv(key, value)
        with mock_aws(), warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            session = boto3.session.Session(region_name=REGION)
            yield deploy(session, transformed, STACK, {"FrontDoor": "FunctionUrl"})


def test_the_translated_template_declares_the_url_and_its_grants_under_the_condition(
    transformed: dict[str, Any],
) -> None:
    resources = transformed["Resources"]
    url = resources["IngestFunctionUrl"]
    assert url["Condition"] == "ServeFunctionUrl"
    assert url["Properties"]["AuthType"] == "NONE"  # the function checks the token, as behind the HTTP API
    grants = {
        (r["Properties"]["Action"], r["Properties"].get("FunctionUrlAuthType"))
        for r in resources.values()
        if r["Type"] == "AWS::Lambda::Permission" and r.get("Condition") == "ServeFunctionUrl"
    }
    assert grants == {("lambda:InvokeFunctionUrl", "NONE"), ("lambda:InvokeFunction", None)}
    stage = next(r for r in resources.values() if r["Type"] == "AWS::ApiGatewayV2::Stage")
    throttle = stage["Properties"]["DefaultRouteSettings"]["ThrottlingRateLimit"]
    assert throttle == {"Fn::If": ["ServeFunctionUrl", 0, {"Ref": "ApiThrottlingRateLimit"}]}


def test_the_url_stack_serves_the_function_through_its_url(
    url_stack: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    environment = url_stack.function_environment("IngestFunction")
    assert environment["FRONT_DOOR"] == "FunctionUrl"
    assert url_stack.outputs["ApiUrl"].endswith(".lambda-url.us-east-1.on.aws")
    config = url_stack.session.client("lambda").get_function_url_config(
        FunctionName=url_stack.physical["IngestFunction"]
    )
    assert config["Cors"]["AllowOrigins"] == ["*"]

    # The real handler, configured as this stack configures it, takes a URL's event: no route key
    import app

    cold_start(monkeypatch, environment)
    monkeypatch.setattr(app, "_app", None)
    tokens = url_stack.physical["TokensTable"]
    url_stack.session.client("dynamodb").put_item(
        TableName=tokens,
        Item={
            "token_hash": {"S": hash_token("url-token")},
            "workspace_id": {"S": "ws1"},
            "cluster": {"S": environment["CLUSTER_ID"]},
            "scopes": {"L": [{"S": "ADMIN"}]},
        },
    )
    event = api_event(
        "POST",
        "/v0/events?name=via_url",
        {"authorization": "Bearer url-token", "origin": "https://app.example"},
        b'{"a": 1}\n',
        route_key="$default",
    )
    response = app.lambda_handler(event, fake_context())

    assert response["statusCode"] == 202, response
    assert not any(k.lower().startswith("access-control-") for k in response["headers"])
    bucket = url_stack.outputs["LakeBucketName"]
    raw = url_stack.session.client("s3").list_objects_v2(Bucket=bucket, Prefix="raw/").get("Contents", [])
    assert len(raw) == 1
