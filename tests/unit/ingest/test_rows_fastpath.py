"""The ingest fast paths against their references: bulk checks, chunked parse-and-check, record packing.

The fast paths may only ever say "all fit" when the reference agrees, and the accepted lines and the
quarantined (line, column, error) triples must be exactly the reference's. Rows are generated from a
fixed seed: valid ones, and every kind of fault the reference words differently.
"""

from __future__ import annotations

import json
import random
from calendar import monthrange
from collections.abc import Callable, Iterator
from itertools import accumulate
from typing import Any

import orjson
import pytest

from lakegate.column_types import SCALARS
from lakegate.framing import MAX_RECORD_BYTES, FramingError, RecordHeader, decode_records, frame_rows
from lakegate.ingest.rows import (
    AcceptedRows,
    CheckedBatch,
    Rejected,
    check,
    compile_validator,
    iter_lines,
    parse,
    parse_and_check,
)
from lakegate.schema import Column, DataSource
from lakegate.values import bulk_check, scalar_check

Row = dict[str, Any]

FLIGHTS = DataSource(
    "flights",
    (
        Column("timestamp", "DateTime64(3)", "$.timestamp"),
        Column("transaction_id", "String", "$.transaction_id"),
        Column("name", "String", "$.name"),
        Column("age", "Int64", "$.age"),
        Column("passport_number", "Int64", "$.passport_number"),
        Column("flight_from", "String", "$.flight_from"),
        Column("extra_bags", "Int64", "$.extra_bags"),
        Column("priority_boarding", "Bool", "$.priority_boarding"),
        Column("seat", "Nullable(String)", "$.seat"),
    ),
)

WIDE = DataSource(
    "wide",
    (
        Column("i8", "Int8", "$.i8"),
        Column("u8", "UInt8", "$.u8"),
        Column("i16", "Int16", "$.i16"),
        Column("u16", "UInt16", "$.u16"),
        Column("i32", "Int32", "$.i32"),
        Column("u32", "UInt32", "$.u32"),
        Column("u64", "UInt64", "$.u64"),
        Column("f32", "Float32", "$.f32"),
        Column("f64", "Nullable(Float64)", "$.f64"),
        Column("day", "Date", "$.day"),
        Column("at", "DateTime", "$.at"),
        Column("at_ms", "Nullable(DateTime64(6))", "$.at_ms"),
        Column("flag", "Bool", "$.flag"),
        Column("region", "String", "$.geo.region"),
        Column("city", "Nullable(LowCardinality(String))", "$.geo.city"),
        Column("lat", "Nullable(Float64)", "$.geo.pos.lat"),
        Column("ids", "Array(UInt16)", "$.ids[:]"),
        Column("tags", "Array(String)", "$.meta.tags[:]"),
        Column("times", "Array(DateTime)", "$.times[:]"),
        Column("score", "Int32", "$.score", default="0"),
        Column("note", "String", "$.['odd key']"),
    ),
)

INT_RANGES = {
    "Int8": (-(2**7), 2**7 - 1),
    "Int16": (-(2**15), 2**15 - 1),
    "Int32": (-(2**31), 2**31 - 1),
    "Int64": (-(2**63), 2**63 - 1),
    "UInt8": (0, 2**8 - 1),
    "UInt16": (0, 2**16 - 1),
    "UInt32": (0, 2**32 - 1),
    "UInt64": (0, 2**64 - 1),
}


# --- generated values -----------------------------------------------------------------------------


def _stamp(rnd: random.Random, fraction: int = 3, sep: str = "T", zone: str = "Z") -> str:
    frac = f".{rnd.randrange(10**fraction):0{fraction}d}" if fraction else ""
    year, month = 2000 + rnd.randrange(100), rnd.randint(1, 12)
    day = rnd.randint(1, monthrange(year, month)[1])  # real dates: 2039-02-30 fits no date type
    return (
        f"{year}-{month:02d}-{day:02d}{sep}"
        f"{rnd.randrange(24):02d}:{rnd.randrange(60):02d}:{rnd.randrange(60):02d}{frac}{zone}"
    )


