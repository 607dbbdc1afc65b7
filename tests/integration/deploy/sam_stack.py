"""template.yaml deployed into moto's CloudFormation the way `sam deploy` would: SAM transform, then a stack.

moto's CloudFormation cannot create every resource type the template uses (Firehose delivery
streams, Glue databases, alarms, bucket policies, log streams). Those are taken out of the stack,
every reference to them replaced by a stand-in name, and the two the code needs (the delivery
stream and the Glue database) created by API under those names, from the template's own properties.
"""

from __future__ import annotations

import copy
import io
import re
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import boto3
import orjson
import pytest

from lakegate_local import cfn_yaml

ROOT = Path(__file__).resolve().parents[3]
STACK = "lakegate-test"
REGION = "us-east-1"
ACCOUNT = "123456789012"
ARTIFACTS = "lakegate-test-artifacts"
CODE_TYPES = {"AWS::Serverless::Function": "CodeUri", "AWS::Serverless::LayerVersion": "ContentUri"}


def transform() -> dict[str, Any]:
    """template.yaml through the SAM translator, code locations replaced as `sam package` does."""
    reason = "aws-sam-translator is not installed (pin aws-sam-translator as requirements-sam.txt does)"
    translator = pytest.importorskip("samtranslator.translator.translator", reason=reason)
    parser = pytest.importorskip("samtranslator.parser.parser", reason=reason)
    template = cfn_yaml.load(ROOT / "template.yaml")
    for logical_id, resource in template["Resources"].items():
        key = CODE_TYPES.get(resource["Type"])
        if key:
            resource["Properties"][key] = f"s3://{ARTIFACTS}/{logical_id}.zip"
    # No managed policy is named in the template (only statements), so no IAM lookup is needed;
    # the session only gives the translator its region for the pseudo parameters.
    sam = translator.Translator({}, parser.Parser(), boto_session=boto3.session.Session(region_name=REGION))
    transformed: dict[str, Any] = sam.translate(template, parameter_values={})
    return transformed


def standin(logical_id: str) -> str:
    return f"{STACK}-{logical_id}"


def standin_arn(resource_type: str, logical_id: str) -> str:
    service = resource_type.split("::")[1].lower()
    kind = {"kinesisfirehose": ("firehose", "deliverystream/")}.get(service, (service, ""))
    return f"arn:aws:{kind[0]}:{REGION}:{ACCOUNT}:{kind[1]}{standin(logical_id)}"


def _substitute(node: Any, removed: Mapping[str, str]) -> Any:
    """Refs, GetAtts and ${...} in Subs to removed resources become their stand-in names and ARNs."""
    if isinstance(node, list):
        return [_substitute(x, removed) for x in node]
    if not isinstance(node, dict):
        return node
    if set(node) == {"Ref"} and node["Ref"] in removed:
        return standin(node["Ref"])
    if set(node) == {"Fn::GetAtt"}:
        target, attr = (
            node["Fn::GetAtt"] if isinstance(node["Fn::GetAtt"], list) else node["Fn::GetAtt"].split(".", 1)
        )
        if target in removed:
            if attr == "FunctionUrl":  # AWS::Lambda::Url: the address Lambda would give it
                return f"https://{standin(target).lower()}.lambda-url.{REGION}.on.aws/"
            return standin_arn(removed[target], target) if attr == "Arn" else standin(target)
    if set(node) == {"Fn::Sub"}:
        body = node["Fn::Sub"]
        text, variables = (body, None) if isinstance(body, str) else (body[0], body[1])

        def replace(m: re.Match[str]) -> str:
            target, _, attr = m.group(1).partition(".")
            if target not in removed:
                return m.group(0)
            return standin_arn(removed[target], target) if attr == "Arn" else standin(target)

        text = re.sub(r"\$\{([A-Za-z0-9]+(?:\.[A-Za-z0-9.]+)?)\}", replace, text)
        return {"Fn::Sub": text if variables is None else [text, _substitute(variables, removed)]}
    return {k: _substitute(v, removed) for k, v in node.items()}


def for_moto(cfn: Mapping[str, Any], supported: set[str]) -> tuple[dict[str, Any], dict[str, dict[str, Any]]]:
    """The stack moto can create, and the resources taken out of it (by logical id)."""
    cfn = copy.deepcopy(dict(cfn))
    removed = {lid: r for lid, r in cfn["Resources"].items() if r["Type"] not in supported}
    types = {lid: r["Type"] for lid, r in removed.items()}
    kept = {lid: r for lid, r in cfn["Resources"].items() if lid not in removed}
    for resource in kept.values():
        depends = resource.get("DependsOn")
        if depends:
            listed = [depends] if isinstance(depends, str) else depends
            resource["DependsOn"] = [d for d in listed if d not in removed]
    stack = {
        **cfn,
        "Resources": _substitute(kept, types),
        "Outputs": _substitute(cfn.get("Outputs", {}), types),
    }
    return stack, removed


