"""The names lakegate gives things beside the client's own, and the rule that keeps a column's name from
colliding with them: the quarantine's suffix and columns, and the partition columns of the Glue tables.
Glue and Athena fold names to lower case, so names compare case-insensitively."""

from __future__ import annotations

from collections.abc import Iterable

# `<name>_quarantine` holds the rows of `<name>` that did not fit: a name reserved for that.
QUARANTINE_SUFFIX = "_quarantine"
# Tinybird's quarantine columns, after the data source's own (each kept as text).
LINE = "c__line"
ERROR_COLUMN = "c__error_column"
ERROR = "c__error"
IMPORT_ID = "c__import_id"
INSERTION_DATE = "insertion_date"
QUARANTINE_COLUMNS = (LINE, ERROR_COLUMN, ERROR, IMPORT_ID, INSERTION_DATE)
# The Glue partition columns of each partition scheme (lake.catalog): ingestion time, or a date column.
INGESTION_COLUMNS = ("ingestion_date", "ingestion_hour")
COLUMN_PARTITION_PREFIX = "partition_"
PARTITION_COLUMNS = (*INGESTION_COLUMNS, *(COLUMN_PARTITION_PREFIX + p for p in ("day", "month", "year")))
# The quarantine's own columns share this prefix, as Tinybird's do: no column of a data source may use it.
RESERVED_PREFIX = "c__"


def reserved(name: str) -> bool:
    """A name a data source's column may not have: one lakegate's tables already use beside it."""
    folded = name.lower()
    return folded.startswith(RESERVED_PREFIX) or folded in (INSERTION_DATE, *PARTITION_COLUMNS)


def free_name(wanted: str, taken: Iterable[str]) -> str:
    """`wanted`, or the first of `wanted_`, `wanted__`, ... that is not reserved and not taken (compared
    case-insensitively); a name with the quarantine's prefix gets a `_` in front first (`_c__line`)."""
    folded = {t.lower() for t in taken}
    name = "_" + wanted if wanted.lower().startswith(RESERVED_PREFIX) else wanted
    while reserved(name) or name.lower() in folded:
        name += "_"
    return name
