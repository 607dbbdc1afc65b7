"""The Events API use case on in-memory fakes: scopes, inference, quarantine, delivery outcomes."""

from __future__ import annotations

from dataclasses import replace

import orjson
import pytest

from lakegate.config import Limits
from lakegate.errors import Forbidden, InvalidRequest, PartiallyInserted, Unavailable
from lakegate.framing import CLAIMED_REFS, DecodedRecord, RecordHeader, decode_bodies, decode_records
from lakegate.ingest.auth import ADMIN, APPEND, CREATE, Token
from lakegate.ingest.delivery import Delivery
from lakegate.ingest.events import Ingestor, IngestResult
from lakegate.ingest.registry import CachedRegistry
from lakegate.memory import MemoryRefStore, MemoryRegistry, MemorySink
from lakegate.schema import ID_RE, Column, DataSource

from ..fakes import FakeClock, FakeSleep, make_token

WS = "ws1"
NAME = "events_test"
NOW = 1_700_000_000.5
NOW_MS = 1_700_000_000_500
CHICAGO = b'{"date": "2020-04-05 00:05:38", "city": "Chicago"}'
MADRID = b'{"date": "2020-04-05 00:07:22", "city": "Madrid"}'
SEED = CHICAGO + b"\n" + MADRID + b"\n"
SEED_SCHEMA = DataSource(NAME, (Column("date", "DateTime", "$.date"), Column("city", "String", "$.city")))
NO_ROWS = "The request body has no rows: send one JSON object per line (NDJSON)"


class LostRaceRegistry(MemoryRegistry):
    """A registry where another creator's write lands between this request's read and its create."""

    def __init__(self, winner: DataSource) -> None:
        super().__init__()
        self.items[(WS, winner.name)] = winner

    def get(self, workspace: str, name: str) -> DataSource | None:
        return None


class Harness:
    """An Ingestor wired to fakes, and the handles a test inspects."""

    def __init__(self, registry: MemoryRegistry | None = None, budget: float = 8.0) -> None:
        self.registry = registry if registry is not None else MemoryRegistry()
        self.sink = MemorySink()
        self.refs = MemoryRefStore()
        self.clock = FakeClock(NOW)
        self.sleep = FakeSleep(self.clock)
        self.ingestor = Ingestor(
            self.registry, self.sink, self.refs, Limits(send_budget_seconds=budget), self.clock, self.sleep
        )

    def ingest(self, token: Token, body: bytes, name: str = NAME) -> IngestResult:
        return self.ingestor.ingest(token, name, body, "req-1")

    def sent(self) -> list[DecodedRecord]:
        return list(decode_records(b"".join(self.sink.records)))


def without_id(ds: DataSource | None) -> DataSource | None:
    """A created data source with its id set aside (random, checked by its own test)."""
    assert ds is not None and ID_RE.fullmatch(ds.id), ds
    return replace(ds, id="")


def _existing(schema: DataSource = SEED_SCHEMA, budget: float = 8.0) -> Harness:
    h = Harness(budget=budget)
    h.registry.create(WS, schema)
    return h


