"""The botocore session the clients come from reads botocore's model files as botocore would."""

from __future__ import annotations

import pytest
from botocore.loaders import JSONFileLoader

from lakegate.aws import clients


@pytest.mark.parametrize(
    "name",
    [
        "endpoints",
        "partitions",
        "sdk-default-configuration",
        "dynamodb/2012-08-10/service-2",
        "firehose/2015-08-04/service-2",
    ],
)
def test_model_files_load_the_same_data_as_botocores_own_loader(name: str) -> None:
    loader = clients._session().get_component("data_loader")  # type: ignore[attr-defined]
    assert type(loader.file_loader) is not JSONFileLoader
    (path, *_) = [p for p in loader.search_paths if JSONFileLoader().exists(f"{p}/{name}")]
    ours = loader.file_loader.load_file(f"{path}/{name}")
    theirs = JSONFileLoader().load_file(f"{path}/{name}")
    assert ours == theirs and list(ours) == list(theirs)


def test_a_missing_file_is_none() -> None:
    loader = clients._session().get_component("data_loader")  # type: ignore[attr-defined]
    assert loader.file_loader.load_file("/nonexistent/endpoints") is None
