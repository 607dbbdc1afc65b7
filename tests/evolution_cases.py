"""What "no value dropped unseen" means, for the generated cases of tests/unit/lake/test_evolution_property.py
and tests/integration/test_schema_evolution.py: the shapes sent, and the oracle that reads them back."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import orjson
from hypothesis import strategies as st

from lakegate.schema import MISSING, DataSource, format_jsonpath

CAP = 8  # the column cap for these cases, so that key counts around it stay small
KEYS = ["x", "y", "z", "k0", "k1", "k2", "k3", "k4", "k5", "k6", "k7"]

leaves = st.one_of(
    st.none(),
    st.integers(-(2**63), 2**63 - 1),
    st.text("abc", max_size=3),  # letters only: never inferred as a date or a number
    st.lists(st.integers(-5, 5), max_size=2),
)
values = st.recursive(
    leaves, lambda inner: st.dictionaries(st.sampled_from(KEYS[:3]), inner, max_size=3), max_leaves=4
)
objects = st.dictionaries(st.sampled_from(KEYS), values, max_size=9)


def walk(v: object, path: tuple[str, ...] = ()) -> Iterator[tuple[tuple[str, ...], object]]:
    """Every value a row holds, by path: a null or an empty object holds none."""
    if isinstance(v, dict):
        for k, item in v.items():
            yield from walk(item, (*path, k))
    elif v is not None:
        yield path, v


def stored(ds: DataSource, landed: dict[str, Any], path: tuple[str, ...], value: object) -> bool:
    """Whether `value`, sent at `path`, is in the landed row: in the column of its path, or inside the JSON
    text of a String column that reads an object around it."""
    for c in ds.columns:
        if c.keys == path:
            got = landed.get(c.name)
            if c.parsed_type.base == "String" and not c.parsed_type.array and not isinstance(value, str):
                return got is not None and orjson.loads(got) == value
            return bool(got == value)
        if path[: len(c.keys)] == c.keys and c.parsed_type.base == "String" and not c.parsed_type.array:
            got = landed.get(c.name)
            inner: object = orjson.loads(got) if got is not None else MISSING
            for k in path[len(c.keys) :]:
                inner = inner.get(k, MISSING) if isinstance(inner, dict) else MISSING
            if inner == value:
                return True
    return False


def accounted(
    kind: str,
    name: str,
    final: DataSource,
    sent: dict[int, dict[str, Any]],
    landed: dict[int, dict[str, Any]],
    quarantined: dict[int, str],
    unread: set[str],
) -> None:
    """Every row sent (by its `u`) is in quarantine with a reason, or landed with each of its values in a
    column of `final`; a `defined` data source (its schema kept) may leave a value out, counted in `unread`
    (`<name> <jsonpath>`, at the value's path or an object around it)."""
    for u, row in sent.items():
        if u in quarantined:
            assert quarantined[u], row
            continue
        assert u in landed, row
        for path, value in walk(row):
            if stored(final, landed[u], path, value):
                continue
            assert kind == "defined", (row, path, value, landed[u])
            assert any(f"{name} {format_jsonpath(path[:i])}" in unread for i in range(1, len(path) + 1)), (
                row,
                path,
                unread,
            )
