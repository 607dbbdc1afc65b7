"""The Vayu batch API on in-memory fakes: every validation rule and text, refs, delivery outcomes."""

from __future__ import annotations

from dataclasses import replace
from typing import Any

import orjson
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from lakegate import framing
from lakegate.config import ConfigError, Settings
from lakegate.dedup import MAX_KEY_BYTES
from lakegate.errors import (
    Forbidden,
    InvalidRequest,
    NotFound,
    PartiallyInserted,
    PayloadTooLarge,
    StoreUnavailable,
    Unavailable,
)
from lakegate.framing import CLAIMED_EVENTS, DecodedRecord, decode_bodies, decode_records
from lakegate.ingest.auth import ADMIN, APPEND, CREATE
from lakegate.ingest.rows import compile_validator, parse_and_check
from lakegate.ingest.vayu import (
    DUPLICATE,
    MAX_BODY_BYTES,
    MAX_DEPTH,
    Answer,
    VayuEvents,
    check_batch,
    claim_key,
    datasource,
    event_error,
    incompatibility,
    lookup_key,
    parse_batch,
    to_row,
)
from lakegate.memory import MemoryRefStore, MemoryRegistry, MemorySink
from lakegate.schema import ID_RE, Column, DataSource

from ..fakes import FakeClock, FakeSleep, make_token

WS = "ws1"
TARGET = "events"
NOW = 1_700_000_000.5
SEED_EVENT: dict[str, Any] = {
    "name": "api_call",
    "timestamp": "2023-09-13T18:25:43.511Z",
    "customerAlias": "customer_12345",
    "ref": "4f6cf35x-2c4y-483z-a0a9-158621f77a21",
    "data": {"key1": "processing_duration", "key2": "api_url"},
}
TIMESTAMP_ERROR = (
    "Event timestamp must be an ISO 8601 date and time in UTC, "
    "formatted YYYY-MM-DDTHH:MM:SS.SSSZ (e.g. 2023-09-13T18:25:43.511Z)."
)


def ev(ref: str = "r1", name: str = "api_call", **fields: Any) -> dict[str, Any]:
    return {
        "name": name,
        "timestamp": "2023-09-13T18:25:43.511Z",
        "customerAlias": "customer_1",
        "ref": ref,
    } | fields


def batch(*events: Any) -> bytes:
    return orjson.dumps({"events": list(events)})


class Harness:
    """VayuEvents wired to fakes, and the handles a test inspects."""

    def __init__(self, registry: MemoryRegistry | None = None) -> None:
        self.registry = registry if registry is not None else MemoryRegistry()
        self.sink = MemorySink()
        self.refs = MemoryRefStore()
        self.clock = FakeClock(NOW)
        self.sleep = FakeSleep(self.clock)
        self.vayu = VayuEvents(self.registry, self.sink, self.refs, TARGET, 8.0, self.clock, self.sleep)
        self.token = make_token(APPEND)

    def submit(self, *events: Any, request_id: str = "req-1") -> Answer:
        return self.vayu.submit(self.token, batch(*events), request_id)

    def sent(self) -> list[DecodedRecord]:
        return list(decode_records(b"".join(self.sink.records)))

    def rows(self) -> list[dict[str, Any]]:
        return [orjson.loads(row) for rec in self.sent() for row in rec.rows]


# ---------------------------------------------------------------- the body


@pytest.mark.parametrize(
    ("body", "error"),
    [
        (b"", 'The request body is empty: send a JSON object {"events": [...]}'),
        (b"  \n", 'The request body is empty: send a JSON object {"events": [...]}'),
        (b'{"events": [', "The request body is not valid JSON: "),
        (b"[]", 'The request body must be a JSON object {"events": [...]}'),
        (b'"events"', 'The request body must be a JSON object {"events": [...]}'),
        (b'{"event": []}', "The request body has no 'events' field: send {\"events\": [...]}"),
        (b'{"events": {"name": "x"}}', "The 'events' field must be an array of events"),
        (b'{"events": null}', "The 'events' field must be an array of events"),
        (b'{"events": []}', "The 'events' array is empty: send between 1 and 1000 events"),
    ],
)
def test_a_body_that_is_not_a_batch_is_400(body: bytes, error: str) -> None:
    with pytest.raises(InvalidRequest) as e:
        parse_batch(body)
    assert e.value.message.startswith(error)


