"""Test-wide setup: powertools reads its service name and namespace when `app` is imported."""

from __future__ import annotations

import os
from pathlib import Path

from lakegate_local.template import load_stack

_ENV = load_stack(Path(__file__).resolve().parents[1] / "template.yaml").function.environment
for _key in ("POWERTOOLS_SERVICE_NAME", "POWERTOOLS_METRICS_NAMESPACE", "LOG_LEVEL"):
    os.environ.setdefault(_key, _ENV[_key])
