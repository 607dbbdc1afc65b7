"""The CLI against the local server's emulated AWS: a moto server holding template.yaml's resources."""

from __future__ import annotations

import io
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from lakegate_cli.main import main
from lakegate_local import aws
from lakegate_local.template import Stack, load_stack

ROOT = Path(__file__).resolve().parents[3]


@dataclass
class Run:
    """One CLI run: its exit status and what it printed."""

    status: int
    out: str
    err: str


@dataclass
class Local:
    """The moto server, the stack made from the template, and a way to run the CLI against both."""

    aws: aws.LocalAws
    stack: Stack
    capsys: pytest.CaptureFixture[str]

    def cli(self, *argv: str) -> Run:
        out = io.StringIO()
        self.capsys.readouterr()
        status = main(["--local", "--endpoint-url", self.aws.endpoint, *argv], out=out)
        return Run(status, out.getvalue(), self.capsys.readouterr().err)


@pytest.fixture(scope="module")
def moto_server() -> Iterator[aws.LocalAws]:
    running = aws.start(0)
    yield running
    running.stop()


@pytest.fixture
def local(
    moto_server: aws.LocalAws, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> Local:
    """A fresh deployment per test on the shared server: moto's reset, then the template's resources."""
    for key in ("AWS_ENDPOINT_URL", "AWS_PROFILE", "LAKEGATE_TEMPLATE"):
        monkeypatch.delenv(key, raising=False)
    reset = urllib.request.Request(f"{moto_server.endpoint}/moto-api/reset", method="POST")
    with urllib.request.urlopen(reset, timeout=10):  # a local moto server, never a remote URL
        pass
    stack = load_stack(ROOT / "template.yaml")
    aws.create_resources(moto_server, stack)
    return Local(moto_server, stack, capsys)
