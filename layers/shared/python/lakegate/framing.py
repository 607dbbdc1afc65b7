"""The Firehose record framing: the one place that says how rows travel from ingest to the compactor.

Firehose (and moto) concatenate records byte for byte into an S3 object, so every record is
self-delimiting:

    LG1 {"ds":..., "ws":..., "q":0|1, "rid":..., "t":..., "sv":..., "n":..., "len":...[, "dd":1|2][, "id":...][, "z":1]}\\n
    <len bytes: n rows, each followed by \\n; with z=1, one zstd frame of those bytes>

`q=0` rows are the client's original line bytes, never re-encoded; `q=1` rows are quarantine
entries, one JSON object per line: {"line": original text, "column": ..., "error": ...}.
`dd` says what the ingest request `rid` claimed for each row: 1 (CLAIMED_REFS) the ref at the data source's
dedup key (wait=true), 2 (CLAIMED_EVENTS) Vayu's event and lookup keys. The compactor, which claims the refs of
every other row, lands them as they are, and releases those claims for rows that end in quarantine.
`id` is the record's own id, unique and the same when the ingest sends the record again, carried by
every record whose rows were promised exactly once: the compactor claims it, so a record Firehose
delivers twice lands once. Absent `dd` means 0 and absent `id` means none, so older records read the same.
`z=1` says the rows are zstd-compressed (level 1; the frame holds its content size), which records of
COMPRESS_FROM_BYTES or more are when that makes them an eighth smaller or more: JSON lines shrink
5-8x, and every byte saved is one Firehose does not bill and ingest does not base64, sign and send
(bench/ingest.py). The rows inside are the same bytes. Absent means 0: older records read the same.
A record holds rows of one data source only, many rows per record (Firehose bills each record in
5 KB steps), at most MAX_RECORD_BYTES of rows before compression; a PutRecordBatch call holds at most
MAX_CALL_RECORDS records and MAX_CALL_BYTES bytes.
"""

from __future__ import annotations

from bisect import bisect_right
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from itertools import accumulate

import orjson

MAGIC = b"LG1 "
MAX_RECORD_BYTES = 1000 * 1024  # Firehose: 1,000 KiB per record, before base64
MAX_CALL_RECORDS = 500  # PutRecordBatch: 500 records per call
MAX_CALL_BYTES = 4 * 1024 * 1024  # PutRecordBatch: 4 MiB per call
_HEADER_ROOM = 1024  # a header line never exceeds this (names are <= 255 chars)
# Below one Firehose billing step (5 KB) compression saves no money, and small records stay readable.
COMPRESS_FROM_BYTES = 4096
_ZSTD_LEVEL = 1  # bench/ingest.py's rows: 7.6x at ~12 ms per 10 MB; level 3: 7.2x at ~17 ms


@dataclass(frozen=True, slots=True)
class RecordHeader:
    """Who the rows of a record belong to and where they came from."""

    datasource: str
    workspace: str
    quarantine: bool
    request_id: str
    ingested_at_ms: int
    schema_version: int
    # What the request claimed for each row (CLAIMED_REFS: wait=true, CLAIMED_EVENTS: Vayu): the compactor must not claim
    # them again. 0 (or False): nothing.
    deduplicated: int = 0
    # When set, the i-th record framed from this header carries the id `<record_id>/<i>` (record_id).
    # Decoded headers leave it empty: a decoded record's own id is RecordBody.record_id.
    record_id: str = ""


CLAIMED_REFS = 1  # dd: the row's ref at the data source's dedup key, claimed by the request
CLAIMED_EVENTS = 2  # dd: Vayu's event key and lookup key, claimed by the request


def record_id(prefix: str, index: int) -> str:
    """The id of the `index`-th record framed from a header whose record_id is `prefix`."""
    return f"{prefix}/{index}"


@dataclass(frozen=True, slots=True)
class Record:
    """One framed Firehose record and how many rows it carries."""

    data: bytes
    rows: int
    # The record's id when its rows were promised exactly once (`<record_id>/<i>`), else "".
    id: str = ""


@dataclass(frozen=True, slots=True)
class DecodedRecord:
    header: RecordHeader
    rows: list[bytes]


@dataclass(frozen=True, slots=True)
class RecordBody:
    """A decoded record's rows as one piece: `count` lines, each ending with a newline, and its id
    ('' when the record carries none)."""

    header: RecordHeader
    data: bytes
    count: int
    record_id: str = ""

    def rows(self) -> list[bytes]:
        rows = self.data.split(b"\n")[:-1]
        if len(rows) != self.count:
            raise FramingError(f"a record holds {len(rows)} rows, its header says {self.count}")
        return rows


