"""Firehose record framing: packing rows into records and records into calls, and reading them back."""

from __future__ import annotations

import random
from dataclasses import replace

import orjson
import pytest
import zstandard

from lakegate.framing import (
    CLAIMED_EVENTS,
    CLAIMED_REFS,
    MAX_CALL_BYTES,
    MAX_CALL_RECORDS,
    MAX_RECORD_BYTES,
    DecodedRecord,
    FramingError,
    Record,
    RecordHeader,
    batch_calls,
    decode_bodies,
    decode_records,
    frame_rows,
    frame_runs,
    quarantine_row,
)

HEADER = RecordHeader("events", "ws1", False, "req-1", 1_700_000_000_123, 2)
QHEADER = RecordHeader("events", "ws1", True, "req-1", 1_700_000_000_123, 2)
ROOM = MAX_RECORD_BYTES - 1024  # what rows may use in one record, newlines included


def _row(i: int, size: int = 100) -> bytes:
    """A distinct row of exactly `size` bytes."""
    head = b'{"i":%06d,"pad":"' % i
    return head + b"x" * (size - len(head) - 2) + b'"}'


_NOISE = random.Random(0)


def _noise_row(i: int, size: int = 100) -> bytes:
    """A distinct row of exactly `size` bytes that does not compress (so records travel uncompressed)."""
    head = b"%06d:" % i
    return head + bytes(_NOISE.choice(_NOT_NEWLINE) for _ in range(size - len(head)))


_NOT_NEWLINE = bytes(b for b in range(256) if b != 10)


# --- frame_rows -----------------------------------------------------------------------------------


def test_frame_rows_exact_bytes() -> None:
    assert frame_rows(HEADER, [b'{"a":1}', b'{"a":2}']) == [
        Record(
            b'LG1 {"ds":"events","ws":"ws1","q":0,"rid":"req-1","t":1700000000123,"sv":2,"n":2,"len":16}\n'
            b'{"a":1}\n{"a":2}\n',
            2,
        )
    ]


def test_frame_rows_quarantine_header() -> None:
    (record,) = frame_rows(QHEADER, [b"{}"])
    assert record.data == (
        b'LG1 {"ds":"events","ws":"ws1","q":1,"rid":"req-1","t":1700000000123,"sv":2,"n":1,"len":3}\n{}\n'
    )


def test_frame_rows_marks_rows_deduplicated_at_ingest_and_decodes_the_mark() -> None:
    header = RecordHeader("events", "ws1", False, "req-1", 1_700_000_000_123, 2, deduplicated=True)
    (record,) = frame_rows(header, [b"{}"])
    assert record.data.startswith(b'LG1 {"ds":"events","ws":"ws1","q":0,"rid":"req-1","t":1700000000123,')
    assert b',"dd":1}\n' in record.data
    assert [r.header for r in decode_records(record.data)] == [header]


def test_decode_records_without_the_mark_reads_not_deduplicated() -> None:
    (decoded,) = decode_bodies(frame_rows(HEADER, [b"{}"])[0].data)
    assert decoded.header.deduplicated == 0
    assert decoded.record_id == ""


def test_records_framed_with_an_id_prefix_are_numbered_and_decode_their_ids() -> None:
    # Vayu's claims, and ids for the compactor's record claims: the same ids on every send of a record.
    header = RecordHeader("events", "ws1", False, "req-1", 1, 2, CLAIMED_EVENTS, record_id="req-1")
    rows = [_row(i, 300_000) for i in range(7)]
    records = frame_rows(header, rows)
    assert len(records) == 3
    assert b',"dd":2,"id":"req-1/0"' in records[0].data
    decoded = [body for r in records for body in decode_bodies(r.data)]
    assert [b.record_id for b in decoded] == ["req-1/0", "req-1/1", "req-1/2"]
    assert {b.header for b in decoded} == {replace(header, record_id="")}
    assert frame_runs(header, [(b"".join(r + b"\n" for r in rows), len(rows))]) == records


def test_frame_rows_no_rows_no_records() -> None:
    assert frame_rows(HEADER, []) == []


