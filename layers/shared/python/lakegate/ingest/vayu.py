"""The Vayu batch API (`POST /events`): validate a batch of events, claim their refs, send them as rows.

Every event lands as one row of a fixed-schema data source (default `events`, see `datasource`).
A ref is unique per event name, for ever (or for the data source's dedup window when the operator
sets one), and is always claimed synchronously: the claim is the conditional write that decides the
one request that lands an event. Claim keys hold the event name and the ref as a JSON pair, so no
`#` in a name or ref can make two different events collide.

`GET /events/{ref}` has no event name, so a second key per ref (the lookup key) is claimed for
the events a request stored, first writer wins: when two event names share a ref, the lookup
returns the one stored first. It keeps the answer Vayu's SDKs read, `{"event": {...}}` with the
event as sent plus `id` (the ref) and `createdAt`/`updatedAt` (when it was claimed).

Scope: `DATASOURCE:APPEND` on the target is enough, also for the first request that creates it.
The schema is fixed by the deployment, not inferred from the client's data, so creating it is not
the client's schema decision that `DATASOURCE:CREATE` guards on `/v0/events`.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from typing import Any

import orjson

from lakegate.dedup import MAX_KEY_BYTES, Claim, RefStore, event_key, event_lookup_key
from lakegate.errors import (
    InvalidRequest,
    NotFound,
    PayloadTooLarge,
    StoreRefused,
    StoreUnavailable,
)
from lakegate.framing import CLAIMED_EVENTS, RecordHeader, frame_rows
from lakegate.ingest.auth import Token, require_append
from lakegate.ingest.delivery import RecordSink
from lakegate.ingest.registry import Registry
from lakegate.ingest.sending import EVENTS, Sender, time_budget
from lakegate.schema import Column, DataSource, new_id

MAX_BODY_BYTES = 256 * 1024  # Vayu's limit, on the JSON body as sent
MAX_EVENTS = 1000
# orjson reads 1,024 levels of JSON but writes only 254, and an answer echoes an invalid event one level
# deeper than the request holds it (`{"invalidEvents": [{"event": ...}]}`): a body deeper than this could
# be read but not answered.
MAX_DEPTH = 253
# Bounds on the fields as sent; the claim key they make (workspace, data source, name and ref as JSON, where
# a control character takes 6 bytes) is checked against DynamoDB's 2,048 bytes too (`check_batch`).
MAX_NAME_BYTES = 256
MAX_REF_BYTES = 512
DUPLICATE = "Event ref already exists."

# YYYY-MM-DDTHH:MM:SS[.fraction] in UTC: `Z` or `+00:00`; any other offset is not UTC.
_TIMESTAMP = re.compile(r"(\d{4})-(\d{2})-(\d{2})T(\d{2}):(\d{2}):(\d{2})(?:\.\d{1,9})?(?:Z|\+00:00)")
_FIELDS = ("name", "timestamp", "customerAlias", "ref")

COLUMNS = (
    Column("name", "String", "$.name"),
    Column("timestamp", "DateTime64(3)", "$.timestamp"),
    Column("customerAlias", "String", "$.customerAlias"),
    Column("ref", "String", "$.ref"),
    Column("data", "String", "$.data"),  # the event's data object as JSON text ("{}" when absent)
)


def datasource(name: str) -> DataSource:
    """The fixed schema Vayu events land in; rows of one customer and event sit together in a file."""
    return DataSource(name=name, columns=COLUMNS, sorting_key=("customerAlias", "name", "timestamp"))


def parse_batch(body: bytes) -> list[Any]:
    """The events of a `{"events": [...]}` body: 413 over 256 KB, 400 for anything not such a batch."""
    if len(body) > MAX_BODY_BYTES:
        raise PayloadTooLarge(
            f"Request body too large: {len(body)} bytes, the limit is {MAX_BODY_BYTES} bytes (256 KB). "
            "Split the events into smaller batches."
        )
    if not body.strip():
        raise InvalidRequest('The request body is empty: send a JSON object {"events": [...]}')
    try:
        doc = orjson.loads(body)
    except orjson.JSONDecodeError as e:
        raise InvalidRequest(f"The request body is not valid JSON: {e}") from e
    if not isinstance(doc, dict):
        raise InvalidRequest('The request body must be a JSON object {"events": [...]}')
    try:
        orjson.dumps([doc])  # one level deeper, as the answer nests it: at C speed, no walk of our own
    except orjson.JSONEncodeError as e:
        raise InvalidRequest(
            f"The request body nests JSON more than {MAX_DEPTH} levels deep, the limit: flatten the events' data"
        ) from e
    if "events" not in doc:
        raise InvalidRequest("The request body has no 'events' field: send {\"events\": [...]}")
    events = doc["events"]
    if not isinstance(events, list):
        raise InvalidRequest("The 'events' field must be an array of events")
    if not events:
        raise InvalidRequest("The 'events' array is empty: send between 1 and 1000 events")
    if len(events) > MAX_EVENTS:
        raise InvalidRequest(
            f"Too many events: {len(events)} were sent, a request takes between 1 and {MAX_EVENTS}"
        )
    return events


def _is_utc_timestamp(value: str) -> bool:
    m = _TIMESTAMP.fullmatch(value)
    if m is None:
        return False
    try:
        y, mo, d, h, mi, sec = (int(g) for g in m.groups())
        datetime(y, mo, d, h, mi, sec)  # only checks that the fields form a real date and time
    except ValueError:
        return False
    return True


def event_error(event: Any) -> str | None:
    """Why an event cannot be accepted (every failing field, in order), or None when it is valid."""
    if not isinstance(event, dict):
        return "Event must be a JSON object."
    errors: list[str] = []
    for field in _FIELDS:
        value = event.get(field)
        if field not in event:
            errors.append(f"Event {field} is required.")
        elif not isinstance(value, str) or not value:
            errors.append(f"Event {field} must be a non-empty string.")
        elif field == "timestamp" and not _is_utc_timestamp(value):
            errors.append(
                "Event timestamp must be an ISO 8601 date and time in UTC, "
                "formatted YYYY-MM-DDTHH:MM:SS.SSSZ (e.g. 2023-09-13T18:25:43.511Z)."
            )
        elif field == "name" and len(value.encode()) > MAX_NAME_BYTES:
            errors.append(f"Event name must be at most {MAX_NAME_BYTES} bytes.")
        elif field == "ref" and len(value.encode()) > MAX_REF_BYTES:
            errors.append(f"Event ref must be at most {MAX_REF_BYTES} bytes.")
    if "data" in event and event["data"] is not None and not isinstance(event["data"], dict):
        errors.append("Event data must be a JSON object.")
    return " ".join(errors) or None


def parse_login(body: bytes) -> str:
    """The API token a Vayu SDK exchanges at `POST /login`, sent as `{"refreshToken": "<token>"}`."""
    try:
        doc = orjson.loads(body) if body.strip() else None
    except orjson.JSONDecodeError as e:
        raise InvalidRequest(f"The request body is not valid JSON: {e}") from e
    token = doc.get("refreshToken") if isinstance(doc, dict) else None
    if not isinstance(token, str) or not token:
        raise InvalidRequest('Send the API token as a JSON object {"refreshToken": "<token>"}')
    return token


# Defined in dedup, where the compactor finds them too: an event quarantined at landing gives both back.
claim_key = event_key
lookup_key = event_lookup_key


def stored_event(event: dict[str, Any], claimed_at: float) -> bytes:
    """`GET /events/{ref}`'s answer for an event claimed at `claimed_at` (Vayu's `GetEventResponse`)."""
    at = datetime.fromtimestamp(claimed_at, UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")
    return orjson.dumps({"event": event | {"id": event["ref"], "createdAt": at, "updatedAt": at}})


def to_row(event: dict[str, Any]) -> bytes:
    """A valid event as a row of `datasource`: the four fields as sent and `data` as JSON text."""
    data = event.get("data")
    return orjson.dumps(
        {
            "name": event["name"],
            "timestamp": event["timestamp"],
            "customerAlias": event["customerAlias"],
            "ref": event["ref"],
            "data": orjson.dumps(data).decode() if data is not None else "{}",
        }
    )


@dataclass(frozen=True, slots=True)
class Answer:
    """The 200 body: events that were stored (or, in a dry run, would be) and those refused, in order."""

    valid: list[Any]
    invalid: list[tuple[Any, str]]

    def body(self) -> bytes:
        return orjson.dumps(
            {"validEvents": self.valid, "invalidEvents": [{"event": e, "error": m} for e, m in self.invalid]}
        )


def check_batch(events: Sequence[Any], workspace: str, target: str) -> tuple[list[int], dict[int, str]]:
    """Indices of the valid events (first of each name and ref) and the error of every other one."""
    errors: dict[int, str] = {}
    seen: set[tuple[str, str]] = set()
    valid: list[int] = []
    for i, event in enumerate(events):
        error = event_error(event)
        if error is None:
            size = len(claim_key(workspace, target, event["name"], event["ref"]).encode())
            if size > MAX_KEY_BYTES:
                error = (
                    f"Event name and ref are too long together: stored as a key they take {size} bytes, "
                    f"the limit is {MAX_KEY_BYTES}."
                )
        if error is None and (event["name"], event["ref"]) in seen:
            error = DUPLICATE
        if error is not None:
            errors[i] = error
            continue
        seen.add((event["name"], event["ref"]))
        valid.append(i)
    return valid, errors


@dataclass
class VayuEvents:
    """Stores Vayu event batches in one data source, each (name, ref) at most once."""

    registry: Registry
    sink: RecordSink
    refs: RefStore
    target: str
    send_budget_seconds: float
    clock: Callable[[], float]
    sleep: Callable[[float], None]

    def _allow(self, token: Token) -> None:
        require_append(token, self.target)

    def dry_run(self, token: Token, body: bytes) -> Answer:
        """What `submit` would answer now, storing and claiming nothing (refs are only read)."""
        self._allow(token)
        events = parse_batch(body)
        ws = token.workspace_id
        valid, errors = check_batch(events, ws, self.target)
        now = self.clock()
        for i in valid:
            e = events[i]
            if self.refs.get(claim_key(ws, self.target, e["name"], e["ref"]), now) is not None:
                errors[i] = DUPLICATE
        return _answer(events, errors)

    def submit(self, token: Token, body: bytes, request_id: str, time_left: float | None = None) -> Answer:
        """Validate, claim the refs, send; 503 when nothing was acknowledged, 422 when part was.

        Claims of events whose records were not acknowledged are released before answering, so
        the client's retry of the same request stores each event once.
        """
        self._allow(token)
        events = parse_batch(body)
        valid, errors = check_batch(events, token.workspace_id, self.target)
        if not valid:
            return _answer(events, errors)
        ds = self._datasource(token.workspace_id)
        now = self.clock()
        expires = int(now) + ds.dedup_window_seconds if ds.dedup_window_seconds else None
        stored, held = self._claim(token.workspace_id, [events[i] for i in valid], request_id, now, expires)
        for i, won in zip(valid, stored, strict=True):
            if not won:
                errors[i] = DUPLICATE
        rows = [to_row(events[i]) for i, won in zip(valid, stored, strict=True) if won]
        keys = [k for k, won in zip(held, stored, strict=True) if won]
        if rows:
            self._send(ds, token.workspace_id, rows, keys, request_id, time_left)
        return _answer(events, errors)

    def lookup(self, token: Token, ref: str) -> bytes:
        """The stored event with this ref, as `stored_event` put it."""
        self._allow(token)
        key = lookup_key(token.workspace_id, self.target, ref)
        # A key DynamoDB cannot hold was never stored: not found, without asking.
        payload = self.refs.get(key, self.clock()) if len(key.encode()) <= MAX_KEY_BYTES else None
        if not payload:
            raise NotFound(f"No event with ref '{ref[:MAX_REF_BYTES]}' was found.")
        return payload.encode()

    def _datasource(self, workspace: str) -> DataSource:
        ds = self.registry.get(workspace, self.target) or self.registry.create(
            workspace, replace(datasource(self.target), id=new_id())
        )
        problem = incompatibility(ds)
        if problem:
            raise InvalidRequest(
                f"The Data Source '{ds.name}' cannot hold Vayu events: {problem}. "
                "Point VAYU_DATASOURCE at another Data Source."
            )
        return ds

    def _claim(
        self, workspace: str, events: list[dict[str, Any]], owner: str, now: float, expires: int | None
    ) -> tuple[list[bool], list[list[str]]]:
        """Claim each event's key; then, for the events won, each new ref's lookup key.

        Returns per event whether this request won it, and the keys it holds for it (to release).
        Two steps, so a lookup key never points at an event another request owns.
        """
        payloads = [orjson.dumps(e).decode() for e in events]
        keys = [claim_key(workspace, self.target, e["name"], e["ref"]) for e in events]
        try:
            taken = self.refs.claim(
                [Claim(k, p, expires) for k, p in zip(keys, payloads, strict=True)], owner, now
            )
        except (StoreUnavailable, StoreRefused):
            self.refs.release(keys, owner)  # only ours are deleted: release checks the owner
            raise
        won = [k not in taken for k in keys]
        lookups: dict[str, str] = {}
        held: list[list[str]] = [[k] for k in keys]
        for e, w, h in zip(events, won, held, strict=True):
            lk = lookup_key(workspace, self.target, e["ref"])
            if w and lk not in lookups:
                lookups[lk] = stored_event(e, now).decode()
                h.append(lk)
        try:
            # A lookup key already taken belongs to an event of another name with the same ref: kept.
            self.refs.claim([Claim(k, p, expires) for k, p in lookups.items()], owner, now)
        except (StoreUnavailable, StoreRefused):
            self.refs.release(keys + list(lookups), owner)
            raise
        return won, held

    def _send(
        self,
        ds: DataSource,
        workspace: str,
        rows: list[bytes],
        keys: list[list[str]],
        request_id: str,
        time_left: float | None,
    ) -> None:
        # Claimed per (name, ref) above: the compactor must not dedup them again by the ref alone. Each
        # record carries an id, so a record Firehose delivers twice lands once.
        now_ms = int(self.clock() * 1000)
        header = RecordHeader(
            ds.name,
            workspace,
            False,
            request_id,
            now_ms,
            ds.version,
            deduplicated=CLAIMED_EVENTS,
            record_id=request_id,
        )
        Sender(self.sink, self.refs, self.clock, self.sleep).send(
            frame_rows(header, rows),
            keys,
            request_id,
            time_budget(self.send_budget_seconds, time_left),
            EVENTS,
            len(rows),
        )


def _answer(events: list[Any], errors: dict[int, str]) -> Answer:
    valid = [e for i, e in enumerate(events) if i not in errors]
    return Answer(valid, [(events[i], errors[i]) for i in sorted(errors)])


def incompatibility(ds: DataSource) -> str | None:
    """Why rows of `datasource` would not fit `ds` (an existing data source of the same name), if so."""
    have = {c.name: c for c in ds.columns}
    for col in COLUMNS:
        got = have.get(col.name)
        if got is None:
            return f"it has no column '{col.name}'"
        if (got.type, got.jsonpath) != (col.type, col.jsonpath):
            return (
                f"its column '{col.name}' is {got.type} at {got.jsonpath}, not {col.type} at {col.jsonpath}"
            )
    for c in ds.columns:
        t = c.parsed_type
        if c.name not in {col.name for col in COLUMNS} and not (
            t.nullable or t.array or c.default is not None
        ):
            return f"its column '{c.name}' takes no empty value"
    return None
