"""What a JSON value becomes in a column, one way for every path: the ingest's row-by-row check is "does it
convert", the compactor lands what it converts to, and the ingest's fast checks (a column at a time here,
a block at a time in ingest/blocks.py) only ever say "all convert" when each value would. So a row the
ingest accepts is a row the compactor can land, with the value that was sent (tests/unit/test_values.py
runs one table of cases through every path).

A conversion gives what pyarrow takes for the column's Arrow type (lake/parquet.py): the int, the float,
the bool, the text, days since 1970 for dates, ticks of the Arrow unit for date-times (lakegate.times).
String takes any JSON value but null: a string as it is, anything else as the JSON text the client sent
(`raw_text`: a number keeps its digits, `1e5` stays `1e5`).
"""

from __future__ import annotations

import struct
from array import array
from collections.abc import Callable, Sequence
from typing import Any, cast

import msgspec
import orjson

from lakegate.column_types import INT_RANGES, ColumnType
from lakegate.times import TIME_PATTERN, BadTime, TimeType, time_type, unit_digits

Check = Callable[[object], bool]
Convert = Callable[[object], object]
# True only when every value of a column converts; False when one may not (then each is checked alone).
BulkCheck = Callable[[Sequence[object]], bool]
FLOAT32_MAX = struct.unpack("<f", b"\xff\xff\x7f\x7f")[0]


class BadValue(ValueError):
    """A value that does not fit its column's type."""


def column_time_type(t: ColumnType) -> TimeType:
    return time_type(t.base, t.precision, t.zone)


def arrow_scale(t: ColumnType) -> int:
    """Ticks of the Arrow unit per tick of the type (DateTime64(2) lands in milliseconds: 10)."""
    return 10 ** (unit_digits(t.precision) - t.precision) if t.base == "DateTime64" else 1


def converter(t: ColumnType) -> Convert:
    """Value -> what pyarrow takes for the type's scalar (an Array's items are converted one by one);
    raises BadValue when it does not fit. String's non-string values are text (see `raw_text`)."""
    base = t.base
    if base == "String":
        return _text
    if base in INT_RANGES:
        lo, hi = INT_RANGES[base]

        def integer(v: object) -> object:
            if v.__class__ is not int or not lo <= v <= hi:
                raise BadValue(v)
            return v

        return integer
    if base in ("Float32", "Float64"):
        bound = FLOAT32_MAX if base == "Float32" else float("inf")

        def real(v: object) -> object:
            if v.__class__ is not float and v.__class__ is not int:
                raise BadValue(v)
            f = float(v)
            if abs(f) > bound:  # would land as infinity
                raise BadValue(v)
            return f

        return real
    if base == "Bool":

        def boolean(v: object) -> object:
            if v.__class__ is bool:
                return v
            if v.__class__ is int and v in (0, 1):
                return v == 1
            raise BadValue(v)

        return boolean
    tt = column_time_type(t)
    scale = arrow_scale(t)

    def moment(v: object) -> object:
        try:
            return tt.ticks(v) * scale
        except BadTime as e:
            raise BadValue(v) from e

    return moment


def _text(v: object) -> object:
    if v.__class__ is str:
        return v
    if v is None:
        raise BadValue(v)
    try:
        return orjson.dumps(v).decode()  # the compactor replaces it with the text as sent (raw_text)
    except orjson.JSONEncodeError:  # nested deeper than orjson writes: the caller has the raw text
        return ""


def scalar_check(t: ColumnType | str) -> Check:
    """Whether one JSON value fits the scalar type (an Array's items are checked one by one)."""
    ct = t if isinstance(t, ColumnType) else ColumnType(t)
    if ct.base == "String":
        return _not_null
    convert = converter(ct)

    def check(v: object) -> bool:
        try:
            convert(v)
        except BadValue:
            return False
        return True

    return check


def _not_null(v: object) -> bool:
    return v is not None


_Raw = dict[str, msgspec.Raw]
_raw_object = msgspec.json.Decoder(_Raw)


