"""The role template.yaml gives each function allows every AWS call it makes, and nothing else.

The real ingest and compactor handlers run against the moto-CloudFormation stack, configured as the stack
configures them, while a recorder on their botocore session collects each call and its parameters. Each
call becomes what IAM evaluates (lakegate's calls -> actions and ARNs: iam_policy) and is checked against
the inline policies of the function's role as the stack created it. The source scan (source_calls) adds
every client call the code can make, checked at the action level, for paths the run does not reach.

The other way round, every action and resource a statement grants must be needed by a recorded call, or be
listed below with the reason the run does not reach it (a failure path the source scan finds, or a call
AWS makes with the function's role).
"""

from __future__ import annotations

import gzip
import io
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import orjson
import pytest

from lakegate_local.runtime import fake_context
from tests.integration.conftest import Lake
from tests.integration.deploy.iam_policy import (
    Call,
    Location,
    Need,
    Policy,
    Recorder,
    Statement,
    check,
    needs,
    role_policy,
    summary,
)
from tests.integration.deploy.sam_stack import ACCOUNT, REGION, ROOT, Deployed, cold_start
from tests.integration.deploy.source_calls import client_calls, modules_of

AT = Location(REGION, ACCOUNT)
HANDLERS = {
    "IngestFunction": ROOT / "functions" / "ingest" / "app.py",
    "CompactorFunction": ROOT / "functions" / "compactor" / "compactor_app.py",
}
# The source scan counts every call of every module a function imports. These calls sit in a module a
# function imports but on a path it never takes; each says why, and must still be found (else remove it).
NOT_ON_ITS_PATH = {
    ("CompactorFunction", "dynamodb:Query"): (
        "DynamoRegistry.list serves the ingest's GET /v0/datasources; the compactor reads data sources by key"
    ),
    ("IngestFunction", "dynamodb:Scan"): (
        "DynamoRegistry.every serves the compactor's scheduled TTL run; the ingest reads data sources by key"
    ),
}
# Granted, but not called on the run: (function, statement Sid, action) -> why. A failure path must still
# be found by the source scan in the function's modules; each entry must still be granted and unused.
OFF_THE_RUN = {
    ("IngestFunction", "Refs", "dynamodb:DeleteItem"): (
        "claims are released when Firehose refuses records after they were claimed (ingest, vayu); "
        "moto's Firehose never refuses"
    ),
    ("CompactorFunction", "Refs", "dynamodb:DeleteItem"): (
        "claims are released when a claim transaction fails part way (dedup.deduplicate); moto's never does"
    ),
}
# Granted for AWS to call with the function's role: no code of ours calls these, so no scan finds them.
CALLED_BY_AWS = {
    ("CompactorFunction", "FailedObjects", "sqs:SendMessage"): (
        "Lambda sends the event of an object whose retries failed to CompactorFailuresQueue (its "
        "EventInvokeConfig destination) with the function's role"
    ),
}
ADMIN = "iam-admin-token"
LIMITED = "iam-limited-token"


@dataclass
class Run:
    """What each function called during the run, and the policies its role holds."""

    calls: dict[str, list[Call]]
    policies: dict[str, Policy]
    stack: Deployed


class Switch:
    """Runs one function at a time, cold, as the stack configures it, its calls recorded under its name.
    Both handlers share `lakegate.aws.clients` in this process: each switch starts a new botocore session."""

    def __init__(self, monkeypatch: pytest.MonkeyPatch, stack: Deployed) -> None:
        self.monkeypatch, self.stack = monkeypatch, stack
        self.calls: dict[str, list[Call]] = {f: [] for f in HANDLERS}

    def to(self, function: str) -> None:
        import app
        import compactor_app
        from lakegate.aws import clients

        cold_start(self.monkeypatch, self.stack.function_environment(function))
        self.monkeypatch.setattr(app, "_app", None)
        self.monkeypatch.setattr(compactor_app, "_compactor", None)
        self.monkeypatch.setattr(compactor_app, "_expiry", None)
        recorder = Recorder(self.calls[function])
        recorder.attach(clients._session())


def _vayu(ref: str) -> bytes:
    event = {"name": "signup", "timestamp": "2024-05-01T10:00:00Z", "customerAlias": "acme", "ref": ref}
    return orjson.dumps({"events": [event]})


