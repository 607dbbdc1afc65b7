"""What the local server builds and runs, derived from template.yaml so the two cannot drift apart."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from lakegate_local import cfn_yaml
from lakegate_local.intrinsics import NO_VALUE, Intrinsics, Pseudo, TemplateError

PSEUDO = Pseudo()
TABLE = "AWS::DynamoDB::Table"
BUCKET = "AWS::S3::Bucket"
DELIVERY_STREAM = "AWS::KinesisFirehose::DeliveryStream"
FUNCTION = "AWS::Serverless::Function"
FUNCTION_URL = "AWS::Lambda::Url"
# Lambda's defaults when neither the function nor Globals say.
_DEFAULT_TIMEOUT = 3
_DEFAULT_MEMORY = 128
# The parts of a CloudFormation table/index definition that CreateTable takes as they are.
_INDEX_KEYS = ("IndexName", "KeySchema", "Projection", "ProvisionedThroughput")


def physical_name(logical_id: str, resource_type: str) -> str:
    """`lakegate-local-<LogicalId>`; bucket names must be lower case."""
    name = f"{PSEUDO.stack_name}-{logical_id}"
    return name.lower() if resource_type == BUCKET else name


@dataclass(frozen=True, slots=True)
class Table:
    """One AWS::DynamoDB::Table, in the shape CreateTable and UpdateTimeToLive take."""

    logical_id: str
    name: str
    key_schema: list[dict[str, str]]
    attribute_definitions: list[dict[str, str]]
    billing_mode: str
    ttl_attribute: str | None = None
    provisioned_throughput: dict[str, int] | None = None
    global_secondary_indexes: list[dict[str, Any]] | None = None
    local_secondary_indexes: list[dict[str, Any]] | None = None

    def create_table_kwargs(self) -> dict[str, Any]:
        kwargs: dict[str, Any] = {
            "TableName": self.name,
            "KeySchema": self.key_schema,
            "AttributeDefinitions": self.attribute_definitions,
            "BillingMode": self.billing_mode,
        }
        if self.provisioned_throughput:
            kwargs["ProvisionedThroughput"] = self.provisioned_throughput
        if self.global_secondary_indexes:
            kwargs["GlobalSecondaryIndexes"] = self.global_secondary_indexes
        if self.local_secondary_indexes:
            kwargs["LocalSecondaryIndexes"] = self.local_secondary_indexes
        return kwargs


@dataclass(frozen=True, slots=True)
class DeliveryStream:
    """One Firehose delivery stream into S3: where its objects land."""

    logical_id: str
    name: str
    bucket: str
    prefix: str
    role_arn: str
    error_output_prefix: str | None = None

    def create_kwargs(self) -> dict[str, Any]:
        # Only what moto honours: it ignores compression, buffering and format conversion anyway.
        destination: dict[str, Any] = {
            "RoleARN": self.role_arn,
            "BucketARN": f"arn:{PSEUDO.partition}:s3:::{self.bucket}",
            "Prefix": self.prefix,
        }
        if self.error_output_prefix:
            destination["ErrorOutputPrefix"] = self.error_output_prefix
        return {
            "DeliveryStreamName": self.name,
            "DeliveryStreamType": "DirectPut",
            "ExtendedS3DestinationConfiguration": destination,
        }

    @property
    def listing_prefix(self) -> str:
        """The literal part of the prefix, before any `!{...}` expression."""
        return self.prefix.split("!{", 1)[0]


@dataclass(frozen=True, slots=True)
class Route:
    """One HTTP API route to the function: `POST /v0/events`, `ANY /{proxy+}`, or `$default`."""

    method: str
    path: str

    @property
    def key(self) -> str:
        return "$default" if self.path == "$default" else f"{self.method} {self.path}"


@dataclass(frozen=True, slots=True)
class Function:
    """The function the local HTTP API invokes: its handler, limits, environment and routes."""

    logical_id: str
    name: str
    handler: str
    timeout_seconds: int
    memory_mb: int
    environment: dict[str, str]
    routes: tuple[Route, ...]

    @property
    def arn(self) -> str:
        return f"arn:{PSEUDO.partition}:lambda:{PSEUDO.region}:{PSEUDO.account_id}:function:{self.name}"


@dataclass(frozen=True, slots=True)
class FunctionUrl:
    """An AWS::Lambda::Url in front of the function: every method and path reaches it, and the URL's CORS
    configuration (None: none) answers preflights and adds its headers to the function's answers."""

    allow_origins: tuple[str, ...] = ()
    allow_methods: tuple[str, ...] = ()
    allow_headers: tuple[str, ...] = ()
    expose_headers: tuple[str, ...] = ()
    max_age: int = 0
    allow_credentials: bool = False
    cors: bool = True


