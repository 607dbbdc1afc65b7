"""NDJSON lines into rows: parse each line once, check it against the schema, quarantine what does not fit.

This is the hot path of ingest (see bench/ingest.py). A row fits iff every column's value (found at its
jsonpath; for arrays, every item) passes the column type's check; a missing or null value fits only a
Nullable, Array or DEFAULT column; String takes any non-null value. Rows that fit keep their original
line bytes, in order; the rest are quarantined with their bytes and a Tinybird-style error.

Three checkers share one compiled `Validator`: `validator(row)` checks one row column by column and words
every error (the reference); `validator.all_lines_fit(lines)` / `all_fit(rows)` check a chunk of rows a
column at a time with C-level calls, and `lakegate.ingest.blocks` decodes a whole block of the body with a
msgspec decoder compiled from the schema; the last two only ever say "all fit" or "cannot tell". What
they vouch for is accepted whole (a block as its original bytes, never split into lines); anything else
goes down to the next checker and at last through the reference line by line, so verdicts and error
texts are always the reference's (tests/unit/test_rows_fastpath.py and test_blocks.py hold them to that).
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from itertools import chain, repeat
from operator import itemgetter
from typing import Any, cast, overload

import orjson

from lakegate.ingest.blocks import BlockCheck, compile_block_check, vouch
from lakegate.schema import MISSING, DataSource, getter
from lakegate.shapes import misplaced, object_paths
from lakegate.values import BulkCheck, Check, bulk_check, scalar_check, shown

Row = dict[str, Any]
Fault = tuple[str, str]  # (column, error text) in Tinybird's quarantine style
# Rows per chunk. On bench/ingest.py the time is flat from 256 to 1024 rows and grows below 128 (the
# per-chunk calls show); a chunk with one bad row is re-checked row by row, so no larger than needed.
_CHUNK = 256
# Bytes per block for the compiled check (lakegate.ingest.blocks): ~160 of bench/ingest.py's rows. Time is flat
# from 16 KiB to 256 KiB there. Where rows that do not fit keep coming, msgspec decodes a block in units of
# _DIRTY_UNIT (a refused line costs the lines before it in its unit twice, those after it one by one), and
# the block's checks after decoding still run once. Instructions of parse_and_check on bench/ingest.py's
# batch with 1% / 10% bad rows, all-valid 365 M (callgrind): 425 / 800 M at 4 KiB, 432 / 662 M at 8 KiB,
# 459 / 656 M at 16 KiB (before units: 606 / 1003 M, all-valid 418 M, with 16 KiB blocks in dirty stretches).
_BLOCK = 64 * 1024
_DIRTY_UNIT = 8 * 1024
_NEWLINE = ord("\n")


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


def _split_lines(body: bytes) -> list[bytes]:
    """`iter_lines` done with C-level calls, except that whitespace-only lines are kept for the caller to
    skip (they fail to parse, so they only ever reach the line-by-line path)."""
    if b"\r" in body:
        body = body.replace(b"\r\n", b"\n")
        if body[-1:] == b"\r":
            body = body[:-1]
    return list(filter(None, body.split(b"\n")))


def _parse_line(line: bytes, max_line_bytes: int) -> Row | Rejected:
    """One line as a JSON object, or why it is quarantined."""
    if len(line) > max_line_bytes:
        return Rejected(line[:1024], "", f"line too long: {len(line)} bytes, the limit is {max_line_bytes}")
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError as e:
        return Rejected(line, "", f"invalid JSON: {e}")
    if obj.__class__ is not dict:
        return Rejected(line, "", "the line is not a JSON object")
    return cast("Row", obj)


def parse(body: bytes, max_line_bytes: int) -> ParsedBatch:
    """Parse every line; a line that is not a JSON object is quarantined, not fatal."""
    batch = ParsedBatch()
    for line in iter_lines(body):
        parsed = _parse_line(line, max_line_bytes)
        if isinstance(parsed, Rejected):
            batch.rejected.append(parsed)
        else:
            batch.objects.append(parsed)
            batch.lines.append(line)
    return batch


def _non_null(values: Sequence[object]) -> Sequence[object]:
    # all() is a cheap first test: it stops at the first falsy value, and None is one.
    if all(values) or None not in values:
        return values
    return [v for v in values if v is not None]


_get: Callable[[Row, str], object] = dict.get


def _values_at(rows: Sequence[Row], keys: tuple[str, ...]) -> Sequence[object]:
    """The value at `keys` in every row, None where it is missing (an intermediate that is no object)."""
    values: Sequence[object] = list(map(_get, rows, repeat(keys[0])))
    for k in keys[1:]:
        if set(map(type, values)) == {dict}:
            values = list(map(_get, cast("Sequence[Row]", values), repeat(k)))
        else:
            values = [v.get(k) if v.__class__ is dict else None for v in values]
    return values


@dataclass(frozen=True, slots=True)
class _BulkColumn:
    """How `all_fit` checks a column that is not a required top-level one: read it, then check it."""

    keys: tuple[str, ...]
    check: BulkCheck
    required: bool  # not Nullable, not Array, no DEFAULT: missing and null do not fit
    array: bool


class Validator:
    """A data source's schema compiled once: the reference row check and the bulk chunk check."""

    __slots__ = ("_bulk", "_objects_needed", "_plan", "_shapes", "_take", "_taken_checks", "blocks")

    def __init__(self, ds: DataSource) -> None:
        self._plan: list[tuple[str, Callable[[Row], object], Check, bool, bool, str]] = []
        self._bulk: list[_BulkColumn] = []
        # Required top-level scalars are the common case: all read with one itemgetter call per row, then
        # checked a column at a time; String ones together, as they only need to be there and not null.
        taken: list[str] = []
        strings: list[int] = []
        checks: list[tuple[int, BulkCheck]] = []
        for col in ds.columns:
            t = col.parsed_type
            required = not (t.nullable or t.array or col.default is not None)
            self._plan.append((col.name, getter(col.keys), scalar_check(t), not required, t.array, str(t)))
            keys = col.keys
            if required and len(keys) == 1:
                if t.base == "String":
                    strings.append(len(taken))
                else:
                    checks.append((len(taken), bulk_check(t)))
                taken.append(keys[0])
            elif required or t.array or t.base != "String":  # an optional String takes anything, even null
                self._bulk.append(_BulkColumn(keys, bulk_check(t), required, t.array))
        self._take = _take_columns(taken)
        self._taken_checks = (strings, checks)
        # Where the schema evolves, a value at a path columns only read inside of fits nowhere (shapes.py).
        self._shapes = object_paths(ds) if ds.schema_evolution else ()
        # Columns read by path need the objects themselves, and so does a schema with no taken key (then
        # no itemgetter refuses the rows that are not objects).
        self._objects_needed = bool(self._bulk) or not taken or bool(self._shapes)
        self.blocks: BlockCheck | None = compile_block_check(ds)

    def __call__(self, row: Row) -> Fault | None:
        """The first column (in schema order) whose value does not fit, with the error text; None if it fits.
        A value that fits no column of its path comes first (as the landing finds it, lake.parquet)."""
        if self._shapes:
            fault = misplaced(row, self._shapes)
            if fault is not None:
                return fault
        for name, get, check, optional, array, tname in self._plan:
            v = get(row)
            if v is MISSING or v is None:
                if optional:
                    continue
                return name, f"missing value on column '{name}' of type {tname}: the column is not Nullable"
            if array:
                if v.__class__ is not list:
                    return name, f"value '{shown(v)}' on column '{name}' is not {tname}"
                for item in v:
                    if item is not None and not check(item):
                        return name, f"value '{shown(item)}' in column '{name}' is not {tname}"
            elif not check(v):
                return name, f"value '{shown(v)}' on column '{name}' is not {tname}"
        return None

    def all_lines_fit(self, lines: Sequence[bytes]) -> bool:
        """True only if every line is a JSON object that fits; False if one may not (or is not one)."""
        if not lines:
            return True
        try:
            if self._objects_needed:
                return self.all_fit(list(map(orjson.loads, lines)))
            # Parse and read in one C-level pass: each object is dropped as soon as its values are read,
            # while it is still in cache (keeping a chunk of objects to read them later cost ~3 ms more on
            # bench/ingest.py's 25k rows).
            return self._taken_fit(self._take(map(orjson.loads, lines)))
        except (orjson.JSONDecodeError, KeyError, TypeError):  # not JSON, a value missing, not an object
            return False

    def all_fit(self, rows: Sequence[object]) -> bool:
        """True only if every parsed row is an object that fits; False if one may not."""
        if not rows:
            return True
        try:
            if not self._taken_fit(self._take(rows)):
                return False
        except (KeyError, TypeError):  # a required top-level value is missing, or a row is no object
            return False
        if self._objects_needed and set(map(type, rows)) != {dict}:
            return False
        for col in self._bulk:
            values = _values_at(cast("Sequence[Row]", rows), col.keys)
            if col.array:
                values = _non_null(values)
                if not set(map(type, values)) <= {list}:
                    return False
                values = _non_null(list(chain.from_iterable(cast("Sequence[list[object]]", values))))
            elif not col.required:
                values = _non_null(values)
            if not col.check(values):
                return False
        return all(_objects_or_none(_values_at(cast("Sequence[Row]", rows), p.keys)) for p in self._shapes)

    def _taken_fit(self, taken: Sequence[Sequence[object]]) -> bool:
        strings, checks = self._taken_checks
        # all() stops at the first falsy value; only then look for a null.
        if (
            strings
            and not all(chain.from_iterable(taken[i] for i in strings))
            and any(None in taken[i] for i in strings)
        ):
            return False
        return all(check(taken[i]) for i, check in checks)


