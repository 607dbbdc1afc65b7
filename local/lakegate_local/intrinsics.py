"""CloudFormation intrinsic functions evaluated offline, as a deploy of the template would evaluate them."""

from __future__ import annotations

import base64
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Final

_SUB_VAR = re.compile(r"\$\{([^}]*)\}")


class TemplateError(ValueError):
    """The template asks for something the local server cannot evaluate or create."""


class _NoValue:
    """`!Ref AWS::NoValue`: the property it sits in is removed."""


NO_VALUE: Final = _NoValue()


@dataclass(frozen=True, slots=True)
class Pseudo:
    """The pseudo parameters a local stack answers with."""

    stack_name: str = "lakegate-local"
    region: str = "us-east-1"
    account_id: str = "123456789012"
    partition: str = "aws"


# ARNs of the resource types our template's environment and Firehose config point at.
_ARNS: Final[Mapping[str, str]] = {
    "AWS::DynamoDB::Table": "arn:{p}:dynamodb:{r}:{a}:table/{n}",
    "AWS::S3::Bucket": "arn:{p}:s3:::{n}",
    "AWS::KinesisFirehose::DeliveryStream": "arn:{p}:firehose:{r}:{a}:deliverystream/{n}",
    "AWS::IAM::Role": "arn:{p}:iam::{a}:role/{n}",
    "AWS::Lambda::Function": "arn:{p}:lambda:{r}:{a}:function:{n}",
    "AWS::Serverless::Function": "arn:{p}:lambda:{r}:{a}:function:{n}",
    "AWS::SQS::Queue": "arn:{p}:sqs:{r}:{a}:{n}",
    "AWS::Logs::LogGroup": "arn:{p}:logs:{r}:{a}:log-group:{n}:*",
}