@dataclass
class Deployed:
    """The stack as moto created it: outputs, physical ids, and the session that sees it all."""

    session: Any
    outputs: dict[str, str]
    physical: dict[str, str]
    removed: dict[str, dict[str, Any]]
    parameters: Mapping[str, str]

    def function_environment(self, logical_id: str) -> dict[str, str]:
        config = self.session.client("lambda").get_function_configuration(
            FunctionName=self.physical[logical_id]
        )
        return dict(config["Environment"]["Variables"])


def deploy(
    session: Any, cfn: Mapping[str, Any], stack_name: str = STACK, parameters: Mapping[str, str] | None = None
) -> Deployed:
    """Upload placeholder code, create the stack (with `parameters` over the defaults), then the stand-ins
    the code needs."""
    from moto.cloudformation.parsing import get_model_map

    s3 = session.client("s3")
    s3.create_bucket(Bucket=ARTIFACTS)
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as z:
        z.writestr("placeholder.py", "")
    for logical_id, resource in cfn["Resources"].items():
        if resource["Type"] in ("AWS::Lambda::Function", "AWS::Lambda::LayerVersion"):
            s3.put_object(Bucket=ARTIFACTS, Key=f"{logical_id}.zip", Body=code.getvalue())

    stack, removed = for_moto(cfn, set(get_model_map()))
    cloudformation = session.client("cloudformation")
    cloudformation.create_stack(
        StackName=stack_name,
        TemplateBody=orjson.dumps(stack).decode(),
        Capabilities=["CAPABILITY_IAM", "CAPABILITY_AUTO_EXPAND"],
        Parameters=[{"ParameterKey": k, "ParameterValue": v} for k, v in (parameters or {}).items()],
    )
    described = cloudformation.describe_stacks(StackName=stack_name)["Stacks"][0]
    outputs = {o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])}
    physical = {
        r["LogicalResourceId"]: r["PhysicalResourceId"]
        for r in cloudformation.describe_stack_resources(StackName=stack_name)["StackResources"]
        # moto gives permissions and layer versions no physical id; nothing here needs them.
        if "PhysicalResourceId" in r
    }
    deployed = Deployed(session, outputs, physical, removed, parameters or {})
    _create_standins(deployed)
    return deployed


def cold_start(monkeypatch: pytest.MonkeyPatch, environment: Mapping[str, Any]) -> None:
    """A function's environment as Lambda sets it, and a cold start: no cached client or session."""
    from lakegate.aws import clients

    for key, value in environment.items():
        # CloudFormation turns every value into a string; moto keeps the template's numbers.
        monkeypatch.setenv(key, str(value))
    for cached in (clients.dynamodb, clients.firehose, clients.s3, clients.glue, clients._session):
        cached.cache_clear()


def _create_standins(deployed: Deployed) -> None:
    """The delivery stream and Glue database, by API, under their stand-in names."""
    session = deployed.session
    for logical_id, resource in deployed.removed.items():
        props = resource.get("Properties") or {}
        if resource["Type"] == "AWS::KinesisFirehose::DeliveryStream":
            destination = props["ExtendedS3DestinationConfiguration"]
            bucket = deployed.physical[destination["BucketARN"]["Fn::GetAtt"][0]]
            role = session.client("iam").get_role(
                RoleName=deployed.physical[destination["RoleARN"]["Fn::GetAtt"][0]]
            )
            session.client("firehose").create_delivery_stream(
                DeliveryStreamName=standin(logical_id),
                DeliveryStreamType=props.get("DeliveryStreamType", "DirectPut"),
                ExtendedS3DestinationConfiguration={
                    "BucketARN": f"arn:aws:s3:::{bucket}",
                    "RoleARN": role["Role"]["Arn"],
                    "Prefix": destination.get("Prefix", ""),
                },
            )
        elif resource["Type"] == "AWS::Glue::Database":
            session.client("glue").create_database(DatabaseInput={"Name": standin(logical_id)})
        elif resource["Type"] == "AWS::Lambda::Url" and _condition_holds(deployed, resource):
            target = props["TargetFunctionArn"]["Fn::GetAtt"][0]
            # AllowOrigins is `!Split [",", !Ref CorsAllowOrigin]`, resolved as CloudFormation would.
            origins = deployed.parameters.get("CorsAllowOrigin", "*").split(",")
            session.client("lambda").create_function_url_config(
                FunctionName=deployed.physical[target],
                AuthType=props["AuthType"],
                Cors=props["Cors"] | {"AllowOrigins": origins},
            )


def _condition_holds(deployed: Deployed, resource: Mapping[str, Any]) -> bool:
    """Whether CloudFormation created a resource of the stack: its condition, from the function it serves
    (the only conditional stand-in is the Function URL, whose condition is FrontDoor=FunctionUrl)."""
    return "Condition" not in resource or deployed.parameters.get("FrontDoor") == "FunctionUrl"