def test_more_than_1000_events_is_400() -> None:
    with pytest.raises(InvalidRequest) as e:
        parse_batch(batch(*[{}] * 1001))
    assert e.value.message == "Too many events: 1001 were sent, a request takes between 1 and 1000"


def test_1000_events_is_a_batch() -> None:
    assert len(parse_batch(batch(*[{}] * 1000))) == 1000


def test_a_body_over_256_kb_is_413_and_one_of_256_kb_is_read() -> None:
    pad = b'{"events": [{}], "pad": "' + b"x" * MAX_BODY_BYTES
    exact = pad[: MAX_BODY_BYTES - 2] + b'"}'
    assert len(parse_batch(exact)) == 1
    with pytest.raises(PayloadTooLarge) as e:
        parse_batch(exact + b" ")
    assert e.value.message == (
        f"Request body too large: {MAX_BODY_BYTES + 1} bytes, the limit is 262144 bytes (256 KB). "
        "Split the events into smaller batches."
    )


# ---------------------------------------------------------------- one event


def test_the_seed_event_is_valid() -> None:
    assert event_error(SEED_EVENT) is None


@pytest.mark.parametrize(
    "ts",
    [
        "2023-09-13T18:25:43.511Z",
        "2023-09-13T18:25:43Z",
        "2023-09-13T18:25:43.511+00:00",
        "2023-09-13T18:25:43+00:00",
        "2023-09-13T18:25:43.5Z",
        "2023-09-13T18:25:43.511123Z",
        "2024-02-29T23:59:59.999Z",
    ],
)
def test_utc_timestamps_with_or_without_milliseconds_are_accepted(ts: str) -> None:
    assert event_error(ev(timestamp=ts)) is None


@pytest.mark.parametrize(
    "ts",
    [
        "2023-09-13T18:25:43.511+01:00",
        "2023-09-13T18:25:43.511-05:00",
        "2023-09-13T18:25:43.511",
        "2023-09-13 18:25:43.511Z",
        "2023-09-13",
        "2023-09-13T18:25Z",
        "2023-02-30T18:25:43.511Z",
        "2023-13-13T18:25:43.511Z",
        "2023-09-13T24:00:00Z",
        "2023-09-13T18:25:43.511z",
        "yesterday",
        "1694629543511",
    ],
)
def test_timestamps_not_in_utc_or_not_dates_are_refused(ts: str) -> None:
    assert event_error(ev(timestamp=ts)) == TIMESTAMP_ERROR


@pytest.mark.parametrize("field", ["name", "timestamp", "customerAlias", "ref"])
def test_each_required_field_must_be_present(field: str) -> None:
    event = ev()
    del event[field]
    assert event_error(event) == f"Event {field} is required."


@pytest.mark.parametrize("field", ["name", "timestamp", "customerAlias", "ref"])
@pytest.mark.parametrize("value", ["", None, 12, ["a"], {"a": 1}, True])
def test_each_required_field_must_be_a_non_empty_string(field: str, value: Any) -> None:
    assert event_error(ev() | {field: value}) == f"Event {field} must be a non-empty string."


@pytest.mark.parametrize("data", [[1, 2], "text", 3, True])
def test_data_must_be_an_object(data: Any) -> None:
    assert event_error(ev(data=data)) == "Event data must be a JSON object."


@pytest.mark.parametrize("data", [{}, {"nested": {"a": [1, 2]}}, None])
def test_data_is_optional(data: Any) -> None:
    assert event_error(ev(data=data)) is None
    assert event_error(ev()) is None


@pytest.mark.parametrize("event", [[], "api_call", 1, None])
def test_an_event_must_be_an_object(event: Any) -> None:
    assert event_error(event) == "Event must be a JSON object."


def test_every_failing_field_is_named_in_order() -> None:
    event = {"timestamp": "2023-09-13T18:25:43+02:00", "customerAlias": "", "data": []}
    assert event_error(event) == (
        f"Event name is required. {TIMESTAMP_ERROR} Event customerAlias must be a non-empty string. "
        "Event ref is required. Event data must be a JSON object."
    )