class Intrinsics:
    """Resolves Ref, Fn::GetAtt, Fn::Sub, Fn::If and friends against one template.

    `Ref` of a parameter is the value `parameters` gives it (as `sam deploy --parameter-overrides` would),
    else its Default; `Ref` of a resource is the physical name the caller gives it.
    """

    def __init__(
        self,
        template: Mapping[str, Any],
        physical_name: Callable[[str, str], str],
        pseudo: Pseudo,
        parameters: Mapping[str, str] | None = None,
    ) -> None:
        self._parameters: Mapping[str, Any] = template.get("Parameters") or {}
        self._overrides: Mapping[str, str] = parameters or {}
        for name, value in self._overrides.items():
            declared = self._parameters.get(name)
            if declared is None:
                raise TemplateError(f"parameter {name} is not declared")
            allowed = (declared or {}).get("AllowedValues")
            if allowed is not None and value not in [str(a) for a in allowed]:
                raise TemplateError(f"parameter {name} must be one of {', '.join(map(str, allowed))}")
        self._resources: Mapping[str, Any] = template.get("Resources") or {}
        self._conditions: Mapping[str, Any] = template.get("Conditions") or {}
        self._mappings: Mapping[str, Any] = template.get("Mappings") or {}
        self._physical_name = physical_name
        self._pseudo = pseudo
        self._functions: dict[str, Callable[[Any], Any]] = {
            "Ref": self._ref,
            "Fn::GetAtt": self._get_att,
            "Fn::Sub": self._sub,
            "Fn::Join": self._join,
            "Fn::Select": self._select,
            "Fn::Split": self._split,
            "Fn::If": self._if,
            "Fn::FindInMap": self._find_in_map,
            "Fn::Base64": lambda v: base64.b64encode(str(self.resolve(v)).encode()).decode(),
            "Fn::GetAZs": lambda _: [f"{pseudo.region}{z}" for z in "abc"],
            "Fn::ToJsonString": lambda v: json.dumps(self.resolve(v), separators=(",", ":")),
        }

    def resolve(self, value: Any) -> Any:
        """The value with every intrinsic evaluated; `AWS::NoValue` entries dropped from maps and lists."""
        if isinstance(value, dict):
            if len(value) == 1:
                key, arg = next(iter(value.items()))
                if key in self._functions:
                    return self._functions[key](arg)
                if key.startswith("Fn::"):
                    raise TemplateError(f"{key} is not supported by the local server")
            resolved = {k: self.resolve(v) for k, v in value.items()}
            return {k: v for k, v in resolved.items() if v is not NO_VALUE}
        if isinstance(value, list):
            return [v for v in (self.resolve(item) for item in value) if v is not NO_VALUE]
        return value

    def condition(self, name: str) -> bool:
        if name not in self._conditions:
            raise TemplateError(f"condition {name} is not declared")
        return self._truth(self._conditions[name])

    def resource_type(self, logical_id: str) -> str:
        resource = self._resources.get(logical_id)
        if not isinstance(resource, dict):
            raise TemplateError(f"resource {logical_id} is not declared")
        return str(resource.get("Type", ""))

    def _truth(self, expr: Any) -> bool:
        if not isinstance(expr, dict) or len(expr) != 1:
            raise TemplateError(f"not a condition: {expr!r}")
        key, arg = next(iter(expr.items()))
        if key == "Condition":
            return self.condition(arg)
        if key == "Fn::Equals":
            left, right = (self.resolve(a) for a in arg)
            return str(left) == str(right)
        if key == "Fn::Not":
            return not self._truth(arg[0])
        if key == "Fn::And":
            return all(self._truth(a) for a in arg)
        if key == "Fn::Or":
            return any(self._truth(a) for a in arg)
        raise TemplateError(f"{key} is not a condition function")

    def _ref(self, name: Any) -> Any:
        name = str(name)
        pseudo = {
            "AWS::StackName": self._pseudo.stack_name,
            "AWS::Region": self._pseudo.region,
            "AWS::AccountId": self._pseudo.account_id,
            "AWS::Partition": self._pseudo.partition,
            "AWS::URLSuffix": "amazonaws.com",
            "AWS::StackId": (
                f"arn:{self._pseudo.partition}:cloudformation:{self._pseudo.region}:"
                f"{self._pseudo.account_id}:stack/{self._pseudo.stack_name}/local"
            ),
        }
        if name == "AWS::NoValue":
            return NO_VALUE
        if name in pseudo:
            return pseudo[name]
        if name in self._overrides:
            return self._overrides[name]
        if name in self._parameters:
            parameter = self._parameters[name] or {}
            if "Default" not in parameter:
                raise TemplateError(f"parameter {name} has no Default for the local server to use")
            return parameter["Default"]
        if name in self._resources:
            return self._physical_name(name, self.resource_type(name))
        raise TemplateError(f"!Ref {name}: no such parameter or resource")

    def _get_att(self, arg: Any) -> str:
        logical_id, attribute = (str(a) for a in self.resolve(arg))
        kind = self.resource_type(logical_id)
        name = self._physical_name(logical_id, kind)
        p, r, a = self._pseudo.partition, self._pseudo.region, self._pseudo.account_id
        if attribute == "Arn" and kind in _ARNS:
            return _ARNS[kind].format(p=p, r=r, a=a, n=name)
        if kind == "AWS::S3::Bucket" and attribute in ("DomainName", "RegionalDomainName"):
            return f"{name}.s3.amazonaws.com" if attribute == "DomainName" else f"{name}.s3.{r}.amazonaws.com"
        if kind == "AWS::DynamoDB::Table" and attribute == "StreamArn":
            return f"{_ARNS[kind].format(p=p, r=r, a=a, n=name)}/stream/local"
        raise TemplateError(f"!GetAtt {logical_id}.{attribute} ({kind}) is not supported by the local server")

    def _sub(self, arg: Any) -> str:
        text, variables = (arg, {}) if isinstance(arg, str) else (arg[0], self.resolve(arg[1]))

        def replace(match: re.Match[str]) -> str:
            expr = match.group(1)
            if expr.startswith("!"):  # `${!Literal}` is written out as `${Literal}`
                return "${" + expr[1:] + "}"
            if expr in variables:
                return str(variables[expr])
            if "." in expr and not expr.startswith("AWS::"):
                return self._get_att(expr.split(".", 1))
            return str(self._ref(expr))

        return _SUB_VAR.sub(replace, str(text))

    def _join(self, arg: Any) -> str:
        delimiter, items = arg
        return str(delimiter).join(str(v) for v in self.resolve(items))

    def _select(self, arg: Any) -> Any:
        index, items = arg
        return self.resolve(items)[int(self.resolve(index))]

    def _split(self, arg: Any) -> list[str]:
        delimiter, text = arg
        return str(self.resolve(text)).split(str(delimiter))

    def _if(self, arg: Any) -> Any:
        name, if_true, if_false = arg
        return self.resolve(if_true if self.condition(name) else if_false)

    def _find_in_map(self, arg: Any) -> Any:
        map_name, top, second = (self.resolve(a) for a in arg[:3])
        try:
            return self._mappings[map_name][top][second]
        except KeyError as e:
            raise TemplateError(f"!FindInMap [{map_name}, {top}, {second}]: no such entry") from e
