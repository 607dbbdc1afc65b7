"""The Events API use case: from an authorised request to rows acknowledged by the sink. No AWS here."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import orjson

from lakegate.config import Limits
from lakegate.dedup import RefStore, deduplicate, key_room, long_key_error, long_keys
from lakegate.errors import InvalidRequest
from lakegate.framing import CLAIMED_REFS, Record, RecordHeader, frame_rows, frame_runs, quarantine_row
from lakegate.ingest.auth import Token, require_append, require_create
from lakegate.ingest.delivery import Delivery, RecordSink
from lakegate.ingest.registry import Registry, storable
from lakegate.ingest.rows import (
    AcceptedRows,
    CheckedBatch,
    Rejected,
    Validator,
    check,
    compile_validator,
    parse,
    parse_and_check,
)
from lakegate.ingest.sending import ROWS, Sender, time_budget
from lakegate.lake.evolution import full, past_cap
from lakegate.schema import DataSource, infer, new_id, validate_new_name


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What the client is told: rows accepted, quarantined and dropped as duplicates."""

    successful_rows: int
    quarantined_rows: int
    duplicate_rows: int
    created: bool
    delivery: Delivery
    # Fields (jsonpaths) of quarantined rows that no column can take: the data source is at its column cap.
    fields_not_stored: tuple[str, ...] = ()


@dataclass
class Ingestor:
    """Validates a batch against its data source (creating it by inference if allowed) and sends it."""

    registry: Registry
    sink: RecordSink
    refs: RefStore
    limits: Limits
    clock: Callable[[], float]
    sleep: Callable[[float], None]
    _validators: dict[tuple[str, str, int], Validator] = field(default_factory=dict)

    def _validator(self, workspace: str, ds: DataSource) -> Validator:
        key = (workspace, ds.name, ds.version)
        v = self._validators.get(key)
        if v is None:
            v = self._validators[key] = compile_validator(ds)
        return v

    def ingest(
        self,
        token: Token,
        name: str,
        body: bytes,
        request_id: str,
        wait: bool = False,
        time_left: float | None = None,
    ) -> IngestResult:
        """Validate, deduplicate (wait=true), send. `time_left` bounds the retries so we answer in time.

        With wait=true, rows whose key is claimed and then not acknowledged have their claims
        released before answering, so the client's retry of the same request lands them once.
        """
        workspace = token.workspace_id
        ds, checked, created = self._check(token, name, body)
        checked, past_cap = _refuse_past_cap(checked, ds)
        dedup_key = ds.effective_dedup_key
        if dedup_key:
            checked = _refuse_long_keys(checked, ds, dedup_key, key_room(workspace, ds.name))
        rows: Sequence[bytes] = checked.accepted
        keys: list[str | None] = []
        duplicates = 0
        if wait and dedup_key and rows:
            dd = deduplicate(
                rows,
                dedup_key,
                workspace,
                ds.name,
                ds.dedup_window_seconds,
                self.refs,
                request_id,
                self.clock(),
            )
            rows, keys, duplicates = dd.rows, dd.keys, dd.duplicates
        now_ms = int(self.clock() * 1000)
        # Rows claimed here are marked so the compactor lands them without claiming their refs again.
        claimed = CLAIMED_REFS if wait and dedup_key else 0
        header = RecordHeader(
            ds.name, workspace, False, request_id, now_ms, ds.version, claimed, _record_ids(ds, request_id)
        )
        # Rows still as the checker kept them travel as runs of lines: clean blocks are never split.
        accepted = (
            frame_runs(header, rows.runs()) if isinstance(rows, AcceptedRows) else frame_rows(header, rows)
        )
        quarantine = self._quarantine(workspace, ds, checked, request_id, now_ms)
        delivery = Sender(self.sink, self.refs, self.clock, self.sleep).send(
            accepted + quarantine,
            [[k] if k is not None else [] for k in keys],
            request_id,
            time_budget(self.limits.send_budget_seconds, time_left),
            ROWS,
            len(rows) + len(checked.rejected),
            advice=_retry_advice(dedup_key),
            detail={"duplicate_rows": duplicates} if duplicates else None,
        )
        return IngestResult(len(rows), len(checked.rejected), duplicates, created, delivery, past_cap)

    def _check(self, token: Token, name: str, body: bytes) -> tuple[DataSource, CheckedBatch, bool]:
        """The data source (created by inference when allowed) and the batch checked against it."""
        workspace = token.workspace_id
        ds = self.registry.get(workspace, name)
        created = False
        if ds is None:
            require_create(token, name)
            validate_new_name(name)
            parsed = parse(body, self.limits.max_line_bytes)
            if parsed.total == 0:
                raise InvalidRequest("The request body has no rows: send one JSON object per line (NDJSON)")
            if not parsed.objects:
                raise InvalidRequest(
                    f"Cannot create Data Source '{name}': no line of the body is a JSON object to infer a schema from"
                )
            inferred = infer(name, parsed.objects, self.limits.max_columns, self.limits.max_json_depth)
            inferred = replace(inferred, id=new_id())
            ds = self.registry.create(workspace, storable(inferred))
            created = ds is inferred
            checked = check(parsed, self._validator(workspace, ds))
        else:
            require_append(token, name)
            checked = parse_and_check(body, self._validator(workspace, ds), self.limits.max_line_bytes)
            if not checked.accepted and not checked.rejected:
                raise InvalidRequest("The request body has no rows: send one JSON object per line (NDJSON)")
        return ds, checked, created

    def _quarantine(
        self, workspace: str, ds: DataSource, checked: CheckedBatch, request_id: str, now_ms: int
    ) -> list[Record]:
        if not checked.rejected:
            return []
        ids = _record_ids(ds, request_id)
        header = RecordHeader(ds.name, workspace, True, request_id, now_ms, ds.version, 0, ids and f"{ids}/q")
        return frame_rows(header, [quarantine_row(r.line, r.column, r.error) for r in checked.rejected])