class FramingError(ValueError):
    """A raw object that does not follow this framing."""


def _frame(header: RecordHeader, rows: Sequence[bytes], payload_bytes: int, index: int) -> Record:
    """A record of whole rows (lines without their newline), the `index`-th framed from `header`."""
    if payload_bytes >= COMPRESS_FROM_BYTES:
        return _frame_run(header, [b"\n".join([*rows, b""])], payload_bytes, len(rows), index)
    # One join copies the rows once: header, each row and a final empty piece, newline between each.
    head = _head(header, len(rows), payload_bytes, index)
    return Record(b"\n".join([MAGIC + head, *rows, b""]), len(rows), _id(header, index))


def _frame_run(
    header: RecordHeader, pieces: Sequence[bytes | memoryview], size: int, rows: int, index: int
) -> Record:
    """A record of runs of whole lines, each line ending with a newline: compressed when that pays."""
    if size >= COMPRESS_FROM_BYTES:
        import zstandard  # here, not at import time: only batches of a few KB or more pay for it

        # The checksum lets the reader trust a frame's bytes without scanning them (decode_bodies).
        packer = zstandard.ZstdCompressor(level=_ZSTD_LEVEL, write_checksum=True).compressobj(size=size)
        packed = b"".join([*map(packer.compress, pieces), packer.flush()])
        if len(packed) <= size - size // 8:  # saving less is not worth the compactor's decompression
            head = _head(header, rows, len(packed), index, compressed=True)
            return Record(b"".join([MAGIC, head, b"\n", packed]), rows, _id(header, index))
    return Record(
        b"".join([MAGIC, _head(header, rows, size, index), b"\n", *pieces]), rows, _id(header, index)
    )


def _id(header: RecordHeader, index: int) -> str:
    return record_id(header.record_id, index) if header.record_id else ""


def _head(header: RecordHeader, rows: int, length: int, index: int, compressed: bool = False) -> bytes:
    return orjson.dumps(
        {
            "ds": header.datasource,
            "ws": header.workspace,
            "q": int(header.quarantine),
            "rid": header.request_id,
            "t": header.ingested_at_ms,
            "sv": header.schema_version,
            "n": rows,
            "len": length,
        }
        | ({"dd": int(header.deduplicated)} if header.deduplicated else {})
        | ({"id": _id(header, index)} if header.record_id else {})
        | ({"z": 1} if compressed else {})
    )


def _cut(ends: Sequence[int], start: int, base: int) -> int:
    """How many rows from `start` on fit one record: a bisection over the running byte count.
    ends[i] counts the bytes of rows[:i + 1] without newlines; base is ends[start - 1] (0 at the start)."""
    limit = MAX_RECORD_BYTES - _HEADER_ROOM
    return bisect_right(range(start, len(ends)), limit, key=lambda i: ends[i] - base + i - start + 1)


def frame_rows(header: RecordHeader, rows: Sequence[bytes]) -> list[Record]:
    """Pack rows greedily into as few records as fit under MAX_RECORD_BYTES."""
    # One C-level pass and a bisection per record, not a Python loop per row: ~10 ms -> ~4 ms for 25k rows.
    ends = list(accumulate(map(len, rows)))
    records: list[Record] = []
    start, base = 0, 0
    while start < len(rows):
        count = _cut(ends, start, base)
        if not count:
            raise FramingError(f"a row of {len(rows[start])} bytes cannot fit a Firehose record")
        stop = start + count
        records.append(_frame(header, rows[start:stop], ends[stop - 1] - base + count, len(records)))
        start, base = stop, ends[stop - 1]
    return records


def frame_runs(header: RecordHeader, runs: Sequence[tuple[bytes | memoryview, int]]) -> list[Record]:
    """`frame_rows` for rows given as runs of whole lines (each ending with a newline) and their counts,
    as rows.AcceptedRows keeps them: a run is cut at a newline where a record is full, never split into
    rows. The same records as `frame_rows` of the same rows (tests/unit/test_framing.py)."""
    limit = MAX_RECORD_BYTES - _HEADER_ROOM
    records: list[Record] = []
    pieces: list[bytes | memoryview] = []
    size = rows = 0
    for run, count in runs:
        start, left = 0, count
        while True:
            room = limit - size
            if len(run) - start <= room:
                if start < len(run):
                    pieces.append(run[start:] if start else run)
                    size, rows = size + len(run) - start, rows + left
                break
            # A run to cut may be a view of the request body: cut a copy (a run is one block, <= 64 KiB).
            data = run if isinstance(run, bytes) else bytes(run)
            cut = data.rfind(b"\n", start, start + room) + 1  # just after the last whole line that fits
            if cut > start:
                piece = data[start:cut]
                n = piece.count(b"\n")
                pieces.append(piece)
                size, rows, left, start = size + len(piece), rows + n, left - n, cut
            elif not pieces:
                row = data.index(b"\n", start) - start
                raise FramingError(f"a row of {row} bytes cannot fit a Firehose record")
            records.append(_frame_run(header, pieces, size, rows, len(records)))
            pieces, size, rows = [], 0, 0
    if pieces:
        records.append(_frame_run(header, pieces, size, rows, len(records)))
    return records