def _create(lake: Lake) -> None:
    """A new data source (the ingest function creates it), async."""
    assert lake.post(b'{"ref": "a", "n": 1}\n', "name=iam_ds", token=ADMIN)["statusCode"] == 202


def _ingest(lake: Lake) -> None:
    """Every other path of the ingest function that reaches AWS: tokens, limits, wait=true, Vayu's batch,
    dry run, lookup and login, and the data-source routes."""
    answers = [
        # wait=true: refs claimed in a transaction; a new field for the compactor, and a quarantined line
        lake.post(b'{"ref": "b", "n": 2, "extra": "x"}\nnot json\n', "name=iam_ds&wait=true", token=ADMIN),
        lake.post(_vayu("r1"), "", path="/events", token=ADMIN),
        lake.post(_vayu("r2"), "", path="/events/dry-run", token=ADMIN),
        lake.post(b"", "", path="/events/r1", method="GET", token=ADMIN),
        lake.post(orjson.dumps({"refreshToken": ADMIN}), "", path="/login", token=None),
    ]
    assert [a["statusCode"] for a in answers] == [200, 200, 200, 200, 200], answers
    # A token with a limit of 1 request/s: the second request in the second is refused (429) by the same
    # conditional UpdateItem; across a second boundary both pass, which changes no call.
    for _ in range(2):
        assert lake.post(b'{"ref": "c", "n": 3}\n', "name=iam_ds", token=LIMITED)["statusCode"] in (202, 429)
    # The data-source routes: their calls are recorded and checked whatever they answer.
    lake.post(b"", "name=iam_defined&schema=a%20Int64%20%60json%3A%24.a%60", path="/v0/datasources", token=ADMIN)  # fmt: skip
    lake.post(b"", "", path="/v0/datasources", method="GET", token=ADMIN)
    lake.post(b"", "", path="/v0/datasources/iam_ds", method="GET", token=ADMIN)
    lake.post(b'{"a": 1, "b": "x"}\n', "", path="/v0/analyze", token=ADMIN)
    # An alter: the data source read, then a conditional UpdateItem on its version.
    alter = "schema=a%20Nullable(Int64)%20%60json%3A%24.a%60"
    assert lake.post(b"", alter, path="/v0/datasources/iam_defined/alter", token=ADMIN)["statusCode"] == 200
    # A data source with a TTL: landing its rows lists its partitions and deletes the expired one.
    ttl = "name=iam_ttl&schema=ts%20DateTime%20%60json%3A%24.ts%60&engine_ttl=ts%20%2B%20toIntervalDay(1)"
    assert lake.post(b"", ttl, path="/v0/datasources", token=ADMIN)["statusCode"] == 200
    assert lake.post(b'{"ts": "2024-05-01 10:00:00"}\n', "name=iam_ttl", token=ADMIN)["statusCode"] == 202


UNREADABLE = "raw/2024/05/01/10/not-lakegate"
EXPIRED = "datasources/ws1/iam_ttl/date=2000-01-01/hour=00/part-0.parquet"


def _compact(s3: Any, bucket: str, done: set[str]) -> None:
    """The raw objects Firehose wrote since the last call (the first call creates the tables, a later one
    evolves them and quarantines), and an object that is not lakegate framing, set aside under errors/."""
    import compactor_app

    listed = s3.list_objects_v2(Bucket=bucket, Prefix="raw/")["Contents"]
    for key in sorted({o["Key"] for o in listed} - done):
        event = {
            "detail-type": "Object Created",
            "detail": {"bucket": {"name": bucket}, "object": {"key": key}},
        }
        compactor_app.lambda_handler(event, fake_context("CompactorFunction"))
        done.add(key)


