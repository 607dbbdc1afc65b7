"""The local server each e2e module drives: one per module, its files in the module's temporary folder."""

from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.e2e.local_server import LocalServer, local_server


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalServer]:
    with local_server(tmp_path_factory.mktemp("local-server")) as running:
        yield running
