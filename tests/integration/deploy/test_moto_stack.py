"""template.yaml through the SAM translator into moto's CloudFormation: the names the stack gives its
resources are the names the functions are given, and the real handlers and the CLI work on them."""

from __future__ import annotations

import base64
import io
import re
from typing import Any

import orjson
import pytest

from lakegate_cli.main import main as cli
from lakegate_local import cfn_yaml
from lakegate_local.aws import start as start_moto
from lakegate_local.runtime import fake_context
from tests.integration.deploy.sam_stack import REGION, ROOT, STACK, Deployed, cold_start

# Output -> the variable each function reads it from (template.yaml's Globals and the compactor's own).
WIRING = {
    "TokensTableName": "TOKENS_TABLE",
    "DataSourcesTableName": "DATASOURCES_TABLE",
    "RateLimitsTableName": "RATE_LIMITS_TABLE",
    "RefsTableName": "REFS_TABLE",
    "DeliveryStreamName": "DELIVERY_STREAM",
}


def test_the_translator_makes_the_functions_arm64_python313(transformed: dict[str, Any]) -> None:
    functions = {k: r for k, r in transformed["Resources"].items() if r["Type"] == "AWS::Lambda::Function"}
    assert set(functions) == {"IngestFunction", "CompactorFunction"}
    for resource in functions.values():
        assert resource["Properties"]["Architectures"] == ["arm64"]
        assert resource["Properties"]["Runtime"] == "python3.13"


def test_tables_are_created_as_the_template_declares_them(stack: Deployed) -> None:
    template = cfn_yaml.load(ROOT / "template.yaml")["Resources"]
    ddb = stack.session.client("dynamodb")
    for output in ("TokensTableName", "DataSourcesTableName", "RateLimitsTableName", "RefsTableName"):
        logical_id = output.removesuffix("Name")
        declared = template[logical_id]["Properties"]
        table = ddb.describe_table(TableName=stack.outputs[output])["Table"]
        assert table["KeySchema"] == declared["KeySchema"]
        assert stack.physical[logical_id] == stack.outputs[output]
    assert stack.session.client("s3").head_bucket(Bucket=stack.outputs["LakeBucketName"])


def test_functions_are_given_the_stack_resource_names(stack: Deployed) -> None:
    ingest, compactor = (
        stack.function_environment("IngestFunction"),
        stack.function_environment("CompactorFunction"),
    )
    for output, variable in WIRING.items():
        assert ingest[variable] == stack.outputs[output], variable
    assert compactor["LAKE_BUCKET"] == stack.outputs["LakeBucketName"]
    assert compactor["GLUE_DATABASE"] == stack.outputs["GlueDatabaseName"]
    assert compactor["DATASOURCES_TABLE"] == stack.outputs["DataSourcesTableName"]
    streams = stack.session.client("firehose").list_delivery_streams()["DeliveryStreamNames"]
    assert ingest["DELIVERY_STREAM"] in streams
    template = cfn_yaml.load(ROOT / "template.yaml")
    start = template["Parameters"]["PartitionProjectionStart"]["Default"]
    assert compactor["PARTITION_PROJECTION_START"] == start


def test_account_wide_names_are_unique_per_stack_and_region(stack: Deployed) -> None:
    # Dashboards are global in an account; Glue databases are per region (moto cannot create one from
    # a stack, so its name is read from the template: the stack's name, hyphens as underscores).
    assert stack.physical["Dashboard"] == f"{STACK}-{REGION}"
    url = f"https://console.aws.amazon.com/cloudwatch/home?region={REGION}#dashboards:name={STACK}-{REGION}"
    assert stack.outputs["DashboardUrl"] == url
    database = cfn_yaml.load(ROOT / "template.yaml")["Resources"]["LakeDatabase"]["Properties"]
    assert database["DatabaseInput"]["Name"] == {
        "Fn::Join": ["_", {"Fn::Split": ["-", {"Ref": "AWS::StackName"}]}]
    }


