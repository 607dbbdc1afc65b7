"""CompactorFunction: objects created under `raw/` -> Parquet under `datasources/`. Thin: keys in, outcomes logged.
Twice a day its schedule (template.yaml, `ExpirySchedule`) invokes it to apply every data source's TTL.

Named `compactor_app`, not `app`, so it and the ingest handler can share one path in tests and locally.
"""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote_plus

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from lakegate.aws import clients
from lakegate.aws.glue import GlueCatalog
from lakegate.aws.refs import DynamoRefStore
from lakegate.aws.registry import DynamoRegistry
from lakegate.aws.s3 import S3ObjectStore
from lakegate.config import CompactorSettings
from lakegate.lake.compactor import Compactor, Outcome
from lakegate.lake.expiry import Expired, expire_all

logger = Logger()
metrics = Metrics()
_compactor: tuple[str, Compactor] | None = None
_expiry: tuple[S3ObjectStore, DynamoRegistry] | None = None
# What EventBridge's scheduled rules send (`detail-type`), as opposed to S3's `Object Created`.
SCHEDULED = "Scheduled Event"


def _service() -> tuple[str, Compactor]:
    """The lake bucket and a compactor on it, built once per warm Lambda."""
    global _compactor  # noqa: PLW0603 - one per warm Lambda, built on the first event
    if _compactor is None:
        settings = CompactorSettings.from_env()
        bucket = settings.lake_bucket
        # Uncached on purpose: a stale schema would land rows without their newest columns.
        registry = DynamoRegistry(settings.datasources_table, clients.dynamodb())
        catalog = GlueCatalog(
            settings.glue_database,
            bucket,
            clients.glue(),
            settings.partition_projection_start,
            settings.raw_retention_days,
        )
        # The refs the ingest claims for wait=true: rows that came without it are deduplicated here.
        refs = DynamoRefStore(settings.refs_table, clients.dynamodb())
        store = S3ObjectStore(bucket, clients.s3())
        # Record claims live in the refs table too (lakegate.lake.records).
        compactor = Compactor(
            store, registry, catalog, refs, claims=refs, keep_days=settings.raw_retention_days
        )
        _compactor = (bucket, compactor)
    return _compactor


def _expiry_service() -> tuple[S3ObjectStore, DynamoRegistry]:
    """The lake and the registry, for the scheduled TTL run, built once per warm Lambda."""
    global _expiry  # noqa: PLW0603 - one per warm Lambda, built on the first scheduled event
    if _expiry is None:
        settings = CompactorSettings.from_env()
        _expiry = (
            S3ObjectStore(settings.lake_bucket, clients.s3()),
            DynamoRegistry(settings.datasources_table, clients.dynamodb()),
        )
    return _expiry


def _report_expiry(done: Expired) -> None:
    # ExpiryRuns: alarmed when missing for a day (the schedule stopped); ExpiryFailures: alarmed.
    metrics.add_metric(name="ExpiryRuns", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="ExpiredPartitions", unit=MetricUnit.Count, value=len(done.deleted))
    metrics.add_metric(name="ExpiryRewrittenFiles", unit=MetricUnit.Count, value=len(done.rewritten))
    if done.errors:
        metrics.add_metric(name="ExpiryFailures", unit=MetricUnit.Count, value=len(done.errors))
        logger.warning("ttl expiry failed", extra={"reasons": done.errors[:50], "failures": len(done.errors)})
    logger.info(
        "ttl expiry ran",
        extra={
            "deleted": done.deleted[:200],
            "rewritten": done.rewritten[:200],
            "failures": len(done.errors),
        },
    )


def expire_everything() -> dict[str, Any]:
    """The scheduled run: every data source of every workspace has its TTL applied, row by row."""
    store, registry = _expiry_service()
    done = expire_all(store, registry, datetime.now(UTC))
    _report_expiry(done)
    return {"expired": len(done.deleted), "rewritten": len(done.rewritten), "failures": len(done.errors)}


def keys_of(event: dict[str, Any], bucket: str) -> list[str]:
    """The object keys of an event: EventBridge's `Object Created` (as deployed) or an S3 notification.
    S3 notifications URL-encode keys (`+` for a space); EventBridge does not."""
    if event.get("detail-type") == "Object Created":
        detail = event["detail"]
        records = [(str(detail["bucket"]["name"]), str(detail["object"]["key"]))]
    else:
        records = [
            (str(r["s3"]["bucket"]["name"]), unquote_plus(r["s3"]["object"]["key"]))
            for r in event.get("Records", [])
        ]
    for name, _ in records:
        if name != bucket:
            raise ValueError(f"event for bucket {name!r}, this function compacts {bucket!r}")
    return [key for _, key in records]