def _record_ids(ds: DataSource, request_id: str) -> str:
    """The prefix of the record ids a request's records carry when its rows are promised exactly once (a
    dedup key, or the data source's `exactly_once`): the compactor claims each id, so a record Firehose
    delivers twice, or that the ingest sent again after an answer timed out, lands once. Unkeyed rows of
    other data sources are at least once, as Tinybird's are: a record claim is a DynamoDB write."""
    return request_id if ds.effective_dedup_key or ds.exactly_once else ""


def _refuse_long_keys(checked: CheckedBatch, ds: DataSource, dedup_key: str, room: int) -> CheckedBatch:
    """Quarantine the rows whose dedup key no claim can hold, with or without wait=true: an async row's key
    is claimed when it lands, where it would fail its whole raw object."""
    runs = [run for run, _ in checked.accepted.runs()]
    long = long_keys(runs, dedup_key, room)
    if not long:
        return checked
    column = next((c.name for c in ds.columns if c.jsonpath == dedup_key), "")
    kept = AcceptedRows()
    rejected = list(checked.rejected)
    for line in checked.accepted:
        size = long.get(line.rstrip(b"\r"))
        if size is None:
            kept.append(line)
        else:
            rejected.append(Rejected(line, column, long_key_error(size, dedup_key, room)))
    return CheckedBatch(kept, rejected)


def _refuse_past_cap(checked: CheckedBatch, ds: DataSource) -> tuple[CheckedBatch, tuple[str, ...]]:
    """Where the schema evolves but is full, a row with a new field would go to quarantine when it lands:
    it does here, so the answer names the fields (lake.evolution decides alike at landing, where a schema
    that fills up after this request was checked is met). Rare, so the rows are parsed again here."""
    if not full(ds) or not checked.accepted:
        return checked, ()
    lines = list(checked.accepted)
    found = past_cap(ds, [orjson.loads(line) for line in lines])
    if not found.past_cap:
        return checked, ()
    kept = AcceptedRows()
    rejected = list(checked.rejected)
    for i, line in enumerate(lines):
        error = found.past_cap.get(i)
        if error is None:
            kept.append(line)
        else:
            rejected.append(Rejected(line, "", error))
    return CheckedBatch(kept, rejected), tuple(sorted(found.fields_past_cap))


def _retry_advice(dedup_key: str) -> str:
    """What a client may do after a 422 when no claims were held: keyed rows land once anyway (the compactor
    dedups them), rows with no key may land twice."""
    if dedup_key:
        return (
            f": retrying the whole request lands rows with a {dedup_key} value once (they are deduplicated "
            "when they land); rows without one may be duplicated"
        )
    return ": retrying the whole request may duplicate rows"
