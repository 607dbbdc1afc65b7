"""DynamoRegistry.evolve on moto: a schema version is replaced only by the next one, once."""

from __future__ import annotations

import pytest

from lakegate.aws.registry import DynamoRegistry
from lakegate.errors import StoreUnavailable
from lakegate.schema import Column, DataSource
from tests.integration.conftest import Lake

V1 = DataSource("evolving", (Column("a", "String", "$.a"),))
B = Column("b", "Nullable(Int64)", "$.b")
C = Column("c", "Nullable(String)", "$.c")


def test_evolve_replaces_the_version_it_follows_and_only_that(lake: Lake) -> None:
    registry = DynamoRegistry(lake.env["DATASOURCES_TABLE"], lake.ddb)
    registry.create("ws1", V1)
    v2 = DataSource("evolving", (*V1.columns, B), version=2)
    rival = DataSource("evolving", (*V1.columns, C), version=2)

    assert registry.evolve("ws1", v2) == v2
    # A writer that read version 1 loses, and is given the winner to merge into.
    assert registry.evolve("ws1", rival) == v2
    assert registry.get("ws1", "evolving") == v2
    assert lake.datasource("evolving") == v2.to_dict()


def test_evolving_a_data_source_that_does_not_exist_fails(lake: Lake) -> None:
    registry = DynamoRegistry(lake.env["DATASOURCES_TABLE"], lake.ddb)
    with pytest.raises(StoreUnavailable):
        registry.evolve("ws1", DataSource("nowhere", V1.columns, version=2))
