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

A block with a line that does not fit is not given up whole (`vouch`): msgspec names the first value it
refused (`$[i]`, or the byte of malformed JSON), so the lines before it are checked again as a block, that
line alone goes to the reference, and the check goes on after it. One bad row in a hundred sent every
64 KiB block down the row-by-row path (0.37 of the all-valid throughput on bench/ingest.py).
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
        if not _structured(data, start, end):
            return 0
        rows = _decoded(self, data, start, end)
        lines = data.count(b"\n", start, end)
        return lines if isinstance(rows, list) and len(rows) == lines and self.after_fits(rows) else 0

    def decode(self, block: memoryview) -> list[Any]:
        return self._decode(block)

    def after_fits(self, rows: Sequence[Any]) -> bool:
        """The checks msgspec cannot make (dates, UInt64's upper bound), on decoded rows."""
        for getters, array, check in self._after:
            values: Sequence[Any] = rows
            for get in getters:  # a missing (None) object on the way holds no value to check
                values = _not_none(list(map(get, values)))
            if array:
                values = _not_none(list(chain.from_iterable(values)))
            if not check(values):
                return False
        return True


# What msgspec's errors say of where decoding stopped (msgspec 0.19+): the index of the value a
# ValidationError is about, the byte of a DecodeError. An error not worded so is "cannot tell which line".
_AT_VALUE = re.compile(r"- at `\$\[(\d+)\]")
_AT_BYTE = re.compile(r"\(byte (\d+)\)$")
# Where decoding of a range stopped when no line is named (a bulk check after decoding failed, invalid
# UTF-8): the range is halved until it is this many lines, then left to the slower paths whole.
_BISECT_LINES = 16
_UNKNOWN = -1


def _structured(data: bytes, start: int, end: int) -> bool:
    """Every line starts with `{` and ends with `}`: then no JSON value can span two lines (`}` newline
    `{` is never valid inside one) and every line of any part of the range is one value."""
    return (
        start < end
        and data.startswith(b"{", start)
        and data.endswith(b"}\n", start, end)
        and data.count(b"}\n{", start, end) == data.count(b"\n", start, end) - 1
    )


def _decoded(check: BlockCheck, data: bytes, start: int, end: int) -> list[Any] | int:
    """The rows of data[start:end] (structured), or the offset of the first line msgspec refused, or
    _UNKNOWN when it does not say which."""
    try:
        return check.decode(memoryview(data)[start:end])
    except msgspec.ValidationError as e:
        at = _AT_VALUE.search(str(e))
        if at is None:
            return _UNKNOWN
        pos = start  # the start of line `i`: each line is one value
        for _ in range(int(at.group(1))):
            pos = data.find(b"\n", pos, end) + 1
            if pos <= 0:
                return _UNKNOWN
        return pos
    except msgspec.DecodeError as e:
        at = _AT_BYTE.search(str(e))
        if at is None or start + int(at.group(1)) >= end:
            return _UNKNOWN
        return data.rfind(b"\n", start, start + int(at.group(1))) + 1 or start
    # invalid UTF-8 in a string raises UnicodeDecodeError, a ValueError.
    except (ValueError, RecursionError):
        return _UNKNOWN


def _refused_lines(
    check: BlockCheck, data: bytes, start: int, end: int
) -> tuple[list[Any], list[int]] | None:
    """The rows of the lines msgspec takes and the offsets of those it refuses, in one pass: decoding goes
    on after each refused line. None when it cannot tell which line it refused."""
    refused: list[int] = []
    tail: list[Any] = []  # the rows after the last refused line, from the decode that took them
    pos = start
    while pos < end:
        got = _decoded(check, data, pos, end)
        if isinstance(got, list):
            if not refused:
                return got, refused
            tail = got
            break
        if got < pos:
            return None
        refused.append(got)
        pos = data.find(b"\n", got, end) + 1 or end
    # The lines taken before the last refused one, decoded together once more (a copy of them): the checks
    # after decoding need their rows.
    kept = b"".join(data[a:b] for a, b in _gaps(data, start, end, refused)[:-1] if a < b)
    if not kept:
        return tail, refused
    rows = _decoded(check, kept, 0, len(kept))
    return (rows + tail, refused) if isinstance(rows, list) else None


def _gaps(data: bytes, start: int, end: int, refused: Sequence[int]) -> list[tuple[int, int]]:
    """The runs of lines between the refused ones (each refused line runs to its newline)."""
    runs, pos = [], start
    for at in refused:
        runs.append((pos, at))
        pos = data.find(b"\n", at, end) + 1 or end
    runs.append((pos, end))
    return runs


def vouch(
    check: BlockCheck,
    data: bytes,
    start: int,
    end: int,
    accept: Callable[[memoryview, int], None],
    slow: Callable[[int, int], None],
) -> None:
    """Walk data[start:end] (whole lines, each ending with a newline) in order: `accept` each run of lines
    the compiled check vouches for (a view and its row count), hand every other line or run to `slow`
    (offsets), so that every line is judged once, by the block check or by the reference behind `slow`."""
    if not _structured(data, start, end):
        slow(start, end)  # blank, space-padded or CRLF lines: the slow path knows what to make of them
        return
    view = memoryview(data)
    todo = [(start, end)]  # ranges still to walk, the next one last
    while todo:
        pos, cut = todo.pop()
        found = _refused_lines(check, data, pos, cut)
        lines = data.count(b"\n", pos, cut)
        if found is not None and len(found[0]) == lines - len(found[1]) and check.after_fits(found[0]):
            rows, refused = found
            for (a, b), bad in zip(_gaps(data, pos, cut, refused), [*refused, None], strict=True):
                if a < b:
                    accept(view[a:b], data.count(b"\n", a, b) if refused else len(rows))
                if bad is not None:
                    slow(bad, data.find(b"\n", bad, cut) + 1 or cut)
        elif lines > _BISECT_LINES:
            mid = data.rfind(b"\n", pos, (pos + cut) // 2) + 1
            if mid <= pos:
                mid = data.find(b"\n", (pos + cut) // 2, cut) + 1
            todo += [(mid, cut), (pos, mid)]
        else:
            slow(pos, cut)


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
