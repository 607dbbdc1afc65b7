"""Dates and times as clients write them, read one way on every path (the ingest's checks, the compactor's
conversion, analyze): a value is a number of ticks of its column's unit (days for Date and Date32,
seconds for DateTime, 10^-p seconds for DateTime64(p)) since 1970-01-01 UTC, or it does not fit.

Strings take the ISO forms ClickHouse's best-effort parser and Tinybird's Events API both read:
`YYYY-MM-DD`, then optionally `T` or a space and `hh:mm[:ss[.fraction]]` (any number of fraction digits,
truncated to the column's precision, as ClickHouse truncates), then optionally `Z`, `±hh:mm`, `±hhmm` or
`±hh`, with or without a space before it. An offset is converted to UTC; a value without one is in the
column's time zone (UTC unless the type names one, as `DateTime('America/New_York')`). A date alone is
midnight. A Date column takes a date-time too: the date of its UTC instant (as Tinybird's Events API does).
JSON numbers are Unix seconds, with a fraction for DateTime64 (truncated as a string's would be), read as
the double orjson parses them; Date columns take no numbers (ClickHouse would read a day number there).
Anything outside the type's range does not fit, as Tinybird quarantines it: Date 1970-01-01..2149-06-06,
Date32 and DateTime64 1900-01-01..2299-12-31, DateTime 1970-01-01 00:00:00..2106-02-07 06:28:15 UTC.
Everything else (`2021-02-30`, year 0000, numeric strings, `2026/12/01`, lowercase `t`/`z`) does not fit.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from functools import cache

_EPOCH_ORDINAL = date(1970, 1, 1).toordinal()
_DAY = 86_400
TIME_PATTERN = re.compile(
    r"([0-9]{4})-([0-9]{2})-([0-9]{2})"
    r"(?:[T ]([0-9]{2}):([0-9]{2})(?::([0-9]{2})(?:\.([0-9]+))?)?"
    r"(?: ?(Z|[+-][0-9]{2}(?::?[0-9]{2})?))?)?"
)
TIME_BASES = ("Date", "Date32", "DateTime", "DateTime64")


class BadTime(ValueError):
    """A value that is no date or time of the column's type."""


def _days(y: int, m: int, d: int) -> int:
    return date(y, m, d).toordinal() - _EPOCH_ORDINAL  # ValueError for 2021-02-30 or year 0


@dataclass(frozen=True, slots=True)
class TimeType:
    """A time type as values are read into it: its unit, its zone and the ticks it can hold."""

    base: str
    precision: int = 0  # fraction digits kept: 0 for Date, Date32 and DateTime
    zone: str = ""  # "" is UTC
    low: int = 0
    high: int = 0

    @property
    def per_second(self) -> int:
        return int(10**self.precision)

    def ticks(self, value: object) -> int:
        """The value in ticks of this type, or BadTime."""
        if value.__class__ is str:
            ticks = self._from_text(value)
        elif value.__class__ is int or value.__class__ is float:
            ticks = self._from_number(value)
        else:
            raise BadTime(value)
        if not self.low <= ticks <= self.high:
            raise BadTime(value)
        return ticks

    def _from_text(self, text: str) -> int:
        m = TIME_PATTERN.fullmatch(text)
        if m is None:
            raise BadTime(text)
        y, mo, d, h, mi, s, fraction, offset = m.groups()
        try:
            days = _days(int(y), int(mo), int(d))
        except ValueError as e:
            raise BadTime(text) from e
        hours, minutes, seconds = int(h or 0), int(mi or 0), int(s or 0)
        if hours > 23 or minutes > 59 or seconds > 59:
            raise BadTime(text)
        local = days * _DAY + hours * 3600 + minutes * 60 + seconds
        if offset is not None:
            utc = local - _offset_seconds(offset, text)
        elif self.zone:
            utc = local - _zone_offset(self.zone, int(y), int(mo), int(d), hours, minutes, seconds)
        else:
            utc = local
        if self.base in ("Date", "Date32"):
            return utc // _DAY
        digits = (fraction or "")[: self.precision].ljust(self.precision, "0")
        return utc * self.per_second + (int(digits) if digits else 0)

    def _from_number(self, number: float) -> int:
        if self.base in ("Date", "Date32"):
            raise BadTime(number)
        if number.__class__ is int:
            return int(number) * self.per_second
        exact = Decimal(repr(number))  # the double's shortest text: the digits orjson kept
        if not exact.is_finite():
            raise BadTime(number)
        return int(exact * self.per_second)  # int() truncates toward zero, as dropping digits does