def test_names_and_refs_are_bounded_to_fit_a_key() -> None:
    assert event_error(ev(name="n" * 256, ref="r" * 512)) is None
    assert event_error(ev(name="n" * 257)) == "Event name must be at most 256 bytes."
    assert event_error(ev(ref="é" * 257)) == "Event ref must be at most 512 bytes."


@settings(max_examples=200, derandomize=True)
@given(
    name=st.text(st.sampled_from("n\x01é😀"), min_size=1, max_size=256),
    ref=st.text(st.sampled_from("r\x01é😀"), min_size=1, max_size=512),
    workspace=st.text(st.sampled_from("w"), min_size=1, max_size=1200),
)
def test_an_event_is_valid_iff_its_claim_key_fits_dynamodb(name: str, ref: str, workspace: str) -> None:
    """The field bounds do not bound the key: a control character is 6 bytes of JSON in the claim key,
    and the workspace's id is part of it. Events whose key would not fit are refused, by name."""
    event = ev(name=name, ref=ref)
    fields_ok = len(name.encode()) <= 256 and len(ref.encode()) <= 512
    size = len(claim_key(workspace, TARGET, name, ref).encode())

    valid, errors = check_batch([event], workspace, TARGET)

    if not fields_ok:
        assert valid == []
    elif size <= MAX_KEY_BYTES:
        assert (valid, errors) == ([0], {})
    else:
        assert errors == {
            0: f"Event name and ref are too long together: stored as a key they take {size} bytes, the limit is 2048."
        }


def test_a_body_nested_deeper_than_an_answer_can_hold_is_400_naming_the_limit() -> None:
    def nested(depth: int) -> Any:
        v: Any = 1
        for _ in range(depth):
            v = {"d": v}
        return v

    # the body: {"events": [{..., "data": <depth>}]} nests depth + 3 levels
    assert len(parse_batch(batch(ev(data=nested(MAX_DEPTH - 3))))) == 1
    for depth in (MAX_DEPTH - 2, 400, 1000):
        with pytest.raises(InvalidRequest) as e:
            parse_batch(batch(ev(data=nested(depth))) if depth < 250 else _deep_body(depth))
        assert e.value.message == (
            f"The request body nests JSON more than {MAX_DEPTH} levels deep, the limit: flatten the events' data"
        )


def _deep_body(depth: int) -> bytes:
    """orjson cannot write what it is asked to refuse: the body as text."""
    return b'{"events": [{"data": ' + b'{"d": ' * depth + b"1" + b"}" * depth + b"}]}"


def test_unknown_fields_are_tolerated() -> None:
    assert event_error(ev(extra=1)) is None


# ---------------------------------------------------------------- a batch


def test_a_ref_repeated_with_the_same_name_is_a_duplicate_and_the_first_valid_one_wins() -> None:
    events = [ev("a", timestamp="bad"), ev("a"), ev("a"), ev("a", name="other"), ev("b")]
    valid, errors = check_batch(events, WS, TARGET)
    assert valid == [1, 3, 4]
    assert errors == {0: TIMESTAMP_ERROR, 2: DUPLICATE}


def test_duplicate_text_is_vayus() -> None:
    assert DUPLICATE == "Event ref already exists."


def test_keys_cannot_collide_through_hashes() -> None:
    assert claim_key(WS, TARGET, "a#b", "c") != claim_key(WS, TARGET, "a", "b#c")
    assert claim_key(WS, TARGET, "a", "b") != claim_key("ws2", TARGET, "a", "b")
    assert lookup_key(WS, TARGET, "x") not in {
        claim_key(WS, TARGET, "ref:x", ""),
        claim_key(WS, TARGET, "", "x"),
    }


def test_a_row_has_the_fixed_columns_and_data_as_json_text() -> None:
    assert orjson.loads(to_row(SEED_EVENT | {"extra": 1})) == {
        "name": "api_call",
        "timestamp": "2023-09-13T18:25:43.511Z",
        "customerAlias": "customer_12345",
        "ref": "4f6cf35x-2c4y-483z-a0a9-158621f77a21",
        "data": '{"key1":"processing_duration","key2":"api_url"}',
    }
    assert orjson.loads(to_row(ev()))["data"] == "{}"