ODD_TIMES = [
    "2022-13-01T00:00:00.000Z",
    "2022-00-10T00:00:00.000Z",
    "2022-01-32T00:00:00.000Z",
    "2022-01-00T00:00:00.000Z",
    "2022-01-01T24:00:00.000Z",
    "2022-01-01T00:60:00.000Z",
    "2022-01-01T00:00:60.000Z",
    "2022-01-01X00:00:00.000Z",
    "2022-1a-01T00:00:00.000Z",
    "2022-01-01T00:00:00.000z",
    "\uff12\uff10\uff12\uff12-01-01T00:00:00.000Z",  # fullwidth digits: \d matches them
    "2022-01-01T00:00:00.0000000000Z",
    "2022-01-01T00:00:00.Z",
    "2022-01-01 00:00:00+0100\n",
    "2022-01-01",
    "",
    "yesterday",
]


def _valid_flight(rnd: random.Random, i: int) -> Row:
    return {
        "timestamp": _stamp(rnd),
        "transaction_id": f"tx-{rnd.getrandbits(64):x}",
        "name": f"Passenger {i}",
        "age": rnd.randint(1, 99),
        "passport_number": rnd.randint(1_000_000, 9_999_999),
        "flight_from": rnd.choice(["Madrid", "Chicago", "", "Ünïcode"]),
        "extra_bags": rnd.randint(0, 3),
        "priority_boarding": rnd.random() < 0.3,
        "seat": rnd.choice([None, "12A", "3F"]),
    }


def _valid_wide(rnd: random.Random, i: int) -> Row:
    row: Row = {
        name: rnd.randint(lo, hi)
        for name, (lo, hi) in zip(
            ["i8", "u8", "i16", "u16", "i32", "u32", "u64"],
            [INT_RANGES[t] for t in ["Int8", "UInt8", "Int16", "UInt16", "Int32", "UInt32", "UInt64"]],
            strict=True,
        )
    }
    row |= {
        "f32": rnd.choice([1.5, -2.0, 3, 0]),
        "f64": rnd.choice([None, 2.25, 7]),
        "day": _stamp(rnd)[:10],
        "at": _stamp(rnd, 0, " ", ""),
        "at_ms": rnd.choice([None, _stamp(rnd, 6, "T", "+02:00")]),
        "flag": rnd.choice([True, False]),
        "geo": {
            "region": rnd.choice(["eu", 5, {"x": 1}]),
            "city": rnd.choice([None, "Rome"]),
            "pos": {"lat": 1.5},
        },
        "ids": [rnd.randrange(65536) for _ in range(rnd.randrange(4))],
        "meta": {"tags": ["a", 1, None]},
        "times": [_stamp(rnd, 0, "T", "Z")],
        "score": rnd.randint(0, 10),
        "odd key": f"n{i}",
    }
    if rnd.random() < 0.3:
        del row["score"]  # DEFAULT: may be missing
    return row


# Faults: (column or key path, value) pairs to write into an otherwise valid row; _DROP removes the key.
_DROP = object()
FLIGHT_FAULTS: list[tuple[tuple[str, ...], object]] = [
    *[(("timestamp",), t) for t in ODD_TIMES],
    (("timestamp",), 1_586_045_242),  # epoch seconds fit a DateTime64
    (("timestamp",), 1.5),
    (("timestamp",), True),
    (("timestamp",), None),
    (("timestamp",), _DROP),
    (("transaction_id",), None),
    (("transaction_id",), _DROP),
    (("transaction_id",), 0),  # String takes any non-null value
    (("transaction_id",), False),
    (("transaction_id",), [1, None]),
    (("name",), ""),
    (("age",), True),
    (("age",), False),
    (("age",), 1.0),
    (("age",), "7"),
    (("age",), None),
    (("age",), _DROP),
    (("age",), [1]),
    (("age",), {"v": 1}),
    (("age",), 2**63 - 1),
    (("age",), -(2**63)),
    (("age",), 2**63),
    (("age",), 2**64 - 1),
    (("passport_number",), -5),
    (("passport_number",), 1e16),
    (("priority_boarding",), 0),  # 0 and 1 are Bools
    (("priority_boarding",), 1),
    (("priority_boarding",), 2),
    (("priority_boarding",), -1),
    (("priority_boarding",), "true"),
    (("priority_boarding",), None),
    (("priority_boarding",), 1.0),
    (("seat",), 5),
    (("seat",), _DROP),
]

