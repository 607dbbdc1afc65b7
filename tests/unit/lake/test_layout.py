"""The lake's layout: every workspace has its own folder, whatever its id holds, and reads back to it."""

from __future__ import annotations

import re

from hypothesis import given
from hypothesis import strategies as st

from lakegate.lake.layout import (
    PREFIX,
    folder,
    legacy_folder,
    part_key,
    workspace_folder,
    workspace_of,
    workspace_segment,
)

# Ids that could escape or alias a folder if written as they are.
TRICKY = ["", ".", "..", "../x", "a/b", "a=b", "date=2026-01-01", "%", "%41", "A", "a", " ", "ü", "a\x00b"]


@given(st.sampled_from(TRICKY) | st.text(max_size=60))
def test_a_workspace_folder_is_one_plain_segment_that_reads_back_to_its_id(workspace: str) -> None:
    segment = workspace_segment(workspace)
    assert re.fullmatch(r"[A-Za-z0-9_.~%-]+", segment)
    assert not segment.startswith(".") and "=" not in segment and "/" not in segment
    assert workspace_of(segment) == workspace
    assert workspace_folder(workspace) == f"{PREFIX}{segment}/"


@given(st.lists(st.sampled_from(TRICKY) | st.text(max_size=20), min_size=2, max_size=6, unique=True))
def test_two_workspaces_never_share_a_folder(workspaces: list[str]) -> None:
    assert len({folder(w, "shared") for w in workspaces}) == len(workspaces)


def test_the_path_is_prefix_then_workspace_then_name() -> None:
    assert folder("main", "events") == "datasources/main/events/"
    assert folder("main", "events_quarantine") == "datasources/main/events_quarantine/"
    assert folder("acme/prod", "events") == "datasources/acme%2Fprod/events/"
    key = part_key("raw/k", "main", "events", "date=2026-11-23/hour=20")
    assert re.fullmatch(r"datasources/main/events/date=2026-11-23/hour=20/part-[0-9a-f]{24}\.parquet", key)
    assert part_key("raw/k", "a", "events", "p") != part_key("raw/k", "b", "events", "p")
    assert legacy_folder("events") == "datasources/events/"