def test_rows_fit_the_fixed_schema() -> None:
    ds = datasource(TARGET)
    assert [(c.name, c.type) for c in ds.columns] == [
        ("name", "String"),
        ("timestamp", "DateTime64(3)"),
        ("customerAlias", "String"),
        ("ref", "String"),
        ("data", "String"),
    ]
    lines = [to_row(SEED_EVENT), to_row(ev(timestamp="2023-09-13T18:25:43+00:00")), to_row(ev(data=None))]
    checked = parse_and_check(b"\n".join(lines), compile_validator(ds), 1_000_000)
    assert checked.accepted == lines
    assert not checked.rejected


def test_an_existing_data_source_must_hold_the_fixed_columns() -> None:
    ds = datasource(TARGET)
    assert incompatibility(ds) is None
    extra = Column("region", "Nullable(String)", "$.region")
    assert incompatibility(DataSource(TARGET, (*ds.columns, extra))) is None
    assert incompatibility(DataSource(TARGET, ds.columns[:4])) == "it has no column 'data'"
    wrong = DataSource(
        TARGET, (*ds.columns[:1], Column("timestamp", "DateTime", "$.timestamp"), *ds.columns[2:])
    )
    assert incompatibility(wrong) == (
        "its column 'timestamp' is DateTime at $.timestamp, not DateTime64(3) at $.timestamp"
    )
    required = DataSource(TARGET, (*ds.columns, Column("region", "String", "$.region")))
    assert incompatibility(required) == "its column 'region' takes no empty value"


def test_answer_body_has_vayus_field_names() -> None:
    answer = Answer([SEED_EVENT], [(SEED_EVENT, DUPLICATE)])
    assert orjson.loads(answer.body()) == {
        "validEvents": [SEED_EVENT],
        "invalidEvents": [{"event": SEED_EVENT, "error": "Event ref already exists."}],
    }


# ---------------------------------------------------------------- submit, dry run, lookup


def test_submit_stores_each_event_once_and_refuses_it_after() -> None:
    h = Harness()

    first = h.submit(SEED_EVENT)
    second = h.submit(SEED_EVENT, request_id="req-2")

    assert first == Answer([SEED_EVENT], [])
    assert second == Answer([], [(SEED_EVENT, DUPLICATE)])
    assert h.rows() == [orjson.loads(to_row(SEED_EVENT))]
    (rec,) = h.sent()
    assert (rec.header.datasource, rec.header.workspace, rec.header.quarantine) == (TARGET, WS, False)
    stored = h.registry.get(WS, TARGET)
    assert stored is not None and ID_RE.fullmatch(stored.id)
    assert replace(stored, id="") == datasource(TARGET)
    # The compactor lands the record once (its id) and knows which keys to give back if it quarantines
    # an event (dd=2: the event and lookup keys).
    (body,) = decode_bodies(b"".join(h.sink.records))
    assert (body.header.deduplicated, body.record_id) == (CLAIMED_EVENTS, "req-1/0")


def test_claims_keep_the_event_as_sent_for_ever_by_default() -> None:
    h = Harness()
    h.submit(SEED_EVENT)
    owner, payload, expires = h.refs.items[claim_key(WS, TARGET, SEED_EVENT["name"], SEED_EVENT["ref"])]
    assert (owner, orjson.loads(payload), expires) == ("req-1", SEED_EVENT, None)
    claimed = "2023-11-14T22:13:20.500Z"  # NOW
    assert orjson.loads(h.vayu.lookup(h.token, SEED_EVENT["ref"])) == {
        "event": SEED_EVENT | {"id": SEED_EVENT["ref"], "createdAt": claimed, "updatedAt": claimed}
    }