WIDE_FAULTS: list[tuple[tuple[str, ...], object]] = [
    *[
        ((name,), v)
        for name, (lo, hi) in zip(
            ["i8", "u8", "i16", "u16", "i32", "u32", "u64"],
            [INT_RANGES[t] for t in ["Int8", "UInt8", "Int16", "UInt16", "Int32", "UInt32", "UInt64"]],
            strict=True,
        )
        for v in (lo - 1, hi + 1, lo, hi, True, 9.0, "1")
    ],
    (("u64",), -(2**63)),
    (("f32",), True),
    (("f32",), "1.5"),
    (("f64",), False),
    (("day",), "2022-02-30"),  # the pattern, not the calendar, decides
    (("day",), "2022-13-01"),
    (("day",), 20220101),
    (("day",), "2022-01-01T00:00:00"),
    (("at",), "2022-01-01 24:00:00"),
    (("at",), "2022-01-01T00:00:00+0100"),
    (("at",), "2022-01-01T00:00:00.5"),
    (("at",), False),
    (("at",), 1_586_045_242),  # epoch seconds fit a DateTime
    (("at_ms",), "2022-01-01T00:00:00.1234567890"),
    (("at_ms",), 12.5),
    (("flag",), "yes"),
    (("geo",), None),
    (("geo",), "eu"),
    (("geo",), ["eu"]),
    (("geo", "region"), None),
    (("geo", "region"), _DROP),
    (("geo", "city"), 7),
    (("geo", "pos"), 3),
    (("geo", "pos", "lat"), "north"),
    (("ids",), None),
    (("ids",), _DROP),
    (("ids",), 5),
    (("ids",), {"0": 1}),
    (("ids",), [1, None, 65535]),
    (("ids",), [1, 65536]),
    (("ids",), [-1]),
    (("ids",), [True]),
    (("ids",), [[1]]),
    (("meta",), {"tags": "a"}),
    (("meta",), {}),
    (("times",), ["2022-01-01T00:00:00Z", "2022-01-01T00:00:60Z"]),
    (("times",), [1_586_045_242, None]),
    (("score",), None),
    (("score",), "x"),
    (("odd key",), None),
]


def _set(row: Row, path: tuple[str, ...], value: object) -> None:
    target: Any = row
    for k in path[:-1]:
        if not isinstance(target.get(k), dict):
            target[k] = {}
        target = target[k]
    if value is _DROP:
        target.pop(path[-1], None)
    else:
        target[path[-1]] = value


def _shuffled(rnd: random.Random, row: Row) -> Row:
    items = list(row.items())
    rnd.shuffle(items)
    return dict(items)


def _rows(
    rnd: random.Random,
    valid: Callable[[random.Random, int], Row],
    faults: list[tuple[tuple[str, ...], object]],
    count: int,
    fault_rate: float,
) -> Iterator[Row]:
    for i in range(count):
        row = valid(rnd, i)
        if rnd.random() < fault_rate:
            for _ in range(rnd.choice([1, 1, 2])):
                path, value = rnd.choice(faults)
                _set(row, path, value)
        if rnd.random() < 0.05:
            row[f"extra_{i % 3}"] = rnd.choice([None, 1, "x", {"n": None}])
        if rnd.random() < 0.05:
            row = _shuffled(rnd, row)
        yield row