def test_cli_token_ingest_compact_and_show_on_the_stack(
    stack: Deployed, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Given a token the CLI creates through the stack's outputs
    out = io.StringIO()
    assert cli(["--stack", STACK, "tokens", "create", "--workspace", "ws1", "--scope", "ADMIN"], out=out) == 0
    token = out.getvalue().strip()

    # When the real ingest handler, configured as the stack configures it, takes a sample event
    import app

    cold_start(monkeypatch, stack.function_environment("IngestFunction"))
    monkeypatch.setattr(app, "_app", None)
    event = orjson.loads((ROOT / "events" / "single.json").read_bytes())
    event["headers"]["authorization"] = f"Bearer {token}"
    response = app.lambda_handler(event, fake_context())
    assert response["statusCode"] == 202, response

    # Then its rows are in the stack's bucket under raw/, and the compactor lands them as Parquet
    s3 = stack.session.client("s3")
    bucket = stack.outputs["LakeBucketName"]
    raw = [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="raw/").get("Contents", [])]
    assert len(raw) == 1

    import compactor_app

    cold_start(monkeypatch, stack.function_environment("CompactorFunction"))
    monkeypatch.setattr(compactor_app, "_compactor", None)
    created = {
        "detail-type": "Object Created",
        "detail": {"bucket": {"name": bucket}, "object": {"key": raw[0]}},
    }
    compactor_app.lambda_handler(created, fake_context("CompactorFunction"))
    landed = [
        o["Key"]
        for o in s3.list_objects_v2(Bucket=bucket, Prefix="datasources/ws1/events_test/").get("Contents", [])
    ]
    assert landed and all(k.endswith(".parquet") for k in landed)

    # And the CLI shows the schema inferred from the sample row
    out = io.StringIO()
    assert cli(["--stack", STACK, "datasources", "show", "events_test"], out=out) == 0
    body = base64.b64decode(event["body"]) if event.get("isBase64Encoded") else event["body"].encode()
    for field in orjson.loads(body.splitlines()[0]):
        assert f"`json:$.{field}`" in out.getvalue()

    # And `lakegate query` reads the landed rows in place from the stack's bucket: pyarrow's S3 client is
    # not botocore, so it reaches the emulated account through a moto server (same backends, this process)
    server = start_moto(0)
    try:
        out = io.StringIO()
        argv = [
            "--stack",
            STACK,
            "--endpoint-url",
            server.endpoint,
            "query",
            "SELECT count(*) AS n FROM events_test",
        ]
        assert cli(argv, out=out) == 0
    finally:
        server.stop()
    assert out.getvalue() == f"n\n{len(body.splitlines())}\n"


def _lakegate_metrics(widgets: list[dict[str, Any]]) -> set[str]:
    """The Lakegate metric names a dashboard's widgets show ("." repeats the row above's field)."""
    names = set()
    for widget in widgets:
        previous: list[Any] = []
        for row in widget["properties"].get("metrics", []):
            fields = [f for f in row if not isinstance(f, dict)]
            if fields and fields[0] != "...":
                fields = [previous[i] if f == "." else f for i, f in enumerate(fields)]
                previous = fields
                if fields[0] == "Lakegate":
                    names.add(fields[1])
    return names


def test_the_dashboard_is_created_and_charts_only_metrics_the_code_emits(stack: Deployed) -> None:
    body = stack.session.client("cloudwatch").get_dashboard(DashboardName=stack.physical["Dashboard"])
    widgets = orjson.loads(body["DashboardBody"])["widgets"]
    source = "".join(p.read_text() for p in (ROOT / "functions").rglob("*.py"))
    emitted = set(re.findall(r'add_metric\(name="(\w+)"', source))
    # app.py names the status metrics by class: f"Status{status // 100}xx".
    emitted |= {"Status4xx", "Status5xx"} if 'name=f"Status{status // 100}xx"' in source else set()
    shown = _lakegate_metrics(widgets)
    assert {"SuccessfulRows", "QuarantinedRows", "LandedRows", "UnreadableRawObjects"} <= shown
    assert shown <= emitted, f"charted but never emitted: {shown - emitted}"
    template = cfn_yaml.load(ROOT / "template.yaml")["Resources"]
    alarms = {k for k, r in template.items() if r["Type"] == "AWS::CloudWatch::Alarm"}
    listed = next(w for w in widgets if w["type"] == "alarm")["properties"]["alarms"]
    assert len(listed) == len(alarms), "every alarm of the template is on the dashboard"
