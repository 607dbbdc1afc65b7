"""The compiled block check (lakegate.ingest.blocks) against the reference: it may only vouch for a block whose
every line orjson parses into an object that the row-by-row validator accepts.

The dangerous cases are where msgspec and orjson read JSON differently (found by probing both): values
msgspec skips without the checks orjson makes, huge numbers, depth, several values on one line or one
value over several lines. Each is planted in a block of valid rows; then random byte edits of valid
lines hunt for any other difference.
"""

from __future__ import annotations

import json
import random

import orjson
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lakegate.ingest.blocks import compile_block_check, vouch
from lakegate.ingest.rows import compile_validator, parse_and_check
from lakegate.schema import Column, DataSource, format_jsonpath

DS = DataSource(
    "t",
    (
        Column("at", "DateTime64(3)", "$.at"),
        Column("day", "Nullable(Date)", "$.day"),
        Column("epoch", "DateTime", "$.epoch"),
        Column("name", "String", "$.name"),
        Column("note", "Nullable(String)", "$.note"),
        Column("i8", "Int8", "$.i8"),
        Column("u64", "UInt64", "$.u64"),
        Column("n", "Nullable(Int64)", "$.n"),
        Column("f", "Float64", "$.f"),
        Column("flag", "Bool", "$.flag"),
        Column("tags", "Array(String)", "$.tags[:]"),
        Column("times", "Array(DateTime)", "$.times[:]"),
        Column("score", "Int32", "$.score", default="0"),
        Column("odd", "Nullable(String)", "$.['odd key']"),
    ),
)


def _valid(rnd: random.Random, i: int, epoch: object) -> dict[str, object]:
    row: dict[str, object] = {
        "at": f"2024-02-{1 + i % 28:02d}T10:{i % 60:02d}:00.{i % 1000:03d}Z",
        "epoch": epoch,
        "name": f"n{i}",
        "i8": rnd.randint(-128, 127),
        "u64": rnd.choice([0, 2**64 - 1, rnd.randrange(2**64)]),
        "f": rnd.choice([0, 1.5, -2, 1e300]),
        "flag": rnd.choice([True, False, 0, 1]),
        "tags": rnd.choice([[], ["a", None, "b"]]),
    }
    if rnd.random() < 0.5:
        row |= {
            "day": "2024-02-29",
            "note": None,
            "n": -5,
            "times": ["2024-01-01 00:00:00", None],
            "score": 3,
        }
    if rnd.random() < 0.3:
        row["odd key"] = "x"
    return row


def _lines(seed: int, count: int = 60) -> list[bytes]:
    rnd = random.Random(seed)
    # One producer sends date-times one way: a column mixing text and numbers is left to the slow path.
    epoch = [1_700_000_000, 1_700_000_000.5, "2024-01-01 00:00:00"][seed % 3]
    return [orjson.dumps(_valid(rnd, i, epoch)) for i in range(count)]


def _reference_accepts(line: bytes, ds: DataSource = DS) -> bool:
    try:
        obj = orjson.loads(line)
    except orjson.JSONDecodeError:
        return False
    return obj.__class__ is dict and compile_validator(ds)(obj) is None


VALID = b'{"at":"2024-02-01T10:00:00.000Z","epoch":1,"name":"x","i8":1,"u64":1,"f":1,"flag":true,"tags":[]}'


def _with(field: bytes) -> bytes:
    return VALID[:-1] + b"," + field + b"}"


# Lines the reference refuses that msgspec, differently configured, would take (or may take).
ADVERSARIAL = [
    _with(b'"extra":"\xff"'),  # invalid UTF-8 in a key msgspec would skip
    _with(b'"extra":"\xed\xa0\x80"'),  # an encoded surrogate
    _with(b'"extra":1e400'),  # infinity in a skipped value
    _with(b'"extra":' + b"[" * 1100 + b"]" * 1100),  # deeper than orjson goes
    _with(b'"note":"\xc0\xaf"'),  # an overlong encoding in a declared string
    _with(b'"note":"\\ud800"'),  # a lone surrogate escape
    _with(b'"note":"a\x01b"'),  # a raw control character
    _with(b'"epoch":1' + b"0" * 400),  # an integer orjson cannot hold, in a DateTime column
    _with(b'"f":1' + b"0" * 400),
    _with(b'"n":1' + b"0" * 400),
    _with(b'"flag":1' + b"0" * 400),
    _with(b'"times":[1' + b"0" * 400 + b"]"),
    _with(b'"n":1.0'),
    _with(b'"n":true'),
    _with(b'"i8":128'),
    _with(b'"u64":-1'),
    _with(b'"u64":18446744073709551616'),
    _with(b'"flag":2'),
    _with(b'"f":true'),
    _with(b'"day":"2024-02-30x"'),
    _with(b'"day":"2024-13-01"'),
    _with(b'"at":"2024-02-01T10:00:00.000Z","at":null'),  # a duplicate key: orjson keeps the last
    _with(b'"\\u0069\\u0038":300'),  # an escaped key is the same key
    _with(b'"score":null,"score":"x"'),
    VALID.replace(b'"name":"x",', b""),  # a required column missing
    VALID.replace(b'"name":"x"', b'"name":null'),
    VALID + b" " + VALID,  # two values on one line
    VALID + VALID,
    b"\xef\xbb\xbf" + VALID,  # a byte order mark
    b"[" + VALID + b"]",
    VALID[:-1],
    VALID + b"x",
]
# Lines the reference accepts but this path leaves to the others (it must still get them right).
LEFT_TO_OTHERS = [
    _with(b'"name":5').replace(b'"name":"x",', b""),  # String takes any non-null value
    _with(b'"note":{"deep":[1]}'),
    _with(b'"unknown":1'),  # a key no column reads
    b" " + VALID,
    VALID + b"\t",
]