def _line(rnd: random.Random, row: Row) -> bytes:
    # Compact and spaced encodings, as different clients send them (orjson writes no int beyond 64 bits).
    if rnd.random() < 0.5 and _dumpable(row):
        return orjson.dumps(row)
    return json.dumps(row, ensure_ascii=rnd.random() < 0.5).encode()


def _odd_lines(rnd: random.Random) -> list[bytes]:
    return [
        b"",
        b"   ",
        b"\t",
        b"{broken",
        b"[1, 2]",
        b"null",
        b'"text"',
        b"42",
        b'{"a":1}{"b":2}',
        b'{"a": "\xff"}',
        b"{}",
        b'{"nested": {"deep": [1, 2, {"x": null}]}}',
        b" " * rnd.randrange(3) + b'{"a": 1}' + b" " * rnd.randrange(3),
    ]


def _body(rnd: random.Random, lines: list[bytes], odd_rate: float) -> bytes:
    out: list[bytes] = []
    for line in lines:
        if rnd.random() < odd_rate:
            out.append(rnd.choice(_odd_lines(rnd)))
        out.append(line)
    newline = b"\r\n" if rnd.random() < 0.3 else b"\n"
    body = newline.join(out)
    return body + newline if rnd.random() < 0.7 else body


# --- references ------------------------------------------------------------------------------------


def reference_parse_and_check(body: bytes, ds: DataSource, max_line_bytes: int) -> CheckedBatch:
    """The specification: every line on its own, checked by the row-by-row validator."""
    validate = compile_validator(ds)
    accepted: list[bytes] = []
    rejected: list[Rejected] = []
    for line in iter_lines(body):
        if len(line) > max_line_bytes:
            rejected.append(
                Rejected(line[:1024], "", f"line too long: {len(line)} bytes, the limit is {max_line_bytes}")
            )
            continue
        try:
            obj = orjson.loads(line)
        except orjson.JSONDecodeError as e:
            rejected.append(Rejected(line, "", f"invalid JSON: {e}"))
            continue
        if obj.__class__ is not dict:
            rejected.append(Rejected(line, "", "the line is not a JSON object"))
            continue
        fault = validate(obj)
        if fault is None:
            accepted.append(line)
        else:
            rejected.append(Rejected(line, *fault))
    return CheckedBatch(AcceptedRows(accepted), rejected)


CASES = [
    (ds, valid, faults, fault_rate, odd_rate, seed)
    for ds, valid, faults in [(FLIGHTS, _valid_flight, FLIGHT_FAULTS), (WIDE, _valid_wide, WIDE_FAULTS)]
    for fault_rate, odd_rate in [(0.0, 0.0), (0.0005, 0.0), (0.01, 0.001), (0.2, 0.02), (1.0, 0.1)]
    for seed in range(3)
]


@pytest.mark.parametrize(("ds", "valid", "faults", "fault_rate", "odd_rate", "seed"), CASES)
def test_parse_and_check_matches_the_reference(
    ds: DataSource,
    valid: Callable[[random.Random, int], Row],
    faults: list[tuple[tuple[str, ...], object]],
    fault_rate: float,
    odd_rate: float,
    seed: int,
) -> None:
    # Given a body of generated rows, some faulty, some lines not rows at all
    rnd = random.Random(f"{ds.name}-{fault_rate}-{odd_rate}-{seed}")
    lines = [_line(rnd, row) for row in _rows(rnd, valid, faults, 1500, fault_rate)]
    body = _body(rnd, lines, odd_rate)
    # Now and then a limit that about one line in a hundred exceeds.
    max_line_bytes = rnd.choice([10_000, sorted(map(len, lines))[-15]])
    # When it goes through the fast path and through the reference
    fast = parse_and_check(body, compile_validator(ds), max_line_bytes)
    slow = reference_parse_and_check(body, ds, max_line_bytes)
    # Then both accept the same lines and quarantine the same lines, for the same reasons, in order
    assert fast.accepted == slow.accepted
    assert fast.rejected == slow.rejected


