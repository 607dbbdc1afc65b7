"""Without a region the CLI says how to give boto3 one: AWS_REGION alone is not read."""

from __future__ import annotations

import io
from pathlib import Path

import pytest

from lakegate_cli.main import main as cli


def test_the_hint_names_the_variable_boto3_reads(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Given AWS_REGION set, as Lambda sets it, but no AWS_DEFAULT_REGION and no profile region
    for name in ("AWS_DEFAULT_REGION", "AWS_PROFILE", "AWS_ENDPOINT_URL"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))

    # When a command needs AWS
    status = cli(["--stack", "lakegate", "tokens", "list"], out=io.StringIO())

    # Then one line that names what boto3 reads, and not AWS_REGION
    err = capsys.readouterr().err
    assert status == 2
    assert "set AWS_DEFAULT_REGION" in err
    assert "AWS_REGION " not in err
