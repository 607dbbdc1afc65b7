"""lake.evolution: which fields become columns, in which order, up to the cap; a kept schema never grows."""

from __future__ import annotations

from dataclasses import replace
from typing import Any
from unittest.mock import patch

import pytest

from lakegate.errors import StoreUnavailable
from lakegate.lake import evolution
from lakegate.lake.evolution import evolve, new_columns
from lakegate.memory import MemoryRegistry
from lakegate.schema import Column, DataSource

DS = DataSource("t", (Column("a", "Int64", "$.a"),))


def test_new_fields_are_added_in_the_order_rows_first_hold_them_while_they_fit() -> None:
    rows: list[dict[str, Any]] = [
        {"a": 1, "x": "keep me"},
        {"a": 2, "k2": 1, "k1": 1, "k0": {"n": 1}},
        {"a": 3, "k9": 1},
    ]
    with patch.object(evolution, "MAX_COLUMNS", 4):
        added, over = new_columns(DS, rows)
    assert [c.name for c in added] == ["x", "k2", "k1"]
    assert [c.jsonpath for c in over] == ["$.k0.n", "$.k9"]


def test_rows_holding_a_field_past_the_cap_are_named_and_the_rest_evolve() -> None:
    registry = MemoryRegistry()
    registry.create("ws", DS)
    rows: list[dict[str, Any]] = [{"a": 1, "x": "keep me"}, {"a": 2, "k0": 1, "k1": 2}, {"a": 3}]
    with patch.object(evolution, "MAX_COLUMNS", 3):
        evolved = evolve(registry, "ws", DS, rows)
    assert [c.name for c in evolved.ds.columns] == ["a", "x", "k0"]
    assert registry.get("ws", "t") == evolved.ds
    assert evolved.past_cap == {
        1: "fields past the column limit: $.k1 (Data Source 't' has 3 columns, the limit is 3): the row is kept "
        "here whole"
    }
    assert evolved.fields_past_cap == {"$.k1": 1}


def test_a_kept_schema_never_grows() -> None:
    kept = replace(DS, schema_evolution=False)
    registry = MemoryRegistry()
    registry.create("ws", kept)
    evolved = evolve(registry, "ws", kept, [{"a": 1, "new": 2}])
    assert evolved.ds == kept and evolved.past_cap == {}
    assert registry.get("ws", "t") == kept


def test_a_writer_that_keeps_losing_the_race_fails_the_object_for_a_retry() -> None:
    class Racing(MemoryRegistry):
        def evolve(self, workspace: str, ds: DataSource) -> DataSource:
            current = self.items[(workspace, ds.name)]
            winner = replace(current, version=current.version + 1)  # another writer's change, every time
            self.items[(workspace, ds.name)] = winner
            return winner

    registry = Racing()
    registry.create("ws", DS)
    with pytest.raises(StoreUnavailable, match="changed 5 times"):
        evolve(registry, "ws", DS, [{"a": 1, "new": 2}])


def test_stored_data_sources_without_the_flag_keep_evolving() -> None:
    stored = DS.to_dict()
    assert "schema_evolution" not in stored
    assert DataSource.from_dict(stored).schema_evolution is True
    kept = replace(DS, schema_evolution=False).to_dict()
    assert kept["schema_evolution"] is False
    assert DataSource.from_dict(kept).schema_evolution is False
