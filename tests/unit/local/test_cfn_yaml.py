"""The CloudFormation YAML loader: short tags become the long form the resolver evaluates."""

from pathlib import Path

import pytest

from lakegate_local.cfn_yaml import load
from lakegate_local.intrinsics import TemplateError


def _load(tmp_path: Path, text: str) -> dict[str, object]:
    path = tmp_path / "t.yaml"
    path.write_text(text)
    return load(path)


def test_short_tags_become_long_form(tmp_path: Path) -> None:
    doc = _load(
        tmp_path,
        """
a: !Ref Bucket
b: !GetAtt Table.Arn
c: !GetAtt [Table, StreamArn]
d: !Sub "${AWS::Region}-x"
e: !If [IsProd, 1, 2]
f: !Not [!Condition IsProd]
g: !Join ["", [a, !Ref B]]
h: !GetAtt Db.Endpoint.Address
""",
    )
    assert doc == {
        "a": {"Ref": "Bucket"},
        "b": {"Fn::GetAtt": ["Table", "Arn"]},
        "c": {"Fn::GetAtt": ["Table", "StreamArn"]},
        "d": {"Fn::Sub": "${AWS::Region}-x"},
        "e": {"Fn::If": ["IsProd", 1, 2]},
        "f": {"Fn::Not": [{"Condition": "IsProd"}]},
        "g": {"Fn::Join": ["", ["a", {"Ref": "B"}]]},
        "h": {"Fn::GetAtt": ["Db", "Endpoint.Address"]},
    }


def test_dates_stay_strings(tmp_path: Path) -> None:
    assert _load(tmp_path, "AWSTemplateFormatVersion: 2010-09-09\n") == {
        "AWSTemplateFormatVersion": "2010-09-09"
    }


def test_mapping_under_a_tag(tmp_path: Path) -> None:
    assert _load(tmp_path, "x: !Base64 {Ref: Y}\n") == {"x": {"Fn::Base64": {"Ref": "Y"}}}


def test_broken_yaml_is_a_template_error(tmp_path: Path) -> None:
    with pytest.raises(TemplateError, match="not valid YAML"):
        _load(tmp_path, "a: [unclosed\n")
    with pytest.raises(TemplateError, match="expected a mapping"):
        _load(tmp_path, "- just a list\n")
