"""What IAM would say to the AWS calls a function makes: the calls, recorded or found in the source, turned
into (action, resource, condition keys) the way IAM authorises them, and checked against a role's statements.

Only what lakegate's policies use is modelled: Allow/Deny statements with Action and Resource (wildcards
`*` and `?`, actions case-insensitive) and StringLike/StringEquals conditions on request keys such as
`s3:prefix`. Anything else in a statement (NotAction, another condition operator) raises, and a call this
module cannot map to its action and resource is reported as unmapped: the check never passes by not knowing.
"""

from __future__ import annotations

import ast
import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

PARTITION = "aws"


@dataclass(frozen=True, slots=True)
class Call:
    """One AWS API call a function made (or, from the source, may make: `params` is None then)."""

    service: str
    operation: str
    # Left out of equality and repr: findings are told apart by what they need, and bodies are long.
    params: Mapping[str, Any] | None = field(default=None, compare=False, repr=False)
    where: str = ""


@dataclass(frozen=True, slots=True)
class Need:
    """One authorisation IAM evaluates for a call; `resource` None means any (the source scan)."""

    action: str
    resource: str | None
    context: tuple[tuple[str, str], ...] = ()

    def __str__(self) -> str:
        keys = "".join(f" [{k}={v!r}]" for k, v in self.context)
        return f"{self.action} on {self.resource or '*'}{keys}"


@dataclass(frozen=True, slots=True)
class Location:
    """Where resources live, to build their ARNs."""

    region: str
    account: str


class Unmapped(Exception):
    """A call whose IAM action or resource this module does not know yet: extend REQUIREMENTS."""


def _pattern(text: str, ignore_case: bool) -> re.Pattern[str]:
    body = "".join(".*" if c == "*" else "." if c == "?" else re.escape(c) for c in text)
    return re.compile(body, re.IGNORECASE | re.DOTALL if ignore_case else re.DOTALL)


def _listed(value: Any) -> tuple[str, ...]:
    return (value,) if isinstance(value, str) else tuple(value)


@dataclass(frozen=True, slots=True)
class Statement:
    sid: str
    effect: str
    actions: tuple[str, ...]
    resources: tuple[str, ...]
    # operator -> key -> allowed patterns
    conditions: Mapping[str, Mapping[str, tuple[str, ...]]] = field(default_factory=dict)

    @classmethod
    def parse(cls, raw: Mapping[str, Any]) -> Statement:
        unsupported = set(raw) - {"Sid", "Effect", "Action", "Resource", "Condition"}
        if unsupported:
            raise ValueError(f"statement {raw.get('Sid', '?')}: {sorted(unsupported)} is not modelled here")
        conditions: dict[str, dict[str, tuple[str, ...]]] = {}
        for operator, keys in (raw.get("Condition") or {}).items():
            if operator not in ("StringLike", "StringEquals"):
                raise ValueError(
                    f"statement {raw.get('Sid', '?')}: condition {operator} is not modelled here"
                )
            conditions[operator] = {k: _listed(v) for k, v in keys.items()}
        return cls(
            str(raw.get("Sid", "")),
            str(raw["Effect"]),
            _listed(raw["Action"]),
            _listed(raw["Resource"]),
            conditions,
        )

    def matches(self, need: Need) -> bool:
        if not any(_pattern(a, ignore_case=True).fullmatch(need.action) for a in self.actions):
            return False
        if need.resource is None:
            # The source scan knows the action only: a statement granting it anywhere will do.
            return True
        if not any(_pattern(r, ignore_case=False).fullmatch(need.resource) for r in self.resources):
            return False
        context = dict(need.context)
        for operator, keys in self.conditions.items():
            for key, allowed in keys.items():
                if key not in context:
                    return False
                like = operator == "StringLike"
                if not any(
                    (_pattern(a, ignore_case=False).fullmatch(context[key]) if like else a == context[key])
                    for a in allowed
                ):
                    return False
        return True


