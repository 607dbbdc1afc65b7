"""TTL: Tinybird's engine_ttl parsed, and partition spans read back from folder names."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lakegate.errors import InvalidRequest
from lakegate.lake.layout import hour_end, partition_end
from lakegate.retention import Ttl, parse_ttl
from lakegate.schema import Column, DataSource

DS = DataSource(
    "events",
    (
        Column("timestamp", "DateTime", "$.timestamp"),
        Column("day", "Date", "$.day"),
        Column("at", "Nullable(DateTime64(3))", "$.at"),
        Column("city", "String", "$.city"),
        Column("days", "Array(Date)", "$.days[:]"),
    ),
)
DAY = 86400


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("timestamp + toIntervalDay(30)", Ttl("timestamp", 30 * DAY)),
        ("`timestamp` + toIntervalHour(6)", Ttl("timestamp", 6 * 3600)),
        ("day + INTERVAL 7 DAY", Ttl("day", 7 * DAY)),
        ("toDate(timestamp) + interval 2 weeks", Ttl("timestamp", 14 * DAY)),
        ("at + toIntervalMonth(1)", Ttl("at", 31 * DAY)),  # never early: a month counts as 31 days
        ("timestamp + toIntervalYear(1)", Ttl("timestamp", 366 * DAY)),
        ("  timestamp + toIntervalMinute(90)  ", Ttl("timestamp", 90 * 60)),
    ],
)
def test_parse_ttl_reads_tinybird_spellings(text: str, expected: Ttl) -> None:
    assert parse_ttl(text, DS) == expected


def test_no_ttl_is_none() -> None:
    assert parse_ttl("", DS) is None
    assert parse_ttl("   ", DS) is None


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("timestamp", "Unsupported engine_ttl"),
        ("timestamp + toIntervalFortnight(1)", "Unsupported engine_ttl"),
        ("timestamp - toIntervalDay(1)", "Unsupported engine_ttl"),
        ("timestamp + toIntervalDay(30) DELETE WHERE x", "Unsupported engine_ttl"),
        ("city + toIntervalDay(30)", "'city', which is not a Date or DateTime column"),
        ("days + toIntervalDay(30)", "'days', which is not a Date or DateTime column"),
        ("nope + toIntervalDay(30)", "'nope', which is not a Date or DateTime column of 'events'"),
    ],
)
def test_parse_ttl_refuses_what_it_cannot_apply(text: str, message: str) -> None:
    with pytest.raises(InvalidRequest, match=message):
        parse_ttl(text, DS)


@pytest.mark.parametrize(
    ("folder", "end"),
    [
        ("date=2026-11-23/", datetime(2026, 11, 24, tzinfo=UTC)),
        ("day=2026-02-28", datetime(2026, 3, 1, tzinfo=UTC)),
        ("month=202602", datetime(2026, 3, 1, tzinfo=UTC)),
        ("month=202412", datetime(2025, 1, 1, tzinfo=UTC)),
        ("year=2025", datetime(2026, 1, 1, tzinfo=UTC)),
        ("day=__HIVE_DEFAULT_PARTITION__", None),
        ("date=2026-13-01", None),
        ("city=Madrid", None),
    ],
)
def test_partition_end(folder: str, end: datetime | None) -> None:
    assert partition_end(folder) == end


def test_hour_end() -> None:
    assert hour_end(datetime(2026, 11, 24, tzinfo=UTC), "hour=05/") == datetime(2026, 11, 23, 6, tzinfo=UTC)
    assert hour_end(datetime(2026, 11, 24, tzinfo=UTC), "hour=24") is None