def _offset_seconds(offset: str, text: str) -> int:
    if offset == "Z":
        return 0
    digits = offset[1:].replace(":", "")
    hours, minutes = int(digits[:2]), int(digits[2:] or 0)
    if hours > 23 or minutes > 59:
        raise BadTime(text)
    seconds = hours * 3600 + minutes * 60
    return seconds if offset[0] == "+" else -seconds


@cache
def _zone(name: str) -> object:
    from zoneinfo import ZoneInfo  # here: only columns that name a zone pay for the tz database

    return ZoneInfo(name)


def _zone_offset(zone: str, y: int, mo: int, d: int, h: int, mi: int, s: int) -> int:
    """The zone's UTC offset at that local time (the earlier of two at a DST fall-back, as ClickHouse)."""
    local = datetime(y, mo, d, h, mi, s, tzinfo=_zone(zone))  # type: ignore[arg-type]
    offset = local.utcoffset()
    return int(offset.total_seconds()) if offset is not None else 0


def zone_exists(name: str) -> bool:
    """Whether the tz database knows `name` (a type naming an unknown zone is refused when defined)."""
    try:
        _zone(name)
    except (ValueError, KeyError, OSError):  # ZoneInfoNotFoundError is a KeyError
        return False
    return True


def unit_digits(precision: int) -> int:
    """The fraction digits of the Arrow unit that holds `precision` digits: s, ms, us or ns."""
    return next(d for d in (0, 3, 6, 9) if precision <= d)


def _span(base: str, precision: int) -> tuple[int, int]:
    if base == "Date":
        return 0, _days(2149, 6, 6)
    if base == "Date32":
        return _days(1900, 1, 1), _days(2299, 12, 31)
    if base == "DateTime":
        return 0, 2**32 - 1
    per = 10**precision
    # Arrow (and Parquet) hold the ticks of the unit in 64 bits: DateTime64(9) ends in 2262, as ClickHouse's.
    scale = 10 ** (unit_digits(precision) - precision)
    low = max(_days(1900, 1, 1) * _DAY * per, -(2**63) // scale)
    return low, min(_days(2300, 1, 1) * _DAY * per - 1, (2**63 - 1) // scale)


@cache
def time_type(base: str, precision: int = 0, zone: str = "") -> TimeType:
    """The TimeType of a column type's base (`Date`, `Date32`, `DateTime`, `DateTime64`)."""
    if base not in TIME_BASES:
        raise ValueError(base)
    p = precision if base == "DateTime64" else 0
    low, high = _span(base, p)
    return TimeType(base, p, zone if base in ("DateTime", "DateTime64") else "", low, high)


def format_ticks(t: TimeType, ticks: int) -> str:
    """An ISO text of a value (for errors and tests): `YYYY-MM-DD` or `YYYY-MM-DDThh:mm:ss[.f]Z`, in UTC."""
    if t.base in ("Date", "Date32"):
        return date.fromordinal(ticks + _EPOCH_ORDINAL).isoformat()
    seconds, fraction = divmod(ticks, t.per_second)
    days, rest = divmod(seconds, _DAY)
    day = date.fromordinal(days + _EPOCH_ORDINAL)
    clock = f"{rest // 3600:02d}:{rest // 60 % 60:02d}:{rest % 60:02d}"
    frac = f".{fraction:0{t.precision}d}" if t.precision else ""
    return f"{day.isoformat()}T{clock}{frac}Z"


def utc_now_ticks(t: TimeType, ms: int) -> int:
    """`now()`, `today()` or `now64()` at ingestion time `ms` (epoch milliseconds), in ticks of `t`."""
    if t.base in ("Date", "Date32"):
        return ms // 1000 // _DAY
    return ms * t.per_second // 1000
