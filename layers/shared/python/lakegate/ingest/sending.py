"""The exactly-once send: one protocol for every route that promises it (`/v0/events` and Vayu's `/events`).

Deliver the records within the request's time budget. When some are not acknowledged, release the claims
their rows hold (only this request's: a release checks the owner), so the client's retry of the same
request lands each row once; then answer 503 when nothing was stored and 422 when part was. Anything
raised while sending releases every claim first.

A record whose last send failed after it was sent (its answer timed out) may be in Firehose all the same.
Before its rows are called not stored, the request settles it: it claims the record's id itself
(`abandoned:<owner>`), so the compactor drops every copy that arrives (lakegate.lake.records); where the
compactor holds the id already, the record landed and its rows count as stored. Either way the answer is
true and the client's retry lands each row once.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace

from lakegate.dedup import Claim, RefStore, abandoned, record_key
from lakegate.errors import PartiallyInserted, StoreUnavailable, Unavailable
from lakegate.framing import Record
from lakegate.ingest.delivery import Delivery, RecordSink, deliver

# Seconds kept back from the invocation's remaining time to answer before Lambda's timeout.
ANSWER_MARGIN = 1.0
# How long a settled record's claim is kept: longer than any copy of it can wait to be landed (Firehose
# retries a delivery for a day; a raw object is replayable until raw/ expires it, RawRetentionDays <= 365).
SETTLED_DAYS = 400


@dataclass(frozen=True, slots=True)
class Noun:
    """How answers name what a route sends: rows inserted, events stored."""

    plural: str
    done: str  # past participle: "no rows were inserted"
    does: str  # present: "retrying the same request inserts only them"


ROWS = Noun("rows", "inserted", "inserts")
EVENTS = Noun("events", "stored", "stores")


def time_budget(send_budget_seconds: float, time_left: float | None) -> float:
    """The send budget, clamped so the answer still leaves before the invocation's time is up."""
    if time_left is None:
        return send_budget_seconds
    return max(0.0, min(send_budget_seconds, time_left - ANSWER_MARGIN))


@dataclass
class Sender:
    """Sends framed records for one request that may hold claims on their rows."""

    sink: RecordSink
    refs: RefStore
    clock: Callable[[], float]
    sleep: Callable[[float], None]

    def send(
        self,
        records: Sequence[Record],
        claims: Sequence[Sequence[str]],
        owner: str,
        budget: float,
        noun: Noun,
        total: int,
        advice: str = "",
        detail: dict[str, int] | None = None,
    ) -> Delivery:
        """Send `records`, whose rows in order hold `claims` (one list per row; rows past its end hold none).
        `total` counts the rows the answer speaks of; `advice` is the 422's retry advice when no claim is
        held (with claims, the advice is that the rows not stored were released)."""
        try:
            delivery = deliver(records, self.sink, budget, self.clock, self.sleep)
            delivery = self._settle(delivery, owner)
        except BaseException:
            self._release([k for held in claims for k in held], owner)
            raise
        if delivery.complete:
            return delivery
        self._release(_claims_of(delivery.failed, records, claims), owner)
        if delivery.sent_rows == 0:
            raise Unavailable(
                f"The service is temporarily unavailable: no {noun.plural} were {noun.done}, retry later"
            )
        if any(claims):
            advice = (
                f": the {noun.plural} not {noun.done} were released, retrying the same request "
                f"{noun.does} only them"
            )
        raise PartiallyInserted(
            f"Only {delivery.sent_rows} of {total} {noun.plural} were {noun.done}{advice}",
            {"inserted_rows": delivery.sent_rows, "failed_rows": delivery.failed_rows} | (detail or {}),
        )

    def _settle(self, delivery: Delivery, owner: str) -> Delivery:
        """Make the unsure records with an id either landed or never landing, and count them so. Without an id
        (rows promised at least once) a record stays unsure: the client's retry may store its rows twice."""
        unsure = [r for r in delivery.unsure if r.id]
        if not unsure:
            return delivery
        now = self.clock()
        expires = int(now) + SETTLED_DAYS * 86_400
        try:
            held = self.refs.claim_once(
                [Claim(record_key(r.id), "", expires) for r in unsure], abandoned(owner), now
            )
        except StoreUnavailable:
            return delivery  # cannot tell: released and answered as not stored, a copy may land too
        landed = {id(r) for r in unsure if record_key(r.id) in held}
        if not landed:
            return delivery
        failed = tuple(r for r in delivery.failed if id(r) not in landed)
        moved = sum(r.rows for r in delivery.failed if id(r) in landed)
        return replace(
            delivery,
            sent_rows=delivery.sent_rows + moved,
            failed_rows=delivery.failed_rows - moved,
            failed=failed,
            unsure=tuple(r for r in delivery.unsure if id(r) not in landed),
        )

    def _release(self, keys: Sequence[str], owner: str) -> None:
        if keys:
            self.refs.release(keys, owner)


def _claims_of(
    failed: Sequence[Record], records: Sequence[Record], claims: Sequence[Sequence[str]]
) -> list[str]:
    """The claims of the rows in the failed records (records hold consecutive rows, in order)."""
    starts: dict[int, int] = {}
    offset = 0
    for rec in records:
        starts[id(rec)] = offset
        offset += rec.rows
    return [
        k
        for rec in failed
        if id(rec) in starts
        for held in claims[starts[id(rec)] : starts[id(rec)] + rec.rows]
        for k in held
    ]
