"""The replay command's own parts: its times, its progress bar (on a terminal only) and its summary line."""

from __future__ import annotations

import io
from datetime import UTC, datetime, timedelta, timezone

import pytest

from lakegate.lake.replay import Replayed
from lakegate_cli.errors import CliError
from lakegate_cli.parser import build
from lakegate_cli.replay import parse_time, progress_bar, summary, window


class Terminal(io.StringIO):
    def isatty(self) -> bool:
        return True


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2026-12-01", datetime(2026, 12, 1, tzinfo=UTC)),
        ("2026-12-01T10:30", datetime(2026, 12, 1, 10, 30, tzinfo=UTC)),
        ("2026-12-01 10:30:05Z", datetime(2026, 12, 1, 10, 30, 5, tzinfo=UTC)),
        ("2026-12-01T10:30:05+02:00", datetime(2026, 12, 1, 10, 30, 5, tzinfo=timezone(timedelta(hours=2)))),
        ("1796000000", datetime.fromtimestamp(1796000000, UTC)),
        (None, None),
    ],
)
def test_times_are_iso_8601_or_unix_seconds_utc_by_default(
    text: str | None, expected: datetime | None
) -> None:
    assert parse_time(text, "--since") == expected


@pytest.mark.parametrize("text", ["yesterday", "2026-13-01", "", "1e999"])
def test_anything_else_is_refused_naming_the_flag(text: str) -> None:
    with pytest.raises(CliError, match=r"^--until .* is not a time"):
        parse_time(text, "--until")


def test_the_window_must_be_in_order() -> None:
    with pytest.raises(CliError, match="--since must be before --until"):
        window("2026-02-01", "2026-01-01")
    assert window("2026-01-01", None) == (datetime(2026, 1, 1, tzinfo=UTC), None)


def test_the_progress_bar_is_drawn_on_a_terminal_only() -> None:
    tty, pipe = Terminal(), io.StringIO()
    for stream in (tty, pipe):
        draw = progress_bar(stream)
        for done in range(3):
            draw(done, 2)
    assert pipe.getvalue() == ""
    assert tty.getvalue().split("\r")[1:] == [
        "[" + "." * 30 + "] 0/2 quarantine files",
        "[" + "#" * 15 + "." * 15 + "] 1/2 quarantine files",
        "[" + "#" * 30 + "] 2/2 quarantine files\n",
    ]


def test_the_summary_says_what_was_done_or_would_be() -> None:
    done = Replayed(replayed=3, still_failing=1, skipped=2, files=4, rewritten=2)
    assert summary("orders", done, dry=False) == (
        "orders: replayed 3, still failing 1, skipped 2 (4 quarantine files read, 2 rewritten)"
    )
    assert summary("orders", done, dry=True).startswith(
        "orders: dry run, nothing written: would be replayed 3"
    )


def test_the_command_line() -> None:
    args = build().parse_args(["quarantine", "replay", "orders", "--workspace", "w", "--since", "2026-01-01", "--dry-run"])  # fmt: skip
    assert (args.command, args.action, args.name, args.workspace, args.since, args.until, args.dry_run) == (
        "quarantine", "replay", "orders", "w", "2026-01-01", None, True
    )  # fmt: skip
    assert build().parse_args(["quarantine"]).action is None
