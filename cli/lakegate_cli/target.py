"""Which deployment the CLI talks to: its table and bucket names, and clients aimed at its endpoint.

Names come from one place, as the functions get them: a deployed stack's outputs (`--stack`),
template.yaml read the way the local server reads it (`--local`), or flags naming each resource.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from types import SimpleNamespace
from typing import TYPE_CHECKING, Any

import boto3
from botocore.config import Config
from botocore.exceptions import BotoCoreError, ClientError

from lakegate.aws.errors import error_code
from lakegate_cli.errors import CliError
from lakegate_local.intrinsics import TemplateError
from lakegate_local.template import load_function, load_stack

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_s3 import S3Client

TOKENS = "tokens_table"
DATASOURCES = "datasources_table"
BUCKET = "bucket"
REFS = "refs_table"
# The stack outputs template.yaml declares for each name.
OUTPUTS = {
    TOKENS: "TokensTableName",
    DATASOURCES: "DataSourcesTableName",
    BUCKET: "LakeBucketName",
    REFS: "RefsTableName",
}
FLAGS = {
    TOKENS: "--tokens-table",
    DATASOURCES: "--datasources-table",
    BUCKET: "--bucket",
    REFS: "--refs-table",
}
LABELS = {
    TOKENS: "tokens table",
    DATASOURCES: "data sources table",
    BUCKET: "lake bucket",
    REFS: "refs table",
}
# The local server's defaults (`make run`): its AWS endpoint, the region and the function it reads.
LOCAL_ENDPOINT = "http://127.0.0.1:4566"
LOCAL_REGION = "us-east-1"
COMPACTOR = "CompactorFunction"
# moto checks no signature, but a client must sign with something.
DUMMY_CREDENTIALS = {"aws_access_key_id": "testing", "aws_secret_access_key": "testing"}
# boto3 reads the region from AWS_DEFAULT_REGION or the profile's config, not from AWS_REGION.
NO_REGION = "no AWS region: pass --region, set AWS_DEFAULT_REGION, or give your AWS profile a region"


@dataclass(frozen=True, slots=True)
class Names:
    """The resource names a command may need, and where they were read (for error messages)."""

    values: Mapping[str, str] = field(default_factory=dict)
    origin: str | None = None
    cluster: str | None = None

    def require(self, kind: str) -> str:
        value = self.values.get(kind)
        if value:
            return value
        flag = FLAGS[kind]
        if self.origin is None:
            raise CliError(f"no target: pass --stack NAME, --local or {flag} NAME")
        raise CliError(f"{self.origin} names no {LABELS[kind]} (output {OUTPUTS[kind]}): pass {flag} NAME")

    def override(self, explicit: Mapping[str, str | None]) -> Names:
        """Flags naming a resource win over the stack's or the template's name for it."""
        chosen = {k: v for k, v in explicit.items() if v}
        return Names({**self.values, **chosen}, self.origin, self.cluster)


@dataclass(frozen=True, slots=True)
class Connection:
    """Where AWS is: the real one (region and credentials from the environment) or an endpoint."""

    endpoint_url: str | None = None
    region: str | None = None

    def client(self, service: str) -> Any:
        # Any: boto3's stubs type `client` per service name, and the name is a variable here.
        session: Any = boto3.session.Session()
        kwargs: dict[str, Any] = {
            # An admin waits seconds, not minutes, to learn that an endpoint is down.
            "config": Config(connect_timeout=3, read_timeout=15, retries={"total_max_attempts": 2}),
        }
        region = self.region or session.region_name
        if self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
            region = region or LOCAL_REGION
            if session.get_credentials() is None:
                kwargs.update(DUMMY_CREDENTIALS)
        if not region:
            raise CliError(NO_REGION)
        return session.client(service, region_name=region, **kwargs)

    def s3_filesystem(self) -> Any:
        """pyarrow's S3 filesystem with what `client` would use: region, endpoint and credentials."""
        from lakegate_local.lake_files import s3_filesystem

        session: Any = boto3.session.Session()
        region = self.region or session.region_name
        found = session.get_credentials()
        credentials = found.get_frozen_credentials() if found is not None else None
        if self.endpoint_url:
            region = region or LOCAL_REGION
            if credentials is None:
                credentials = SimpleNamespace(
                    access_key=DUMMY_CREDENTIALS["aws_access_key_id"],
                    secret_key=DUMMY_CREDENTIALS["aws_secret_access_key"],
                    token=None,
                )
        if not region:
            raise CliError(NO_REGION)
        return s3_filesystem(region, self.endpoint_url, credentials)

    def dynamodb(self) -> DynamoDBClient:
        return self.client("dynamodb")  # type: ignore[no-any-return]

    def s3(self) -> S3Client:
        return self.client("s3")  # type: ignore[no-any-return]

    def describe(self) -> str:
        return self.endpoint_url or f"AWS ({self.region or 'default region'})"


