"""The local server's settings that depend on the machine."""

import pytest

from lakegate_local.__main__ import default_instances


@pytest.mark.parametrize(("cores", "instances"), [(None, 2), (1, 2), (2, 2), (3, 3), (4, 4), (16, 4)])
def test_one_ingest_instance_per_core_between_two_and_four(cores: int | None, instances: int) -> None:
    assert default_instances(cores) == instances
