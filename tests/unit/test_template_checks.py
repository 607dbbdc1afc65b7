"""Every lint finding the template accepts is explained in README's "Template checks" table."""

from __future__ import annotations

import re
from pathlib import Path

import yaml

from lakegate_local import cfn_yaml

ROOT = Path(__file__).resolve().parents[2]


def _explained() -> set[str]:
    readme = (ROOT / "README.md").read_text()
    section = readme.split("### Template checks", 1)[1].split("\n## ", 1)[0]
    return set(re.findall(r"^\| `([A-Z0-9_]+)`", section, flags=re.MULTILINE))


def test_every_check_skipped_or_ignored_has_its_reason_in_readme() -> None:
    checkov = yaml.safe_load((ROOT / ".checkov.yaml").read_text())["skip-check"]
    resources = cfn_yaml.load(ROOT / "template.yaml")["Resources"]
    ignored = {
        check
        for resource in resources.values()
        for check in (resource.get("Metadata") or {})
        .get("cfn-lint", {})
        .get("config", {})
        .get("ignore_checks", [])
    }
    assert ignored, "no cfn-lint ignore found: the Metadata is not where this test reads it"
    assert _explained() == set(checkov) | ignored
