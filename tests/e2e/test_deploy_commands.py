"""README's deploy-side commands, run as written, where they need no AWS account: the admin CLI's help, and
the first token created on a stack, here template.yaml deployed into a moto server as the stack `lakegate`.

`make build` is left to CI (.ci/run runs it: minutes of wheel downloads for arm64) and `make deploy` to an
AWS account; the test fails on any other command README's deploy block gains, so none goes untried.
"""

from __future__ import annotations

import re
import shlex
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest

from lakegate.ingest.auth import hash_token
from lakegate_local import aws
from tests.e2e.commands import run_documented
from tests.e2e.local_server import REPO
from tests.integration.deploy.sam_stack import REGION, deploy, transform

NOT_RUN_HERE = {"make build": "CI runs it (.ci/run)", "make deploy": "needs an AWS account"}


def _deploy_block() -> list[str]:
    """The commands of README's first ```sh block under "### Deploy", comments dropped."""
    readme = (REPO / "README.md").read_text()
    block = re.search(r"^### Deploy\n.*?```sh\n(.*?)```", readme, flags=re.DOTALL | re.MULTILINE)
    assert block is not None, "README's deploy commands are not where they were"
    return [line.split("  #", 1)[0].strip() for line in block.group(1).splitlines() if line.strip()]


def _help_command() -> str:
    found = re.search(r"`(make lakegate ARGS='--help')`", (REPO / "README.md").read_text())
    assert found is not None, "README shows no `make lakegate ARGS='--help'`"
    return found.group(1)


@pytest.fixture(scope="module")
def moto_stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, str]]:
    """template.yaml deployed as `lakegate` into a moto server; the environment that points AWS clients at it."""
    server = aws.start(0)
    env = {
        "AWS_ENDPOINT_URL": server.endpoint,
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        # No profile of the machine's may point elsewhere.
        "AWS_CONFIG_FILE": str(tmp_path_factory.mktemp("aws") / "config"),
    }
    try:
        with pytest.MonkeyPatch.context() as mp:
            for key, value in env.items():
                mp.setenv(key, value)
            session = boto3.session.Session(region_name=REGION)
            stack = deploy(session, transform(), stack_name="lakegate")
        yield env | {"TOKENS_TABLE": stack.outputs["TokensTableName"]}
    finally:
        server.stop()


def test_readme_deploy_block_is_what_this_test_runs_or_leaves_out() -> None:
    commands = _deploy_block()
    assert [c for c in commands if c in NOT_RUN_HERE] == list(NOT_RUN_HERE)
    assert [c for c in commands if c not in NOT_RUN_HERE] == [
        "make lakegate ARGS='--stack lakegate tokens create --workspace main --scope ADMIN'"
    ]


def test_the_cli_help_runs_as_written(tmp_path: Path) -> None:
    done = run_documented(_help_command(), tmp_path)
    assert done.returncode == 0, done.stderr
    assert "tokens" in done.stdout and "--stack" in done.stdout


def test_the_first_token_is_created_on_the_stack_as_written(
    moto_stack: dict[str, Any], tmp_path: Path
) -> None:
    (command,) = (c for c in _deploy_block() if c not in NOT_RUN_HERE)

    done = run_documented(command, tmp_path, env=moto_stack)

    # The token is printed once, and only its hash is stored, in the stack's tokens table with its scope.
    assert done.returncode == 0, done.stderr
    token = done.stdout.strip()
    assert token and "\n" not in token
    ddb = boto3.client(
        "dynamodb",
        endpoint_url=moto_stack["AWS_ENDPOINT_URL"],
        region_name=REGION,
        aws_access_key_id="testing",
        aws_secret_access_key="testing",
    )
    item = ddb.get_item(TableName=moto_stack["TOKENS_TABLE"], Key={"token_hash": {"S": hash_token(token)}})
    assert item["Item"]["workspace_id"] == {"S": "main"}
    assert "--scope ADMIN" in shlex.split(command)[-1]
    assert item["Item"]["scopes"] == {"L": [{"S": "ADMIN"}]}