def batch_calls(records: Sequence[Record]) -> list[list[Record]]:
    """Group records into PutRecordBatch calls within the count and byte limits."""
    calls: list[list[Record]] = []
    current: list[Record] = []
    size = 0
    for rec in records:
        n = len(rec.data)
        if current and (len(current) == MAX_CALL_RECORDS or size + n > MAX_CALL_BYTES):
            calls.append(current)
            current, size = [], 0
        current.append(rec)
        size += n
    if current:
        calls.append(current)
    return calls


_MAX_QUARANTINE_TEXT = 200_000
_MAX_QUARANTINE_BYTES = 900_000  # escaping can grow a character to 6 bytes (\u0001): bound the result too


def quarantine_row(line: bytes, column: str, error: str) -> bytes:
    """A quarantined line as one JSON object; invalid UTF-8 is kept as replacement characters."""
    text = line.decode("utf-8", "replace")
    limit = _MAX_QUARANTINE_TEXT
    while True:
        note = f" (line truncated to {limit} characters in quarantine)" if len(text) > limit else ""
        row = orjson.dumps({"line": text[:limit], "column": column, "error": error + note})
        if len(row) <= _MAX_QUARANTINE_BYTES:
            return row
        limit = limit * _MAX_QUARANTINE_BYTES // len(row)


def decode_bodies(blob: bytes) -> Iterator[RecordBody]:
    """Split a raw object (records concatenated by Firehose) back into headers and row bytes, unsplit:
    the compactor hands a record's rows to Arrow's reader as they are."""
    pos, end = 0, len(blob)
    while pos < end:
        if blob[pos : pos + len(MAGIC)] != MAGIC:
            raise FramingError(f"no record header at byte {pos}")
        nl = blob.find(b"\n", pos)
        if nl < 0:
            raise FramingError(f"unterminated record header at byte {pos}")
        try:
            head = orjson.loads(blob[pos + len(MAGIC) : nl])
            length = int(head["len"])
            count = int(head["n"])
            header = RecordHeader(
                datasource=str(head["ds"]),
                workspace=str(head["ws"]),
                quarantine=bool(head["q"]),
                request_id=str(head["rid"]),
                ingested_at_ms=int(head["t"]),
                schema_version=int(head["sv"]),
                deduplicated=int(head.get("dd", 0)),
            )
            rec_id = str(head.get("id", ""))
        except (orjson.JSONDecodeError, KeyError, TypeError, ValueError) as e:
            raise FramingError(f"bad record header at byte {pos}: {e}") from e
        body = blob[nl + 1 : nl + 1 + length]
        if len(body) != length:
            raise FramingError(f"record at byte {pos} is truncated")
        if head.get("z"):
            # The frame's checksum vouches for its bytes, not for the header's count.
            body = _unzstd(body, pos)
        # Counted per record (~0.5 ms per MB): two records whose wrong counts cancel out would otherwise
        # pass a count of the whole, and rows would take their neighbour's header (its dd, its id).
        found = body.count(b"\n")
        if found != count or (body and not body.endswith(b"\n")):
            raise FramingError(f"record at byte {pos} holds {found} rows, its header says {count}")
        yield RecordBody(header, body, count, rec_id)
        pos = nl + 1 + length


def decode_records(blob: bytes) -> Iterator[DecodedRecord]:
    """Split a raw object (records concatenated by Firehose) back into headers and rows."""
    for record in decode_bodies(blob):
        yield DecodedRecord(record.header, record.rows())


def _unzstd(data: bytes, pos: int) -> bytes:
    import zstandard

    try:
        # A record never holds more than MAX_RECORD_BYTES of rows: a frame that says more is not ours.
        return zstandard.ZstdDecompressor().decompress(data, max_output_size=MAX_RECORD_BYTES)
    except zstandard.ZstdError as e:
        raise FramingError(f"record at byte {pos} does not decompress: {e}") from e