def _objects_or_none(values: Sequence[object]) -> bool:
    return set(map(type, values)) <= {dict, type(None)}


def _take_columns(keys: list[str]) -> Callable[[Iterable[Any]], Sequence[Sequence[object]]]:
    """Read several top-level values per row with one itemgetter call, then turn rows into columns."""
    if not keys:
        return lambda rows: ()
    if len(keys) == 1:
        get_one = itemgetter(keys[0])
        return lambda rows: (list(map(get_one, rows)),)
    get = itemgetter(*keys)
    return lambda rows: list(zip(*map(get, rows), strict=True))


def compile_validator(ds: DataSource) -> Validator:
    """Turn a schema into the checks of its rows, once per schema version."""
    return Validator(ds)


class AcceptedRows(Sequence[bytes]):
    """Accepted lines in order, kept as runs of whole lines (each ending with a newline): blocks of the
    body that lakegate.ingest.blocks vouched for travel to framing as they are, never split and joined again.
    Indexing or iterating splits them into lines once, for the callers that need each row."""

    __slots__ = ("_count", "_lines", "_pending", "_runs")

    def __init__(self, lines: Iterable[bytes] = ()) -> None:
        self._runs: list[tuple[bytes | memoryview, int]] = []
        self._pending: list[bytes] = list(lines)
        self._count = len(self._pending)
        self._lines: list[bytes] | None = None

    def add_block(self, block: bytes | memoryview, rows: int) -> None:
        """Whole lines, each ending with a newline, `rows` of them (a view of the body: not copied)."""
        self._flush()
        self._runs.append((block, rows))
        self._count += rows
        self._lines = None

    def append(self, line: bytes) -> None:
        self._pending.append(line)
        self._count += 1
        self._lines = None

    def extend(self, lines: Sequence[bytes]) -> None:
        self._pending.extend(lines)
        self._count += len(lines)
        self._lines = None

    def runs(self) -> list[tuple[bytes | memoryview, int]]:
        """The rows as runs of whole lines, each line ending with a newline, and how many lines each holds."""
        self._flush()
        return self._runs

    def _flush(self) -> None:
        if self._pending:
            self._runs.append((b"\n".join([*self._pending, b""]), len(self._pending)))
            self._pending = []

    def _all(self) -> list[bytes]:
        if self._lines is None:
            self._lines = [line for run, _ in self.runs() for line in bytes(run).split(b"\n")[:-1]]
        return self._lines

    def __len__(self) -> int:
        return self._count

    @overload
    def __getitem__(self, i: int) -> bytes: ...
    @overload
    def __getitem__(self, i: slice) -> list[bytes]: ...
    def __getitem__(self, i: int | slice) -> bytes | list[bytes]:
        return self._all()[i]

    def __iter__(self) -> Iterator[bytes]:
        return iter(self._all())

    def __eq__(self, other: object) -> bool:
        if isinstance(other, AcceptedRows | list):
            return self._all() == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]

    def __repr__(self) -> str:
        return f"AcceptedRows({self._all()!r})"