def test_frame_rows_packs_greedily() -> None:
    # Given rows that take 100,000 bytes each with their newline: exactly 10 fit the room of a record
    rows = [_row(i, 99_999) for i in range(25)]
    # When framed
    records = frame_rows(HEADER, rows)
    # Then records are filled before a new one is started, in order, and none is over the limit
    assert [r.rows for r in records] == [10, 10, 5]
    assert all(len(r.data) <= MAX_RECORD_BYTES for r in records)
    decoded = [row for rec in decode_records(b"".join(r.data for r in records)) for row in rec.rows]
    assert decoded == rows


def test_frame_rows_a_row_that_fills_the_room_alone() -> None:
    fits = b"x" * (ROOM - 1)
    records = frame_rows(HEADER, [b"a", fits, b"b"])
    assert [r.rows for r in records] == [1, 1, 1]
    assert all(len(r.data) <= MAX_RECORD_BYTES for r in records)


def test_frame_rows_refuses_a_row_that_cannot_fit_a_record() -> None:
    with pytest.raises(FramingError) as info:
        frame_rows(HEADER, [b"a", b"x" * ROOM])
    assert str(info.value) == f"a row of {ROOM} bytes cannot fit a Firehose record"


def test_five_megabytes_of_rows_become_several_calls() -> None:
    # Given 50,000 rows of 100 bytes (5 MB) that do not compress
    rows = [_noise_row(i) for i in range(50_000)]
    # When framed and grouped into PutRecordBatch calls
    records = frame_rows(HEADER, rows)
    calls = batch_calls(records)
    # Then 10,128 rows (101 bytes each with the newline) fill each record, 4 records fill a 4 MiB call
    assert [r.rows for r in records] == [10_128, 10_128, 10_128, 10_128, 9_488]
    assert all(len(r.data) <= MAX_RECORD_BYTES for r in records)
    assert [len(c) for c in calls] == [4, 1]
    assert all(len(c) <= MAX_CALL_RECORDS and sum(len(r.data) for r in c) <= MAX_CALL_BYTES for c in calls)
    assert [r for c in calls for r in c] == records
    assert [row for rec in decode_records(b"".join(r.data for r in records)) for row in rec.rows] == rows


def test_five_megabytes_of_json_rows_travel_compressed() -> None:
    # Given 50,000 JSON rows of 100 bytes (5 MB), which compress well
    rows = [_row(i) for i in range(50_000)]
    # When framed
    records = frame_rows(HEADER, rows)
    # Then records are cut at the same rows as uncompressed ones, each carries one zstd frame of its rows
    assert [r.rows for r in records] == [10_128, 10_128, 10_128, 10_128, 9_488]
    for record in records:
        head, _, packed = record.data.partition(b"\n")
        header = orjson.loads(head[4:])
        assert header["z"] == 1 and header["len"] == len(packed) < ROOM // 5
        assert zstandard.ZstdDecompressor().decompress(packed).count(b"\n") == record.rows
    # And they fit one call, and read back as the very same row bytes
    assert [len(c) for c in batch_calls(records)] == [5]
    assert [row for rec in decode_records(b"".join(r.data for r in records)) for row in rec.rows] == rows


def test_small_records_stay_uncompressed_and_incompressible_ones_too() -> None:
    small = [_row(i) for i in range(40)]  # 4,040 bytes with newlines: just under COMPRESS_FROM_BYTES
    noise = [_noise_row(i) for i in range(100)]
    for rows in (small, noise):
        (record,) = frame_rows(HEADER, rows)
        assert b'"z":1' not in record.data.partition(b"\n")[0]
        assert record.data.endswith(b"\n".join(rows) + b"\n")
    (record,) = frame_rows(HEADER, [*small, _row(40)])
    assert b',"z":1}\n' in record.data


def test_a_compressed_record_that_does_not_decompress_is_a_framing_error() -> None:
    (record,) = frame_rows(HEADER, [_row(i) for i in range(100)])
    head, _, packed = record.data.partition(b"\n")
    with pytest.raises(FramingError, match="does not decompress"):
        list(decode_records(head + b"\n" + packed[:10] + bytes(len(packed) - 10)))
    with pytest.raises(FramingError, match="truncated"):
        list(decode_records(record.data[:-3]))


