"""The column types a data source may declare, Tinybird spelling, and which JSON values fit each."""

from __future__ import annotations

import re
from array import array
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import cast

import orjson

Check = Callable[[object], bool]
# True only when every value of a column fits; False when one may not (then each is checked alone).
BulkCheck = Callable[[Sequence[object]], bool]

INT_RANGES = {
    "Int8": (-(2**7), 2**7 - 1),
    "Int16": (-(2**15), 2**15 - 1),
    "Int32": (-(2**31), 2**31 - 1),
    "Int64": (-(2**63), 2**63 - 1),
    "UInt8": (0, 2**8 - 1),
    "UInt16": (0, 2**16 - 1),
    "UInt32": (0, 2**32 - 1),
    "UInt64": (0, 2**64 - 1),
}
_DATE = re.compile(r"\d{4}-(0[1-9]|1[0-2])-(0[1-9]|[12]\d|3[01])")
_TIME = r"([01]\d|2[0-3]):[0-5]\d:[0-5]\d"
_ZONE = r"(Z|[+-]\d{2}:?\d{2})?"
_DATETIME = re.compile(_DATE.pattern + r"[ T]" + _TIME + _ZONE)
_DATETIME64 = re.compile(_DATE.pattern + r"[ T]" + _TIME + r"(\.\d{1,9})?" + _ZONE)
# The two-digit fields of `YYYY-MM-DD[ T]hh:mm:ss` in the patterns above: offset, and the values allowed.
_DATE_FIELDS = ((5, 1, 12), (8, 1, 31))
_DATETIME_FIELDS = (*_DATE_FIELDS, (11, 0, 23), (14, 0, 59), (17, 0, 59))

SCALARS = (
    "String",
    *INT_RANGES,
    "Float32",
    "Float64",
    "Bool",
    "Date",
    "DateTime",
    "DateTime64",
)


@dataclass(frozen=True, slots=True)
class ColumnType:
    """A parsed type: the scalar at its core, wrapped in Array and/or Nullable."""

    base: str
    nullable: bool = False
    array: bool = False
    precision: int = 3

    def __str__(self) -> str:
        inner = f"DateTime64({self.precision})" if self.base == "DateTime64" else self.base
        if self.array:
            inner = f"Array({inner})"
        return f"Nullable({inner})" if self.nullable else inner


class UnknownType(ValueError):
    """A type string lakegate does not know."""


def parse_type(text: str) -> ColumnType:
    """Parse `Nullable(Array(Int32))`, `DateTime64(3)`, `LowCardinality(String)` and the like."""
    t = text.strip()
    nullable = array = False
    m = re.fullmatch(r"Nullable\((.*)\)", t)
    if m:
        nullable, t = True, m.group(1).strip()
    m = re.fullmatch(r"Array\((.*)\)", t)
    if m:
        array, t = True, m.group(1).strip()
        m = re.fullmatch(r"Nullable\((.*)\)", t)
        if m:
            t = m.group(1).strip()
    m = re.fullmatch(r"LowCardinality\((.*)\)", t)
    if m:
        t = m.group(1).strip()
        m = re.fullmatch(r"Nullable\((.*)\)", t)
        if m:
            nullable, t = nullable or not array, m.group(1).strip()
    precision = 3
    m = re.fullmatch(r"DateTime64(?:\((\d)(?:\s*,\s*'[^']*')?\))?", t)
    if m:
        t, precision = "DateTime64", int(m.group(1) or 3)
    elif re.fullmatch(r"DateTime\('[^']*'\)", t):
        t = "DateTime"
    if t not in SCALARS:
        raise UnknownType(f"Unsupported type '{text}'")
    return ColumnType(t, nullable=nullable, array=array, precision=precision)


def _string(v: object) -> bool:
    # ClickHouse reads numbers, booleans, objects and arrays into String columns as their JSON text.
    return v is not None


def _int_check(lo: int, hi: int) -> Check:
    def check(v: object) -> bool:
        return v.__class__ is int and lo <= v <= hi

    return check


def _float(v: object) -> bool:
    return v.__class__ in (float, int)


def _bool(v: object) -> bool:
    return v.__class__ is bool or (v.__class__ is int and v in (0, 1))


def _regex_check(pattern: re.Pattern[str], numeric: bool) -> Check:
    match = pattern.fullmatch

    def check(v: object) -> bool:
        if v.__class__ is str:
            return match(v) is not None
        # Epoch seconds are accepted for date-times, as ClickHouse does.
        return numeric and v.__class__ in (int, float)

    return check


def scalar_check(base: str) -> Check:
    """The predicate that says whether one JSON value fits the scalar type `base`."""
    if base == "String":
        return _string
    if base in INT_RANGES:
        return _int_check(*INT_RANGES[base])
    if base in ("Float32", "Float64"):
        return _float
    if base == "Bool":
        return _bool
    if base == "Date":
        return _regex_check(_DATE, numeric=False)
    if base == "DateTime":
        return _regex_check(_DATETIME, numeric=True)
    return _regex_check(_DATETIME64, numeric=True)


