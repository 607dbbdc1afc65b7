"""The one place boto3 clients are made: lazily, once per warm Lambda, with tight timeouts.

`AWS_ENDPOINT_URL` (honoured by boto3 itself) points every client at the local server's moto.
"""

from __future__ import annotations

from functools import cache
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from mypy_boto3_dynamodb import DynamoDBClient
    from mypy_boto3_firehose import FirehoseClient
    from mypy_boto3_s3 import S3Client


def _config(max_attempts: int) -> object:
    from botocore.config import Config

    # A request has seconds, not minutes: fail fast and let the caller's own retry loop decide.
    return Config(
        connect_timeout=2,
        read_timeout=5,
        retries={"mode": "standard", "total_max_attempts": max_attempts},
        tcp_keepalive=True,
    )


@cache
def _session() -> object:
    # botocore, not boto3: the same clients without boto3's own imports on the cold start.
    import botocore.session

    session = botocore.session.get_session()
    session.register_component("data_loader", _loader(session.get_component("data_loader").search_paths))
    return session


def _loader(search_paths: list[str]) -> object:
    """botocore's loader on the same search paths, less two costs of each cold start: model files are
    parsed by orjson (_json_file_loader), and asking whether a service exists looks in that service's
    folder only. botocore answers it by listing every service folder for every model type (~400 folders,
    twice per client: ~45 ms for two clients here); the answer is the same, the full list is still made
    when something iterates it (an unknown service's error message)."""
    import os
    from collections.abc import Iterator, Sequence

    from botocore.loaders import Loader

    class KnownServices(Sequence[str]):
        def __init__(self, loader: FastLoader, type_name: str) -> None:
            self._loader, self._type_name = loader, type_name

        def __contains__(self, name: object) -> bool:
            if not isinstance(name, str) or not name or os.sep in name:
                return False
            exists = self._loader.file_loader.exists
            for folder in self._loader.search_paths:  # botocore's criterion: some version holds the type
                service = os.path.join(folder, name)
                if os.path.isdir(service) and any(
                    exists(os.path.join(service, version, self._type_name)) for version in os.listdir(service)
                ):
                    return True
            return False

        def _all(self) -> list[str]:
            return Loader.list_available_services(self._loader, self._type_name)

        def __getitem__(self, i: Any) -> Any:
            return self._all()[i]

        def __len__(self) -> int:
            return len(self._all())

        def __iter__(self) -> Iterator[str]:
            return iter(self._all())

    class FastLoader(Loader):
        def list_available_services(self, type_name: str) -> Any:
            return KnownServices(self, type_name)

    return FastLoader(
        extra_search_paths=list(search_paths),
        file_loader=_json_file_loader(),
        include_default_search_paths=False,
    )


def _json_file_loader() -> Any:
    """botocore's own model files, parsed by orjson instead of the stdlib: the same data (dicts keep the
    files' order, as botocore's OrderedDicts did), in ~20 ms less per cold start (endpoints.json alone is
    1.25 MB). Which files are read, and from where, stays botocore's choice."""
    import gzip
    import os

    import orjson
    from botocore.loaders import JSONFileLoader

    class OrjsonFileLoader(JSONFileLoader):
        def load_file(self, file_path: str) -> Any:
            for ext, opener in ((".json", open), (".json.gz", gzip.open)):  # botocore's order
                if os.path.isfile(file_path + ext):
                    with opener(file_path + ext, "rb") as f:
                        return orjson.loads(f.read())
            return None

    return OrjsonFileLoader()


@cache
def dynamodb() -> DynamoDBClient:
    return _session().create_client("dynamodb", config=_config(3))  # type: ignore[attr-defined, no-any-return]


@cache
def firehose() -> FirehoseClient:
    # Delivery retries refused records itself (lakegate.ingest.delivery), inside the request's budget.
    return _session().create_client("firehose", config=_config(1))  # type: ignore[attr-defined, no-any-return]


@cache
def s3() -> S3Client:
    # The compactor's reads and writes are idempotent: botocore's own retries are safe here.
    return _session().create_client("s3", config=_config(3))  # type: ignore[attr-defined, no-any-return]


@cache
def glue() -> Any:
    # No mypy-boto3-glue stubs are pinned: the catalog adapter is typed against its own narrow use.
    return _session().create_client("glue", config=_config(3))  # type: ignore[attr-defined]
