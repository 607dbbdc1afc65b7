"""The Events API use case: from an authorised request to rows acknowledged by the sink. No AWS here."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from lakegate.auth import Token
from lakegate.delivery import Delivery, deliver
from lakegate.errors import Forbidden, InvalidRequest, PartiallyInserted, Unavailable
from lakegate.framing import Record, RecordHeader, frame_rows, quarantine_row
from lakegate.registry import Registry
from lakegate.rows import CheckedBatch, Validator, check, compile_validator, parse, parse_and_check
from lakegate.schema import DataSource, infer
from lakegate.sink import RecordSink


# Seconds kept back from the invocation's remaining time to answer before Lambda's timeout.
_ANSWER_MARGIN = 1.0


@dataclass(frozen=True, slots=True)
class Limits:
    max_line_bytes: int = 1_000_000
    max_columns: int = 500
    max_json_depth: int = 32
    send_budget_seconds: float = 8.0


@dataclass(frozen=True, slots=True)
class IngestResult:
    """What the client is told: rows accepted and rows quarantined (and whether the source is new)."""

    successful_rows: int
    quarantined_rows: int
    created: bool
    delivery: Delivery


@dataclass
class Ingestor:
    """Validates a batch against its data source (creating it by inference if allowed) and sends it."""

    registry: Registry
    sink: RecordSink
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
        self, token: Token, name: str, body: bytes, request_id: str, time_left: float | None = None
    ) -> IngestResult:
        """`time_left` is what remains of the invocation: retries stop in time to answer."""
        workspace = token.workspace_id
        ds = self.registry.get(workspace, name)
        created = False
        if ds is None:
            if not token.can_create():
                raise Forbidden(
                    f"The Data Source '{name}' does not exist and the token lacks the DATASOURCE:CREATE scope "
                    "needed to create it"
                )
            parsed = parse(body, self.limits.max_line_bytes)
            if parsed.total == 0:
                raise InvalidRequest("The request body has no rows: send one JSON object per line (NDJSON)")
            if not parsed.objects:
                raise InvalidRequest(
                    f"Cannot create Data Source '{name}': no line of the body is a JSON object to infer a schema from"
                )
            inferred = infer(name, parsed.objects, self.limits.max_columns, self.limits.max_json_depth)
            ds = self.registry.create(workspace, inferred)
            created = ds is inferred
            checked = check(parsed, self._validator(workspace, ds))
        else:
            if not token.can_append(name):
                raise Forbidden(f"The token lacks the DATASOURCE:APPEND scope for the Data Source '{name}'")
            checked = parse_and_check(body, self._validator(workspace, ds), self.limits.max_line_bytes)
            if not checked.accepted and not checked.rejected:
                raise InvalidRequest("The request body has no rows: send one JSON object per line (NDJSON)")
        records = self._frame(workspace, ds, checked, request_id)
        budget = self.limits.send_budget_seconds
        if time_left is not None:
            budget = max(0.0, min(budget, time_left - _ANSWER_MARGIN))
        delivery = deliver(records, self.sink, budget, self.clock, self.sleep)
        total = len(checked.accepted) + len(checked.rejected)
        if delivery.sent_rows == 0:
            raise Unavailable("The service is temporarily unavailable: no rows were inserted, retry later")
        if not delivery.complete:
            raise PartiallyInserted(
                f"Only {delivery.sent_rows} of {total} rows were inserted: retrying the whole request "
                "may duplicate rows",
                {"inserted_rows": delivery.sent_rows, "failed_rows": delivery.failed_rows},
            )
        return IngestResult(len(checked.accepted), len(checked.rejected), created, delivery)

    def _frame(self, workspace: str, ds: DataSource, checked: CheckedBatch, request_id: str) -> list[Record]:
        now_ms = int(self.clock() * 1000)
        records: list[Record] = []
        if checked.accepted:
            header = RecordHeader(ds.name, workspace, False, request_id, now_ms, ds.version)
            records += frame_rows(header, checked.accepted)
        if checked.rejected:
            header = RecordHeader(ds.name, workspace, True, request_id, now_ms, ds.version)
            rows = [quarantine_row(r.line, r.column, r.error) for r in checked.rejected]
            records += frame_rows(header, rows)
        return records
