"""Intrinsic functions resolved offline: parameters by Default, resources by the local physical name."""

from typing import Any

import pytest

from lakegate_local.intrinsics import Intrinsics, Pseudo, TemplateError

TEMPLATE: dict[str, Any] = {
    "Parameters": {"Stage": {"Type": "String", "Default": "dev"}, "NoDefault": {"Type": "String"}},
    "Conditions": {
        "IsProd": {"Fn::Equals": [{"Ref": "Stage"}, "prod"]},
        "IsDev": {"Fn::Not": [{"Condition": "IsProd"}]},
        "Both": {
            "Fn::And": [{"Condition": "IsDev"}, {"Fn::Or": [{"Condition": "IsProd"}, {"Condition": "IsDev"}]}]
        },
    },
    "Mappings": {"Sizes": {"dev": {"Mb": 64}}},
    "Resources": {
        "Table": {"Type": "AWS::DynamoDB::Table"},
        "Bucket": {"Type": "AWS::S3::Bucket"},
        "Role": {"Type": "AWS::IAM::Role"},
        "Alarm": {"Type": "AWS::CloudWatch::Alarm"},
    },
}


@pytest.fixture
def resolver() -> Intrinsics:
    return Intrinsics(TEMPLATE, lambda logical_id, kind: f"local-{logical_id}", Pseudo())


def test_ref_parameter_resource_and_pseudo(resolver: Intrinsics) -> None:
    assert resolver.resolve({"Ref": "Stage"}) == "dev"
    assert resolver.resolve({"Ref": "Table"}) == "local-Table"
    assert resolver.resolve({"Ref": "AWS::Region"}) == "us-east-1"
    assert resolver.resolve({"Ref": "AWS::AccountId"}) == "123456789012"


def test_ref_errors_name_the_problem(resolver: Intrinsics) -> None:
    with pytest.raises(TemplateError, match="NoDefault has no Default"):
        resolver.resolve({"Ref": "NoDefault"})
    with pytest.raises(TemplateError, match="Missing"):
        resolver.resolve({"Ref": "Missing"})


def test_get_att_arns(resolver: Intrinsics) -> None:
    assert resolver.resolve({"Fn::GetAtt": ["Table", "Arn"]}) == (
        "arn:aws:dynamodb:us-east-1:123456789012:table/local-Table"
    )
    assert resolver.resolve({"Fn::GetAtt": ["Bucket", "Arn"]}) == "arn:aws:s3:::local-Bucket"
    assert resolver.resolve({"Fn::GetAtt": ["Role", "Arn"]}) == "arn:aws:iam::123456789012:role/local-Role"
    with pytest.raises(TemplateError, match=r"Alarm\.Arn"):
        resolver.resolve({"Fn::GetAtt": ["Alarm", "Arn"]})


def test_sub_forms(resolver: Intrinsics) -> None:
    assert resolver.resolve({"Fn::Sub": "${Bucket}/raw/${AWS::Region}"}) == "local-Bucket/raw/us-east-1"
    assert resolver.resolve({"Fn::Sub": "${Bucket.Arn}/*"}) == "arn:aws:s3:::local-Bucket/*"
    assert resolver.resolve({"Fn::Sub": ["${X}-${Stage}", {"X": {"Ref": "Table"}}]}) == "local-Table-dev"
    assert resolver.resolve({"Fn::Sub": "${!Literal}"}) == "${Literal}"


def test_conditions_and_no_value(resolver: Intrinsics) -> None:
    assert resolver.condition("IsDev") is True
    assert resolver.condition("Both") is True
    assert resolver.resolve({"Fn::If": ["IsProd", "a", "b"]}) == "b"
    value = {"Keep": 1, "Drop": {"Fn::If": ["IsProd", 2, {"Ref": "AWS::NoValue"}]}}
    assert resolver.resolve(value) == {"Keep": 1}
    assert resolver.resolve([1, {"Ref": "AWS::NoValue"}]) == [1]


def test_join_select_split_find_in_map(resolver: Intrinsics) -> None:
    assert resolver.resolve({"Fn::Join": ["-", ["a", {"Ref": "Stage"}]]}) == "a-dev"
    assert resolver.resolve({"Fn::Select": [1, {"Fn::Split": [",", "x,y,z"]}]}) == "y"
    assert resolver.resolve({"Fn::FindInMap": ["Sizes", {"Ref": "Stage"}, "Mb"]}) == 64


def test_unsupported_function_is_an_error(resolver: Intrinsics) -> None:
    with pytest.raises(TemplateError, match="Fn::ImportValue"):
        resolver.resolve({"Fn::ImportValue": "shared-vpc"})
