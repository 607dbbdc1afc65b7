"""Append-only schema evolution: fields no column reads yet become Nullable columns at the schema's end.

Rows keep their original bytes all the way to the compactor, so a field the registry did not know at
ingest is still there when the rows land: the compactor adds its column (a conditional write on the
version, so concurrent compactors converge) and lands it. Files written before read it as null.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import replace
from typing import Any, Protocol

from lakegate.config import Limits
from lakegate.errors import InvalidRequest
from lakegate.names import free_name
from lakegate.schema import Column, DataSource, infer

# As for a new data source (config.Limits' defaults): a schema never grows past these.
MAX_COLUMNS = Limits().max_columns
MAX_DEPTH = Limits().max_json_depth
# Racing writers each add their own fields: a loser merges into the winner and tries again.
MAX_TRIES = 5


class SchemaStore(Protocol):
    def get(self, workspace: str, name: str) -> DataSource | None: ...

    def evolve(self, workspace: str, ds: DataSource) -> DataSource:
        """Store `ds` only over version `ds.version - 1`; return whichever is stored."""
        ...


def _candidates(ds: DataSource, rows: Sequence[Mapping[str, Any]]) -> list[Mapping[str, Any]]:
    """The rows that may hold an unknown field: a top-level key no column starts with, or an object
    under a key that columns only read inside. The common row (every key known) costs one set test."""
    paths = [c.keys for c in ds.columns]
    tops = {p[0] for p in paths}
    whole = {p[0] for p in paths if len(p) == 1}  # a column takes the whole value, object or not
    nested = tops - whole
    found = []
    for row in rows:
        if not tops.issuperset(row) or any(row.get(k).__class__ is dict for k in nested):
            found.append(row)
    return found


def _overlaps(a: tuple[str, ...], b: tuple[str, ...]) -> bool:
    n = min(len(a), len(b))
    return a[:n] == b[:n]


def new_columns(ds: DataSource, rows: Sequence[Mapping[str, Any]]) -> tuple[Column, ...]:
    """Columns for the fields of `rows` that no column of `ds` reads, inferred as for a new data source
    and made Nullable (older rows have no value). A field inside or around a known path is not new."""
    candidates = _candidates(ds, rows)
    if not candidates:
        return ()
    try:
        inferred = infer(ds.name, candidates, MAX_COLUMNS, MAX_DEPTH)
    except InvalidRequest:  # no fields at all, or more than a schema may hold: nothing is added
        return ()
    known = [c.keys for c in ds.columns]
    names = {c.name for c in ds.columns}
    added: list[Column] = []
    for col in inferred.columns:
        if any(_overlaps(col.keys, k) for k in known):
            continue
        t = col.parsed_type
        name = free_name(col.name, names)
        names.add(name)
        added.append(Column(name, str(t if t.array else replace(t, nullable=True)), col.jsonpath))
    return tuple(added) if len(ds.columns) + len(added) <= MAX_COLUMNS else ()


def evolve(
    store: SchemaStore, workspace: str, ds: DataSource, rows: Sequence[Mapping[str, Any]]
) -> DataSource:
    """The schema the rows land with: `ds`, or `ds` plus their new columns once stored as the next version."""
    current = ds
    for _ in range(MAX_TRIES):
        added = new_columns(current, rows)
        if not added:
            return current
        candidate = replace(current, columns=current.columns + added, version=current.version + 1)
        stored = store.evolve(workspace, candidate)
        if stored == candidate:
            return stored
        current = stored
    return current