@dataclass(slots=True)
class CheckedBatch:
    """Rows that fit the schema, as their original bytes, and the quarantined rest."""

    accepted: AcceptedRows
    rejected: list[Rejected]


def _check_one(obj: Row, line: bytes, validator: Validator, checked: CheckedBatch) -> None:
    fault = validator(obj)
    if fault is None:
        checked.accepted.append(line)
    else:
        checked.rejected.append(Rejected(line, fault[0], fault[1]))


def check(batch: ParsedBatch, validator: Validator) -> CheckedBatch:
    """Check rows already parsed (for inference) against the schema."""
    checked = CheckedBatch(AcceptedRows(), list(batch.rejected))
    for start in range(0, len(batch.objects), _CHUNK):
        objects = batch.objects[start : start + _CHUNK]
        lines = batch.lines[start : start + _CHUNK]
        if validator.all_fit(objects):
            checked.accepted.extend(lines)
        else:
            for obj, line in zip(objects, lines, strict=True):
                _check_one(obj, line, validator, checked)
    return checked


def _parse_and_check_each(
    lines: Sequence[bytes], validator: Validator, max_line_bytes: int, checked: CheckedBatch
) -> None:
    """The reference for a chunk the bulk check cannot vouch for: line by line, in order."""
    for line in lines:
        if line.isspace():
            continue
        parsed = _parse_line(line, max_line_bytes)
        if isinstance(parsed, Rejected):
            checked.rejected.append(parsed)
        else:
            _check_one(parsed, line, validator, checked)