def raw_text(line: bytes, keys: Sequence[str]) -> str | None:
    """The JSON text the client sent for the value at `keys` in `line` (None where there is none): what a
    String column keeps of a number, a bool, an object or an array, digits and all."""
    piece: bytes | msgspec.Raw = line
    for key in keys:
        try:
            found = _raw_object.decode(piece).get(key)
        except (msgspec.DecodeError, ValueError):
            return None
        if found is None:
            return None
        piece = found
    text = bytes(piece).decode("utf-8", "replace") if isinstance(piece, msgspec.Raw) else None
    return text


# --- bulk checks: the ingest fast path ---------------------------------------------------------------
# A bulk check takes a column of a few hundred values and is True only if every one converts (None fits
# no scalar type); False means "cannot tell", and the caller then checks value by value. A handful of
# C-level calls per column costs a few ns per value, against ~1 us per value for the conversions above
# (bench/ingest.py); tests/unit/ingest/test_rows_fastpath.py and tests/unit/test_values.py compare them.

_TO_NINE = bytes.maketrans(b"0123456789", b"9" * 10)
_DIGIT = bytes(b - 48 if 48 <= b <= 57 else 0 for b in range(256))
_TENS = bytes(10 * d for d in _DIGIT)
# A day field of 29 or more: the values whose calendar the field ranges alone cannot vouch for.
_LATE_DAY = bytes(1 if b >= 29 else 0 for b in range(256))
# The array typecode that holds exactly each integer range (a C type of that width, signed or not).
_INT_TYPECODES = {
    name: next(c for c in "bBhHiIlLqQ" if array(c).itemsize * 8 == bits and (c.islower() == (lo < 0)))
    for name, (lo, hi) in INT_RANGES.items()
    for bits in [(hi - lo).bit_length()]
}


def _bulk_string(values: Sequence[object]) -> bool:
    # all() stops at the first falsy value; only then look for a null.
    return all(values) or None not in values


def _bulk_int(typecode: str) -> BulkCheck:
    def check(values: Sequence[object]) -> bool:
        try:
            # array() takes ints in its C type's range, and bools; any other JSON value raises.
            array(typecode, cast("Sequence[int]", values))
        except (TypeError, OverflowError):
            return False
        return b"e" not in orjson.dumps(values)  # no true, no false

    return check


def _bulk_float(bound: float) -> BulkCheck:
    def check(values: Sequence[object]) -> bool:
        if not set(map(type, values)) <= {float, int}:
            return False
        numbers = cast("Sequence[float]", values)
        return not numbers or (max(numbers) <= bound and min(numbers) >= -bound)

    return check


def _bulk_bool(values: Sequence[object]) -> bool:
    try:
        text = orjson.dumps(values)[1:-1]
    except orjson.JSONEncodeError:  # an int beyond 64 bits
        return False
    # true/false and commas only; any other JSON value holds another byte (digits, quotes, null's n, ...).
    if not text.translate(None, b"truefals,"):
        return True
    # 0 and 1 are Bools too: rarely sent, so checked the plain way.
    if not set(map(type, values)) <= {bool, int}:
        return False
    numbers = cast("Sequence[int]", values)
    return min(numbers) >= 0 and max(numbers) <= 1


def _two_digit_fields(template: str) -> list[tuple[int, int, int]] | None:
    """(offset, low, high) of each two-digit field a value of this shape must keep in range: month, day,
    hours, minutes, seconds, and an offset's hours and minutes. None: not a shape lakegate reads."""
    m = TIME_PATTERN.fullmatch(template)
    if m is None:
        return None
    fields = [(m.start(2), 1, 12), (m.start(3), 1, 31)]
    for group, high in ((4, 23), (5, 59), (6, 59)):
        if m.start(group) >= 0:
            fields.append((m.start(group), 0, high))
    if m.start(8) >= 0 and template[m.start(8)] != "Z":
        fields.append((m.start(8) + 1, 0, 23))
        if m.end(8) - m.start(8) > 3:
            fields.append((m.end(8) - 2, 0, 59))
    return fields


