"""Append-only schema evolution: fields no column reads yet become Nullable columns at the schema's end.

Rows keep their original bytes all the way to the compactor, so a field the registry did not know at
ingest is still there when the rows land: the compactor adds its column (a conditional write on the
version, so concurrent compactors converge) and lands it. Files written before read it as null.

Only where the data source evolves (`DataSource.schema_evolution`: inferred ones, and defined ones that
opted in); elsewhere the values no column reads are counted, not stored (lakegate.shapes.unread). A schema
never grows past MAX_COLUMNS: new fields are added in the order the rows first hold them while they fit,
and a row holding a field past the cap goes to quarantine with the reason (`Evolved.past_cap`), so no
value is dropped unseen.
"""

from __future__ import annotations

import sys
from collections import Counter
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

from lakegate.config import Limits
from lakegate.errors import InvalidRequest, StoreUnavailable
from lakegate.names import free_name
from lakegate.schema import Column, DataSource, field_paths, format_jsonpath, infer

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


@dataclass(frozen=True, slots=True)
class Evolved:
    """The schema rows land with, and the rows that cannot: a field past the column cap (row -> error;
    and by jsonpath, how many rows hold it)."""

    ds: DataSource
    past_cap: dict[int, str] = field(default_factory=dict)
    fields_past_cap: Counter[str] = field(default_factory=Counter)


def new_columns(
    ds: DataSource, rows: Sequence[Mapping[str, Any]]
) -> tuple[tuple[Column, ...], tuple[Column, ...]]:
    """Columns for the fields of `rows` that no column of `ds` reads, inferred as for a new data source
    and made Nullable (older rows have no value), in the order the rows first hold them: those that fit
    under MAX_COLUMNS, and those past it. A field inside or around a known path is not new."""
    candidates = _candidates(ds, rows)
    if not candidates:
        return (), ()
    try:  # no cap here: every field is named, those past the cap too
        inferred = infer(ds.name, candidates, sys.maxsize, MAX_DEPTH)
    except InvalidRequest:  # no fields at all
        return (), ()
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
    room = max(0, MAX_COLUMNS - len(ds.columns))
    return tuple(added[:room]), tuple(added[room:])


def evolve(store: SchemaStore, workspace: str, ds: DataSource, rows: Sequence[Mapping[str, Any]]) -> Evolved:
    """The schema the rows land with: `ds`, or `ds` plus their new columns once stored as the next version;
    with the rows that hold a field past the column cap. A schema kept as defined never changes here."""
    current = ds
    for _ in range(MAX_TRIES):
        if not current.schema_evolution:
            return Evolved(current)
        added, over = new_columns(current, rows)
        if added:
            candidate = replace(current, columns=current.columns + added, version=current.version + 1)
            stored = store.evolve(workspace, candidate)
            if stored != candidate:
                current = stored  # another writer won: merge into its schema and try again
                continue
            current = stored
        return _past_cap(current, rows, over)
    # Never a silent drop: the object is retried (Lambda), when the racing writers have settled.
    raise StoreUnavailable(f"the schema of '{ds.name}' changed {MAX_TRIES} times while adding columns")


def full(ds: DataSource) -> bool:
    """Whether the schema evolves but can take no new column: every new field is past the cap."""
    return ds.schema_evolution and len(ds.columns) >= MAX_COLUMNS


def past_cap(ds: DataSource, rows: Sequence[Mapping[str, Any]]) -> Evolved:
    """The rows holding a field the schema has no room for, as the landing would find them, without
    changing the schema (the ingest asks this of a full one: its answer can then name the fields)."""
    return _past_cap(ds, rows, new_columns(ds, rows)[1])


def _past_cap(ds: DataSource, rows: Sequence[Mapping[str, Any]], over: Sequence[Column]) -> Evolved:
    """Each row holding a field in `over` (no column: the schema is full), with the error that says which."""
    if not over:
        return Evolved(ds)
    missing = {c.keys for c in over}
    found: dict[int, str] = {}
    counted: Counter[str] = Counter()
    for i, row in enumerate(rows):
        fields = [format_jsonpath(p) for p in field_paths(row, MAX_DEPTH) if p in missing]
        if fields:
            counted.update(fields)
            shown = ", ".join(fields[:5]) + (f" and {len(fields) - 5} more" if len(fields) > 5 else "")
            found[i] = (
                f"fields past the column limit: {shown} (Data Source '{ds.name}' has {len(ds.columns)} "
                f"columns, the limit is {MAX_COLUMNS}): the row is kept here whole"
            )
    return Evolved(ds, found, counted)
