"""What the compactor handler needs beside the `lake` fixture: its own variables and the Glue database."""

from __future__ import annotations

import boto3
import pytest

from tests.integration.conftest import REGION, Lake

GLUE_DATABASE = "lakegate_test"


def prepare_compactor(lake: Lake, monkeypatch: pytest.MonkeyPatch) -> None:
    """Set the compactor's environment as template.yaml does, and make its next invocation a cold start."""
    import compactor_app
    from lakegate import clients

    boto3.client("glue", region_name=REGION).create_database(DatabaseInput={"Name": GLUE_DATABASE})
    monkeypatch.setenv("LAKE_BUCKET", lake.bucket)
    monkeypatch.setenv("GLUE_DATABASE", GLUE_DATABASE)
    clients.s3.cache_clear()
    clients.glue.cache_clear()
    monkeypatch.setattr(compactor_app, "_compactor", None)