@pytest.mark.parametrize("line", ADVERSARIAL + LEFT_TO_OTHERS)
def test_a_planted_line_is_judged_as_the_reference_judges_it(line: bytes) -> None:
    blocks = compile_block_check(DS)
    assert blocks is not None
    lines = _lines(1)
    for at in (0, 30, 59):
        planted = [*lines[:at], line, *lines[at + 1 :]]
        block = b"\n".join([*planted, b""])
        # The block check never vouches for it...
        assert blocks.rows_if_all_fit(block) == 0
        # ...and the whole path ends where the reference does.
        checked = parse_and_check(block, compile_validator(DS), 1_000_000)
        assert list(checked.accepted) == [x for x in planted if _reference_accepts(x)]
        assert [r.line for r in checked.rejected] == [x for x in planted if not _reference_accepts(x)]


def test_the_adversarial_lines_are_refused_by_the_reference() -> None:
    assert not any(map(_reference_accepts, ADVERSARIAL))
    assert all(map(_reference_accepts, LEFT_TO_OTHERS))


@pytest.mark.parametrize(
    "split",
    [
        # One value over two lines plus two values on one line: as many values as lines, all objects.
        [b'{"a":"}', b'{"}', VALID + VALID],
        [VALID[:20], VALID[20:], VALID + b" " + VALID],
        [VALID, b"", VALID],
        [VALID, b"  ", VALID + VALID],
        [VALID + b"\r", VALID],
    ],
)
def test_lines_that_are_not_one_value_each_are_never_vouched_for(split: list[bytes]) -> None:
    blocks = compile_block_check(DS)
    assert blocks is not None
    assert blocks.rows_if_all_fit(b"\n".join([*split, b""])) == 0


def test_clean_blocks_are_vouched_for_whole() -> None:
    # Not a safety property but the point of the path: clean rows never need the slower checkers.
    blocks = compile_block_check(DS)
    assert blocks is not None
    for seed in range(5):
        lines = _lines(seed, 200)
        assert blocks.rows_if_all_fit(b"\n".join([*lines, b""])) == 200


@pytest.mark.parametrize("nested", [False, True])
def test_random_edits_never_make_it_vouch_for_a_line_the_reference_refuses(nested: bool) -> None:
    ds = NESTED if nested else DS
    blocks = compile_block_check(ds)
    assert blocks is not None
    rnd = random.Random(2024)
    alphabet = b'{}[]":,\\ \n\t\r0123456789.eE+-tfnulrsax\x00\x7f\xc3\xa9\xff'
    vouched = 0
    for trial in range(3000):
        lines = [orjson.dumps(_nested(trial + i)) for i in range(8)] if nested else _lines(trial % 7, 8)
        i = rnd.randrange(len(lines))
        line = bytearray(lines[i])
        for _ in range(rnd.randint(1, 3)):
            pos = rnd.randrange(len(line) + 1)
            op = rnd.random()
            if op < 0.4 and pos < len(line):
                line[pos] = rnd.choice(alphabet)
            elif op < 0.7:
                line[pos:pos] = bytes([rnd.choice(alphabet)])
            else:
                del line[pos : pos + rnd.randint(1, 4)]
        lines[i] = bytes(line)
        rows = blocks.rows_if_all_fit(b"\n".join([*lines, b""]))
        if rows:
            vouched += 1
            assert b"\n" not in lines[i] and _reference_accepts(lines[i], ds), lines[i]
            assert rows == len(lines)
    assert vouched  # some edits keep a valid row (a digit for a digit): the check is exercised


