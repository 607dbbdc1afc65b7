"""The stack every deploy test runs against: template.yaml translated by SAM and created in moto's
CloudFormation, once per test module."""

from __future__ import annotations

import warnings
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from tests.integration.deploy.sam_stack import REGION, Deployed, deploy, transform


@pytest.fixture(scope="module")
def transformed() -> dict[str, Any]:
    return transform()


@pytest.fixture(scope="module")
def stack(transformed: dict[str, Any]) -> Iterator[Deployed]:
    with pytest.MonkeyPatch.context() as mp:
        mp.delenv("AWS_ENDPOINT_URL", raising=False)
        for key, value in {
            "AWS_DEFAULT_REGION": REGION,
            "AWS_ACCESS_KEY_ID": "testing",
            "AWS_SECRET_ACCESS_KEY": "testing",
        }.items():
            mp.setenv(key, value)
        with mock_aws(), warnings.catch_warnings():
            # moto warns once per resource type its CloudFormation skips; sam_stack takes those out.
            warnings.simplefilter("ignore", UserWarning)
            yield deploy(boto3.session.Session(region_name=REGION), transformed)
