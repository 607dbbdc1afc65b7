"""TTL: a data source's `engine_ttl` as Tinybird writes it. Pure: the ingest checks definitions with it;
`lake.expiry` applies it to the lake.

A row expires once its own TTL column plus the interval is past, and no row earlier: months and years
count as 31 and 366 days, so they never expire early. The compactor applies it (S3 lifecycle rules
expire objects by age and prefix, which cannot follow a column or a per-data-source setting), deleting
whole partition folders only where the partition is the TTL column itself and rewriting files whose rows
mix past and live (see `lake.expiry`).
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from lakegate.errors import InvalidRequest
from lakegate.schema import DataSource

_SECONDS = {
    "second": 1,
    "minute": 60,
    "hour": 3600,
    "day": 86400,
    "week": 7 * 86400,
    "month": 31 * 86400,
    "quarter": 92 * 86400,
    "year": 366 * 86400,
}
_UNIT = "|".join(_SECONDS)
_TTL = re.compile(
    r"\s*(?:toDate(?:Time)?\(\s*)?`?(?P<column>[A-Za-z_][A-Za-z0-9_]*)`?\s*\)?\s*\+\s*"
    rf"(?:toInterval(?P<fn_unit>{_UNIT})\(\s*(?P<fn_n>\d+)\s*\)|INTERVAL\s+(?P<n>\d+)\s+(?P<unit>{_UNIT})S?)\s*",
    re.IGNORECASE,
)
_TIME_TYPES = ("Date", "DateTime", "DateTime64")


@dataclass(frozen=True, slots=True)
class Ttl:
    """Rows older than `seconds` by `column` expire."""

    column: str
    seconds: int


def parse_ttl(text: str, ds: DataSource) -> Ttl | None:
    """`timestamp + toIntervalDay(30)` or `timestamp + INTERVAL 30 DAY` on a Date/DateTime column of `ds`;
    None for no TTL. Anything else is a 400 at definition time, never a surprise at landing."""
    if not text.strip():
        return None
    m = _TTL.fullmatch(text)
    if m is None:
        raise InvalidRequest(
            f"Unsupported engine_ttl '{text[:200]}': expected `<Date or DateTime column> + toIntervalDay(N)` "
            "or `<column> + INTERVAL N DAY` (SECOND, MINUTE, HOUR, DAY, WEEK, MONTH, QUARTER, YEAR)"
        )
    column = next((c for c in ds.columns if c.name == m.group("column")), None)
    if column is None or column.parsed_type.base not in _TIME_TYPES or column.parsed_type.array:
        raise InvalidRequest(
            f"engine_ttl uses '{m.group('column')}', which is not a Date or DateTime column of '{ds.name}'"
        )
    unit = (m.group("fn_unit") or m.group("unit")).lower()
    n = int(m.group("fn_n") or m.group("n"))
    return Ttl(column.name, n * _SECONDS[unit])
