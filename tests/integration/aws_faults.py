"""AWS errors injected into one operation of a live (moto) client, every other call passing through.

Stubber needs every call of a request scripted in order; a request here makes several (token, registry,
limits, refs, Firehose), and a test means to break exactly one of them. botocore lets a `before-call`
handler answer in the service's place: its error is raised as the service's own `ClientError`, and no
retry is attempted (the retry handler runs only for calls that were sent).
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any


@dataclass
class Fault:
    """What an injected operation answers, and how many times it was called."""

    code: str
    status: int = 400
    # For TransactionCanceledException: the reason every item gets (DynamoDB gives one per item).
    reason: str = ""
    table: str = ""  # only calls on this table fail ("": every call of the operation)
    times: int = 1_000_000  # how many calls fail; later ones pass through
    calls: int = 0

    def _note(self, params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        """Before the request is built: which table, how many transaction items (the API's parameters)."""
        items = params.get("TransactItems", ())
        tables = {params.get("TableName")} | {next(iter(i.values())).get("TableName") for i in items}
        context["fault"] = (not self.table or self.table in tables, len(items))

    def _answer(self, context: dict[str, Any], **_: Any) -> tuple[Any, dict[str, Any]] | None:
        ours, items = context.get("fault", (False, 0))
        if not ours:
            return None
        self.calls += 1
        if self.calls > self.times:
            return None
        parsed: dict[str, Any] = {
            "Error": {"Code": self.code, "Message": f"injected {self.code}"},
            "ResponseMetadata": {"HTTPStatusCode": self.status},
        }
        if self.reason:
            parsed["CancellationReasons"] = [{"Code": self.reason}] * items
        return _Http(self.status), parsed


@dataclass(frozen=True)
class _Http:
    status_code: int
    headers: dict[str, str] = field(default_factory=dict)


@contextmanager
def failing(client: Any, operation: str, fault: Fault) -> Iterator[Fault]:
    """Make `client`'s `operation` (e.g. "PutItem") answer `fault` while the block runs."""
    service = client.meta.service_model.service_id.hyphenize()
    events = client.meta.events
    uid = f"fault-{operation}-{id(fault)}"
    events.register(f"before-parameter-build.{service}.{operation}", fault._note, unique_id=uid + "p")
    events.register_first(f"before-call.{service}.{operation}", fault._answer, unique_id=uid)
    try:
        yield fault
    finally:
        events.unregister(f"before-parameter-build.{service}.{operation}", unique_id=uid + "p")
        events.unregister(f"before-call.{service}.{operation}", unique_id=uid)
