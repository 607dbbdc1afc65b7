"""The `package==version` pins of the requirement files, for tests that keep them in agreement."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def pins(name: str) -> dict[str, str]:
    """`package==version` lines of one requirements file (comments and `-r` lines aside)."""
    found = {}
    for line in (ROOT / name).read_text().splitlines():
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s#]+)\s*(?:#.*)?", line.strip())
        if m:
            found[m.group(1).lower()] = m.group(2)
    return found