@pytest.mark.parametrize(("ds", "valid", "faults", "fault_rate", "odd_rate", "seed"), CASES[::3])
def test_check_matches_the_reference(
    ds: DataSource,
    valid: Callable[[random.Random, int], Row],
    faults: list[tuple[tuple[str, ...], object]],
    fault_rate: float,
    odd_rate: float,
    seed: int,
) -> None:
    rnd = random.Random(f"check-{ds.name}-{fault_rate}-{seed}")
    body = _body(rnd, [_line(rnd, row) for row in _rows(rnd, valid, faults, 1500, fault_rate)], odd_rate)
    batch = parse(body, 10_000)
    validate = compile_validator(ds)
    expected = CheckedBatch(AcceptedRows(), list(batch.rejected))
    for obj, line in zip(batch.objects, batch.lines, strict=True):
        fault = validate(obj)
        if fault is None:
            expected.accepted.append(line)
        else:
            expected.rejected.append(Rejected(line, *fault))
    assert check(batch, validate) == expected


def test_every_fault_alone_in_a_clean_chunk() -> None:
    # One faulty row among 200 valid ones, for each fault: the chunk around it must fall back exactly.
    for ds, valid, faults in [(FLIGHTS, _valid_flight, FLIGHT_FAULTS), (WIDE, _valid_wide, WIDE_FAULTS)]:
        validate = compile_validator(ds)
        for n, (path, value) in enumerate(faults):
            rnd = random.Random(n)
            rows = [valid(rnd, i) for i in range(200)]
            _set(rows[rnd.randrange(200)], path, value)
            body = b"\n".join(json.dumps(r).encode() for r in rows)
            assert parse_and_check(body, validate, 10_000) == reference_parse_and_check(body, ds, 10_000), (
                path,
                value,
            )


def _dumpable(row: Row) -> bool:
    try:
        orjson.dumps(row)
    except orjson.JSONEncodeError:
        return False
    return True


@pytest.mark.parametrize("intermediate", ["eu", ["eu"], None, 5, {}, {"region": None}])
def test_a_nested_column_under_something_that_is_no_object(intermediate: object) -> None:
    ds = DataSource(
        "t", (Column("region", "String", "$.geo.region"), Column("n", "Nullable(Int8)", "$.a.b.n"))
    )
    rows = [{"geo": {"region": "x"}, "a": {"b": {"n": 1}}} for _ in range(50)]
    rows[20]["geo"] = intermediate
    body = b"\n".join(map(orjson.dumps, rows))
    assert parse_and_check(body, compile_validator(ds), 1000) == reference_parse_and_check(body, ds, 1000)
    assert not compile_validator(ds).all_fit(rows)
    rows[20]["geo"] = {"region": "y"}
    for other in ("x", [1], None, 5, {}, {"b": 3}, {"b": {"n": 300}}):
        rows[30]["a"] = other
        body = b"\n".join(map(orjson.dumps, rows))
        assert parse_and_check(body, compile_validator(ds), 1000) == reference_parse_and_check(body, ds, 1000)


def test_the_fast_path_vouches_for_clean_chunks() -> None:
    # Not a correctness property but the point of the fast path: clean, uniform rows never need the
    # row-by-row validator (if they did, ingest would be several times slower without failing a test).
    for ds, valid in [(FLIGHTS, _valid_flight), (WIDE, _valid_wide)]:
        rnd = random.Random(7)
        rows = [valid(rnd, i) for i in range(256)]
        validator = compile_validator(ds)
        assert validator.all_fit(rows)
        assert validator.all_lines_fit([orjson.dumps(r) for r in rows])