@dataclass(frozen=True, slots=True)
class Policy:
    """A role's statements, all of its inline policies together."""

    statements: tuple[Statement, ...]

    @classmethod
    def parse(cls, documents: Iterable[Mapping[str, Any]]) -> Policy:
        return cls(tuple(Statement.parse(s) for doc in documents for s in _statements(doc)))

    def allows(self, need: Need) -> bool:
        """IAM's rule: an explicit Deny wins, else some Allow must match, else it is denied."""
        if any(s.effect == "Deny" and s.matches(need) for s in self.statements if need.resource):
            return False
        return any(s.effect == "Allow" and s.matches(need) for s in self.statements)

    def without(self, sid: str) -> Policy:
        kept = tuple(s for s in self.statements if s.sid != sid)
        if len(kept) == len(self.statements):
            raise KeyError(f"no statement {sid!r}")
        return Policy(kept)

    def without_action(self, action: str) -> Policy:
        def drop(s: Statement) -> Statement:
            actions = tuple(a for a in s.actions if a.lower() != action.lower())
            return Statement(s.sid, s.effect, actions, s.resources, s.conditions)

        return Policy(tuple(s for s in map(drop, self.statements) if s.actions))


def _statements(document: Mapping[str, Any]) -> list[Mapping[str, Any]]:
    found = document["Statement"]
    return [found] if isinstance(found, Mapping) else list(found)


# ------------------------------------------------------------------ calls -> needs


def _table(at: Location, name: str, index: str | None = None) -> str:
    arn = f"arn:{PARTITION}:dynamodb:{at.region}:{at.account}:table/{name}"
    return f"{arn}/index/{index}" if index else arn


def _dynamodb(operation: str, p: Mapping[str, Any] | None, at: Location) -> list[Need]:
    # A transaction is no IAM action: each item is authorised as the single-item call it stands for.
    transact = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem", "Get": "GetItem"}  # fmt: skip
    if operation in ("TransactWriteItems", "TransactGetItems"):
        if p is None:
            raise Unmapped(f"dynamodb:{operation} needs its items (the source scan reads their kinds)")
        needs = []
        for item in p["TransactItems"]:
            ((kind, body),) = item.items()
            needs.append(Need(f"dynamodb:{transact[kind]}", _table(at, body["TableName"])))
        return needs
    if operation in ("BatchGetItem", "BatchWriteItem"):
        tables = list(p["RequestItems"]) if p is not None else [None]
        return [Need(f"dynamodb:{operation}", t and _table(at, t)) for t in tables]
    single = {"GetItem", "PutItem", "UpdateItem", "DeleteItem", "Query", "Scan", "DescribeTable"}
    if operation not in single:
        raise Unmapped(f"dynamodb:{operation}")
    resource = None if p is None else _table(at, p["TableName"], p.get("IndexName"))
    return [Need(f"dynamodb:{operation}", resource)]


def _object(bucket: str, key: str) -> str:
    return f"arn:{PARTITION}:s3:::{bucket}/{key}"


def _copy_source(source: Any) -> tuple[str, str]:
    if isinstance(source, Mapping):
        return str(source["Bucket"]), str(source["Key"])
    bucket, _, key = str(source).lstrip("/").partition("/")
    return bucket, key.split("?versionId=")[0]


def _s3(operation: str, p: Mapping[str, Any] | None, at: Location) -> list[Need]:
    on_object = {
        "GetObject": "s3:GetObject",
        "HeadObject": "s3:GetObject",
        "PutObject": "s3:PutObject",
        "DeleteObject": "s3:DeleteObject",
        "CreateMultipartUpload": "s3:PutObject",
        "UploadPart": "s3:PutObject",
        "CompleteMultipartUpload": "s3:PutObject",
        "AbortMultipartUpload": "s3:AbortMultipartUpload",
    }
    if operation in on_object:
        return [Need(on_object[operation], None if p is None else _object(p["Bucket"], p["Key"]))]
    if operation == "CopyObject":
        # The copy is authorised twice: a read of the source and a write of the target.
        if p is None:
            return [Need("s3:GetObject", None), Need("s3:PutObject", None)]
        return [Need("s3:GetObject", _object(*_copy_source(p["CopySource"]))), Need("s3:PutObject", _object(p["Bucket"], p["Key"]))]  # fmt: skip
    if operation == "DeleteObjects":
        if p is None:
            return [Need("s3:DeleteObject", None)]
        return [Need("s3:DeleteObject", _object(p["Bucket"], o["Key"])) for o in p["Delete"]["Objects"]]
    if operation in ("ListObjectsV2", "ListObjects", "HeadBucket"):
        if p is None:
            return [Need("s3:ListBucket", None)]
        # A listing without a prefix is a listing of "" for a policy that conditions on s3:prefix.
        prefix = (("s3:prefix", str(p.get("Prefix", ""))),) if operation != "HeadBucket" else ()
        return [Need("s3:ListBucket", f"arn:{PARTITION}:s3:::{p['Bucket']}", prefix)]
    raise Unmapped(f"s3:{operation}")


