"""`lakegate --stack NAME`: names from a CloudFormation stack's outputs (moto's CloudFormation).

The stack is made of template.yaml's own tables and bucket and the outputs the CLI reads, so the
output names and the resources cannot drift from the template.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest
from moto import mock_aws

from lakegate.aws.tokens import DynamoTokenStore
from lakegate.ingest.auth import hash_token
from lakegate_cli.main import main
from lakegate_cli.target import OUTPUTS
from lakegate_local import cfn_yaml
from tests.integration.conftest import offline_aws

ROOT = Path(__file__).resolve().parents[3]
REGION = "us-east-1"
KEPT = ("AWS::DynamoDB::Table", "AWS::S3::Bucket")


def _stack_template(outputs: tuple[str, ...]) -> str:
    """template.yaml's tables and bucket (no SAM transform needed), with the named outputs."""
    template = cfn_yaml.load(ROOT / "template.yaml")
    resources = {k: r for k, r in template["Resources"].items() if r["Type"] in KEPT}
    kept = {k: o for k, o in template["Outputs"].items() if k in outputs}
    body = {"Parameters": template["Parameters"], "Resources": resources, "Outputs": kept}
    return orjson.dumps(body).decode()


@pytest.fixture
def session(monkeypatch: pytest.MonkeyPatch) -> Iterator[Any]:
    offline_aws(monkeypatch)
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        cfn = session.client("cloudformation")
        cfn.create_stack(
            StackName="lakegate-prod",
            TemplateBody=_stack_template(tuple(OUTPUTS.values())),
            Parameters=[{"ParameterKey": "ClusterId", "ParameterValue": "eu-1"}],
        )
        cfn.create_stack(StackName="partial", TemplateBody=_stack_template(("TokensTableName",)))
        yield session


def _run(*argv: str) -> tuple[int, str]:
    out = io.StringIO()
    return main(list(argv), out=out), out.getvalue()


def test_create_and_list_through_the_stack_outputs(session: Any) -> None:
    outputs = {
        o["OutputKey"]: o["OutputValue"]
        for o in session.client("cloudformation").describe_stacks(StackName="lakegate-prod")["Stacks"][0][
            "Outputs"
        ]
    }
    status, out = _run(
        "--stack", "lakegate-prod", "tokens", "create", "--workspace", "ws1", "--scope", "ADMIN"
    )
    assert status == 0
    token = DynamoTokenStore(outputs["TokensTableName"], session.client("dynamodb")).get(
        hash_token(out.strip())
    )
    assert token is not None
    # The cluster is the stack's ClusterId parameter, as its functions see it.
    assert token.cluster == "eu-1"
    status, out = _run("tokens", "list", "--stack", "lakegate-prod")
    assert status == 0 and "ws1" in out
    status, out = _run("--stack", "lakegate-prod", "quarantine")
    assert status == 0 and f"s3://{outputs['LakeBucketName']}/" in out
    status, out = _run("--stack", "lakegate-prod", "datasources", "list")
    assert status == 0 and out.startswith("NAME")


def test_unknown_stack_is_one_line(session: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("--stack", "nope", "tokens", "list")[0] == 2
    assert capsys.readouterr().err == (
        "lakegate: unknown stack 'nope': no such CloudFormation stack in this account and region\n"
    )


def test_missing_output_names_it_and_the_flag(session: Any, capsys: pytest.CaptureFixture[str]) -> None:
    assert _run("--stack", "partial", "tokens", "list")[0] == 0
    capsys.readouterr()
    assert _run("--stack", "partial", "quarantine")[0] == 2
    assert capsys.readouterr().err == (
        "lakegate: stack 'partial' names no lake bucket (output LakeBucketName): pass --bucket NAME\n"
    )


def test_an_explicit_name_overrides_the_stack_and_a_wrong_table_is_one_line(
    session: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    assert _run("--stack", "lakegate-prod", "--tokens-table", "other", "tokens", "list")[0] == 2
    err = capsys.readouterr().err
    assert err.startswith("lakegate: not found at AWS") and err.count("\n") == 1


def test_a_stack_without_cluster_needs_cluster(session: Any, capsys: pytest.CaptureFixture[str]) -> None:
    # "partial" was created without parameters: its ClusterId is the template's default.
    status, _ = _run("--stack", "partial", "tokens", "create", "--workspace", "w", "--scope", "ADMIN")
    assert status == 0
    status, _ = _run("--tokens-table", "x", "tokens", "create", "--workspace", "w", "--scope", "ADMIN")
    assert status == 2
    assert "no cluster: pass --cluster" in capsys.readouterr().err
