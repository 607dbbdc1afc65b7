"""Names beside the client's: which a column may not take, and the free name inference gives instead."""

from __future__ import annotations

import pytest

from lakegate.names import free_name, reserved


@pytest.mark.parametrize(
    ("name", "is_reserved"),
    [
        ("insertion_date", True),
        ("Insertion_Date", True),
        ("c__line", True),
        ("C__anything", True),
        ("ingestion_date", True),
        ("partition_month", True),
        ("date", False),
        ("c_line", False),
        ("_c__line", False),
    ],
)
def test_reserved_names(name: str, is_reserved: bool) -> None:
    assert reserved(name) is is_reserved


@pytest.mark.parametrize(
    ("wanted", "taken", "given"),
    [
        ("city", [], "city"),
        ("Mixed", ["mixed"], "Mixed_"),
        ("mixed", ["Mixed", "MIXED_"], "mixed__"),
        ("insertion_date", [], "insertion_date_"),
        ("c__line", [], "_c__line"),
        ("c__line", ["_C__LINE"], "_c__line_"),
        ("ingestion_hour", ["ingestion_hour_"], "ingestion_hour__"),
    ],
)
def test_free_name_is_neither_reserved_nor_taken(wanted: str, taken: list[str], given: str) -> None:
    assert free_name(wanted, taken) == given
