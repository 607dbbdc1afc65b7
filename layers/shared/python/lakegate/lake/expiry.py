"""TTL applied to the lake: the compactor deletes a data source's partition folders once they have expired
(lakegate.retention says when). Only the compactor's role may list and delete under `datasources/`."""

from __future__ import annotations

from datetime import datetime, timedelta

from lakegate.lake.layout import hour_end, partition_end
from lakegate.lake.objects import ObjectStore
from lakegate.retention import Ttl


def expire(store: ObjectStore, base: str, ttl: Ttl, now: datetime) -> list[str]:
    """Delete the partitions under `base` (`datasources/<workspace>/<name>/`) whose span ended at least `ttl` ago;
    the newest day of ingestion partitions goes hour by hour. Returns the folders deleted."""
    cutoff = now - timedelta(seconds=ttl.seconds)
    gone: list[str] = []
    for folder in store.folders(base):
        name = folder[len(base) :]
        end = partition_end(name)
        if end is None:
            continue
        if end <= cutoff:
            store.delete_prefix(folder)
            gone.append(folder)
        elif name.startswith("date=") and end - timedelta(days=1) < cutoff:
            for hour in store.folders(folder):
                h_end = hour_end(end, hour[len(folder) :])
                if h_end is not None and h_end <= cutoff:
                    store.delete_prefix(hour)
                    gone.append(hour)
    return gone
