"""Argument parsing: the commands, the target options in either position, one-line usage errors."""

from __future__ import annotations

import pytest

from lakegate_cli.parser import build


def test_tokens_create_takes_repeated_scopes_and_an_expiry() -> None:
    args = build().parse_args(
        [
            "tokens",
            "create",
            "--workspace",
            "w",
            "--scope",
            "ADMIN",
            "--scope",
            "DATASOURCE:APPEND",
            "--expires-in",
            "60",
        ]
    )
    assert (args.command, args.action) == ("tokens", "create")
    assert args.scopes == ["ADMIN", "DATASOURCE:APPEND"]
    assert args.expires_in == 60
    assert args.expires_at is None


@pytest.mark.parametrize("argv", [["--local", "tokens", "list"], ["tokens", "list", "--local"]])
def test_target_options_work_before_and_after_the_command(argv: list[str]) -> None:
    args = build().parse_args(argv)
    assert args.local is True
    assert args.stack is None


def test_an_option_before_the_command_is_not_reset_by_the_command() -> None:
    args = build().parse_args(["--stack", "prod", "--endpoint-url", "http://x", "quarantine"])
    assert (args.stack, args.endpoint_url, args.command) == ("prod", "http://x", "quarantine")


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        ([], "required: COMMAND"),
        (["tokens"], "required: ACTION"),
        (["tokens", "create", "--scope", "ADMIN"], "--workspace"),
        (["tokens", "create", "--workspace", "w"], "--scope"),
        (["tokens", "create", "--workspace", "w", "--scope", "ADMIN", "--expires-in", "0"], "positive"),
        (
            ["tokens", "create", "--workspace", "w", "--scope", "ADMIN", "--expires-in", "soon"],
            "whole number",
        ),
        (
            [
                "tokens",
                "create",
                "--workspace",
                "w",
                "--scope",
                "A",
                "--expires-in",
                "1",
                "--expires-at",
                "2",
            ],
            "not allowed with",
        ),
        (["tokens", "revoke"], "ID_PREFIX|NAME"),
        (["datasources", "show"], "name"),
        (["frobnicate"], "invalid choice"),
    ],
)
def test_misuse_is_one_line_on_stderr_and_exit_2(
    argv: list[str], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit) as exited:
        build().parse_args(argv)
    assert exited.value.code == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1
    assert message in err
