"""The Glue catalog (lakegate.lake.catalog.Catalog): a data source's tables created or updated as its
schema version moves."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime, timedelta
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lakegate.aws.errors import error_code, translate
from lakegate.lake.catalog import FIRST_DATE, VERSION_PARAMETER, keep_earlier_starts, table_input
from lakegate.schema import DataSource


class GlueCatalog:
    """Creates or updates the two tables of a workspace's data source when its schema version is new to it.
    Versions already synced are remembered for the warm Lambda: one Glue call per new version.

    Ingestion dates are projected from `projection_start`, or earlier: from the oldest day a raw object the
    compactor may still land can hold (`raw_retention_days` of raw/, and a day each for Firehose's retries
    and the ingest's clock), so a start set too late hides no landed row; an update never moves a start
    later than the table has it."""

    def __init__(
        self,
        database: str,
        bucket: str,
        client: Any,
        projection_start: str = FIRST_DATE,
        raw_retention_days: int = 0,
        today: Callable[[], date] = lambda: datetime.now(UTC).date(),
    ) -> None:
        self._database = database
        self._bucket = bucket
        self._client = client
        self._projection_start = projection_start
        self._raw_retention_days = raw_retention_days
        self._today = today
        self._synced: dict[tuple[str, str], int] = {}

    def projection_start(self) -> str:
        oldest = self._today() - timedelta(days=self._raw_retention_days + 2)
        return min(self._projection_start, oldest.isoformat())

    def sync(self, workspace: str, ds: DataSource) -> None:
        if self._synced.get((workspace, ds.name), 0) >= ds.version:
            return
        start = self.projection_start()
        try:
            for quarantine in (False, True):
                self._put(table_input(workspace, ds, self._bucket, quarantine, start), ds.version)
        except (ClientError, BotoCoreError) as e:
            raise translate(e, "catalog update") from e
        self._synced[(workspace, ds.name)] = ds.version

    def _put(self, table: Mapping[str, Any], version: int) -> None:
        try:
            current = self._client.get_table(DatabaseName=self._database, Name=table["Name"])["Table"]
        except ClientError as e:
            if error_code(e) != "EntityNotFoundException":
                raise
            try:
                self._client.create_table(DatabaseName=self._database, TableInput=table)
                return
            except ClientError as race:  # another compactor created it first: update it below
                if error_code(race) != "AlreadyExistsException":
                    raise
                current = self._client.get_table(DatabaseName=self._database, Name=table["Name"])["Table"]
        parameters = current.get("Parameters", {})
        stored = int(parameters.get(VERSION_PARAMETER, "0"))
        wanted = keep_earlier_starts(table["Parameters"], parameters)
        # A table of this version whose projection misses folders (written before ranges covered every
        # folder the compactor writes) is widened too; one of a newer version is another writer's.
        narrower = any(v != parameters.get(k) for k, v in wanted.items() if k.endswith(".range"))
        if stored < version or (stored == version and narrower):
            self._client.update_table(DatabaseName=self._database, TableInput={**table, "Parameters": wanted})
