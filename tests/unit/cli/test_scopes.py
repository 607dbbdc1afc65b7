"""Scope validation: what `tokens create --scope` accepts and how it is stored."""

from __future__ import annotations

import pytest

from lakegate_cli.errors import CliError
from lakegate_cli.scopes import validate_scope, validate_scopes


@pytest.mark.parametrize(
    ("raw", "stored"),
    [
        ("ADMIN", "ADMIN"),
        ("admin", "ADMIN"),
        ("DATASOURCE:CREATE", "DATASOURCE:CREATE"),
        ("DATASOURCE:APPEND", "DATASOURCE:APPEND"),
        ("DATASOURCES:APPEND", "DATASOURCE:APPEND"),
        ("datasources:create", "DATASOURCE:CREATE"),
        ("DATASOURCE:APPEND:events_test", "DATASOURCE:APPEND:events_test"),
        ("DATASOURCES:APPEND:Events", "DATASOURCE:APPEND:Events"),
    ],
)
def test_accepted_scopes_are_stored_in_the_spelling_auth_reads(raw: str, stored: str) -> None:
    assert validate_scope(raw) == stored


@pytest.mark.parametrize(
    "raw", ["", "READ", "DATASOURCE:READ", "DATASOURCE:APPEND:", "DATASOURCE:APPEND:1bad", "PIPES:READ:x"]
)
def test_unknown_scopes_are_refused_naming_the_scope(raw: str) -> None:
    with pytest.raises(CliError, match="bad scope"):
        validate_scope(raw)


def test_a_bad_data_source_name_is_named_as_such() -> None:
    with pytest.raises(CliError, match="not a valid data source name"):
        validate_scope("DATASOURCE:APPEND:has-dash")


def test_duplicates_are_dropped_in_order() -> None:
    assert validate_scopes(["DATASOURCES:APPEND", "ADMIN", "DATASOURCE:APPEND"]) == [
        "DATASOURCE:APPEND",
        "ADMIN",
    ]
