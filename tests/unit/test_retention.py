"""TTL: Tinybird's engine_ttl parsed, partition spans read back from folder names, expiry never early."""

from __future__ import annotations

from datetime import UTC, datetime

import pytest

from lakegate.errors import InvalidRequest
from lakegate.objects import MemoryObjectStore
from lakegate.retention import Ttl, expire, hour_end, parse_ttl, partition_end
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


def _store(*keys: str) -> MemoryObjectStore:
    return MemoryObjectStore({k: b"x" for k in keys})


BASE = "datasources/events/"


def test_expire_deletes_whole_days_past_the_ttl_and_the_hours_past_it_in_the_newest_day() -> None:
    store = _store(
        BASE + "date=2026-11-20/hour=10/part-a.parquet",
        BASE + "date=2026-11-20/hour=23/part-b.parquet",
        BASE + "date=2026-11-21/hour=05/part-c.parquet",
        BASE + "date=2026-11-21/hour=06/part-d.parquet",
        BASE + "date=2026-11-21/hour=07/part-e.parquet",
        BASE + "date=2026-11-23/hour=00/part-f.parquet",
        "datasources/events_quarantine/date=2026-11-01/hour=00/part-q.parquet",
        "datasources/other/date=2026-11-01/hour=00/part-o.parquet",
    )
    now = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)

    gone = expire(store, BASE, Ttl("timestamp", 2 * DAY - 1800), now)  # cutoff 2026-11-21 07:30

    assert gone == [
        BASE + "date=2026-11-20/",
        BASE + "date=2026-11-21/hour=05/",
        BASE + "date=2026-11-21/hour=06/",
    ]
    assert sorted(store.objects) == [
        "datasources/events/date=2026-11-21/hour=07/part-e.parquet",  # ends 08:00, after the cutoff
        "datasources/events/date=2026-11-23/hour=00/part-f.parquet",
        "datasources/events_quarantine/date=2026-11-01/hour=00/part-q.parquet",
        "datasources/other/date=2026-11-01/hour=00/part-o.parquet",
    ]


def test_expire_takes_column_partitions_whole_and_never_a_null_one() -> None:
    store = _store(
        BASE + "month=202609/part-a.parquet",
        BASE + "month=202610/part-b.parquet",
        BASE + "month=202611/part-c.parquet",
        BASE + "month=__HIVE_DEFAULT_PARTITION__/part-d.parquet",
    )

    gone = expire(store, BASE, Ttl("timestamp", 30 * DAY), datetime(2026, 11, 30, 12, tzinfo=UTC))

    assert gone == [BASE + "month=202609/"]  # October ends Nov 1, not 30 days before Nov 30 12:00
    assert len(store.objects) == 3


def test_expire_with_nothing_to_expire_deletes_nothing() -> None:
    store = _store(BASE + "date=2026-11-23/hour=00/part-f.parquet")
    assert expire(store, BASE, Ttl("timestamp", DAY), datetime(2026, 11, 23, 12, tzinfo=UTC)) == []
    assert expire(_store(), BASE, Ttl("timestamp", DAY), datetime(2026, 11, 23, tzinfo=UTC)) == []
    assert len(store.objects) == 1
