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

tests/unit/ingest/test_blocks.py holds this to the reference on generated and adversarial lines.

A block with lines that do not fit is not given up whole (`vouch`), and costs about what its lines cost:
msgspec decodes it in units; in a unit it refuses, it names the first value it refused (`$[i]`, or the
byte of malformed JSON), so the lines before that one are decoded again as a block and each line from it on
is decoded by itself (a line holding two values, which decoding a block takes as two, is refused so); after
a unit with two refused lines or more, the next is decoded line by line from its start. Only the refused
lines go to the reference, one by one; the runs between them are accepted as views of the body, and the
checks after decoding run once on all the rows of the block. With 1% and 10% of the rows
refused (bench/ingest.py), rows.parse_and_check runs 1.2 and 1.8 times the instructions of the all-valid
batch (callgrind); 1.45 and 2.4 when each refused line had the rest of its block decoded as a block again,
and 16 KiB blocks each ran the checks after decoding.
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

    __slots__ = ("_after", "decode", "decode_one")

    def __init__(self, decoder: msgspec.json.Decoder[Any], after: list[_After]) -> None:
        self.decode = cast(_Decode, decoder.decode_lines)  # whole lines, each ending with a newline
        self.decode_one = cast(Callable[[memoryview], Any], decoder.decode)  # one line, no newline
        self._after = after

    def rows_if_all_fit(self, data: bytes, start: int = 0, end: int | None = None) -> int:
        """How many rows `data[start:end]` holds when every line of it fits; 0 when one may not (or on any
        doubt). The block is whole lines, each ending with a newline; it is read in place, not copied."""
        end = len(data) if end is None else end
        lines = _structured_lines(data, start, end)
        if not lines:
            return 0
        rows = _decoded(self, data, start, end)
        return lines if isinstance(rows, list) and len(rows) == lines and self.after_fits(rows) else 0

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
_UNKNOWN = -1
# What decoding a line msgspec does not take raises: DecodeError and ValidationError (ValueErrors), a
# UnicodeDecodeError for invalid UTF-8 in a string, and RecursionError to be safe.
_REFUSED = (ValueError, RecursionError)
# After-decoding checks that fail on a run of rows are bisected down to runs of this many rows, whose lines
# then go to the reference one by one (a failing bulk check does not say which row failed).
_AFTER_LEAF = 8


def _structured_lines(data: bytes, start: int, end: int) -> int:
    """How many lines data[start:end] holds when every line starts with `{` and ends with `}` (then no JSON
    value can span two lines, as `}` newline `{` is never valid inside one, and every line of any part of
    the range is one value); 0 when one does not."""
    if not (start < end and data.startswith(b"{", start) and data.endswith(b"}\n", start, end)):
        return 0
    lines = data.count(b"\n", start, end)
    return lines if data.count(b"}\n{", start, end) == lines - 1 else 0


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
    except _REFUSED:
        return _UNKNOWN


def _sorted(
    check: BlockCheck, data: bytes, start: int, end: int, unit: int
) -> tuple[list[Any], list[tuple[int, int]]] | None:
    """The rows of the lines of data[start:end] (structured) that msgspec takes, and the (offset, index) of
    those it refuses, in order. Decoded in units of about `unit` bytes, each as a block; in a unit with a
    refused line, the lines before it are decoded again as a block (decoding stopped there, their rows were
    lost) and each line from it on by itself, so a refused line costs the rest of its unit, never its block
    (re-decoding the rest as a block would cost it again at each further refused line). None when the lines
    before the refused one do not decode again."""
    rows: list[Any] = []
    misfits: list[tuple[int, int]] = []
    pos, dense = start, False
    while pos < end:
        cut = end if end - pos <= unit else data.rfind(b"\n", pos, pos + unit) + 1
        if cut <= pos:  # a line longer than the unit
            cut = data.find(b"\n", pos, end) + 1
        before = len(misfits)
        got = _UNKNOWN if dense else _decoded(check, data, pos, cut)
        if isinstance(got, list):
            rows += got
        else:
            if got > pos:
                prefix = _decoded(check, data, pos, got)
                if not isinstance(prefix, list):
                    return None
                rows += prefix
                pos = got
            _one_by_one(check, data, pos, cut, rows, misfits)
        # After a unit with two refused lines or more, the next is decoded line by line from its start: a
        # refused line costs more (an error raised, the lines before it decoded twice) than a line decoded
        # by itself instead of in a block (10% bad rows: 720 -> 662 M instructions, 1% unchanged).
        dense = len(misfits) - before >= 2
        pos = cut
    return rows, misfits