def _bulk_time(tt: TimeType) -> BulkCheck:
    """Date-times of one fixed-width shape (the usual case: one producer, one format): the shape is checked
    once, each two-digit field of all the values at once as bytes, the calendar only where a day is 29 or
    more, and the range through the earliest and the latest value (fixed-width ISO text sorts by time but
    for offsets, and two days of margin cover any offset). Epoch numbers: their range through min and max."""
    margin = 2 * 86_400 * tt.per_second if tt.base in ("DateTime", "DateTime64") else 2

    def in_range(first: object, last: object) -> bool:
        try:
            return tt.low + margin <= tt.ticks(first) and tt.ticks(last) <= tt.high - margin
        except BadTime:
            return False

    def check(values: Sequence[object]) -> bool:
        n = len(values)
        if not n:
            return True
        try:
            text = "\n".join(cast("Sequence[str]", values))
        except TypeError:  # not all strings: epoch seconds are fine for date-times
            if tt.base in ("Date", "Date32") or not set(map(type, values)) <= {int, float}:
                return False
            numbers = cast("Sequence[float]", values)
            try:  # an instant each, whatever the zone: the range is exact
                tt.ticks(min(numbers))
                tt.ticks(max(numbers))
            except BadTime:
                return False
            return True
        try:
            blob = text.encode() + b"\n"
        except UnicodeEncodeError:  # a lone surrogate
            return False
        width, rest = divmod(len(blob), n)
        shape = blob[:width].translate(_TO_NINE)
        if rest or blob.translate(_TO_NINE) != shape * n:
            return False
        # The pattern matches no newline, so the template holds none: the blob's n newlines are the n we
        # put, one every `width` bytes, and every value has the template's shape: ASCII digits where it
        # has 9s, the very same bytes elsewhere (other scripts' digits included: they are not 9s).
        fields = _two_digit_fields(shape[:-1].decode("ascii", "replace"))
        if fields is None:
            return False
        for offset, low, high in fields:
            # Bytewise 10 * tens + ones: no byte exceeds 99, so no carry crosses into the next value.
            both = int.from_bytes(blob[offset::width].translate(_TENS)) + int.from_bytes(
                blob[offset + 1 :: width].translate(_DIGIT)
            )
            packed = both.to_bytes(n)
            if packed.translate(None, bytes(range(low, high + 1))):
                return False
            if offset == fields[1][0]:  # the day: dates of day 29 to 31 are checked one by one
                late = packed.translate(_LATE_DAY)
                at = late.find(1)
                while at >= 0:
                    try:
                        tt.ticks(values[at])
                    except BadTime:
                        return False
                    at = late.find(1, at + 1)
        strings = cast("Sequence[str]", values)
        return in_range(min(strings), max(strings))

    return check


def bulk_check(t: ColumnType | str) -> BulkCheck:
    """The bulk form of `scalar_check(t)`."""
    ct = t if isinstance(t, ColumnType) else ColumnType(t)
    base = ct.base
    if base == "String":
        return _bulk_string
    if base in INT_RANGES:
        return _bulk_int(_INT_TYPECODES[base])
    if base in ("Float32", "Float64"):
        return _bulk_float(FLOAT32_MAX if base == "Float32" else float("inf"))
    if base == "Bool":
        return _bulk_bool
    return _bulk_time(column_time_type(ct))


def values_of(convert: Convert, values: Sequence[object]) -> list[Any]:
    """Convert every value (None stays None); BadValue for the first that does not fit."""
    return [None if v is None else convert(v) for v in values]


def shown(v: object, limit: int | None = 100) -> str:
    """A value as an error message quotes it: its text, cut to `limit` characters. Never fails: a value
    nested deeper than orjson writes is shown by its type."""
    if v.__class__ is str:
        text = v
    else:
        try:
            text = orjson.dumps(v).decode()
        except orjson.JSONEncodeError:
            text = "[...]" if isinstance(v, list) else "{...}"
    assert isinstance(text, str)
    return text if limit is None or len(text) <= limit else text[: limit - 3] + "..."
