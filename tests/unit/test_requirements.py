"""The pins that must agree across the requirement files of the separate venvs."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def pins(name: str) -> dict[str, str]:
    """`package==version` lines of one requirements file (comments and `-r` lines aside)."""
    found = {}
    for line in (ROOT / name).read_text().splitlines():
        m = re.fullmatch(r"([A-Za-z0-9_.-]+)(?:\[[^\]]*\])?==([^\s#]+)\s*(?:#.*)?", line.strip())
        if m:
            found[m.group(1).lower()] = m.group(2)
    return found


def test_the_deploy_tests_translate_with_the_sam_clis_translator() -> None:
    sam, dev = pins("requirements-sam.txt"), pins("requirements-dev.txt")
    assert "aws-sam-cli" in sam
    assert sam["aws-sam-translator"] == dev["aws-sam-translator"]