def _one_by_one(
    check: BlockCheck, data: bytes, start: int, end: int, rows: list[Any], misfits: list[tuple[int, int]]
) -> None:
    """Decode each line of data[start:end] by itself, onto `rows` or `misfits` (a line holding two values,
    which decoding lines as a block takes as two rows, is refused here)."""
    decode, keep, find, view = check.decode_one, rows.append, data.find, memoryview(data)
    pos, index = start, len(rows) + len(misfits)
    while pos < end:  # a view of each line, found with memchr: cheaper than splitting a copy
        nl = find(b"\n", pos, end)
        try:
            keep(decode(view[pos:nl]))
        except _REFUSED:
            misfits.append((pos, index))
        pos = nl + 1
        index += 1


def _after_misfits(
    check: BlockCheck, data: bytes, start: int, end: int, rows: list[Any], misfits: list[tuple[int, int]]
) -> list[tuple[int, int]]:
    """`misfits` with the lines of the rows the checks after decoding refuse (bisected down to _AFTER_LEAF
    rows: a bulk check only says all or not all)."""
    refused = {i for _, i in misfits}
    starts = [start, *(i + 1 for i in _newlines(data, start, end - 1))]
    kept = [(pos, i) for i, pos in enumerate(starts) if i not in refused]  # the line of each row
    todo = [(0, len(rows))]
    while todo:
        a, b = todo.pop()
        if check.after_fits(rows[a:b]):
            continue
        if b - a <= _AFTER_LEAF:
            misfits += kept[a:b]
        else:
            todo += [(a, (a + b) // 2), ((a + b) // 2, b)]
    return sorted(misfits)


def _newlines(data: bytes, start: int, end: int) -> list[int]:
    found, pos = [], data.find(b"\n", start, end)
    while pos >= 0:
        found.append(pos)
        pos = data.find(b"\n", pos + 1, end)
    return found


def vouch(
    check: BlockCheck,
    data: bytes,
    start: int,
    end: int,
    accept: Callable[[memoryview, int], None],
    slow: Callable[[int, int], None],
    unit: int = 0,
) -> None:
    """Walk data[start:end] (whole lines, each ending with a newline) in order: `accept` each run of lines
    the compiled check vouches for (a view and its row count), hand every other line to `slow` (offsets), so
    that every line is judged once, by the block check or by the reference behind `slow`. msgspec decodes
    the range in units of `unit` bytes (0: whole); the checks after decoding run once on all the rows."""
    lines = _structured_lines(data, start, end)
    if not lines:
        slow(start, end)  # blank, space-padded or CRLF lines: the slow path knows what to make of them
        return
    found = _sorted(check, data, start, end, unit or end - start)
    if found is None or len(found[0]) + len(found[1]) != lines:  # a line msgspec took as two values
        found = [], []
        _one_by_one(check, data, start, end, *found)
    rows, misfits = found
    if not check.after_fits(rows):
        misfits = _after_misfits(check, data, start, end, rows, misfits)
    view = memoryview(data)
    pos, index = start, 0
    for at, i in misfits:
        if i > index:
            accept(view[pos:at], i - index)
        pos, index = data.find(b"\n", at, end) + 1, i + 1
        slow(at, pos)
    if index < lines:
        accept(view[pos:end], lines - index)


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
    return BlockCheck(msgspec.json.Decoder(struct), after)


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
