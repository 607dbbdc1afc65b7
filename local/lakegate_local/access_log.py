"""The HTTP API's access log line as API Gateway writes it: the template's Format with `$context`
variables filled in. The cost table and its test read the size of one line from here."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

from lakegate_local import cfn_yaml

# A single-event POST as the HTTP API logs it (an empty value prints as "-").
SAMPLE = {
    "requestId": "JcVBdgZ9iAMEMbA=",
    "identity.sourceIp": "203.0.113.195",
    "routeKey": "POST /v0/events",
    "status": "202",
    "integrationLatency": "14",
    "integrationErrorMessage": "-",
    "responseLength": "63",
    "requestTime": "01/Dec/2026:19:45:12 +0000",
    "protocol": "HTTP/1.1",
}
_VARIABLE = re.compile(r"\$context\.([A-Za-z.]+)")


def log_format(template: Path) -> str:
    """The Format of the HTTP API's AccessLogSettings (the branch taken when the log is on)."""
    settings: Any = cfn_yaml.load(template)["Resources"]["HttpApi"]["Properties"]["AccessLogSettings"]
    _condition, when_on, _when_off = settings["Fn::If"]
    return str(when_on["Format"])


def variables(fmt: str) -> list[str]:
    return _VARIABLE.findall(fmt)


def render(fmt: str, values: dict[str, str] = SAMPLE) -> str:
    """One line as API Gateway writes it; KeyError for a variable with no sample value."""
    return _VARIABLE.sub(lambda m: values[m.group(1)], fmt)
