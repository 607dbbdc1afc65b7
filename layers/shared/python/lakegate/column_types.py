"""The column types a data source may declare, in Tinybird's spelling (lakegate.values says which JSON values
fit each, and what they land as)."""

from __future__ import annotations

import re
from dataclasses import dataclass

from lakegate.times import TIME_PATTERN, BadTime, time_type

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

SCALARS = (
    "String",
    *INT_RANGES,
    "Float32",
    "Float64",
    "Bool",
    "Date",
    "Date32",
    "DateTime",
    "DateTime64",
)
_ZONED = re.compile(r"(DateTime64|DateTime)(?:\(\s*(?:(\d+)\s*)?(?:,?\s*'([^']*)')?\s*\))?")


@dataclass(frozen=True, slots=True)
class ColumnType:
    """A parsed type: the scalar at its core, wrapped in Array and/or Nullable."""

    base: str
    nullable: bool = False
    array: bool = False
    precision: int = 3  # DateTime64's fraction digits
    zone: str = ""  # DateTime('<zone>') and DateTime64(p, '<zone>'); "" is UTC

    def __str__(self) -> str:
        zone = f"'{self.zone}'" if self.zone else ""
        if self.base == "DateTime64":
            inner = f"DateTime64({self.precision}{', ' + zone if zone else ''})"
        elif self.base == "DateTime" and zone:
            inner = f"DateTime({zone})"
        else:
            inner = self.base
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
    precision, zone = 3, ""
    m = _ZONED.fullmatch(t)
    if m:
        t, digits, zone = m.group(1), m.group(2), m.group(3) or ""
        if digits is not None and (t == "DateTime" or int(digits) > 9):
            raise UnknownType(f"Unsupported type '{text}'")  # DateTime(3), DateTime64(10)
        precision = int(digits) if digits is not None else 3
        if zone in ("UTC", "Etc/UTC"):
            zone = ""
    if t not in SCALARS:
        raise UnknownType(f"Unsupported type '{text}'")
    return ColumnType(t, nullable=nullable, array=array, precision=precision, zone=zone)


def infer_scalar(v: object) -> str | None:
    """The narrowest Tinybird type a JSON scalar suggests, one that the value itself fits; None for null.
    Date-times with a fraction are DateTime64 of as many digits as it has (3, 6 or 9: more are truncated)."""
    if v.__class__ is bool:
        return "Bool"
    if v.__class__ is int:
        if INT_RANGES["Int64"][0] <= v <= INT_RANGES["Int64"][1]:
            return "Int64"
        return "UInt64" if 0 <= v <= INT_RANGES["UInt64"][1] else "Float64"  # (orjson reads those as floats)
    if v.__class__ is float:
        return "Float64"
    if v.__class__ is str:
        m = TIME_PATTERN.fullmatch(v)
        if m is None:
            return "String"
        if m.group(4) is None:  # a date alone
            candidates = ["Date", "Date32"]
        elif m.group(7) is None:
            candidates = ["DateTime", "DateTime64(3)"]
        else:
            digits = len(m.group(7))
            candidates = [f"DateTime64({3 if digits <= 3 else 6 if digits <= 6 else 9})"]
        for candidate in candidates:
            t = parse_type(candidate)
            try:
                time_type(t.base, t.precision).ticks(v)
            except BadTime:
                continue
            return candidate
        return "String"
    return None


def widen(a: str, b: str) -> str:
    """The type that holds values of both `a` and `b` (numbers widen to Float64, dates to the wider date,
    date-times to the finest DateTime64, else String)."""
    if a == b:
        return a
    pair = {a, b}
    if pair <= {"Int64", "UInt64", "Float64"}:
        return "Float64"
    if pair <= {"Date", "Date32"}:
        return "Date32"
    if all(x == "DateTime" or x.startswith("DateTime64") for x in pair):
        return f"DateTime64({max(parse_type(x).precision if x != 'DateTime' else 0 for x in pair)})".replace(
            "DateTime64(0)", "DateTime64(3)"
        )
    return "String"