def test_all_fit_never_vouches_for_a_row_the_reference_refuses() -> None:
    # Python values orjson would never produce (ints beyond 64 bits) still get a safe answer.
    validate = compile_validator(FLIGHTS)
    rnd = random.Random(3)
    for value in (2**64, -(2**64) - 1, 2**200):
        rows = [_valid_flight(rnd, i) for i in range(10)]
        rows[4]["age"] = value
        assert not validate.all_fit(rows)
        rows = [_valid_flight(rnd, i) for i in range(10)]
        rows[4]["priority_boarding"] = value
        assert not validate.all_fit(rows)
    rows = [_valid_flight(rnd, i) for i in range(10)]
    rows[2]["timestamp"] = "2022-10-27T11:00:00.000\ud800"
    assert not validate.all_fit(rows)
    assert not validate.all_fit([[1], "x", None, 5])
    assert validate.all_fit([]) and validate.all_lines_fit([])
    assert not compile_validator(DataSource("t", (Column("s", "Nullable(String)", "$.s"),))).all_fit(
        [{}, [1]]
    )


# --- bulk checks against scalar checks ----------------------------------------------------------------


def _values(rnd: random.Random, base: str) -> list[object]:
    pool: list[object] = [
        None,
        True,
        False,
        0,
        1,
        -1,
        2,
        1.0,
        0.5,
        "",
        "x",
        "1",
        [1],
        {"a": 1},
        2**63,
        2**64 - 1,
    ]
    if base in INT_RANGES:
        lo, hi = INT_RANGES[base]
        pool += [lo, hi, lo - 1, hi + 1, rnd.randint(lo, hi)]
    if base in ("Date", "Date32", "DateTime", "DateTime64"):
        pool += [*ODD_TIMES, _stamp(rnd), _stamp(rnd)[:10], _stamp(rnd, 0, " ", ""), 1_586_045_242, 15.5]
        pool += [
            _stamp(rnd, 6, "T", "+05:30"),
            _stamp(rnd, 9, " ", "-0800"),
            "1969-12-31",
            "2106-02-07 06:28:16",
        ]
        pool += ["1900-01-01", "2299-12-31", "2149-06-07", "0000-01-01", -1, 2**32, 10**12, -(10**10)]
    return pool


@pytest.mark.parametrize("base", SCALARS)
def test_bulk_checks_imply_the_scalar_check(base: str) -> None:
    rnd = random.Random(base)
    bulk, scalar = bulk_check(base), scalar_check(base)
    for _ in range(3000):
        pool = _values(rnd, base)
        good = [v for v in pool if scalar(v)]
        # Mostly good columns, so that the bulk check gets past its first tests, with now and then a bad value.
        values = [rnd.choice(good) for _ in range(rnd.randrange(1, 20))]
        if rnd.random() < 0.5:
            values[rnd.randrange(len(values))] = rnd.choice(pool)
        if bulk(values):
            assert all(scalar(v) for v in values), values


@pytest.mark.parametrize(
    ("base", "values"),
    [
        ("Int64", [1, 2**63 - 1, -(2**63), 0]),
        ("UInt64", [0, 2**64 - 1]),
        ("Int8", [-128, 127]),
        ("Bool", [True, False]),
        ("Bool", [True, 0, 1]),
        ("Float32", [1.5, 2]),
        ("String", ["a", 1, [None], ""]),
        ("Date", ["2022-01-31", "1999-12-01"]),
        ("DateTime", ["2022-01-31 23:59:59", "1999-12-01 00:00:00"]),
        ("DateTime", [1_586_045_242, 1.5]),
        ("DateTime64", ["2022-10-27T11:00:00.000Z", "2022-10-27T23:59:59.999Z"]),
        ("DateTime64", ["2022-10-27T11:00:00.123456+02:00"]),
        ("DateTime64", []),
    ],
)
def test_bulk_checks_vouch_for_typical_columns(base: str, values: list[object]) -> None:
    assert bulk_check(base)(values)


