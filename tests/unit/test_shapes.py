"""lakegate.shapes: a schema's object paths, values misplaced at them, and values no column reads."""

from __future__ import annotations

from typing import Any

from lakegate.definitions import definition
from lakegate.shapes import misplaced, object_paths, read_tree, unread

DS = definition(
    "t",
    "`a` Int32, `x_z` Nullable(Int64) `json:$.x.z`, `deep` Nullable(String) `json:$.p.q.r`, "
    "`tags` Array(String) `json:$.m.tags[:]`",
)


def test_object_paths_are_the_paths_columns_read_inside_of_shallower_first() -> None:
    assert [(p.keys, p.column) for p in object_paths(DS)] == [
        (("x",), "x_z"),
        (("p",), "deep"),
        (("m",), "tags"),
        (("p", "q"), "deep"),
    ]
    whole = definition("t", "`x` String, `x_z` Nullable(Int64) `json:$.x.z`")
    assert object_paths(whole) == ()  # `x` is read whole: any value there has a column


def test_only_an_object_or_null_fits_at_an_object_path() -> None:
    paths = object_paths(DS)
    fitting: list[dict[str, Any]] = [
        {},
        {"x": None},
        {"x": {}},
        {"x": {"z": 1, "w": 2}},
        {"p": {"q": None}},
        {"a": 1},
    ]
    for fits in fitting:
        assert misplaced(fits, paths) is None, fits
    assert misplaced({"x": 7345}, paths) == (
        "x_z",
        "value '7345' on $.x fits no column: column 'x_z' reads $.x.z inside it, so only an object or null fits there",
    )
    assert misplaced({"p": {"q": [1]}}, paths) == (
        "deep",
        "value '[1]' on $.p.q fits no column: column 'deep' reads $.p.q.r inside it, so only an object or null "
        "fits there",
    )
    assert misplaced({"m": "tags"}, paths) is not None


def test_unread_counts_each_value_no_column_reads_once_by_its_outermost_path() -> None:
    rows: list[dict[str, Any]] = [
        {"a": 1, "x": {"z": 1}},
        {"a": 1, "extra": {"b": [1, 2], "c": 3}, "x": {"z": 2, "w": 3}},
        {"a": 1, "x": 7345, "p": {"q": {"r": "s", "t": None}}},
        {"a": 1, "x": None, "extra": None},
    ]
    assert unread(read_tree(DS), rows) == {"$.extra": 2, "$.x.w": 1, "$.x": 1, "$.p.q.t": 1}