@dataclass(frozen=True, slots=True)
class Stack:
    """Everything the local server creates in moto, and the function it serves: behind its HTTP API
    routes, or behind a Function URL when the template (with its parameters) declares one for it."""

    tables: tuple[Table, ...]
    buckets: tuple[str, ...]
    delivery_streams: tuple[DeliveryStream, ...]
    function: Function
    function_url: FunctionUrl | None = None

    @property
    def raw_stream(self) -> DeliveryStream:
        if not self.delivery_streams:
            raise TemplateError("the template declares no AWS::KinesisFirehose::DeliveryStream")
        return self.delivery_streams[0]


def load_stack(
    path: Path, function_id: str = "IngestFunction", parameters: Mapping[str, str] | None = None
) -> Stack:
    """Read `template.yaml` and derive the local stack from it, with `parameters` over the defaults."""
    return derive(cfn_yaml.load(path), function_id, parameters)


def load_function(path: Path, function_id: str) -> Function:
    """A function the local server runs on its own schedule, not behind the HTTP API (the compactor)."""
    template = cfn_yaml.load(path)
    intrinsics = Intrinsics(template, physical_name, PSEUDO)
    resource = (template.get("Resources") or {}).get(function_id) or {}
    if resource.get("Type") != FUNCTION:
        raise TemplateError(f"the template declares no {FUNCTION} named {function_id}")
    globals_ = _Properties((template.get("Globals") or {}).get("Function") or {}, intrinsics)
    return _function(
        function_id, globals_, _Properties(resource.get("Properties") or {}, intrinsics), routed=False
    )


def derive(
    template: Mapping[str, Any],
    function_id: str = "IngestFunction",
    parameters: Mapping[str, str] | None = None,
) -> Stack:
    intrinsics = Intrinsics(template, physical_name, PSEUDO, parameters)
    resources: Mapping[str, Any] = template.get("Resources") or {}
    present = {
        logical_id: resource
        for logical_id, resource in resources.items()
        if "Condition" not in resource or intrinsics.condition(resource["Condition"])
    }

    def of_type(kind: str) -> list[tuple[str, _Properties]]:
        # Only the properties the local server uses are resolved: an intrinsic it cannot evaluate
        # elsewhere (an alarm, a policy) must not stop it.
        return [
            (logical_id, _Properties(r.get("Properties") or {}, intrinsics))
            for logical_id, r in present.items()
            if r.get("Type") == kind
        ]

    if present.get(function_id, {}).get("Type") != FUNCTION:
        raise TemplateError(f"the template declares no {FUNCTION} named {function_id}")
    globals_ = _Properties((template.get("Globals") or {}).get("Function") or {}, intrinsics)
    own = _Properties(present[function_id].get("Properties") or {}, intrinsics)
    function = _function(function_id, globals_, own)
    urls = [_url(props) for _, props in of_type(FUNCTION_URL) if props["TargetFunctionArn"] == function.arn]
    return Stack(
        tables=tuple(_table(logical_id, props) for logical_id, props in of_type(TABLE)),
        buckets=tuple(physical_name(logical_id, BUCKET) for logical_id, _ in of_type(BUCKET)),
        delivery_streams=tuple(_stream(logical_id, props) for logical_id, props in of_type(DELIVERY_STREAM)),
        function=function,
        function_url=urls[0] if urls else None,
    )


def _url(props: _Properties) -> FunctionUrl:
    cors = props.get("Cors")
    if cors is None:
        return FunctionUrl(cors=False)
    return FunctionUrl(
        allow_origins=tuple(map(str, cors.get("AllowOrigins") or ())),
        allow_methods=tuple(str(m).upper() for m in cors.get("AllowMethods") or ()),
        allow_headers=tuple(str(h).lower() for h in cors.get("AllowHeaders") or ()),
        expose_headers=tuple(str(h).lower() for h in cors.get("ExposeHeaders") or ()),
        max_age=int(cors.get("MaxAge") or 0),
        allow_credentials=_is_true(cors.get("AllowCredentials")),
    )


