"""`tokens revoke <id-prefix|name>`: exactly one token or a clear error."""

from __future__ import annotations

import pytest

from lakegate.ingest.auth import Token
from lakegate_cli.admin import find_token
from lakegate_cli.errors import CliError

A = Token("abcd1111" + "0" * 56, "ws", "default", frozenset(), name="alpha")
B = Token("abcd2222" + "0" * 56, "ws", "default", frozenset(), name="beta")


def test_by_name() -> None:
    assert find_token([A, B], "beta") is B


def test_by_unique_prefix() -> None:
    assert find_token([A, B], "ABCD1") is A


def test_ambiguous_prefix_names_the_candidates() -> None:
    with pytest.raises(
        CliError, match=r"ambiguous token 'abcd': it matches 2 tokens \(abcd11110000, abcd22220000\)"
    ):
        find_token([A, B], "abcd")


@pytest.mark.parametrize(("ref", "hint"), [("gamma", "no token has that name"), ("ab", "at least 4")])
def test_unknown(ref: str, hint: str) -> None:
    with pytest.raises(CliError, match=hint):
        find_token([A, B], ref)
