"""NDJSON lines into rows: parse each line once, check it against the schema, quarantine what does not fit.

This is the hot path of ingest (see bench/ingest.py): a row is parsed by orjson exactly once, checked
by a validator compiled once per schema, and kept as its original bytes for framing.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from typing import Any

import orjson

from lakegate.column_types import scalar_check
from lakegate.schema import ARRAY_STEP, DataSource

# A row that fits: None. A row that does not: (column, error text) in Tinybird's quarantine style.
Validator = Callable[[dict[str, Any]], tuple[str, str] | None]
_MISSING = object()


@dataclass(slots=True)
class Rejected:
    """A quarantined line: its original bytes, the column at fault (if any) and why."""

    line: bytes
    column: str
    error: str


@dataclass(slots=True)
class ParsedBatch:
    """Lines split into parsed JSON objects (with their bytes) and lines that are not objects."""

    objects: list[dict[str, Any]] = field(default_factory=list)
    lines: list[bytes] = field(default_factory=list)
    rejected: list[Rejected] = field(default_factory=list)

    @property
    def total(self) -> int:
        return len(self.lines) + len(self.rejected)


def iter_lines(body: bytes) -> Iterator[bytes]:
    """Non-blank lines, `\\r\\n` or `\\n` terminated; a trailing newline is not an extra row."""
    for line in body.split(b"\n"):
        if line:
            if line[-1:] == b"\r":
                line = line[:-1]  # noqa: PLW2901 - CRLF bodies from Windows clients
            if line and not line.isspace():
                yield line


def parse(body: bytes, max_line_bytes: int) -> ParsedBatch:
    """Parse every line; a line that is not a JSON object is quarantined, not fatal."""
    batch = ParsedBatch()
    objects, lines = batch.objects, batch.lines
    loads = orjson.loads
    for line in iter_lines(body):
        if len(line) > max_line_bytes:
            batch.rejected.append(
                Rejected(line[:1024], "", f"line too long: {len(line)} bytes, the limit is {max_line_bytes}")
            )
            continue
        try:
            obj = loads(line)
        except orjson.JSONDecodeError as e:
            batch.rejected.append(Rejected(line, "", f"invalid JSON: {e}"))
            continue
        if obj.__class__ is not dict:
            batch.rejected.append(Rejected(line, "", "the line is not a JSON object"))
            continue
        objects.append(obj)
        lines.append(line)
    return batch


def _getter(path: tuple[str, ...]) -> Callable[[dict[str, Any]], object]:
    keys = path[:-1] if path[-1] == ARRAY_STEP else path
    if len(keys) == 1:
        (k,) = keys

        def get_one(row: dict[str, Any]) -> object:
            return row.get(k, _MISSING)

        return get_one

    def get_nested(row: dict[str, Any]) -> object:
        v: object = row
        for k in keys:
            if v.__class__ is not dict:
                return _MISSING
            v = v.get(k, _MISSING)  # type: ignore[attr-defined]
            if v is _MISSING:
                return v
        return v

    return get_nested


def _short(v: object) -> str:
    text = orjson.dumps(v).decode() if not isinstance(v, str) else v
    return text if len(text) <= 100 else text[:97] + "..."


def compile_validator(ds: DataSource) -> Validator:
    """Turn a schema into one function that checks a parsed row column by column."""
    plan = []
    for col in ds.columns:
        t = col.parsed_type
        plan.append((col.name, _getter(col.path), scalar_check(t.base), t.nullable, t.array, col.default, str(t)))
    missing = _MISSING

    def validate(row: dict[str, Any]) -> tuple[str, str] | None:
        for name, get, check, nullable, array, default, tname in plan:
            v = get(row)
            if v is missing or v is None:
                if nullable or array or default is not None:
                    continue
                return name, f"missing value on column '{name}' of type {tname}: the column is not Nullable"
            if array:
                if v.__class__ is not list:
                    return name, f"value '{_short(v)}' on column '{name}' is not {tname}"
                for item in v:  # type: ignore[attr-defined]
                    if item is not None and not check(item):
                        return name, f"value '{_short(item)}' in column '{name}' is not {tname}"
            elif not check(v):
                return name, f"value '{_short(v)}' on column '{name}' is not {tname}"
        return None

    return validate


@dataclass(slots=True)
class CheckedBatch:
    """Rows that fit the schema, as their original bytes, and the quarantined rest."""

    accepted: list[bytes]
    rejected: list[Rejected]


def check(batch: ParsedBatch, validator: Validator) -> CheckedBatch:
    """Check rows already parsed (for inference) against the schema."""
    accepted: list[bytes] = []
    rejected = list(batch.rejected)
    for obj, line in zip(batch.objects, batch.lines, strict=True):
        fault = validator(obj)
        if fault is None:
            accepted.append(line)
        else:
            rejected.append(Rejected(line, fault[0], fault[1]))
    return CheckedBatch(accepted, rejected)


def parse_and_check(body: bytes, validator: Validator, max_line_bytes: int) -> CheckedBatch:
    """One pass for a known data source: parse, check and keep the bytes, holding no parsed rows."""
    accepted: list[bytes] = []
    rejected: list[Rejected] = []
    append = accepted.append
    loads = orjson.loads
    for line in iter_lines(body):
        if len(line) > max_line_bytes:
            rejected.append(
                Rejected(line[:1024], "", f"line too long: {len(line)} bytes, the limit is {max_line_bytes}")
            )
            continue
        try:
            obj = loads(line)
        except orjson.JSONDecodeError as e:
            rejected.append(Rejected(line, "", f"invalid JSON: {e}"))
            continue
        if obj.__class__ is not dict:
            rejected.append(Rejected(line, "", "the line is not a JSON object"))
            continue
        fault = validator(obj)
        if fault is None:
            append(line)
        else:
            rejected.append(Rejected(line, fault[0], fault[1]))
    return CheckedBatch(accepted, rejected)