def _check_lines(
    lines: Sequence[bytes], validator: Validator, max_line_bytes: int, checked: CheckedBatch
) -> None:
    """The bulk path, a chunk of lines at a time, and the reference for the chunks it cannot vouch for."""
    for start in range(0, len(lines), _CHUNK):
        chunk = lines[start : start + _CHUNK]
        # Lengths are checked after parsing, while the lines are in cache: a chunk with an over-long line
        # goes to the reference below, which refuses it before parsing.
        if validator.all_lines_fit(chunk) and max(map(len, chunk)) <= max_line_bytes:
            checked.accepted.extend(chunk)
        else:
            _parse_and_check_each(chunk, validator, max_line_bytes, checked)


def parse_and_check(body: bytes, validator: Validator, max_line_bytes: int) -> CheckedBatch:
    """One pass for a known data source: parse, check and keep the bytes, a block of the body at a time."""
    checked = CheckedBatch(AcceptedRows(), [])
    blocks = validator.blocks
    if blocks is None:
        _check_lines(_split_lines(body), validator, max_line_bytes, checked)
        return checked
    # Blocks of whole lines no longer than the line limit, so that no line in a block can exceed it; read
    # and kept as views of the body, never copied (but the last one when it has no final newline).
    span = min(_BLOCK, max_line_bytes)
    pos, end = 0, len(body)
    slowed = [0]  # lines the block check handed to the slower paths, so far
    clean = unit = 0  # blocks in a row with none; msgspec's unit (0: the whole block)
    while pos < end:
        stop = pos + span
        if stop >= end:
            cut = end
        else:
            cut = body.rfind(b"\n", pos, stop) + 1
            if cut <= pos:  # a line longer than the span: the other paths measure it
                cut = body.find(b"\n", stop) + 1 or end
        if cut - pos > span:  # a line longer than the span: the other paths measure it
            _check_lines(_split_lines(body[pos:cut]), validator, max_line_bytes, checked)
        else:
            data = body if body[cut - 1] == _NEWLINE else body[pos:cut] + b"\n"  # the last line, unended
            first, last = (pos, cut) if data is body else (0, len(data))

            def slow(a: int, b: int, data: bytes = data) -> None:
                lines = _split_lines(data[a:b])
                slowed[0] += 1
                if len(lines) == 1:  # a line the block check refused: the bulk check's set-up costs more
                    _parse_and_check_each(lines, validator, max_line_bytes, checked)
                else:
                    _check_lines(lines, validator, max_line_bytes, checked)

            before = slowed[0]
            vouch(blocks, data, first, last, checked.accepted.add_block, slow, unit)
            # While lines that do not fit keep coming, smaller units keep what each costs to the lines
            # around it; 8 clean blocks in a row go back to decoding whole blocks, the fastest.
            clean = 0 if slowed[0] > before else clean + 1
            unit = _DIRTY_UNIT if not clean else 0 if clean >= 8 else unit
        pos = cut
    return checked