def _parquet_of_year_2000() -> bytes:
    """A landed file of iam_ttl whose only row is long past its TTL."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    sink = io.BytesIO()
    pq.write_table(pa.table({"ts": pa.array([0], pa.timestamp("s", "UTC"))}), sink)
    return sink.getvalue()


def _expire_on_schedule() -> None:
    """The scheduled TTL run (ExpirySchedule): every data source listed, files judged by their footers."""
    import compactor_app

    event = {"detail-type": "Scheduled Event", "source": "aws.events", "detail": {}}
    assert compactor_app.lambda_handler(event, fake_context("CompactorFunction"))["failures"] == 0


@pytest.fixture(scope="module")
def run(stack: Deployed) -> Iterator[Run]:
    import app

    iam = stack.session.client("iam")
    lam = stack.session.client("lambda")
    policies = {
        f: role_policy(iam, lam.get_function_configuration(FunctionName=stack.physical[f])["Role"])
        for f in HANDLERS
    }
    bucket = stack.outputs["LakeBucketName"]
    s3 = stack.session.client("s3")
    env = {k: str(v) for k, v in stack.function_environment("IngestFunction").items()}
    lake = Lake(env, bucket, stack.session.client("dynamodb"), s3, app.lambda_handler)
    lake.add_token(ADMIN, ["ADMIN"])
    lake.add_token(LIMITED, ["DATASOURCE:APPEND"], datasource_rate_limit=1)
    done: set[str] = set()
    with pytest.MonkeyPatch.context() as mp:
        switch = Switch(mp, stack)
        switch.to("IngestFunction")
        _create(lake)
        switch.to("CompactorFunction")
        _compact(s3, bucket, done)
        switch.to("IngestFunction")
        _ingest(lake)
        s3.put_object(Bucket=bucket, Key=UNREADABLE, Body=gzip.compress(b"hello\n"))
        s3.put_object(Bucket=bucket, Key=EXPIRED, Body=_parquet_of_year_2000())
        switch.to("CompactorFunction")
        _compact(s3, bucket, done)
        _expire_on_schedule()
        assert s3.list_objects_v2(Bucket=bucket, Prefix="errors/")["KeyCount"] == 1
        assert s3.list_objects_v2(Bucket=bucket, Prefix=EXPIRED)["KeyCount"] == 0
        assert s3.list_objects_v2(Bucket=bucket, Prefix="datasources/ws1/iam_ds_quarantine/")["KeyCount"] >= 1
        yield Run(switch.calls, policies, stack)


def _needs(calls: list[Call]) -> set[Need]:
    return {n for c in calls for n in needs(c, AT)}


@pytest.mark.parametrize("function", sorted(HANDLERS))
def test_every_recorded_call_is_allowed_by_the_functions_role(run: Run, function: str) -> None:
    findings = check(run.calls[function], run.policies[function], AT)
    assert not findings, f"{function}'s role in template.yaml does not allow:\n{summary(findings)}"


def test_the_run_reached_every_kind_of_call_it_is_meant_to(run: Run) -> None:
    """Guards the check above from passing on a run that made no calls."""
    physical = run.stack.physical
    table = {t: f"arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{physical[t]}" for t in ("TokensTable", "DataSourcesTable", "RateLimitsTable", "RefsTable")}  # fmt: skip
    lake = f"arn:aws:s3:::{run.stack.outputs['LakeBucketName']}"
    stream = f"arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/{run.stack.outputs['DeliveryStreamName']}"
    ingest = {(n.action, n.resource) for n in _needs(run.calls["IngestFunction"])}
    assert {
        ("dynamodb:GetItem", table["TokensTable"]),
        ("dynamodb:UpdateItem", table["RateLimitsTable"]),
        ("dynamodb:GetItem", table["DataSourcesTable"]),
        ("dynamodb:PutItem", table["DataSourcesTable"]),
        ("dynamodb:PutItem", table["RefsTable"]),
        ("dynamodb:GetItem", table["RefsTable"]),
        ("firehose:PutRecordBatch", stream),
    } <= ingest
    compactor = {(n.action, n.resource) for n in _needs(run.calls["CompactorFunction"])}
    actions = {a for a, _ in compactor}
    assert {"glue:GetTable", "glue:CreateTable", "glue:UpdateTable", "dynamodb:UpdateItem"} <= actions
    assert ("s3:PutObject", f"{lake}/errors/{UNREADABLE}") in compactor
    assert ("s3:GetObject", f"{lake}/{UNREADABLE}") in compactor
    assert any(
        a == "s3:PutObject" and r and r.startswith(f"{lake}/datasources/ws1/iam_ds/") for a, r in compactor
    )


def _unused(function: str, run: Run) -> dict[tuple[str, str], set[str]]:
    """(Sid, action) -> the resources a statement of the role grants it on that no recorded call needs."""
    recorded = _needs(run.calls[function])
    unused: dict[tuple[str, str], set[str]] = {}
    for s in run.policies[function].statements:
        if s.effect != "Allow":
            continue
        for action in s.actions:
            for resource in s.resources:
                grant = Statement(s.sid, s.effect, (action,), (resource,), s.conditions)
                if not any(grant.matches(n) for n in recorded):
                    unused.setdefault((s.sid, action), set()).add(resource)
    return unused


@pytest.mark.parametrize("function", sorted(HANDLERS))
def test_the_role_grants_nothing_its_code_does_not_call(run: Run, function: str) -> None:
    unused = _unused(function, run)
    listed = {(sid, a) for f, sid, a in {*OFF_THE_RUN, *CALLED_BY_AWS} if f == function}
    unexplained = {k: v for k, v in unused.items() if k not in listed}
    assert not unexplained, (
        f"{function}'s role in template.yaml grants what no call of the run needs (remove it, or list it with "
        f"its reason): {unexplained}"
    )
    stale = listed - set(unused)
    assert not stale, f"listed as unused but the run calls them, or the role no longer grants them: {stale}"
    modules = modules_of(HANDLERS[function], ROOT / "layers" / "shared" / "python")
    scanned = {n.action for c in client_calls(modules, ROOT)[0] for n in needs(c, AT)}
    off_the_run = {a for f, _, a in OFF_THE_RUN if f == function}
    assert off_the_run <= scanned, f"no code of {function} calls {off_the_run - scanned}: remove the grant"


def test_an_extra_grant_is_reported(run: Run) -> None:
    """The check above on a role with one more action than the code calls."""
    extra = Statement("Extra", "Allow", ("dynamodb:BatchGetItem",), run.policies["IngestFunction"].statements[0].resources)  # fmt: skip
    widened = Run(run.calls, {**run.policies, "IngestFunction": Policy((*run.policies["IngestFunction"].statements, extra))}, run.stack)  # fmt: skip
    assert ("Extra", "dynamodb:BatchGetItem") in _unused("IngestFunction", widened)
    assert ("ReadTokens", "dynamodb:GetItem") not in _unused("IngestFunction", widened)


def test_a_removed_statement_is_reported_with_the_call_it_breaks(run: Run) -> None:
    ingest = run.policies["IngestFunction"].without("SendRecords")
    findings = summary(check(run.calls["IngestFunction"], ingest, AT))
    stream = run.stack.outputs["DeliveryStreamName"]
    assert f"firehose.PutRecordBatch: not allowed: firehose:PutRecordBatch on arn:aws:firehose:{REGION}:{ACCOUNT}:deliverystream/{stream}" in findings  # fmt: skip

    compactor = run.policies["CompactorFunction"].without("WriteLake")
    findings = summary(check(run.calls["CompactorFunction"], compactor, AT))
    assert "s3.CopyObject: not allowed: s3:PutObject on arn:aws:s3:::" in findings
    assert "/datasources/ws1/iam_ds/" in findings


def test_a_resource_outside_the_statement_is_reported(run: Run) -> None:
    """The resource counts, not only the action: a write to the tokens table is not the registry's."""
    tokens = run.stack.physical["TokensTable"]
    put = Call("dynamodb", "PutItem", {"TableName": tokens, "Item": {}})
    findings = summary(check([put], run.policies["IngestFunction"], AT))
    assert findings == f"dynamodb.PutItem: not allowed: dynamodb:PutItem on arn:aws:dynamodb:{REGION}:{ACCOUNT}:table/{tokens}"  # fmt: skip