def _repacked(record: bytes, rows: bytes, **head: object) -> bytes:
    """`record` with its rows replaced by a checksummed zstd frame of `rows`, header fields overridden."""
    header = orjson.loads(record.partition(b"\n")[0][4:])
    packed = zstandard.ZstdCompressor(write_checksum=True).compress(rows)
    return b"LG1 " + orjson.dumps(header | {"len": len(packed)} | head) + b"\n" + packed


def test_a_flipped_byte_in_a_compressed_record_fails_its_checksum() -> None:
    (record,) = frame_rows(HEADER, [_row(i) for i in range(100)])
    head, _, packed = record.data.partition(b"\n")
    middle = len(packed) // 2
    corrupt = packed[:middle] + bytes([packed[middle] ^ 1]) + packed[middle + 1 :]
    with pytest.raises(FramingError, match="does not decompress"):
        list(decode_bodies(head + b"\n" + corrupt))


def test_a_compressed_record_is_read_whole_and_its_rows_counted() -> None:
    rows = [_row(i) for i in range(100)]
    (record,) = frame_rows(HEADER, rows)
    (body,) = decode_bodies(record.data)
    assert (body.data, body.count, body.rows()) == (b"".join(r + b"\n" for r in rows), 100, rows)

    miscounted = _repacked(record.data, b"".join(r + b"\n" for r in rows), n=99)
    with pytest.raises(FramingError, match="holds 100 rows, its header says 99"):
        list(decode_bodies(miscounted))  # the frame is sound, its count is not
    with pytest.raises(FramingError, match="holds 99 rows, its header says 100"):
        list(decode_bodies(_repacked(record.data, b"\n".join(rows))))  # the last row has no newline


@pytest.mark.parametrize("wrong", [-3, -1, 1, 2])
def test_compressed_records_whose_wrong_counts_cancel_out_are_refused(wrong: int) -> None:
    # 99 + 101 rows say 200 in all: only a count per record sees that each header is wrong, and that a
    # row would take the other record's header (its dd, its id).
    first, second = ([_row(100 * k + i) for i in range(100)] for k in range(2))
    a = frame_rows(RecordHeader("events", "ws1", False, "req-1", 1, 2, CLAIMED_REFS), first)[0].data
    b = frame_rows(HEADER, second)[0].data
    blob = _repacked(a, b"".join(r + b"\n" for r in first), n=100 + wrong) + _repacked(
        b, b"".join(r + b"\n" for r in second), n=100 - wrong
    )
    with pytest.raises(FramingError, match=f"record at byte 0 holds 100 rows, its header says {100 + wrong}"):
        list(decode_bodies(blob))


def test_records_of_old_writers_read_the_same() -> None:
    # Written before the dd mark existed: byte for byte what ingest used to send.
    old = (
        b'LG1 {"ds":"events","ws":"ws1","q":0,"rid":"req-1","t":1700000000123,"sv":2,"n":2,"len":16}\n'
        b'{"a":1}\n{"a":2}\n'
    )
    assert list(decode_records(old)) == [DecodedRecord(HEADER, [b'{"a":1}', b'{"a":2}'])]


# --- frame_runs -----------------------------------------------------------------------------------


def _runs(rng: random.Random, rows: list[bytes]) -> list[tuple[bytes | memoryview, int]]:
    """The rows cut into runs of whole lines at random places (an empty run now and then), some of them
    views of a bigger buffer, as rows.parse_and_check keeps the blocks of a request body."""
    runs: list[tuple[bytes | memoryview, int]] = []
    start = 0
    while start < len(rows):
        stop = start + rng.randint(0, 400)
        run = b"".join(row + b"\n" for row in rows[start:stop])
        view = memoryview(b"x" + run + b"y")[1:-1]
        runs.append((view if rng.random() < 0.5 else run, len(rows[start:stop])))
        start = stop
    return runs