NESTED = DataSource(
    "nested",
    (
        Column("id", "Int64", "$.id"),
        Column("geo_region", "String", "$.geo.region"),
        Column("geo_at", "DateTime", "$.geo.at"),
        Column("geo_pos_lat", "Nullable(Float64)", "$.geo.pos.lat"),
        Column("meta_tags", "Array(String)", "$.meta.tags[:]"),
        Column("meta_when", "Nullable(Date)", "$.meta.when"),
        Column("meta_deep_n", "Nullable(UInt64)", "$.meta.deep.n"),
    ),
)


def _nested(i: int) -> dict[str, object]:
    row: dict[str, object] = {"id": i, "geo": {"region": f"r{i % 5}", "at": "2024-01-02 03:04:05"}}
    if i % 2:
        row["geo"] = {**row["geo"], "pos": {"lat": i / 7}}  # type: ignore[dict-item]
    if i % 3:
        row["meta"] = {"tags": ["a", None], "when": "2024-02-29", "deep": {"n": 2**64 - 1}}
    elif i % 6 == 3:
        row["meta"] = None  # no object: nothing below it is there, and all of it is optional
    return row


NESTED_PLANTED = [
    {"id": 1, "geo": {"region": "x", "at": "2024-01-02 03:04:05", "pos": None}},  # fits
    {"id": 1, "geo": {"region": "x", "at": "2024-01-02 03:04:05"}, "meta": {}},  # fits
    {"id": 1, "geo": {"region": "x", "at": "2024-01-02 03:04:05", "pos": 5}},  # fits: lat is missing
    {"id": 1, "geo": {"region": "x", "at": "2024-01-02 03:04:05"}, "meta": "x"},  # fits: all missing
    {"id": 1, "geo": {"region": "x"}},  # a required nested value missing
    {"id": 1, "geo": None},
    {"id": 1, "geo": ["x"]},
    {"id": 1},
    {"id": 1, "geo": {"region": "x", "at": "2024-13-02 03:04:05"}},
    {"id": 1, "geo": {"region": "x", "at": "2024-01-02 03:04:05"}, "meta": {"when": "2024-02-30"}},
    {"id": 1, "geo": {"region": "x", "at": "2024-01-02 03:04:05"}, "meta": {"deep": {"n": 2**64}}},
    {"id": 1, "geo": {"region": "x", "at": "2024-01-02 03:04:05"}, "meta": {"deep": {"n": -1}}},
    {"id": 1, "geo": {"region": "x", "at": "2024-01-02 03:04:05"}, "meta": {"tags": [1]}},
    {"id": 1, "geo": {"region": "x", "at": "2024-01-02 03:04:05", "extra": "\ud800"}},  # an unknown key
]


@pytest.mark.parametrize("planted", NESTED_PLANTED)
def test_nested_objects_are_judged_as_the_reference_judges_them(planted: dict[str, object]) -> None:
    lines = [orjson.dumps(_nested(i)) for i in range(120)]
    blocks = compile_block_check(NESTED)
    assert blocks is not None
    assert blocks.rows_if_all_fit(b"\n".join([*lines, b""])) == 120  # clean nested rows are vouched for
    lines[77] = line = json.dumps(planted).encode()  # json: ints beyond 64 bits, lone surrogates escaped
    body = b"\n".join([*lines, b""])
    if not _reference_accepts(line, NESTED):
        assert blocks.rows_if_all_fit(body) == 0
    checked = parse_and_check(body, compile_validator(NESTED), 1_000_000)
    assert list(checked.accepted) == [x for x in lines if _reference_accepts(x, NESTED)]
    assert [r.line for r in checked.rejected] == [x for x in lines if not _reference_accepts(x, NESTED)]


@pytest.mark.parametrize(
    "columns",
    [
        (Column("a", "String", "$.a"), Column("b", "Int64", "$.a")),  # two columns read one key
        (Column("a", "String", "$.a"), Column("b", "Int64", "$.a.b")),  # a value and an object
        (Column("a", "Int64", "$.a.b"), Column("b", "String", "$.a")),
        (),
    ],
)
def test_schemas_it_does_not_handle_are_left_to_rows(columns: tuple[Column, ...]) -> None:
    assert compile_block_check(DataSource("t", columns)) is None