@pytest.mark.parametrize(
    "template",
    [
        "2022-01-01T00:00:00.00\u0663Z",
        "\u0662\u0660\u0662\u0662-01-01T00:00:00.000Z",
        "2022-\u0661\u0662-01 00:00:00",
        "2022-01-01T00:00:00.000\u00e9",
    ],
)
def test_bulk_time_check_with_other_characters(template: str) -> None:
    # Other scripts' digits are \d too: the bulk check must never disagree with the regex about them.
    rnd = random.Random(template)
    values: list[object] = [
        "".join(str(rnd.randrange(10)) if c == "0" and rnd.random() < 0.5 else c for c in template)
        for _ in range(50)
    ]
    if bulk_check("DateTime64")(values):
        assert all(scalar_check("DateTime64")(v) for v in values)


@pytest.mark.parametrize(
    "values",
    [
        ["2022-10-27T11:00:00.000Z", "2022-10-27T11:00:00.00Z"],  # two widths: left to the regex
        ["2022-10-27T11:00:00.000Z\n2022-10-27T11:00:00.000Z", "x"],
        ["2022-1\n-27T11:00:00.000Z", "2022-10-27T11:00:00.000Z"],
    ],
)
def test_bulk_time_check_refuses_what_it_cannot_prove(values: list[object]) -> None:
    assert not bulk_check("DateTime64")(values)


# --- lines and records --------------------------------------------------------------------------------


def _old_frame_cuts(rows: list[bytes]) -> list[int]:
    """The greedy loop frame_rows used to run: how many rows go in each record."""
    limit = MAX_RECORD_BYTES - 1024
    counts: list[int] = []
    count = size = 0
    for row in rows:
        n = len(row) + 1
        if size + n > limit:
            counts.append(count)
            count = size = 0
        count += 1
        size += n
    return [*counts, count] if count else counts


@pytest.mark.parametrize("seed", range(6))
def test_frame_rows_packs_as_the_greedy_loop(seed: int) -> None:
    rnd = random.Random(seed)
    sizes = rnd.choice([[400] * 6000, [rnd.choice([1, 50, 5000, 300_000]) for _ in range(300)]])
    rows = [b"x" * n for n in sizes]
    header = RecordHeader("ds", "ws", False, "rid", 0, 1)
    records = frame_rows(header, rows)
    assert [r.rows for r in records] == _old_frame_cuts(rows)
    assert [row for rec in decode_records(b"".join(r.data for r in records)) for row in rec.rows] == rows
    assert list(accumulate(r.rows for r in records))[-1] == len(rows)


@pytest.mark.parametrize(("sizes", "counts"), [((1022975, 0), [1, 1]), ((1022974, 0), [2]), ((1022976,), [])])
def test_frame_rows_cuts_at_the_exact_byte(sizes: tuple[int, ...], counts: list[int]) -> None:
    # MAX_RECORD_BYTES less the header room is 1,022,976 bytes for rows and their newlines.
    rows = [b"x" * n for n in sizes]
    header = RecordHeader("ds", "ws", False, "rid", 0, 1)
    if counts:
        assert [r.rows for r in frame_rows(header, rows)] == counts == _old_frame_cuts(rows)
    else:
        with pytest.raises(FramingError):
            frame_rows(header, rows)


def test_frame_rows_refuses_the_first_row_too_long() -> None:
    header = RecordHeader("ds", "ws", False, "rid", 0, 1)
    with pytest.raises(FramingError, match="a row of 1023000 bytes"):
        frame_rows(header, [b"a", b"x" * 1_023_000, b"y" * 2_000_000])


@pytest.mark.parametrize(
    "body",
    [
        b"",
        b"\n",
        b"a\r\n\r\nb\r",
        b"a\r\r\nb",
        b"\r",
        b"a\nb\n\n\n",
        b" \n\t\nx",
        b"a\rb\r\nc",
    ],
)
def test_lines_of_the_fast_path_are_the_reference_lines(body: bytes) -> None:
    ds = DataSource("t", (Column("s", "String", "$.s"),))
    assert parse_and_check(body, compile_validator(ds), 100) == reference_parse_and_check(body, ds, 100)