@pytest.mark.parametrize("seed", range(4))
def test_frame_runs_makes_the_records_frame_rows_makes(seed: int) -> None:
    rng = random.Random(seed)
    make = _noise_row if seed % 2 else _row
    rows = [make(i, rng.choice([30, 100, 2_000, 60_000])) for i in range(rng.randint(300, 900))]
    assert frame_runs(HEADER, _runs(rng, rows)) == frame_rows(HEADER, rows)


def test_frame_runs_cuts_at_the_exact_byte() -> None:
    rows = [b"x" * (ROOM - 8), b"123456", b"y"]  # the first two fill a record to the byte
    runs = [(b"".join(row + b"\n" for row in rows), 3)]
    assert [r.rows for r in frame_runs(HEADER, runs)] == [2, 1] == [r.rows for r in frame_rows(HEADER, rows)]


def test_frame_runs_refuses_a_row_too_long() -> None:
    with pytest.raises(FramingError) as info:
        frame_runs(HEADER, [(b"a\n" + b"x" * ROOM + b"\n", 2)])
    assert str(info.value) == f"a row of {ROOM} bytes cannot fit a Firehose record"
    assert frame_runs(HEADER, []) == []


# --- batch_calls ----------------------------------------------------------------------------------


def test_batch_calls_at_most_500_records_per_call() -> None:
    records = [Record(b"r%d" % i, 1) for i in range(1_200)]
    calls = batch_calls(records)
    assert [len(c) for c in calls] == [500, 500, 200]
    assert [r for c in calls for r in c] == records


def test_batch_calls_at_most_4_mib_per_call() -> None:
    records = [Record(bytes(1_000_000), 1) for _ in range(9)]
    assert [len(c) for c in batch_calls(records)] == [4, 4, 1]