@pytest.mark.parametrize("function", sorted(HANDLERS))
def test_every_client_call_in_the_source_is_among_the_roles_actions(run: Run, function: str) -> None:
    modules = modules_of(HANDLERS[function], ROOT / "layers" / "shared" / "python")
    calls, ambiguous = client_calls(modules, ROOT)
    assert not ambiguous, f"cannot tell these calls' service: {ambiguous}"
    assert calls, "the scan found no client call: it is not reading the code"
    found = check(calls, run.policies[function], AT)
    excused = {(f, a) for f, a in NOT_ON_ITS_PATH if f == function}
    findings = [f for f in found if not any(f.problem == f"not allowed: {a} on *" for _, a in excused)]
    assert not findings, f"{function}'s role in template.yaml has no statement for:\n{summary(findings)}"
    stale = {a for _, a in excused if not any(f.problem == f"not allowed: {a} on *" for f in found)}
    assert not stale, f"NOT_ON_ITS_PATH lists {stale} for {function}, which the scan no longer finds denied"


def test_the_source_scan_reports_a_removed_action(run: Run) -> None:
    modules = modules_of(HANDLERS["CompactorFunction"], ROOT / "layers" / "shared" / "python")
    calls, _ = client_calls(modules, ROOT)
    findings = summary(check(calls, run.policies["CompactorFunction"].without_action("glue:UpdateTable"), AT))
    assert "glue.UpdateTable (layers/shared/python/lakegate/aws/glue.py:" in findings
    assert "not allowed: glue:UpdateTable on *" in findings


