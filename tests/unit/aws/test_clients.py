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


@pytest.mark.parametrize("type_name", ["service-2", "endpoint-rule-set-1", "paginators-1", "waiters-2"])
def test_which_services_exist_is_botocores_answer(type_name: str) -> None:
    """Asked service by service, the loader answers as botocore's full listing does, and still lists."""
    from botocore.loaders import Loader

    loader = clients._session().get_component("data_loader")  # type: ignore[attr-defined]
    known = loader.list_available_services(type_name)
    listed = Loader(extra_search_paths=list(loader.search_paths), include_default_search_paths=False)
    theirs = listed.list_available_services(type_name)
    assert list(known) == theirs and len(known) == len(theirs)
    for name in ["dynamodb", "firehose", "s3", "glue", "sdb", "nope", "", "../botocore", theirs[-1]]:
        assert (name in known) == (name in theirs), name


def test_an_unknown_service_is_refused_with_the_list_of_known_ones() -> None:
    from botocore.exceptions import UnknownServiceError

    with pytest.raises(UnknownServiceError, match="dynamodb"):
        clients._session().create_client("nope")  # type: ignore[attr-defined]