def _firehose(operation: str, p: Mapping[str, Any] | None, at: Location) -> list[Need]:
    if operation not in ("PutRecord", "PutRecordBatch", "DescribeDeliveryStream"):
        raise Unmapped(f"firehose:{operation}")
    if p is None:
        return [Need(f"firehose:{operation}", None)]
    stream = p["DeliveryStreamName"]
    return [
        Need(
            f"firehose:{operation}",
            f"arn:{PARTITION}:firehose:{at.region}:{at.account}:deliverystream/{stream}",
        )
    ]


def _glue(operation: str, p: Mapping[str, Any] | None, at: Location) -> list[Need]:
    # Glue authorises a table call on the catalog, the database and the table, all three.
    if operation not in ("GetTable", "CreateTable", "UpdateTable", "DeleteTable", "GetDatabase", "GetTables"):
        raise Unmapped(f"glue:{operation}")
    action = f"glue:{operation}"
    if p is None:
        return [Need(action, None)]
    base = f"arn:{PARTITION}:glue:{at.region}:{at.account}"
    database = p["DatabaseName"]
    resources = [f"{base}:catalog", f"{base}:database/{database}"]
    if operation != "GetDatabase":
        table = "*" if operation == "GetTables" else (p.get("Name") or p["TableInput"]["Name"])
        # Glue keeps names in lower case and so do its ARNs.
        resources.append(f"{base}:table/{database}/{table.lower()}")
    return [Need(action, r) for r in resources]


REQUIREMENTS: Mapping[str, Callable[[str, Mapping[str, Any] | None, Location], list[Need]]] = {
    "dynamodb": _dynamodb,
    "s3": _s3,
    "firehose": _firehose,
    "glue": _glue,
}


def needs(call: Call, at: Location) -> list[Need]:
    requirement = REQUIREMENTS.get(call.service)
    if requirement is None:
        raise Unmapped(f"service {call.service}")
    return requirement(call.operation, call.params, at)


@dataclass(frozen=True, slots=True)
class Finding:
    """A call the policy does not allow (or cannot be judged), said the way a reviewer reads it."""

    call: Call
    problem: str

    def __str__(self) -> str:
        where = f" ({self.call.where})" if self.call.where else ""
        return f"{self.call.service}.{self.call.operation}{where}: {self.problem}"


def check(calls: Iterable[Call], policy: Policy, at: Location) -> list[Finding]:
    """Every call's needs the policy denies, and every call that cannot be mapped; empty when all pass."""
    findings = []
    for call in calls:
        try:
            required = needs(call, at)
        except Unmapped as e:
            findings.append(Finding(call, f"unmapped ({e}): add it to iam_policy.REQUIREMENTS"))
            continue
        findings.extend(Finding(call, f"not allowed: {n}") for n in required if not policy.allows(n))
    return sorted(set(findings), key=str)


# ------------------------------------------------------------------ recording


@dataclass
class Recorder:
    """Collects every API call made through a botocore session (as the handlers make them)."""

    calls: list[Call] = field(default_factory=list)

    def attach(self, session: Any) -> None:
        session.register("provide-client-params", self._record)

    def _record(self, params: Mapping[str, Any], model: Any, **_: Any) -> None:
        service = model.service_model.service_name
        self.calls.append(Call(service, model.name, dict(params)))


# ------------------------------------------------------------------ reading policies


def role_policy(iam: Any, role_arn: str) -> Policy:
    """The inline policies of a role as IAM holds them. moto keeps a CloudFormation-made role's document
    as the repr of a dict rather than JSON: both are read."""
    name = role_arn.rsplit("/", 1)[1]
    documents = []
    for policy_name in iam.list_role_policies(RoleName=name)["PolicyNames"]:
        document = iam.get_role_policy(RoleName=name, PolicyName=policy_name)["PolicyDocument"]
        documents.append(_document(document))
    return Policy.parse(documents)


def _document(document: Any) -> Mapping[str, Any]:
    if isinstance(document, Mapping):
        return document
    import json

    try:
        parsed: Mapping[str, Any] = json.loads(document)
    except ValueError:
        parsed = ast.literal_eval(document)
    return parsed


def summary(findings: Sequence[Finding]) -> str:
    return "\n".join(str(f) for f in findings)
