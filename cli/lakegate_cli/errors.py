"""The one error the CLI reports: a misuse or a failure the person at the terminal can act on."""

from __future__ import annotations

# argparse's own exit status for a usage error: every error the CLI reports uses it too.
EXIT_USAGE = 2


class CliError(Exception):
    """Printed as one line on stderr, exit status 2; `message` says what to do about it."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message
