"""`<name>_quarantine`'s rows: each quarantined line with the data source's columns as text (where the line
is an object that has them, as the client wrote them) and Tinybird's error columns."""

from __future__ import annotations

from collections.abc import Sequence

import orjson
import pyarrow as pa

from lakegate.lake.arrow_types import quarantine_schema
from lakegate.lake.raw import QuarantineEntry
from lakegate.schema import MISSING, DataSource, getter
from lakegate.values import raw_text, shown


def _as_text(v: object, line: str, keys: tuple[str, ...]) -> str | None:
    if v is MISSING or v is None:
        return None
    if v.__class__ is str:
        return v
    text = raw_text(line.encode(), keys)
    return text if text is not None else shown(v, limit=None)


def quarantine_table(ds: DataSource | None, entries: Sequence[QuarantineEntry]) -> pa.Table:
    """Quarantined rows with each column's value as text where the line is an object that has it."""
    schema = quarantine_schema(ds)
    columns: list[list[object]] = [[] for _ in (ds.columns if ds else ())]
    reads = [(getter(c.keys), c.keys) for c in ds.columns] if ds else []
    for e in entries:
        try:
            obj = orjson.loads(e.line)
        except orjson.JSONDecodeError:
            obj = None
        for values, (get, keys) in zip(columns, reads, strict=True):
            values.append(_as_text(get(obj) if obj.__class__ is dict else MISSING, e.line, keys))
    arrays = [pa.array(values, type=pa.string()) for values in columns]
    arrays += [
        pa.array([e.line for e in entries], type=pa.string()),
        pa.array([[e.column] for e in entries], type=pa.list_(pa.string())),
        pa.array([[e.error] for e in entries], type=pa.list_(pa.string())),
        pa.array([e.import_id for e in entries], type=pa.string()),
        pa.array([e.inserted_ms // 1000 for e in entries], type=pa.timestamp("s", tz="UTC")),
    ]
    return pa.Table.from_arrays(arrays, schema=schema)