def test_a_dedup_window_on_the_data_source_bounds_the_claims() -> None:
    registry = MemoryRegistry()
    registry.create(WS, DataSource(TARGET, datasource(TARGET).columns, dedup_window_seconds=3600))
    h = Harness(registry)
    h.submit(ev("a"))
    assert h.refs.items[claim_key(WS, TARGET, "api_call", "a")][2] == int(NOW) + 3600
    h.clock.advance(3601)
    assert h.submit(ev("a"), request_id="req-2") == Answer([ev("a")], [])


def test_mixed_batch_answers_in_request_order_and_sends_only_the_valid() -> None:
    h = Harness()
    h.submit(ev("old"))
    events = [ev("a"), ev("old"), {"name": "x"}, ev("b", data={"k": 1}), ev("a"), 7]

    answer = h.submit(*events, request_id="req-2")

    assert answer.valid == [ev("a"), ev("b", data={"k": 1})]
    assert [err for _, err in answer.invalid] == [
        DUPLICATE,
        "Event timestamp is required. Event customerAlias is required. Event ref is required.",
        DUPLICATE,
        "Event must be a JSON object.",
    ]
    assert [e for e, _ in answer.invalid] == [ev("old"), {"name": "x"}, ev("a"), 7]
    assert [r["ref"] for r in h.rows()] == ["old", "a", "b"]


def test_the_same_ref_under_two_names_is_two_events_and_lookup_returns_the_first() -> None:
    h = Harness()
    answer = h.submit(ev("a", name="first"), ev("a", name="second"))
    assert len(answer.valid) == 2
    assert orjson.loads(h.vayu.lookup(h.token, "a"))["event"]["name"] == "first"


def test_a_batch_with_no_valid_event_touches_nothing() -> None:
    h = Harness()
    assert h.submit({"name": ""}) == Answer(
        [],
        [
            (
                {"name": ""},
                "Event name must be a non-empty string. "
                + ("Event timestamp is required. Event customerAlias is required. Event ref is required."),
            )
        ],
    )
    assert h.sink.calls == 0
    assert h.registry.items == {}
    assert h.refs.items == {}


def test_an_append_token_creates_the_fixed_data_source_and_other_tokens_are_403() -> None:
    for scopes in ([APPEND], [f"{APPEND}:{TARGET}"], [CREATE], [ADMIN]):
        h = Harness()
        h.token = make_token(*scopes)
        assert h.submit(ev()).valid == [ev()]
    h = Harness()
    h.token = make_token(f"{APPEND}:other")
    for call in (
        lambda: h.submit(ev()),
        lambda: h.vayu.dry_run(h.token, batch(ev())),
        lambda: h.vayu.lookup(h.token, "r1"),
    ):
        with pytest.raises(Forbidden) as e:
            call()
        assert e.value.message == "The token lacks the DATASOURCE:APPEND scope for the Data Source 'events'"


def test_a_data_source_of_another_shape_is_a_clear_400() -> None:
    registry = MemoryRegistry()
    registry.create(WS, DataSource(TARGET, (Column("city", "String", "$.city"),)))
    h = Harness(registry)
    with pytest.raises(InvalidRequest) as e:
        h.submit(ev())
    assert e.value.message == (
        "The Data Source 'events' cannot hold Vayu events: it has no column 'name'. "
        "Point VAYU_DATASOURCE at another Data Source."
    )


def test_dry_run_answers_like_submit_and_stores_nothing() -> None:
    h = Harness()
    h.submit(ev("old"))
    records, claims = list(h.sink.records), dict(h.refs.items)

    answer = h.vayu.dry_run(h.token, batch(ev("old"), ev("new"), ev("new"), ev("x", timestamp="no")))

    assert answer == Answer(
        [ev("new")],
        [(ev("old"), DUPLICATE), (ev("new"), DUPLICATE), (ev("x", timestamp="no"), TIMESTAMP_ERROR)],
    )
    assert h.sink.records == records
    assert h.refs.items == claims
    assert h.submit(ev("new"), request_id="req-2").valid == [ev("new")]


def test_dry_run_does_not_create_the_data_source() -> None:
    h = Harness()
    h.vayu.dry_run(h.token, batch(ev()))
    assert h.registry.items == {}