def _report(outcome: Outcome) -> None:
    if outcome.error:
        # Alarmed on (template.yaml): the object is kept under errors/ for an operator.
        metrics.add_metric(name="UnreadableRawObjects", unit=MetricUnit.Count, value=1)
        logger.error("raw object set aside", extra={"key": outcome.source_key, "reason": outcome.error})
        return
    if outcome.catalog_error:
        # The rows are landed; the tables catch up on the next object of these data sources.
        metrics.add_metric(name="CatalogSyncFailures", unit=MetricUnit.Count, value=1)
        logger.warning(
            "catalog not updated", extra={"key": outcome.source_key, "reason": outcome.catalog_error}
        )
    if outcome.expiry_error:
        # The rows are landed; expiry runs again at the next scheduled run or object of these data sources.
        metrics.add_metric(name="ExpiryFailures", unit=MetricUnit.Count, value=1)
        logger.warning("ttl expiry failed", extra={"key": outcome.source_key, "reason": outcome.expiry_error})
    if outcome.set_aside:
        # Alarmed on (template.yaml): a data source whose definition cannot be applied; its rows of this
        # object are in its quarantine with the reason, every other source's rows landed.
        metrics.add_metric(name="SetAsideRows", unit=MetricUnit.Count, value=outcome.set_aside_rows)
        logger.error(
            "rows set aside",
            extra={
                "key": outcome.source_key,
                "rows": outcome.set_aside_rows,
                "reasons": list(outcome.set_aside),
            },
        )
    if outcome.past_cap_fields:
        # The rows holding them are in their quarantine with the reason: the schema is at its column cap.
        fields = len(outcome.past_cap_fields)
        metrics.add_metric(name="FieldsPastColumnLimit", unit=MetricUnit.Count, value=fields)
        logger.warning(
            "fields past the column limit",
            extra={"key": outcome.source_key, "fields": list(outcome.past_cap_fields)},
        )
    if outcome.expired:
        metrics.add_metric(name="ExpiredPartitions", unit=MetricUnit.Count, value=len(outcome.expired))
        logger.info("partitions expired", extra={"partitions": list(outcome.expired)})
    metrics.add_metric(name="LandedRows", unit=MetricUnit.Count, value=outcome.rows)
    metrics.add_metric(name="LandedQuarantinedRows", unit=MetricUnit.Count, value=outcome.quarantined_rows)
    metrics.add_metric(name="LandedDuplicateRows", unit=MetricUnit.Count, value=outcome.duplicate_rows)
    metrics.add_metric(name="DuplicateRecords", unit=MetricUnit.Count, value=outcome.duplicate_records)
    metrics.add_metric(name="LandedFiles", unit=MetricUnit.Count, value=len(outcome.files))
    # Values no column reads in rows of data sources that keep their defined schema: not stored, by design.
    metrics.add_metric(name="UnreadValues", unit=MetricUnit.Count, value=outcome.unread_values)
    logger.info(
        "raw object landed",
        extra={
            "key": outcome.source_key,
            "rows": outcome.rows,
            "quarantined_rows": outcome.quarantined_rows,
            "duplicate_rows": outcome.duplicate_rows,
            "duplicate_records": outcome.duplicate_records,
            "files": list(outcome.files),
            "unread_values": outcome.unread_values,
            "unread_fields": list(outcome.unread_fields),
        },
    )


@metrics.log_metrics
# clear_state: keys a previous event appended never leak into this one's lines.
@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    if event.get("detail-type") == SCHEDULED:
        return expire_everything()
    bucket, compactor = _service()
    outcomes = []
    for key in keys_of(event, bucket):
        outcomes.append(compactor.process(key))
        _report(outcomes[-1])
    return {
        "objects": len(outcomes),
        "rows": sum(o.rows for o in outcomes),
        "quarantined_rows": sum(o.quarantined_rows for o in outcomes),
        "duplicate_rows": sum(o.duplicate_rows for o in outcomes),
        "duplicate_records": sum(o.duplicate_records for o in outcomes),
        "set_aside_rows": sum(o.set_aside_rows for o in outcomes),
        "unreadable": sum(1 for o in outcomes if o.error),
    }
