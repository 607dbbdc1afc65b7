"""A raw Firehose object read back: its records (gzip'd in AWS, plain under moto), grouped by workspace and
data source and cut into chunks, each row with the facts of its record. Pure, and free of pyarrow."""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field

import orjson

from lakegate.framing import FramingError, RecordBody, decode_bodies

GZIP_MAGIC = b"\x1f\x8b"
# A chunk is what the compactor converts at once. The slow path holds ~1.7 KB of Python objects per row
# (3.9 GB for 2.3M rows, issue 9), so 64k rows keep it near 110 MB; the byte bound keeps a chunk of wide
# rows small too. Both are far above a typical object's group: then one chunk is the whole group.
CHUNK_ROWS = 65_536
CHUNK_BYTES = 32 * 1024 * 1024


class UnreadableObject(Exception):
    """A raw object that is not gzip'd or plain framing: nothing in it can be trusted to land."""


def read_raw(blob: bytes) -> list[RecordBody]:
    """Every record of a raw object, gzip'd (Firehose in AWS) or plain (moto): sniffed by the magic bytes.
    Every record's row count is checked here, before anything of the object lands."""
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
class Chunk:
    """Consecutive records of one (workspace, data source) in a raw object, with each row's ingest facts.
    The rows stay as their records' bytes until something needs them one by one: Arrow's reader takes
    them whole. Rows and quarantine entries know their record (an index into `records`), so a record
    that landed already can be dropped whole. The per-row facts are built when first asked for: the fast
    path of a plain object never needs them."""

    workspace: str
    datasource: str
    # Which chunk of its group this is: it names the chunk's files, so a retry overwrites its own.
    index: int
    records: list[RecordBody] = field(default_factory=list)
    bodies: list[bytes] = field(default_factory=list)
    # The records that hold rows (not quarantine entries), by index in `records`.
    data_records: list[int] = field(default_factory=list)
    rows: int = 0
    quarantined: list[QuarantineEntry] = field(default_factory=list)
    quarantined_record: list[int] = field(default_factory=list)
    # The schema versions the rows were checked against at ingest.
    versions: set[int] = field(default_factory=set)
    # The distinct ingestion times of the rows' records: one, mostly, and then every row shares a partition.
    times: set[int] = field(default_factory=set)
    _lines: list[bytes] | None = None
    _facts: _RowFacts | None = None

    @property
    def data(self) -> bytes:
        """The rows as NDJSON, each line ending with a newline."""
        return self.bodies[0] if len(self.bodies) == 1 else b"".join(self.bodies)

    @property
    def lines(self) -> list[bytes]:
        if self._lines is None:
            self._lines = self.data.split(b"\n")[:-1]
            if len(self._lines) != self.rows:  # read_raw counted each record: this is a bug, not data
                raise UnreadableObject(
                    f"not lakegate framing: {len(self._lines)} rows, the headers say {self.rows}"
                )
        return self._lines

    @property
    def ingested_ms(self) -> list[int]:
        return self._row_facts().ingested_ms

    @property
    def request_ids(self) -> list[str]:
        return self._row_facts().request_ids

    @property
    def claimed(self) -> list[int]:
        """Per row: what its request claimed for it at ingest (framing.CLAIMED_REFS, CLAIMED_EVENTS; 0: nothing)."""
        return self._row_facts().claimed

    @property
    def record_of(self) -> list[int]:
        """Per row: its record."""
        return self._row_facts().record_of

    @property
    def offsets(self) -> list[int]:
        """Per row: its place in its record."""
        return self._row_facts().offsets

    def _row_facts(self) -> _RowFacts:
        if self._facts is None:
            facts = _RowFacts()
            for at in self.data_records:
                rec = self.records[at]
                h, n = rec.header, rec.count
                facts.ingested_ms += [h.ingested_at_ms] * n
                facts.request_ids += [_import_id(h.request_id, h.ingested_at_ms)] * n
                facts.claimed += [int(h.deduplicated)] * n
                facts.record_of += [at] * n
                facts.offsets += range(n)
            self._facts = facts
        return self._facts

    def add(self, rec: RecordBody) -> None:
        h = rec.header
        at = len(self.records)
        self.records.append(rec)
        if h.quarantine:
            try:
                rows = rec.rows()
            except FramingError as e:
                raise UnreadableObject(f"not lakegate framing: {e}") from e
            rid = _import_id(h.request_id, h.ingested_at_ms)
            self.quarantined.extend(_quarantine_entry(row, rid, h.ingested_at_ms) for row in rows)
            self.quarantined_record.extend([at] * len(rows))
            return
        self.versions.add(h.schema_version)
        self.times.add(h.ingested_at_ms)
        self.bodies.append(rec.data)
        self.data_records.append(at)
        self.rows += rec.count


@dataclass(slots=True)
class _RowFacts:
    ingested_ms: list[int] = field(default_factory=list)
    request_ids: list[str] = field(default_factory=list)
    claimed: list[int] = field(default_factory=list)
    record_of: list[int] = field(default_factory=list)
    offsets: list[int] = field(default_factory=list)


def _import_id(request_id: str, ingested_ms: int) -> str:
    """Never empty: a request id, else the raw object's record time."""
    return request_id or f"ingest-{ingested_ms}"


def chunks(
    records: Sequence[RecordBody], max_rows: int | None = None, max_bytes: int | None = None
) -> Iterator[Chunk]:
    """The records of a raw object by (workspace, data source), in order of first appearance, cut into
    chunks of whole records (a record is never split) of at most `max_rows` rows and `max_bytes` bytes
    (CHUNK_ROWS, CHUNK_BYTES), unless one record alone is more. The cuts depend on the object alone: a
    retry cuts the same."""
    max_rows = max_rows or CHUNK_ROWS
    max_bytes = max_bytes or CHUNK_BYTES
    groups: dict[tuple[str, str], list[RecordBody]] = {}
    for rec in records:
        groups.setdefault((rec.header.workspace, rec.header.datasource), []).append(rec)
    for (workspace, name), recs in groups.items():
        chunk = Chunk(workspace, name, 0)
        rows = size = 0
        for rec in recs:
            if chunk.records and (rows + rec.count > max_rows or size + len(rec.data) > max_bytes):
                yield chunk
                chunk = Chunk(workspace, name, chunk.index + 1)
                rows = size = 0
            chunk.add(rec)
            rows, size = rows + rec.count, size + len(rec.data)
        yield chunk


def _quarantine_entry(row: bytes, rid: str, ms: int) -> QuarantineEntry:
    """A `q=1` row (framing.quarantine_row); one that is not such an object is kept whole, said so."""
    try:
        obj = orjson.loads(row)
        return QuarantineEntry(str(obj["line"]), str(obj["column"]), str(obj["error"]), rid, ms)
    except (orjson.JSONDecodeError, KeyError, TypeError):
        return QuarantineEntry(row.decode("utf-8", "replace"), "", "unreadable quarantine entry", rid, ms)