def test_batch_calls_exactly_4_mib_is_one_call() -> None:
    records = [Record(bytes(MAX_CALL_BYTES // 4), 1) for _ in range(4)]
    assert [len(c) for c in batch_calls(records)] == [4]
    assert [len(c) for c in batch_calls([*records, Record(b"x", 1)])] == [4, 1]


def test_batch_calls_no_records_no_calls() -> None:
    assert batch_calls([]) == []


# --- decode_records -------------------------------------------------------------------------------


def test_decode_records_round_trips_rows_and_quarantine_byte_for_byte() -> None:
    # Given accepted rows with odd spacing, escapes and non-ASCII text, and quarantined lines
    accepted = [
        b'{"date": "2020-04-05 00:05:38", "city": "Chicago"}',
        b'{ "city" :"M\\u00e1laga" , "n":1.50 }',
        '{"city":"Málaga 🌞"}'.encode(),
        b" [] ",
    ]
    quarantined = [
        quarantine_row(b"[1,2]", "", "the line is not a JSON object"),
        quarantine_row(b'{"a":\xff}', "", "invalid JSON: x"),
        quarantine_row(b'{"city": 1}', "city", "value '1' on column 'city' is not Date"),
    ]
    other = RecordHeader("other_ds", "ws2", False, "req-2", 5, 1)
    records = [*frame_rows(HEADER, accepted), *frame_rows(QHEADER, quarantined), *frame_rows(other, [b"{}"])]
    # When the records are concatenated as Firehose does, and decoded
    decoded = list(decode_records(b"".join(r.data for r in records)))
    # Then each record comes back with its header and its rows byte for byte
    assert decoded == [
        DecodedRecord(HEADER, accepted),
        DecodedRecord(QHEADER, quarantined),
        DecodedRecord(other, [b"{}"]),
    ]


def test_decode_records_empty_blob() -> None:
    assert list(decode_records(b"")) == []


GOOD = frame_rows(HEADER, [b'{"a":1}', b'{"a":2}'])[0].data


def _with_header(head: dict[str, object], payload: bytes = b'{"a":1}\n') -> bytes:
    return b"LG1 " + orjson.dumps(head) + b"\n" + payload


@pytest.mark.parametrize(
    ("blob", "message"),
    [
        (b"XYZ", "no record header at byte 0"),
        (b"\n" + GOOD, "no record header at byte 0"),
        (b'LG1 {"ds":"events"', "unterminated record header at byte 0"),
        (GOOD[:-1], "record at byte 0 is truncated"),
        (GOOD[:-9], "record at byte 0 is truncated"),
        (GOOD + b"garbage", f"no record header at byte {len(GOOD)}"),
        (GOOD + GOOD[:40], f"unterminated record header at byte {len(GOOD)}"),
        (GOOD.replace(b'"n":2', b'"n":3'), "record at byte 0 holds 2 rows, its header says 3"),
        (GOOD.replace(b'"len":16', b'"len":15'), "record at byte 0 holds 1 rows, its header says 2"),
    ],
)
def test_decode_records_corrupt_blobs(blob: bytes, message: str) -> None:
    with pytest.raises(FramingError) as info:
        list(decode_records(blob))
    assert str(info.value) == message


@pytest.mark.parametrize(
    "blob",
    [
        b"LG1 {nope\n",
        b"LG1 [1,2]\n",
        _with_header({"ws": "w", "q": 0, "rid": "r", "t": 1, "sv": 1, "n": 1, "len": 8}),
        _with_header({"ds": "d", "ws": "w", "q": 0, "rid": "r", "t": "soon", "sv": 1, "n": 1, "len": 8}),
    ],
    ids=["not-json", "not-object", "no-ds", "bad-time"],
)
def test_decode_records_bad_header(blob: bytes) -> None:
    with pytest.raises(FramingError) as info:
        list(decode_records(blob))
    assert str(info.value).startswith("bad record header at byte 0: ")


def test_decode_records_header_without_row_count() -> None:
    blob = _with_header({"ds": "d", "ws": "w", "q": 0, "rid": "r", "t": 1, "sv": 1, "len": 8})
    with pytest.raises(FramingError):
        list(decode_records(blob))


def test_decode_records_yields_good_records_before_a_corrupt_one() -> None:
    records = decode_records(GOOD + b"garbage")
    assert next(records) == DecodedRecord(HEADER, [b'{"a":1}', b'{"a":2}'])
    with pytest.raises(FramingError):
        next(records)


# --- quarantine_row -------------------------------------------------------------------------------


def test_quarantine_row_exact_bytes() -> None:
    assert quarantine_row(b'{"a":', "", "invalid JSON: x") == (
        b'{"line":"{\\"a\\":","column":"","error":"invalid JSON: x"}'
    )


def test_quarantine_row_keeps_invalid_utf8_as_replacement_characters() -> None:
    row = quarantine_row(b"\xff\xfeab\xc3", "city", "e")
    assert row == '{"line":"\ufffd\ufffdab\ufffd","column":"city","error":"e"}'.encode()
    assert orjson.loads(row)["line"] == "\ufffd\ufffdab\ufffd"


def test_quarantine_row_truncates_huge_lines_and_says_so() -> None:
    row = orjson.loads(quarantine_row(b"x" * 300_000, "", "invalid JSON: y"))
    assert row == {
        "line": "x" * 200_000,
        "column": "",
        "error": "invalid JSON: y (line truncated to 200000 characters in quarantine)",
    }


def test_quarantine_row_keeps_a_line_at_the_truncation_limit_whole() -> None:
    row = orjson.loads(quarantine_row(b"x" * 200_000, "", "e"))
    assert row == {"line": "x" * 200_000, "column": "", "error": "e"}


@pytest.mark.parametrize(
    "line",
    [
        b"x" * 1_000_000,
        b'"' * 1_000_000,
        b"\xff" * 1_000_000,
        "🌞".encode() * 250_000,
        pytest.param(
            b"\x01" * 1_000_000,
            id="control-characters",
        ),
    ],
)
def test_quarantine_row_of_any_accepted_line_fits_one_record(line: bytes) -> None:
    # Lines up to MAX_LINE_BYTES (1,000,000) reach quarantine whole: their entry must still frame.
    row = quarantine_row(line, "", "invalid JSON: unexpected character")
    (record,) = frame_rows(QHEADER, [row])
    assert len(record.data) <= MAX_RECORD_BYTES