@pytest.mark.parametrize("key", ["a\\b", 'a"b', "a\x11b", "\x00"])
def test_a_key_msgspec_cannot_name_leaves_the_schema_to_the_slower_paths(key: str) -> None:
    """Found by the route fuzz: such a nested key made every request to its data source a 500."""
    ds = DataSource(
        "k", (Column("a", "String", "$.a"), Column("b", "Nullable(String)", format_jsonpath(["o", key])))
    )

    assert compile_block_check(ds) is None
    row = orjson.dumps({"a": "x", "o": {key: "y"}})
    checked = parse_and_check(row, compile_validator(ds), 1_000_000)
    assert list(checked.accepted) == [row] and checked.rejected == []


# --- a block with bad lines: the fast path finds them and keeps the rest, with the reference's verdicts ----


def _reference(
    body: bytes, ds: DataSource, max_line_bytes: int
) -> tuple[list[bytes], list[tuple[bytes, str, str]]]:
    from lakegate.ingest.rows import AcceptedRows, CheckedBatch, _parse_and_check_each, _split_lines

    checked = CheckedBatch(AcceptedRows(), [])
    _parse_and_check_each(_split_lines(body), compile_validator(ds), max_line_bytes, checked)
    return list(checked.accepted), [(r.line, r.column, r.error) for r in checked.rejected]


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**16),
    rate=st.sampled_from([0.0, 0.01, 0.1, 0.5, 1.0]),
    span=st.sampled_from([1024, 4096, 1_000_000]),
    ending=st.sampled_from([b"\n", b""]),
)
def test_blocks_with_bad_lines_agree_with_the_reference(
    seed: int, rate: float, span: int, ending: bytes
) -> None:
    # Given valid rows with bad ones (every kind above, and random edits) planted at a rate, over many blocks
    rnd = random.Random(seed)
    lines = _planted(rnd, _lines(seed % 7, 300), rate, ADVERSARIAL + LEFT_TO_OTHERS, keep_braces=False)
    body = b"\n".join(lines) + ending

    # When the fast path checks it (blocks of `span` bytes at most)
    checked = parse_and_check(body, compile_validator(DS), span)

    # Then it accepts and quarantines exactly the reference's rows, in order, with the same errors
    accepted, rejected = _reference(body, DS, span)
    assert list(checked.accepted) == accepted
    assert [(r.line, r.column, r.error) for r in checked.rejected] == rejected


def _planted(
    rnd: random.Random, lines: list[bytes], rate: float, bad: list[bytes], *, keep_braces: bool
) -> list[bytes]:
    """`lines` with bad ones planted at `rate`: one of `bad`, or a line with one byte edited (never its
    first or last with `keep_braces`, so that it still reads as one `{...}` value)."""
    for i in range(len(lines)):
        if rnd.random() < rate:
            if rnd.random() < 0.7:
                lines[i] = rnd.choice(bad)
            else:
                edited = bytearray(lines[i])
                at = rnd.randrange(1, len(edited) - 1) if keep_braces else rnd.randrange(len(edited))
                edited[at] = rnd.choice(b'{}":,0x\xff')
                lines[i] = bytes(edited)
    return lines


STRUCTURED = [x for x in ADVERSARIAL + LEFT_TO_OTHERS if x[:1] == b"{" and x[-1:] == b"}" and b"\n" not in x]


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    seed=st.integers(0, 2**16),
    rate=st.sampled_from([0.0, 0.01, 0.1, 0.5, 1.0]),
    unit=st.sampled_from([0, 1, 700, 2048, 8192]),
)
def test_vouch_hands_on_only_the_lines_it_cannot_vouch_for_one_by_one(
    seed: int, rate: float, unit: int
) -> None:
    # Given a block of valid rows with bad ones planted at a rate, each line still one `{...}` value
    rnd = random.Random(seed)
    lines = _planted(rnd, _lines(seed % 7, 120), rate, STRUCTURED, keep_braces=True)
    body = b"\n".join([*lines, b""])
    blocks = compile_block_check(DS)
    assert blocks is not None

    # When the block check walks it, msgspec decoding it in units of `unit` bytes
    calls: list[tuple[bool, bytes, int]] = []
    vouch(
        blocks,
        body,
        0,
        len(body),
        lambda run, rows: calls.append((True, bytes(run), rows)),
        lambda a, b: calls.append((False, body[a:b], 1)),
    )

    # Then what it accepts and what it hands on tile the block in order, each run with its row count
    assert b"".join(chunk for _, chunk, _ in calls) == body
    assert all(chunk.count(b"\n") == rows for _, chunk, rows in calls)
    # ...it accepts only lines the reference accepts, hands on each other line by itself (a bad line never
    # takes its neighbours to the slow path), and accepts a clean block whole
    for accepted, chunk, _ in calls:
        assert all(map(_reference_accepts, chunk.split(b"\n")[:-1])) if accepted else chunk.count(b"\n") == 1
    if rate == 0.0:
        assert calls == [(True, body, len(lines))]
