"""TTL applied to a store: whole partitions past the cutoff go, the newest day hour by hour, never early."""

from __future__ import annotations

from datetime import UTC, datetime

from lakegate.lake.expiry import expire
from lakegate.memory import MemoryObjectStore
from lakegate.retention import Ttl

DAY = 86400


def _store(*keys: str) -> MemoryObjectStore:
    return MemoryObjectStore({k: b"x" for k in keys})


BASE = "datasources/ws1/events/"


def test_expire_deletes_whole_days_past_the_ttl_and_the_hours_past_it_in_the_newest_day() -> None:
    store = _store(
        BASE + "date=2026-11-20/hour=10/part-a.parquet",
        BASE + "date=2026-11-20/hour=23/part-b.parquet",
        BASE + "date=2026-11-21/hour=05/part-c.parquet",
        BASE + "date=2026-11-21/hour=06/part-d.parquet",
        BASE + "date=2026-11-21/hour=07/part-e.parquet",
        BASE + "date=2026-11-23/hour=00/part-f.parquet",
        "datasources/ws1/events_quarantine/date=2026-11-01/hour=00/part-q.parquet",
        "datasources/ws1/other/date=2026-11-01/hour=00/part-o.parquet",
    )
    now = datetime(2026, 11, 23, 7, 0, tzinfo=UTC)

    gone = expire(store, BASE, Ttl("timestamp", 2 * DAY - 1800), now)  # cutoff 2026-11-21 07:30

    assert gone == [
        BASE + "date=2026-11-20/",
        BASE + "date=2026-11-21/hour=05/",
        BASE + "date=2026-11-21/hour=06/",
    ]
    assert sorted(store.objects) == [
        "datasources/ws1/events/date=2026-11-21/hour=07/part-e.parquet",  # ends 08:00, after the cutoff
        "datasources/ws1/events/date=2026-11-23/hour=00/part-f.parquet",
        "datasources/ws1/events_quarantine/date=2026-11-01/hour=00/part-q.parquet",
        "datasources/ws1/other/date=2026-11-01/hour=00/part-o.parquet",
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