def from_stack(cloudformation: Any, stack: str) -> Names:
    """The names from a deployed stack's outputs, its cluster from the ClusterId parameter."""
    try:
        found = cloudformation.describe_stacks(StackName=stack)["Stacks"]
    except ClientError as e:
        # CloudFormation answers an unknown stack with a ValidationError "Stack with id X does not exist".
        if error_code(e) == "ValidationError":
            raise CliError(
                f"unknown stack {stack!r}: no such CloudFormation stack in this account and region"
            ) from e
        raise
    if not found:
        raise CliError(f"unknown stack {stack!r}: no such CloudFormation stack in this account and region")
    outputs = {o["OutputKey"]: o.get("OutputValue", "") for o in found[0].get("Outputs") or ()}
    params = {p["ParameterKey"]: p.get("ParameterValue") for p in found[0].get("Parameters") or ()}
    values = {kind: outputs[key] for kind, key in OUTPUTS.items() if outputs.get(key)}
    return Names(values, f"stack {stack!r}", params.get("ClusterId"))


def from_template(path: Path) -> Names:
    """The names the local server gives the template's resources (`lakegate_local.template`)."""
    try:
        stack = load_stack(path)
    except (OSError, TemplateError) as e:
        raise CliError(f"cannot read {path}: {e}") from e
    env = stack.function.environment
    values = {
        TOKENS: env.get("TOKENS_TABLE", ""),
        DATASOURCES: env.get("DATASOURCES_TABLE", ""),
        REFS: env.get("REFS_TABLE", ""),
    }
    # The local server takes the lake bucket from the compactor's LAKE_BUCKET; a template without
    # a compactor has only the bucket Firehose writes into.
    try:
        bucket = load_function(path, COMPACTOR).environment.get("LAKE_BUCKET", "")
    except TemplateError:
        bucket = ""
    if not bucket and stack.delivery_streams:
        bucket = stack.raw_stream.bucket
    values[BUCKET] = bucket
    return Names({k: v for k, v in values.items() if v}, str(path), env.get("CLUSTER_ID"))


def resolve(
    connection: Connection,
    stack: str | None,
    local_template: Path | None,
    explicit: Mapping[str, str | None],
) -> Names:
    """Names from `--stack` or `--local` (at most one), then the flags naming resources on top."""
    if stack:
        try:
            names = from_stack(connection.client("cloudformation"), stack)
        except (BotoCoreError, ClientError) as e:
            raise aws_error(e, connection) from e
    elif local_template is not None:
        names = from_template(local_template)
    else:
        names = Names()
    return names.override(explicit)


def aws_error(e: BaseException, connection: Connection) -> CliError:
    """An AWS failure in one line: what failed and, when it says, what to check."""
    from botocore.exceptions import EndpointConnectionError, NoCredentialsError, NoRegionError

    if isinstance(e, EndpointConnectionError):
        hint = " (is `make run` running?)" if connection.endpoint_url else ""
        return CliError(f"cannot reach {connection.describe()}{hint}")
    if isinstance(e, NoCredentialsError):
        return CliError("no AWS credentials: configure a profile or pass --endpoint-url for the local server")
    if isinstance(e, NoRegionError):
        return CliError(NO_REGION)
    if isinstance(e, ClientError):
        code = error_code(e)
        text = str(e.response.get("Error", {}).get("Message", "")) or code
        if code == "ResourceNotFoundException":
            return CliError(f"not found at {connection.describe()}: {text}")
        if code == "NoSuchBucket":
            return CliError(f"no such bucket at {connection.describe()}: {text}")
        return CliError(f"AWS refused ({code}): {text}")
    return CliError(f"AWS call failed at {connection.describe()}: {type(e).__name__}")
