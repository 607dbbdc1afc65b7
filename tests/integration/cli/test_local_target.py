"""`lakegate --local --endpoint-url ...`: the CLI against the local server's AWS, names from template.yaml."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import orjson

from lakegate.aws.registry import DynamoRegistry
from lakegate.aws.tokens import DynamoTokenStore
from lakegate.ingest.auth import hash_token
from lakegate.schema import Column, DataSource, legacy_id
from tests.integration.cli.conftest import ROOT, Local


def _tokens(local: Local) -> DynamoTokenStore:
    return DynamoTokenStore(local.stack.function.environment["TOKENS_TABLE"], local.aws.dynamodb())


def test_create_prints_the_token_once_and_stores_only_its_hash(local: Local) -> None:
    run = local.cli(
        "tokens", "create", "--workspace", "ws1", "--scope", "DATASOURCES:APPEND:events", "--name", "ingest",
        "--expires-in", "3600",
    )  # fmt: skip
    assert run.status == 0, run.err
    plain = run.out.strip()
    assert len(plain) >= 40
    assert plain not in run.err
    token = _tokens(local).get(hash_token(plain))
    assert token is not None
    assert token.scopes == frozenset({"DATASOURCE:APPEND:events"})
    assert token.workspace_id == "ws1"
    # The cluster is the template's ClusterId, as the ingest function compares it.
    assert token.cluster == local.stack.function.environment["CLUSTER_ID"]
    assert token.expires_at is not None and 3590 < token.expires_at - time.time() <= 3600
    scanned = local.aws.dynamodb().scan(TableName=local.stack.function.environment["TOKENS_TABLE"])["Items"]
    assert plain not in orjson.dumps(scanned).decode()


def test_list_shows_no_token_and_no_full_hash_and_revoke_by_prefix(local: Local) -> None:
    plain = local.cli(
        "tokens", "create", "--workspace", "ws1", "--scope", "ADMIN", "--name", "ops"
    ).out.strip()
    local.cli("tokens", "create", "--workspace", "ws2", "--scope", "DATASOURCE:CREATE")
    listed = local.cli("tokens", "list", "--workspace", "ws1")
    assert listed.status == 0
    lines = listed.out.splitlines()
    assert len(lines) == 2
    assert lines[1].split()[:3] == [hash_token(plain)[:12], "ops", "ws1"]
    assert plain not in listed.out
    assert hash_token(plain) not in listed.out

    revoked = local.cli("tokens", "revoke", hash_token(plain)[:8])
    assert revoked.status == 0, revoked.err
    assert "revoked token" in revoked.out
    token = _tokens(local).get(hash_token(plain))
    assert token is not None and token.revoked
    assert not token.is_live(time.time())
    assert local.cli("tokens", "list").out.count("yes") == 1


def test_revoke_by_name_then_again(local: Local) -> None:
    local.cli("tokens", "create", "--workspace", "ws1", "--scope", "ADMIN", "--name", "ops")
    assert local.cli("tokens", "revoke", "ops").status == 0
    again = local.cli("tokens", "revoke", "ops")
    assert again.status == 0
    assert "already revoked" in again.out


def test_token_misuse_exits_2_with_one_line(local: Local) -> None:
    local.cli("tokens", "create", "--workspace", "ws1", "--scope", "ADMIN", "--name", "ops")
    cases = {
        ("tokens", "create", "--workspace", "ws1", "--scope", "DATASOURCE:DROP"): "bad scope",
        (
            "tokens",
            "create",
            "--workspace",
            "ws1",
            "--scope",
            "ADMIN",
            "--name",
            "ops",
        ): "a token named 'ops' exists",
        ("tokens", "create", "--workspace", "ws1", "--scope", "ADMIN", "--expires-at", "1000"): "in the past",
        ("tokens", "revoke", "nobody"): "unknown token 'nobody'",
    }
    for argv, message in cases.items():
        run = local.cli(*argv)
        assert run.status == 2, argv
        assert run.err.count("\n") == 1 and message in run.err, run.err


def test_ambiguous_prefix_is_refused_and_names_the_candidates(local: Local) -> None:
    for suffix in ("1", "2"):
        _tokens(local).put(
            {
                "token_hash": "abcd" + suffix * 60,
                "workspace_id": "ws1",
                "cluster": "default",
                "scopes": ["ADMIN"],
            }
        )
    run = local.cli("tokens", "revoke", "abcd")
    assert run.status == 2
    assert run.err == (
        "lakegate: ambiguous token 'abcd': it matches 2 tokens (abcd11111111, abcd22222222); give more of the id\n"
    )
    assert local.cli("tokens", "revoke", "abcd2").status == 0


def test_datasources_list_and_show(local: Local) -> None:
    registry = DynamoRegistry(local.stack.function.environment["DATASOURCES_TABLE"], local.aws.dynamodb())
    ds = DataSource(
        name="events_test",
        columns=(Column("date", "DateTime", "$.date"), Column("city", "Nullable(String)", "$.city")),
    )
    registry.create("ws1", ds)
    registry.create("ws2", ds)
    clicks_id = "t_" + "c" * 32
    registry.create(
        "ws2", DataSource(name="clicks", columns=(Column("url", "String", "$.url"),), id=clicks_id)
    )

    listed = local.cli("datasources", "list", "--workspace", "ws2")
    assert [line.split()[:4] for line in listed.out.splitlines()[1:]] == [
        ["clicks", clicks_id, "ws2", "1"],
        ["events_test", legacy_id("events_test"), "ws2", "2"],
    ]
    assert (
        len(local.cli("datasources", "list").out.splitlines()) == 4
    )  # the registry's index items are not listed
    by_id = local.cli("datasources", "show", clicks_id, "--workspace", "ws2")
    assert by_id.status == 0 and by_id.out.startswith(f"# clicks ({clicks_id}): workspace ws2")
    assert local.cli("datasources", "show", clicks_id).status == 0

    shown = local.cli("datasources", "show", "events_test", "--workspace", "ws1")
    assert shown.status == 0
    assert "    `date` DateTime `json:$.date`,\n    `city` Nullable(String) `json:$.city`" in shown.out

    ambiguous = local.cli("datasources", "show", "events_test")
    assert ambiguous.status == 2 and "pass --workspace" in ambiguous.err
    assert local.cli("datasources", "show", "clicks").status == 0
    missing = local.cli("datasources", "show", "nope", "--workspace", "ws1")
    assert missing.status == 2 and "unknown data source 'nope'" in missing.err


def test_quarantine_summary_counts_objects_per_data_source(local: Local) -> None:
    bucket = local.stack.raw_stream.bucket
    s3 = local.aws.s3()
    assert "nothing quarantined" in local.cli("quarantine").out
    for key in (
        "datasources/ws1/events/dt=2026-01-01/part-1.parquet",
        "datasources/ws1/events_quarantine/dt=2026-01-01/part-1.parquet",
        "datasources/ws1/events_quarantine/dt=2026-01-02/part-2.parquet",
        "datasources/ws1/clicks_quarantine/dt=2026-01-01/part-1.parquet",
        "datasources/a%2Fb/events_quarantine/dt=2026-01-01/part-1.parquet",
    ):
        s3.put_object(Bucket=bucket, Key=key, Body=b"x" * 10)
    run = local.cli("quarantine")
    assert run.status == 0
    rows = [line.split()[:4] for line in run.out.splitlines()[1:]]
    assert rows == [
        ["events_quarantine", "a/b", "1", "10"],
        ["clicks_quarantine", "ws1", "1", "10"],
        ["events_quarantine", "ws1", "2", "20"],
    ]
    one = local.cli("quarantine", "--workspace", "a/b")
    assert [line.split()[:2] for line in one.out.splitlines()[1:]] == [["events_quarantine", "a/b"]]
    assert "under s3://" in local.cli("quarantine", "--workspace", "nope").out


def test_unreachable_endpoint_is_one_line(local: Local) -> None:
    from lakegate_cli.main import main

    # Port 9 (discard) is closed here: the connection is refused at once.
    status = main(["--local", "--endpoint-url", "http://127.0.0.1:9", "tokens", "list"])
    err = local.capsys.readouterr().err
    assert status == 2
    assert err == "lakegate: cannot reach http://127.0.0.1:9 (is `make run` running?)\n"


def test_no_target_is_one_line(local: Local) -> None:
    from lakegate_cli.main import main

    for argv, message in (
        (["tokens", "list"], "no target: pass --stack NAME, --local or --tokens-table NAME"),
        (["quarantine"], "no target: pass --stack NAME, --local or --bucket NAME"),
        (["--stack", "a", "--local", "quarantine"], "--stack and --local name two targets: choose one"),
    ):
        assert main(argv) == 2
        assert local.capsys.readouterr().err == f"lakegate: {message}\n"


def test_runs_as_a_module(local: Local) -> None:
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(
        str(ROOT / p) for p in ("layers/shared/python", "functions/ingest", "local", "cli"))}  # fmt: skip
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "lakegate_cli",
            "--local",
            "--endpoint-url",
            local.aws.endpoint,
            "tokens",
            "list",
        ],
        capture_output=True,
        text=True,
        env=env,
        cwd=ROOT,
        check=False,
        timeout=60,
    )
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("ID")