# --- bulk checks: the ingest fast path ---------------------------------------------------------------
# A bulk check takes a column of a few hundred values and is True only if `scalar_check` holds for every
# one (None included: it fits no scalar type); False means "cannot tell", and the caller then checks
# value by value. A handful of C-level calls per column costs a few ns per value, against ~100 ns per
# value for the predicates above (bench/ingest.py); tests/unit/test_rows_fastpath.py compares the two.

_TO_NINE = bytes.maketrans(b"0123456789", b"9" * 10)
_DIGIT = bytes(b - 48 if 48 <= b <= 57 else 0 for b in range(256))
_TENS = bytes(10 * d for d in _DIGIT)
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


def _bulk_float(values: Sequence[object]) -> bool:
    return set(map(type, values)) <= {float, int}


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


def _bulk_time(
    pattern: re.Pattern[str], fields: tuple[tuple[int, int, int], ...], numeric: bool
) -> BulkCheck:
    """Date-times of one fixed-width shape (the usual case: one producer, one format): the shape is checked
    once against the pattern, then each two-digit field of all the values at once, as bytes."""
    offsets = [offset for offset, _, _ in fields]
    # [0-5]\d needs only its tens digit checked; the other fields need both digits' value.
    plans = [
        (
            offset,
            bytes(range(48 + low // 10, 49 + high // 10)) if (low, high % 10) == (0, 9) else None,
            bytes(range(low, high + 1)),
        )
        for offset, low, high in fields
    ]

    def check(values: Sequence[object]) -> bool:
        n = len(values)
        try:
            text = "\n".join(cast("Sequence[str]", values))
        except TypeError:  # not all strings: epoch seconds are fine for date-times
            return numeric and set(map(type, values)) <= {int, float}
        if not n:
            return True
        try:
            blob = text.encode() + b"\n"
        except UnicodeEncodeError:  # a lone surrogate (orjson never makes one)
            return False
        width, rest = divmod(len(blob), n)
        shape = blob[:width].translate(_TO_NINE)
        template = shape[:-1]
        if rest or blob.translate(_TO_NINE) != shape * n:
            return False
        sample = bytearray(template)
        for offset in offsets:
            if template[offset : offset + 2] != b"99":  # (or the template is too short)
                return False
            sample[offset : offset + 2] = b"01"  # a value every field allows
        # The pattern matches no newline, so the template holds none: the blob's n newlines are the n we
        # put, one every `width` bytes, and every value has the template's shape: ASCII digits where it
        # has 9s, the very same bytes elsewhere (other scripts' digits, which \d also matches, included).
        if pattern.fullmatch(sample.decode()) is None:
            return False
        for offset, tens_allowed, allowed in plans:
            tens = blob[offset::width]
            if tens_allowed is not None:
                if tens.translate(None, tens_allowed):
                    return False
                continue
            # Bytewise 10 * tens + ones: no byte exceeds 99, so no carry crosses into the next value.
            both = int.from_bytes(tens.translate(_TENS)) + int.from_bytes(
                blob[offset + 1 :: width].translate(_DIGIT)
            )
            if both.to_bytes(n).translate(None, allowed):
                return False
        return True

    return check


def bulk_check(base: str) -> BulkCheck:
    """The bulk form of `scalar_check(base)`."""
    if base == "String":
        return _bulk_string
    if base in INT_RANGES:
        return _bulk_int(_INT_TYPECODES[base])
    if base in ("Float32", "Float64"):
        return _bulk_float
    if base == "Bool":
        return _bulk_bool
    if base == "Date":
        return _bulk_time(_DATE, _DATE_FIELDS, numeric=False)
    if base == "DateTime":
        return _bulk_time(_DATETIME, _DATETIME_FIELDS, numeric=True)
    return _bulk_time(_DATETIME64, _DATETIME_FIELDS, numeric=True)


def infer_scalar(v: object) -> str | None:
    """The narrowest Tinybird type a JSON scalar suggests; None for null."""
    if v.__class__ is bool:
        return "Bool"
    if v.__class__ is int:
        return "Int64" if v <= INT_RANGES["Int64"][1] else "UInt64"
    if v.__class__ is float:
        return "Float64"
    if v.__class__ is str:
        if _DATETIME.fullmatch(v):
            return "DateTime"
        if _DATETIME64.fullmatch(v):
            return "DateTime64"
        if _DATE.fullmatch(v):
            return "Date"
        return "String"
    return None


def widen(a: str, b: str) -> str:
    """The type that holds values of both `a` and `b` (numbers widen to Float64, else String)."""
    if a == b:
        return a
    pair = {a, b}
    if pair <= {"Int64", "UInt64", "Float64"}:
        return "Float64"
    if pair <= {"DateTime", "DateTime64"}:
        return "DateTime64"
    return "String"