def test_lookup_of_a_ref_no_key_can_hold_is_404_without_asking_the_store() -> None:
    h = Harness()

    class Refusing(MemoryRefStore):
        def get(self, key: str, now: float) -> str | None:
            raise AssertionError("a key over 2,048 bytes reached the store")

    h.vayu.refs = Refusing()
    with pytest.raises(NotFound):
        h.vayu.lookup(h.token, "r" * 3000)


def test_lookup_of_an_unknown_ref_is_404() -> None:
    h = Harness()
    with pytest.raises(NotFound) as e:
        h.vayu.lookup(h.token, "nope")
    assert e.value.message == "No event with ref 'nope' was found."


def test_lookup_is_per_workspace() -> None:
    h = Harness()
    h.submit(ev("a"))
    with pytest.raises(NotFound):
        h.vayu.lookup(make_token(APPEND, workspace="ws2"), "a")


# ---------------------------------------------------------------- failures and retries


def test_nothing_acknowledged_is_503_and_the_retry_stores_each_event_once() -> None:
    h = Harness()
    h.sink.fail_next = [{0}] * 1000  # refused until the budget ends

    with pytest.raises(Unavailable) as e:
        h.submit(ev("a"), ev("b"))

    assert e.value.message == "The service is temporarily unavailable: no events were stored, retry later"
    assert h.refs.items == {}
    h.sink.fail_next = []
    assert h.submit(ev("a"), ev("b"), request_id="req-2").valid == [ev("a"), ev("b")]
    assert [r["ref"] for r in h.rows()] == ["a", "b"]


def test_part_acknowledged_is_422_and_the_retry_stores_only_the_rest(monkeypatch: pytest.MonkeyPatch) -> None:
    # Records of one row each, so that one record of the batch can be refused
    monkeypatch.setattr(framing, "MAX_RECORD_BYTES", 1024 + 200)
    h = Harness()
    h.sink.fail_next = [{1}] + [{0}] * 1000  # the second record is refused, then refused again

    with pytest.raises(PartiallyInserted) as e:
        h.submit(ev("a"), ev("b"))

    assert e.value.detail == {"inserted_rows": 1, "failed_rows": 1}
    assert e.value.message == (
        "Only 1 of 2 events were stored: the events not stored were released, retrying the same request stores only them"
    )
    assert set(h.refs.items) == {claim_key(WS, TARGET, "api_call", "a"), lookup_key(WS, TARGET, "a")}
    h.sink.fail_next = []
    retry = h.submit(ev("a"), ev("b"), request_id="req-2")
    assert retry == Answer([ev("b")], [(ev("a"), DUPLICATE)])
    assert sorted(r["ref"] for r in h.rows()) == ["a", "b"]


def test_a_refs_store_failure_releases_what_was_taken_and_sends_nothing() -> None:
    h = Harness()
    h.refs.fail_claims = 1
    with pytest.raises(StoreUnavailable):
        h.submit(ev("a"))
    assert h.refs.items == {}
    assert h.sink.calls == 0


def test_a_failure_while_sending_releases_the_claims() -> None:
    class Broken(MemorySink):
        def put_records(self, records: Any) -> list[str | None]:
            raise RuntimeError("boom")

    h = Harness()
    h.vayu.sink = Broken()
    with pytest.raises(RuntimeError):
        h.submit(ev("a"))
    assert h.refs.items == {}


# ---------------------------------------------------------------- configuration

REQUIRED = {
    "TOKENS_TABLE": "t",
    "DATASOURCES_TABLE": "d",
    "RATE_LIMITS_TABLE": "r",
    "REFS_TABLE": "f",
    "DELIVERY_STREAM": "s",
    "CLUSTER_ID": "c",
}


def test_the_target_data_source_is_configurable_and_must_be_a_name() -> None:
    assert Settings.from_env(REQUIRED).vayu_datasource == "events"
    assert (
        Settings.from_env(REQUIRED | {"VAYU_DATASOURCE": "billing_events"}).vayu_datasource
        == "billing_events"
    )
    with pytest.raises(ConfigError) as e:
        Settings.from_env(REQUIRED | {"VAYU_DATASOURCE": "bad-name"})
    assert str(e.value) == "environment variable VAYU_DATASOURCE must be a Data Source name, got 'bad-name'"
