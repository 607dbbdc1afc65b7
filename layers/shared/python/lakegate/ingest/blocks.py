"""Whole blocks of NDJSON lines checked against a schema in one compiled pass (msgspec), or "cannot tell".

The ingest fast path in front of rows.py's: a schema becomes a msgspec Struct type whose decoder only
succeeds on lines that the reference validator (rows.Validator.__call__ after orjson.loads) accepts,
so a block it decodes whole is accepted whole, as its original bytes, never split into lines. Anything
else (a decode error, a block of odd shape) is "cannot tell", and the caller checks that block with
rows.py's own paths, which word every error. The decoder is strictly narrower than the reference:

- every key is one the schema reads, holding a scalar, a list of scalars or an object of such keys
  (nested jsonpaths), at every level: msgspec skips unknown values without checking their UTF-8,
  number range or depth as orjson does, so it must never skip anything;
- String columns take JSON strings only (the reference takes any non-null value: numbers, objects,
  arrays go the slow way); DateTime numbers are `float`, which refuses the huge integers orjson
  refuses too (a `str | int` union would take them);
- a line holds exactly one value: every line starts with `{` and ends with `}` (so no value can span a
  newline: `}` then `{` is never valid inside one), and the values decoded equal the lines;
- dates, and UInt64's upper bound, are checked after decoding with column_types' bulk checks.

tests/unit/test_blocks.py holds this to the reference on generated and adversarial lines.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from itertools import chain
from operator import attrgetter
from types import GenericAlias
from typing import Annotated, Any, cast

import msgspec

from lakegate.column_types import INT_RANGES
from lakegate.schema import DataSource
from lakegate.values import FLOAT32_MAX, BulkCheck, bulk_check

# Types whose values msgspec cannot fully check: lakegate.values' bulk check runs on them after decoding.
_CHECKED_AFTER = ("Date", "Date32", "DateTime", "DateTime64", "UInt64")
_Decode = Callable[[memoryview], list[Any]]


def _or_null(kind: Any) -> Any:
    return kind | None


def _scalar(base: str) -> Any:
    """The msgspec type whose values all pass `scalar_check(base)` (or are checked after, _CHECKED_AFTER)."""
    if base == "UInt64":  # msgspec takes no bound beyond int64: the upper one is a bulk check after
        return Annotated[int, msgspec.Meta(ge=0)]
    if base in INT_RANGES:
        lo, hi = INT_RANGES[base]
        return Annotated[int, msgspec.Meta(ge=lo, le=hi)]
    if base == "Float32":  # a larger one would land as infinity
        return Annotated[float, msgspec.Meta(ge=-FLOAT32_MAX, le=FLOAT32_MAX)]
    if base == "Float64":
        return float
    if base == "Bool":
        return bool | Annotated[int, msgspec.Meta(ge=0, le=1)]
    if base in ("Date", "Date32"):
        return str
    if base in ("DateTime", "DateTime64"):
        return str | float  # epoch seconds; `float` takes JSON integers too
    return str  # String: strings only, the other JSON values it takes are left to the slow path


def _not_none(values: Sequence[object]) -> Sequence[object]:
    return values if None not in values else [v for v in values if v is not None]


_After = tuple[tuple[Callable[[Any], Any], ...], bool, BulkCheck]  # getters from the row down, array, check


class BlockCheck:
    """A data source's schema as a msgspec decoder of whole blocks of lines, plus the bulk checks after."""

    __slots__ = ("_after", "_decode")

    def __init__(self, decode: _Decode, after: list[_After]) -> None:
        self._decode = decode
        self._after = after

    def rows_if_all_fit(self, data: bytes, start: int = 0, end: int | None = None) -> int:
        """How many rows `data[start:end]` holds when every line of it fits; 0 when one may not (or on any
        doubt). The block is whole lines, each ending with a newline; it is read in place, not copied."""
        end = len(data) if end is None else end
        lines = data.count(b"\n", start, end)
        if not (
            start < end
            and data.startswith(b"{", start)
            and data.endswith(b"}\n", start, end)
            and data.count(b"}\n{", start, end) == lines - 1
        ):
            return 0  # blank, space-padded or CRLF lines: the slow path knows what to make of them
        try:
            rows = self._decode(memoryview(data)[start:end])
        # ValidationError is a DecodeError; invalid UTF-8 in a string raises UnicodeDecodeError, a ValueError.
        except (msgspec.DecodeError, ValueError, RecursionError):
            return 0
        if len(rows) != lines:
            return 0
        for getters, array, check in self._after:
            values: Sequence[Any] = rows
            for get in getters:  # a missing (None) object on the way holds no value to check
                values = _not_none(list(map(get, values)))
            if array:
                values = _not_none(list(chain.from_iterable(values)))
            if not check(values):
                return 0
        return lines


# msgspec refuses field names holding a backslash, a double quote or a control character (the fuzz of
# tests/integration/test_fuzz_routes.py found a 500 on every request of such a data source).
_UNNAMEABLE = re.compile(r'[\\"\x00-\x1f]')


def compile_block_check(ds: DataSource) -> BlockCheck | None:
    """The compiled check of `ds`, or None when its schema has a shape this path does not handle (two
    columns reading one key, a key read both as a value and as an object, or a key msgspec cannot name):
    then rows.py does it all."""
    tree: dict[str, Any] = {}  # key -> the index of the column reading it, or the tree below it
    for i, col in enumerate(ds.columns):
        path = col.keys
        if not path or any(_UNNAMEABLE.search(k) for k in path):
            return None
        node = tree
        for key in path[:-1]:
            node = node.setdefault(key, {})
            if not isinstance(node, dict):
                return None
        if path[-1] in node:
            return None
        node[path[-1]] = i
    if not tree:
        return None
    after: list[_After] = []
    try:
        struct, _ = _struct(ds, tree, (), after)
    except ValueError:  # msgspec takes no key holding a quote, a backslash or a control character
        return None
    return BlockCheck(cast(_Decode, msgspec.json.Decoder(struct).decode_lines), after)


def _struct(
    ds: DataSource, tree: dict[str, Any], getters: tuple[Callable[[Any], Any], ...], after: list[_After]
) -> tuple[Any, bool]:
    """The Struct type of one JSON object of the schema, and whether it must be there (a column below it
    is required). Unknown keys are refused at every level, so msgspec never skips a value unchecked."""
    fields: list[tuple[str, Any, Any]] = []
    needed = False
    for n, (key, node) in enumerate(tree.items()):
        attr = f"f{n}"
        below: tuple[Callable[[Any], Any], ...] = (*getters, attrgetter(attr))
        if isinstance(node, dict):
            kind, required = _struct(ds, node, below, after)
        else:
            col = ds.columns[node]
            t = col.parsed_type
            kind = _scalar(t.base)
            if t.array:
                kind = GenericAlias(list, (_or_null(kind),))  # null items fit, as in the reference
            required = not (t.nullable or t.array or col.default is not None)
            if t.base in _CHECKED_AFTER:
                after.append((below, t.array, bulk_check(t)))
        if required:
            fields.append((attr, kind, msgspec.field(name=key)))
        else:  # missing and null fit (and so does a missing or null object above a column)
            fields.append((attr, _or_null(kind), msgspec.field(name=key, default=None)))
        needed = needed or required
    return msgspec.defstruct("Row", fields, kw_only=True, forbid_unknown_fields=True, gc=False), needed
