"""The Glue catalog (lakegate.lake.catalog.Catalog): a data source's tables created or updated as its
schema version moves."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from botocore.exceptions import BotoCoreError, ClientError

from lakegate.aws.errors import error_code, translate
from lakegate.lake.catalog import FIRST_DATE, VERSION_PARAMETER, table_input
from lakegate.schema import DataSource


class GlueCatalog:
    """Creates or updates the two tables of a workspace's data source when its schema version is new to it.
    Versions already synced are remembered for the warm Lambda: one Glue call per new version."""

    def __init__(self, database: str, bucket: str, client: Any, projection_start: str = FIRST_DATE) -> None:
        self._database = database
        self._bucket = bucket
        self._client = client
        self._projection_start = projection_start
        self._synced: dict[tuple[str, str], int] = {}

    def sync(self, workspace: str, ds: DataSource) -> None:
        if self._synced.get((workspace, ds.name), 0) >= ds.version:
            return
        try:
            for quarantine in (False, True):
                table = table_input(workspace, ds, self._bucket, quarantine, self._projection_start)
                self._put(table, ds.version)
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
        if int(current.get("Parameters", {}).get(VERSION_PARAMETER, "0")) < version:
            self._client.update_table(DatabaseName=self._database, TableInput=table)
