"""The project's client examples: shell snippets as a user writes them, with `$API` (the base URL) and
`$TOKEN` set, and the answers they must get. The e2e tests run them as written against the local server;
the Vayu one is also sent through the handler in tests/integration/test_vayu_api.py.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

HERE = Path(__file__).parent
# `# answers: <status> <body>`: what the snippet's one request must get, byte for byte.
ANSWERS = re.compile(r"^# answers: (\d{3}) (\{.*\})$", re.MULTILINE)
# Every row in these examples is a flat JSON object written out in the snippet.
ROW = re.compile(r'\{"[^{}]*\}')


@dataclass(frozen=True)
class Example:
    """One snippet of the Events API, its answer and the rows it sends."""

    name: str
    script: str
    status: int
    body: str

    @property
    def rows(self) -> list[bytes]:
        # The commands' rows, not the comments' answer; `$'a\nb'` separates rows with a backslash-n.
        commands = "\n".join(line for line in self.script.splitlines() if not line.startswith("#"))
        return [m.encode() for m in ROW.findall(commands.replace("\\n", "\n"))]


def events_examples() -> list[Example]:
    examples = []
    for path in sorted(HERE.glob("events_*.sh")):
        script = path.read_text()
        answers = ANSWERS.search(script)
        if answers is None:
            raise ValueError(f"{path.name} says no `# answers: <status> <body>`")
        examples.append(Example(path.stem, script, int(answers.group(1)), answers.group(2)))
    return examples


@dataclass(frozen=True)
class VayuExample:
    """Vayu's batch call: the snippet, the body it sends, its answers to a first and a second send."""

    script: str
    body: bytes
    first: dict[str, Any]
    again: dict[str, Any]

    @property
    def headers(self) -> dict[str, str]:
        """The `--header`s it sends, names in lower case as API Gateway passes them."""
        return {k.lower(): v for k, v in re.findall(r"--header [\"']([^:]+): ([^\"']+)[\"']", self.script)}

    @property
    def path(self) -> str:
        url = re.search(r'--url "\$API(/\S*)"', self.script)
        if url is None:
            raise ValueError("vayu_events.sh names no --url under $API")
        return url.group(1)


def vayu_example() -> VayuExample:
    script = (HERE / "vayu_events.sh").read_text()
    data = re.search(r"--data '(.*)'$", script, flags=re.MULTILINE)
    if data is None:
        raise ValueError("vayu_events.sh sends no --data '...'")
    answers = json.loads((HERE / "vayu_events.json").read_text())
    return VayuExample(script, data.group(1).encode(), answers["first"], answers["again"])