class _Properties:
    """A resource's Properties, each resolved when (and only when) it is read."""

    def __init__(self, raw: Mapping[str, Any], intrinsics: Intrinsics) -> None:
        self._raw = raw
        self._intrinsics = intrinsics

    def __contains__(self, key: str) -> bool:
        return key in self._raw

    def get(self, key: str, default: Any = None) -> Any:
        if key not in self._raw:
            return default
        value = self._intrinsics.resolve(self._raw[key])
        return default if value is NO_VALUE else value

    def __getitem__(self, key: str) -> Any:
        if key not in self._raw:
            raise TemplateError(f"required property {key} is missing")
        return self.get(key)

    def nested(self, key: str) -> dict[str, _Properties]:
        """The entries of a mapping property (a function's Events), each resolved on its own."""
        entries: Mapping[str, Any] = self._raw.get(key) or {}
        return {name: _Properties(value or {}, self._intrinsics) for name, value in entries.items()}


def _table(logical_id: str, props: _Properties) -> Table:
    ttl = props.get("TimeToLiveSpecification") or {}
    throughput = props.get("ProvisionedThroughput")
    # CloudFormation's default is PROVISIONED, which only makes sense with a throughput given.
    billing = props.get("BillingMode") or ("PROVISIONED" if throughput else "PAY_PER_REQUEST")
    return Table(
        logical_id=logical_id,
        name=physical_name(logical_id, TABLE),
        key_schema=props["KeySchema"],
        attribute_definitions=props["AttributeDefinitions"],
        billing_mode=billing,
        ttl_attribute=ttl.get("AttributeName") if _is_true(ttl.get("Enabled")) else None,
        provisioned_throughput=throughput,
        global_secondary_indexes=_indexes(props.get("GlobalSecondaryIndexes")),
        local_secondary_indexes=_indexes(props.get("LocalSecondaryIndexes")),
    )


def _indexes(indexes: list[dict[str, Any]] | None) -> list[dict[str, Any]] | None:
    if not indexes:
        return None
    return [{k: index[k] for k in _INDEX_KEYS if k in index} for index in indexes]


def _stream(logical_id: str, props: _Properties) -> DeliveryStream:
    destination = props.get("ExtendedS3DestinationConfiguration") or props.get("S3DestinationConfiguration")
    if not destination:
        raise TemplateError(f"{logical_id}: only delivery streams into S3 are supported by the local server")
    bucket_arn = str(destination["BucketARN"])
    return DeliveryStream(
        logical_id=logical_id,
        name=physical_name(logical_id, DELIVERY_STREAM),
        bucket=bucket_arn.rsplit(":", 1)[-1],
        prefix=str(destination.get("Prefix", "")),
        role_arn=str(destination["RoleARN"]),
        error_output_prefix=destination.get("ErrorOutputPrefix"),
    )


def _function(logical_id: str, globals_: _Properties, own: _Properties, routed: bool = True) -> Function:
    def setting(key: str, default: Any) -> Any:
        return own.get(key, globals_.get(key, default))

    # SAM merges Globals' variables into the function's, the function's own winning.
    variables = {
        **((globals_.get("Environment") or {}).get("Variables") or {}),
        **((own.get("Environment") or {}).get("Variables") or {}),
    }
    handler = setting("Handler", None)
    if not handler:
        raise TemplateError(f"{logical_id} has no Handler")
    return Function(
        logical_id=logical_id,
        name=physical_name(logical_id, FUNCTION),
        handler=str(handler),
        timeout_seconds=int(setting("Timeout", _DEFAULT_TIMEOUT)),
        memory_mb=int(setting("MemorySize", _DEFAULT_MEMORY)),
        environment={k: _env_value(v) for k, v in variables.items()},
        routes=_routes(logical_id, own.nested("Events")) if routed else (),
    )


def _routes(logical_id: str, events: Mapping[str, _Properties]) -> tuple[Route, ...]:
    routes: list[Route] = []
    for name, event in events.items():
        if event.get("Type") != "HttpApi":
            continue
        props = event.get("Properties") or {}
        if str(props.get("PayloadFormatVersion", "2.0")) != "2.0":
            raise TemplateError(f"{logical_id}.{name}: the local server speaks payload format 2.0 only")
        if "Path" not in props and "Method" not in props:
            # SAM: an HttpApi event without Path and Method is the API's `$default` route.
            routes.append(Route("ANY", "$default"))
            continue
        method = str(props.get("Method", "ANY")).upper()
        routes.append(Route(method, str(props.get("Path", "/"))))
    if not routes:
        raise TemplateError(f"{logical_id} has no HttpApi event: nothing routes HTTP requests to it")
    return tuple(routes)


def _env_value(value: Any) -> str:
    # CloudFormation turns YAML scalars into strings; booleans as `true`/`false`, not Python's `True`.
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, dict | list):
        raise TemplateError(f"environment value {value!r} does not resolve to a string")
    return str(value)


def _is_true(value: Any) -> bool:
    return value is True or str(value).lower() == "true"
