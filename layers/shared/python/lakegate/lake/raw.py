"""A raw Firehose object read back: its records (gzip'd in AWS, plain under moto), grouped by workspace and
data source, each row with the facts of its record. Pure, and free of pyarrow."""

from __future__ import annotations

import gzip
import zlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import orjson

from lakegate.framing import FramingError, RecordBody, decode_bodies

GZIP_MAGIC = b"\x1f\x8b"


class UnreadableObject(Exception):
    """A raw object that is not gzip'd or plain framing: nothing in it can be trusted to land."""


def read_raw(blob: bytes) -> list[RecordBody]:
    """Every record of a raw object, gzip'd (Firehose in AWS) or plain (moto): sniffed by the magic bytes."""
    try:
        if blob.startswith(GZIP_MAGIC):
            blob = gzip.decompress(blob)  # handles concatenated members too
        return list(decode_bodies(blob))
    except (OSError, EOFError, zlib.error) as e:
        raise UnreadableObject(f"not a readable gzip object: {e}") from e
    except FramingError as e:
        raise UnreadableObject(f"not lakegate framing: {e}") from e


@dataclass(frozen=True, slots=True)
class QuarantineEntry:
    """A row bound for `<name>_quarantine`: the original line and why, with where it came from."""

    line: str
    column: str
    error: str
    import_id: str
    inserted_ms: int


@dataclass(slots=True)
class Group:
    """The rows of one (workspace, data source) in a raw object, with each row's ingest facts. The rows
    stay as their records' bytes until something needs them one by one: Arrow's reader takes them whole."""

    bodies: list[bytes] = field(default_factory=list)
    ingested_ms: list[int] = field(default_factory=list)
    request_ids: list[str] = field(default_factory=list)
    # Per line: its ref was claimed at ingest (wait=true, Vayu), so it lands without a claim here.
    claimed: list[bool] = field(default_factory=list)
    quarantined: list[QuarantineEntry] = field(default_factory=list)
    # The schema versions the rows were checked against at ingest.
    versions: set[int] = field(default_factory=set)
    # The distinct ingestion times of the rows' records: one, mostly, and then every row shares a partition.
    times: set[int] = field(default_factory=set)
    _lines: list[bytes] | None = None

    @property
    def rows(self) -> int:
        return len(self.ingested_ms)

    @property
    def data(self) -> bytes:
        """The rows as NDJSON, each line ending with a newline."""
        return self.bodies[0] if len(self.bodies) == 1 else b"".join(self.bodies)

    @property
    def lines(self) -> list[bytes]:
        if self._lines is None:
            self._lines = self.data.split(b"\n")[:-1]
            if len(self._lines) != self.rows:  # the records' headers did not count their rows right
                raise UnreadableObject(
                    f"not lakegate framing: {len(self._lines)} rows, the headers say {self.rows}"
                )
        return self._lines


def group_records(records: Sequence[RecordBody]) -> dict[tuple[str, str], Group]:
    """The rows of a raw object by (workspace, data source), in order."""
    groups: dict[tuple[str, str], Group] = defaultdict(Group)
    for rec in records:
        h = rec.header
        g = groups[(h.workspace, h.datasource)]
        # The import id is never empty: a request id, else the raw object's record time.
        rid = h.request_id or f"ingest-{h.ingested_at_ms}"
        if h.quarantine:
            try:
                rows = rec.rows()
            except FramingError as e:
                raise UnreadableObject(f"not lakegate framing: {e}") from e
            g.quarantined.extend(_quarantine_entry(row, rid, h.ingested_at_ms) for row in rows)
        else:
            g.versions.add(h.schema_version)
            g.times.add(h.ingested_at_ms)
            g.bodies.append(rec.data)
            g.ingested_ms.extend([h.ingested_at_ms] * rec.count)
            g.request_ids.extend([rid] * rec.count)
            g.claimed.extend([h.deduplicated] * rec.count)
    return groups


def _quarantine_entry(row: bytes, rid: str, ms: int) -> QuarantineEntry:
    """A `q=1` row (framing.quarantine_row); one that is not such an object is kept whole, said so."""
    try:
        obj = orjson.loads(row)
        return QuarantineEntry(str(obj["line"]), str(obj["column"]), str(obj["error"]), rid, ms)
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return QuarantineEntry(row.decode("utf-8", "replace"), "", "unreadable quarantine entry", rid, ms)