@pytest.fixture
def no_jitter(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr("lakegate.ingest.delivery.random.uniform", lambda low, high: high)


# --- creating a data source -----------------------------------------------------------------------


@pytest.mark.parametrize("scope", [CREATE, ADMIN])
def test_new_data_source_is_inferred_stored_and_filled(scope: str) -> None:
    # Given no data source and a token that may create one
    h = Harness()
    # When the guide's two rows are sent
    result = h.ingest(make_token(scope), SEED)
    # Then the schema is inferred and stored, and both rows are sent as they came
    assert result == IngestResult(2, 0, 0, True, Delivery(2, 0, 1))
    assert without_id(h.registry.get(WS, NAME)) == SEED_SCHEMA
    assert h.sent() == [DecodedRecord(RecordHeader(NAME, WS, False, "req-1", NOW_MS, 1), [CHICAGO, MADRID])]


def test_new_data_source_through_the_cache_is_reported_created() -> None:
    # The cache returns what the registry stored: the request still knows it created the source.
    store, clock = MemoryRegistry(), FakeClock(NOW)
    ingestor = Ingestor(
        CachedRegistry(store, 60.0, clock), MemorySink(), MemoryRefStore(), Limits(), clock, FakeSleep(clock)
    )
    result = ingestor.ingest(make_token(CREATE), NAME, SEED, "req-1")
    assert result.created is True
    assert {k: without_id(v) for k, v in store.items.items()} == {(WS, NAME): SEED_SCHEMA}


def test_second_request_appends_to_the_created_data_source() -> None:
    h = Harness()
    h.ingest(make_token(CREATE), CHICAGO)
    result = h.ingest(make_token(APPEND), MADRID)
    assert result == IngestResult(1, 0, 0, False, Delivery(1, 0, 1))


@pytest.mark.parametrize("scopes", [(APPEND,), (f"{APPEND}:{NAME}",), ()])
def test_new_data_source_without_create_scope_is_forbidden(scopes: tuple[str, ...]) -> None:
    h = Harness()
    with pytest.raises(Forbidden) as info:
        h.ingest(make_token(*scopes), SEED)
    assert info.value.message == (
        "The Data Source 'events_test' does not exist and the token lacks the DATASOURCE:CREATE scope "
        "needed to create it"
    )
    assert h.registry.items == {}
    assert h.sink.calls == 0


def test_new_data_source_rows_that_do_not_fit_the_inferred_schema_are_quarantined() -> None:
    # Given rows whose later lines are not objects
    h = Harness()
    body = CHICAGO + b"\n[1]\n{oops\n"
    # When creating from them
    result = h.ingest(make_token(CREATE), body)
    # Then the schema comes from the objects and the other lines are quarantined
    assert (result.successful_rows, result.quarantined_rows, result.created) == (1, 2, True)
    assert without_id(h.registry.get(WS, NAME)) == SEED_SCHEMA


@pytest.mark.parametrize("body", [b"", b"\n", b"\r\n  \n\t\n"])
def test_new_data_source_empty_body_is_invalid_request(body: bytes) -> None:
    h = Harness()
    with pytest.raises(InvalidRequest) as info:
        h.ingest(make_token(CREATE), body)
    assert info.value.message == NO_ROWS
    assert h.registry.items == {}


def test_new_data_source_body_with_only_invalid_lines_is_invalid_request() -> None:
    h = Harness()
    with pytest.raises(InvalidRequest) as info:
        h.ingest(make_token(CREATE), b'[1, 2]\n"text"\n{broken\n')
    assert info.value.message == (
        "Cannot create Data Source 'events_test': no line of the body is a JSON object to infer a schema from"
    )
    assert h.registry.items == {}
    assert h.sink.calls == 0


def test_new_data_source_lost_race_validates_against_the_winner() -> None:
    # Given another request created the data source, with `city` as Int64, between our read and our create
    winner = DataSource(NAME, (Column("city", "Int64", "$.city"),), version=4)
    h = Harness(LostRaceRegistry(winner))
    # When rows inferred with `city` as String are sent
    result = h.ingest(make_token(CREATE), b'{"city": "Chicago"}\n{"city": 7}\n')
    # Then the winner's schema stands and decides which rows fit
    assert h.registry.items == {(WS, NAME): winner}
    assert result == IngestResult(1, 1, 0, False, Delivery(2, 0, 1))
    assert h.sent() == [
        DecodedRecord(RecordHeader(NAME, WS, False, "req-1", NOW_MS, 4), [b'{"city": 7}']),
        DecodedRecord(
            RecordHeader(NAME, WS, True, "req-1", NOW_MS, 4),
            [
                b'{"line":"{\\"city\\": \\"Chicago\\"}","column":"city","error":"value \'Chicago\' on column '
                b"'city' is not Int64\"}"
            ],
        ),
    ]


# --- appending ------------------------------------------------------------------------------------


@pytest.mark.parametrize("scope", [APPEND, f"{APPEND}:{NAME}", CREATE, ADMIN])
def test_existing_data_source_accepts_append_scopes(scope: str) -> None:
    h = _existing()
    result = h.ingest(make_token(scope), SEED)
    assert result == IngestResult(2, 0, 0, False, Delivery(2, 0, 1))


@pytest.mark.parametrize("scopes", [(f"{APPEND}:other",), (), ("DATASOURCE:READ:events_test",)])
def test_existing_data_source_without_append_scope_for_it_is_forbidden(scopes: tuple[str, ...]) -> None:
    h = _existing()
    with pytest.raises(Forbidden) as info:
        h.ingest(make_token(*scopes), SEED)
    assert (
        info.value.message == "The token lacks the DATASOURCE:APPEND scope for the Data Source 'events_test'"
    )
    assert h.sink.calls == 0


def test_data_sources_are_per_workspace() -> None:
    # A data source of another workspace does not exist for this token: APPEND alone cannot create it.
    h = _existing()
    with pytest.raises(Forbidden):
        h.ingest(make_token(APPEND, workspace="ws2"), SEED)


@pytest.mark.parametrize("body", [b"", b"\n\n", b" \r\n"])
def test_existing_data_source_empty_body_is_invalid_request(body: bytes) -> None:
    h = _existing()
    with pytest.raises(InvalidRequest) as info:
        h.ingest(make_token(APPEND), body)
    assert info.value.message == NO_ROWS
    assert h.sink.calls == 0


def test_quarantine_is_counted_and_sent_as_quarantine_records() -> None:
    # Given three good rows, one of the wrong type, one missing a column and one that is not JSON
    h = _existing()
    body = b"\n".join(
        [
            CHICAGO,
            b'{"date": "not a date", "city": "Rome"}',
            MADRID,
            b'{"date": "2020-04-05 00:09:00"}',
            b"{not json",
            b'{"date": 1586045400, "city": "Oslo"}',
        ]
    )
    # When appended
    result = h.ingest(make_token(APPEND), body)
    # Then 3 rows are accepted and 3 quarantined, each kind of record with its own header
    assert result == IngestResult(3, 3, 0, False, Delivery(6, 0, 1))
    accepted, quarantined = h.sent()
    assert accepted == DecodedRecord(
        RecordHeader(NAME, WS, False, "req-1", NOW_MS, 1),
        [CHICAGO, MADRID, b'{"date": 1586045400, "city": "Oslo"}'],
    )
    assert quarantined.header == RecordHeader(NAME, WS, True, "req-1", NOW_MS, 1)
    assert [orjson.loads(r) for r in quarantined.rows] == [
        {
            "line": '{"date": "not a date", "city": "Rome"}',
            "column": "date",
            "error": "value 'not a date' on column 'date' is not DateTime",
        },
        {
            "line": '{"date": "2020-04-05 00:09:00"}',
            "column": "city",
            "error": "missing value on column 'city' of type String: the column is not Nullable",
        },
        {
            "line": "{not json",
            "column": "",
            "error": "invalid JSON: unexpected character, expected a string key: line 1 column 2 (char 1)",
        },
    ]


def test_only_quarantined_rows_still_succeed() -> None:
    h = _existing()
    result = h.ingest(make_token(APPEND), b'{"city": "Rome"}\n')
    assert result == IngestResult(0, 1, 0, False, Delivery(1, 0, 1))


def test_records_reaching_the_sink_decode_to_the_original_line_bytes() -> None:
    # Given lines with odd spacing, escapes, non-ASCII text and CRLF endings
    h = _existing()
    lines = [
        b'  {"date":"2020-04-05 00:05:38","city":"Chicago"}',
        b'{ "city" : "M\\u00e1laga" ,"date" : "2020-04-05T00:05:38Z" , "x": 1.50 }',
        '{"date": "2020-04-05 00:05:38", "city": "Málaga 🌞"}'.encode(),
    ]
    # When appended
    h.ingest(make_token(APPEND), b"\r\n".join(lines) + b"\r\n")
    # Then the sink holds exactly those bytes, never re-encoded
    assert [row for rec in h.sent() for row in rec.rows] == lines


def test_large_body_is_framed_into_several_records() -> None:
    h = _existing()
    row = b'{"date": "2020-04-05 00:05:38", "city": "' + b"x" * 957 + b'"}'
    assert len(row) == 1000
    result = h.ingest(make_token(APPEND), b"\n".join([row] * 3_000))
    assert result.successful_rows == 3_000
    assert [rec.header.quarantine for rec in h.sent()] == [False, False, False]
    assert [len(rec.rows) for rec in h.sent()] == [1_021, 1_021, 958]
    assert h.sink.calls == 1


def test_line_of_control_characters_is_quarantined() -> None:
    h = _existing()
    result = h.ingest(make_token(APPEND), CHICAGO + b"\n" + b"\x01" * 300_000 + b"\n")
    assert (result.successful_rows, result.quarantined_rows) == (1, 1)


# --- delivery outcomes ----------------------------------------------------------------------------


@pytest.mark.usefixtures("no_jitter")
def test_refused_records_are_retried_within_the_request() -> None:
    h = _existing()
    h.sink.fail_next = [{0}]
    result = h.ingest(make_token(APPEND), SEED)
    assert result == IngestResult(2, 0, 0, False, Delivery(2, 0, 2))
    assert h.sleep.delays == [0.05]


@pytest.mark.usefixtures("no_jitter")
def test_nothing_delivered_is_unavailable() -> None:
    # Given a sink that refuses everything, for longer than the 1-second budget
    h = _existing(budget=1.0)
    h.sink.fail_next = [{0}] * 100
    # When appending
    with pytest.raises(Unavailable) as info:
        h.ingest(make_token(APPEND), SEED)
    # Then the client is told to retry, after the backoff used up the budget
    assert info.value.message == "The service is temporarily unavailable: no rows were inserted, retry later"
    assert info.value.retry_after == 1
    assert h.sink.calls == 5
    assert h.sleep.delays == [0.05, 0.1, 0.2, 0.4]
    assert h.sink.records == []


@pytest.mark.usefixtures("no_jitter")
def test_part_delivered_without_wait_says_keyed_rows_land_once_on_retry() -> None:
    # Given a data source with a dedup key, and a sink that always refuses the second record
    schema = DataSource(NAME, (Column("ref", "Nullable(String)", "$.ref"),))
    h = _existing(schema, budget=1.0)
    h.sink.fail_next = [{1}] + [{0}] * 100
    # When a good row and a bad one are appended without wait
    with pytest.raises(PartiallyInserted) as info:
        h.ingest(make_token(APPEND), b'{"ref": "a"}\n[]\n')
    # Then the client learns a retry is safe for keyed rows
    assert info.value.message == (
        "Only 1 of 2 rows were inserted: retrying the whole request lands rows with a $.ref value once "
        "(they are deduplicated when they land); rows without one may be duplicated"
    )


@pytest.mark.usefixtures("no_jitter")
def test_part_delivered_is_partially_inserted_with_detail() -> None:
    # Given a sink that always refuses the quarantine record (the second of the call)
    h = _existing(budget=1.0)
    h.sink.fail_next = [{1}] + [{0}] * 100
    # When two good rows and one bad row are appended
    with pytest.raises(PartiallyInserted) as info:
        h.ingest(make_token(APPEND), SEED + b'{"city": 1}\n')
    # Then the client learns what was and was not inserted
    assert info.value.message == (
        "Only 2 of 3 rows were inserted: retrying the whole request may duplicate rows"
    )
    assert info.value.detail == {"inserted_rows": 2, "failed_rows": 1}
    assert [rec.rows for rec in h.sent()] == [[CHICAGO, MADRID]]


# --- the invocation's remaining time ----------------------------------------------------------------


def test_retries_stop_in_time_to_answer_before_the_lambda_times_out() -> None:
    # Given Firehose refuses the record once and only the answer margin of the invocation remains
    h = _existing()
    h.sink.fail_next = [{0}]
    # When the batch is sent, no time is left for a retry
    with pytest.raises(Unavailable):
        h.ingestor.ingest(make_token(ADMIN), NAME, SEED, "req-1", time_left=1.0)
    # Then it gave up at once, without sleeping
    assert h.sleep.delays == []
    assert h.sink.records == []


def test_plenty_of_time_left_keeps_the_configured_budget(no_jitter: None) -> None:
    h = _existing()
    h.sink.fail_next = [{0}, {0}]

    result = h.ingestor.ingest(make_token(ADMIN), NAME, SEED, "req-1", time_left=14.0)

    assert result.successful_rows == 2
    assert h.sleep.delays == [0.05, 0.1]


# --- record ids: what the compactor claims so a record Firehose delivers twice lands once -------------

KEYED = DataSource(NAME, (Column("ref", "String", "$.ref"), Column("city", "String", "$.city")))


def _bodies(h: Harness) -> list[tuple[int, str, bool]]:
    return [
        (b.header.deduplicated, b.record_id, b.header.quarantine)
        for b in decode_bodies(b"".join(h.sink.records))
    ]


@pytest.mark.parametrize(
    ("schema", "wait", "sent"),
    [
        # wait=true on a keyed source: refs claimed by the request (dd=1), every record with an id
        (KEYED, True, [(CLAIMED_REFS, "req-1/0", False), (0, "req-1/q/0", True)]),
        # async rows of a keyed source: the compactor claims their refs and their records
        (KEYED, False, [(0, "req-1/0", False), (0, "req-1/q/0", True)]),
        # unkeyed rows are at least once, as Tinybird's: no record claim to pay for
        (SEED_SCHEMA, False, [(0, "", False), (0, "", True)]),
        (SEED_SCHEMA, True, [(0, "", False), (0, "", True)]),
        # unless the data source opts in
        (replace(SEED_SCHEMA, exactly_once=True), False, [(0, "req-1/0", False), (0, "req-1/q/0", True)]),
    ],
)
def test_records_promised_exactly_once_carry_ids(
    schema: DataSource, wait: bool, sent: list[tuple[int, str, bool]]
) -> None:
    h = _existing(schema)
    body = b'{"ref": "r1", "city": "Rome", "date": "2020-04-05 00:05:38"}\nnot json\n'
    h.ingestor.ingest(make_token(APPEND), NAME, body, "req-1", wait=wait)
    assert _bodies(h) == sent


def test_a_record_sent_again_carries_the_same_id() -> None:
    # Given Firehose refuses the first of two records once (as after a timed-out PutRecordBatch)
    h = _existing(KEYED)
    h.sink.fail_next = [{0}]
    rows = b"".join(b'{"ref": "r%d", "city": "%s"}\n' % (i, b"x" * 3000) for i in range(800))
    h.ingestor.ingest(make_token(APPEND), NAME, rows, "req-1", wait=True)
    # Then the retry sends the same bytes: the record's id is the same on every send
    ids = [b.record_id for b in decode_bodies(b"".join(h.sink.records))]
    assert sorted(ids) == ["req-1/0", "req-1/1", "req-1/2"]
    assert ids[-1] == "req-1/0"