def test_the_source_scan_finds_calls_as_the_code_writes_them(tmp_path: Path) -> None:
    (tmp_path / "adapter.py").write_text(
        "import botocore.session\n"
        "from lakegate import clients\n"
        "from mypy_boto3_dynamodb import DynamoDBClient\n"
        "class Store:\n"
        "    def __init__(self, client: DynamoDBClient) -> None:\n"
        "        self._client = client\n"
        "    def save(self) -> None:\n"
        "        self._client.transact_write_items(TransactItems=[{'Put': {}}, {'ConditionCheck': {}}])\n"
        "        self._client.update_table(TableName='t')\n"
        "def land() -> None:\n"
        "    botocore.session.get_session()\n"
        "    clients.s3().delete_objects(Bucket='b', Delete={'Objects': []})\n"
        "    clients.s3().get_paginator('list_objects_v2').paginate(Bucket='b')\n"
    )
    calls, ambiguous = client_calls([tmp_path / "adapter.py"], tmp_path)
    assert not ambiguous
    assert [(c.service, c.operation, c.where) for c in calls] == [
        ("dynamodb", "ConditionCheckItem", "adapter.py:8 (TransactWriteItems)"),
        ("dynamodb", "PutItem", "adapter.py:8 (TransactWriteItems)"),
        ("dynamodb", "UpdateTable", "adapter.py:9"),
        ("s3", "DeleteObjects", "adapter.py:12"),
        ("s3", "ListObjectsV2", "adapter.py:13"),
    ]


def test_iam_matching_rules() -> None:
    policy = Policy.parse(
        [
            {
                "Statement": [
                    {"Effect": "Allow", "Action": "s3:Get*", "Resource": "arn:aws:s3:::b/raw/*"},
                    {"Effect": "Deny", "Action": "s3:*", "Resource": "arn:aws:s3:::b/raw/secret"},
                    {
                        "Effect": "Allow",
                        "Action": "s3:ListBucket",
                        "Resource": "arn:aws:s3:::b",
                        "Condition": {"StringLike": {"s3:prefix": ["datasources/*"]}},
                    },
                    {
                        "Effect": "Allow",
                        "Action": "DynamoDB:PutItem",
                        "Resource": "arn:aws:dynamodb:*:*:table/t?",
                    },
                ]
            }
        ]
    )

    def allowed(service: str, operation: str, **params: Any) -> bool:
        return all(policy.allows(n) for n in needs(Call(service, operation, params), AT))

    assert allowed("s3", "GetObject", Bucket="b", Key="raw/2024/x")
    assert not allowed("s3", "GetObject", Bucket="b", Key="raw/secret")  # an explicit Deny wins
    assert not allowed("s3", "GetObject", Bucket="b", Key="datasources/x")
    assert allowed("s3", "ListObjectsV2", Bucket="b", Prefix="datasources/")
    assert not allowed("s3", "ListObjectsV2", Bucket="b")  # no prefix: the condition is not met
    assert not allowed(
        "s3", "CopyObject", Bucket="b", Key="raw/y", CopySource={"Bucket": "b", "Key": "raw/x"}
    )
    transaction = [{"Put": {"TableName": "t1"}}, {"Put": {"TableName": "t2"}}]
    assert allowed("dynamodb", "TransactWriteItems", TransactItems=transaction)
    # A transaction needs every item's table: one outside the statement denies it.
    assert not allowed(
        "dynamodb", "TransactWriteItems", TransactItems=[*transaction, {"Put": {"TableName": "tx1"}}]
    )
    assert not allowed("dynamodb", "TransactWriteItems", TransactItems=[{"Delete": {"TableName": "t1"}}])
    unmapped = check([Call("sqs", "SendMessage", {})], policy, AT)
    assert "unmapped" in summary(unmapped)
