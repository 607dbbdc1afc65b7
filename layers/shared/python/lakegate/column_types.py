"""The column types a data source may declare, Tinybird spelling, and which JSON values fit each."""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

Check = Callable[[object], bool]

_INT_RANGES = {
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

SCALARS = (
    "String",
    *_INT_RANGES,
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
        return v.__class__ is int and lo <= v <= hi  # type: ignore[operator]

    return check


def _float(v: object) -> bool:
    return v.__class__ in (float, int)


def _bool(v: object) -> bool:
    return v.__class__ is bool or (v.__class__ is int and v in (0, 1))


def _regex_check(pattern: re.Pattern[str], numeric: bool) -> Check:
    match = pattern.fullmatch

    def check(v: object) -> bool:
        if v.__class__ is str:
            return match(v) is not None  # type: ignore[arg-type]
        # Epoch seconds are accepted for date-times, as ClickHouse does.
        return numeric and v.__class__ in (int, float)

    return check


def scalar_check(base: str) -> Check:
    """The predicate that says whether one JSON value fits the scalar type `base`."""
    if base == "String":
        return _string
    if base in _INT_RANGES:
        return _int_check(*_INT_RANGES[base])
    if base in ("Float32", "Float64"):
        return _float
    if base == "Bool":
        return _bool
    if base == "Date":
        return _regex_check(_DATE, numeric=False)
    if base == "DateTime":
        return _regex_check(_DATETIME, numeric=True)
    return _regex_check(_DATETIME64, numeric=True)


def infer_scalar(v: object) -> str | None:
    """The narrowest Tinybird type a JSON scalar suggests; None for null."""
    cls = v.__class__
    if cls is bool:
        return "Bool"
    if cls is int:
        return "Int64" if v <= _INT_RANGES["Int64"][1] else "UInt64"  # type: ignore[operator]
    if cls is float:
        return "Float64"
    if cls is str:
        if _DATETIME.fullmatch(v):  # type: ignore[arg-type]
            return "DateTime"
        if _DATETIME64.fullmatch(v):  # type: ignore[arg-type]
            return "DateTime64"
        if _DATE.fullmatch(v):  # type: ignore[arg-type]
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
