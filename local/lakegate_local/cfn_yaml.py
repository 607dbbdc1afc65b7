"""A YAML loader for CloudFormation templates: short tags (!Ref, !GetAtt, !Sub...) become their long forms."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

from lakegate_local.intrinsics import TemplateError

_TIMESTAMP = "tag:yaml.org,2002:timestamp"


class CfnLoader(yaml.SafeLoader):
    """A SafeLoader reading `!Name value` as `{"Fn::Name": value}`; `!Ref` and `!Condition` keep their key."""


# CloudFormation reads `2010-09-09` as a string, not a date: drop YAML's timestamp resolver.
CfnLoader.yaml_implicit_resolvers = {
    first: [(tag, regexp) for tag, regexp in resolvers if tag != _TIMESTAMP]
    for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
}


def _construct_tag(loader: CfnLoader, suffix: str, node: yaml.Node) -> dict[str, Any]:
    value: Any
    if isinstance(node, yaml.ScalarNode):
        value = loader.construct_scalar(node)
    elif isinstance(node, yaml.SequenceNode):
        value = loader.construct_sequence(node, deep=True)
    else:
        value = loader.construct_mapping(node, deep=True)  # type: ignore[arg-type]
    if suffix in ("Ref", "Condition"):
        return {suffix: value}
    if suffix == "GetAtt" and isinstance(value, str):
        # `!GetAtt Res.Attr.Sub` is `[Res, "Attr.Sub"]`: only the first dot splits.
        resource, _, attribute = value.partition(".")
        value = [resource, attribute]
    return {f"Fn::{suffix}": value}


CfnLoader.add_multi_constructor("!", _construct_tag)


def load(path: Path) -> dict[str, Any]:
    """The template as plain dicts and lists, intrinsic functions in their long form."""
    with path.open(encoding="utf-8") as f:
        try:
            data = yaml.load(f, Loader=CfnLoader)  # noqa: S506 - CfnLoader is a SafeLoader
        except yaml.YAMLError as e:
            raise TemplateError(f"{path}: not valid YAML: {e}") from e
    if not isinstance(data, dict):
        raise TemplateError(f"{path}: not a CloudFormation template (expected a mapping at the top)")
    return data
