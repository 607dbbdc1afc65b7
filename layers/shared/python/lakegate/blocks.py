"""Whole blocks of NDJSON lines checked against a schema in one compiled pass (msgspec), or "cannot tell".

The ingest fast path in front of rows.py's: a schema becomes a msgspec Struct type whose decoder only
succeeds on lines that the reference validator (rows.Validator.__call__ after orjson.loads) accepts,
so a block it decodes whole is accepted whole, as its original bytes, never split into lines. Anything
else (a decode error, a block of odd shape) is "cannot tell", and the caller checks that block with
rows.py's own paths, which word every error. The decoder is strictly narrower than the reference:

- every declared key has a scalar type (or a list of one), unknown keys are refused: msgspec skips
  unknown values without validating their UTF-8, number range or depth as orjson does, so it must
  never skip anything;
- String columns take JSON strings only (the reference takes any non-null value: numbers, objects,
  arrays go the slow way); DateTime numbers are `float`, which refuses the huge integers orjson
  refuses too (a `str | int` union would take them);
- a line holds exactly one value: every line starts with `{` and ends with `}` (so no value can span a
  newline: `}` then `{` is never valid inside one), and the values decoded equal the lines;
- dates, and UInt64's upper bound, are checked after decoding with column_types' bulk checks.

tests/unit/test_blocks.py holds this to the reference on generated and adversarial lines.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator, Sequence
from itertools import chain
from operator import attrgetter
from types import GenericAlias
from typing import Annotated, Any, cast

import msgspec

from lakegate.column_types import INT_RANGES, BulkCheck, bulk_check
from lakegate.schema import ARRAY_STEP, DataSource

# Types whose values msgspec cannot fully check: column_types' bulk check runs on them after decoding.
_CHECKED_AFTER = ("Date", "DateTime", "DateTime64", "UInt64")
_Decode = Callable[[bytes], list[Any]]


def _or_null(kind: Any) -> Any:
    return kind | None


def _scalar(base: str) -> Any:
    """The msgspec type whose values all pass `scalar_check(base)`."""
    if base == "UInt64":  # msgspec takes no bound beyond int64: the upper one is a bulk check after
        return Annotated[int, msgspec.Meta(ge=0)]
    if base in INT_RANGES:
        lo, hi = INT_RANGES[base]
        return Annotated[int, msgspec.Meta(ge=lo, le=hi)]
    if base in ("Float32", "Float64"):
        return float
    if base == "Bool":
        return bool | Annotated[int, msgspec.Meta(ge=0, le=1)]
    if base == "Date":
        return str
    if base in ("DateTime", "DateTime64"):
        return str | float  # epoch seconds; `float` takes JSON integers too
    return str  # String: strings only, the other JSON values it takes are left to the slow path


def _not_none(values: Sequence[object]) -> Sequence[object]:
    return values if None not in values else [v for v in values if v is not None]


class BlockCheck:
    """A data source's schema as a msgspec decoder of whole blocks of lines, plus the bulk date checks."""

    __slots__ = ("_after", "_decode")

    def __init__(self, decode: _Decode, after: list[tuple[Callable[[Any], object], bool, BulkCheck]]) -> None:
        self._decode = decode
        self._after = after

    def rows_if_all_fit(self, block: bytes) -> int:
        """How many rows `block` holds when every line of it fits; 0 when one may not (or on any doubt).

        `block` is whole lines, each ending with a newline."""
        lines = block.count(b"\n")
        if not (block[:1] == b"{" and block[-2:] == b"}\n" and block.count(b"}\n{") == lines - 1):
            return 0  # blank, space-padded or CRLF lines: the slow path knows what to make of them
        try:
            rows = self._decode(block)
        # ValidationError is a DecodeError; invalid UTF-8 in a string raises UnicodeDecodeError, a ValueError.
        except (msgspec.DecodeError, ValueError, RecursionError):
            return 0
        if len(rows) != lines:
            return 0
        for get, array, check in self._after:
            values: Sequence[object] = list(map(get, rows))
            if array:
                values = list(chain.from_iterable(cast("Iterator[list[object]]", filter(None, values))))
            if not check(_not_none(values)):
                return 0
        return lines


def compile_block_check(ds: DataSource) -> BlockCheck | None:
    """The compiled check of `ds`, or None when its schema has a shape this path does not handle
    (nested jsonpaths, two columns reading one key): then rows.py's own fast path does it all."""
    fields: list[tuple[str, object, Any]] = []
    after: list[tuple[Callable[[Any], object], bool, BulkCheck]] = []
    keys: set[str] = set()
    for i, col in enumerate(ds.columns):
        t = col.parsed_type
        path = col.path[:-1] if t.array else col.path
        if len(path) != 1 or path[0] in keys or ARRAY_STEP in path:
            return None
        keys.add(path[0])
        attr = f"c{i}"
        kind = _scalar(t.base)
        if t.array:
            kind = GenericAlias(list, (_or_null(kind),))  # null items fit, as in the reference
        if t.nullable or t.array or col.default is not None:  # missing and null fit
            fields.append((attr, _or_null(kind), msgspec.field(name=path[0], default=None)))
        else:
            fields.append((attr, kind, msgspec.field(name=path[0])))
        if t.base in _CHECKED_AFTER:
            after.append((attrgetter(attr), t.array, bulk_check(t.base)))
    if not fields:
        return None
    struct = msgspec.defstruct("Row", fields, kw_only=True, forbid_unknown_fields=True, gc=False)
    decoder = msgspec.json.Decoder(struct)
    return BlockCheck(cast(_Decode, decoder.decode_lines), after)
