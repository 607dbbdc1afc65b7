"""The commands: each resolves its target, calls the admin adapters and prints the result."""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path
from typing import TextIO

from botocore.exceptions import BotoCoreError, ClientError

from lakegate.errors import StoreUnavailable
from lakegate.lake.layout import PREFIX, workspace_folder
from lakegate_cli import parser, render, replay
from lakegate_cli.admin import DataSourceAdmin, TokenAdmin, find_token, quarantine_summary, token_id
from lakegate_cli.errors import EXIT_USAGE, CliError
from lakegate_cli.relocate import relocate
from lakegate_cli.scopes import validate_scopes
from lakegate_cli.target import (
    BUCKET,
    DATASOURCES,
    LOCAL_ENDPOINT,
    REFS,
    TOKENS,
    Connection,
    Names,
    aws_error,
    resolve,
)
from lakegate_cli.upgrade import upgrade
from lakegate_local import query
from lakegate_local.progress import Progress

# The repository's template.yaml, as the local server finds it (LAKEGATE_TEMPLATE overrides).
REPO = Path(__file__).resolve().parents[2]


def _template(args: argparse.Namespace) -> Path:
    return Path(args.template or os.environ.get("LAKEGATE_TEMPLATE") or REPO / "template.yaml")


def _connection(args: argparse.Namespace) -> Connection:
    endpoint = args.endpoint_url or (LOCAL_ENDPOINT if args.local else None)
    return Connection(endpoint_url=endpoint, region=args.region)


def _names(args: argparse.Namespace, connection: Connection) -> Names:
    if args.stack and args.local:
        raise CliError("--stack and --local name two targets: choose one")
    if args.template and not args.local:
        raise CliError("--template is read only with --local")
    explicit = {
        TOKENS: args.tokens_table,
        DATASOURCES: args.datasources_table,
        BUCKET: args.bucket,
        REFS: args.refs_table,
    }
    return resolve(connection, args.stack, _template(args) if args.local else None, explicit)


def _tokens_create(args: argparse.Namespace, names: Names, connection: Connection, out: TextIO) -> None:
    scopes = validate_scopes(args.scopes)
    workspace = args.workspace.strip()
    if not workspace:
        raise CliError("--workspace must not be empty")
    cluster = args.cluster or names.cluster
    if not cluster:
        raise CliError("no cluster: pass --cluster (a --stack or --local target supplies its ClusterId)")
    now = int(time.time())
    expires_at = now + args.expires_in if args.expires_in else args.expires_at
    if expires_at is not None and expires_at <= now:
        raise CliError(f"--expires-at {expires_at} is in the past")
    admin = TokenAdmin(names.require(TOKENS), connection.dynamodb())
    plain, token = admin.create(workspace, cluster, scopes, args.name, expires_at, now)
    # The token alone on stdout, so `TOKEN=$(lakegate tokens create ...)` works; the rest on stderr.
    print(plain, file=out)
    print(
        f"created token {token_id(token)} ({token.name or 'unnamed'}) for workspace {workspace} "
        f"[{', '.join(scopes)}], expires {render.when(expires_at)}: "
        "this is the only time the token is shown, store it now",
        file=sys.stderr,
    )


def _tokens_list(args: argparse.Namespace, names: Names, connection: Connection, out: TextIO) -> None:
    tokens = TokenAdmin(names.require(TOKENS), connection.dynamodb()).all()
    if args.workspace:
        tokens = [t for t in tokens if t.workspace_id == args.workspace]
    print(render.token_rows(tokens, time.time()), file=out)


def _tokens_revoke(args: argparse.Namespace, names: Names, connection: Connection, out: TextIO) -> None:
    admin = TokenAdmin(names.require(TOKENS), connection.dynamodb())
    token = find_token(admin.all(), args.ref)
    if token.revoked:
        print(f"token {token_id(token)} ({token.name or 'unnamed'}) was already revoked", file=out)
        return
    admin.revoke(token)
    print(
        f"revoked token {token_id(token)} ({token.name or 'unnamed'}); warm functions may accept it "
        "for their token cache's time (TokenCacheTtlSeconds)",
        file=out,
    )


def _datasources_list(args: argparse.Namespace, names: Names, connection: Connection, out: TextIO) -> None:
    found = DataSourceAdmin(names.require(DATASOURCES), connection.dynamodb()).list(args.workspace)
    print(render.datasource_rows(found), file=out)


def _datasources_show(args: argparse.Namespace, names: Names, connection: Connection, out: TextIO) -> None:
    found = DataSourceAdmin(names.require(DATASOURCES), connection.dynamodb()).show(args.name, args.workspace)
    print(render.datasource_detail(found), file=out)


def _quarantine(args: argparse.Namespace, names: Names, connection: Connection, out: TextIO) -> None:
    bucket = names.require(BUCKET)
    summary = quarantine_summary(connection.s3(), bucket, args.workspace)
    if not summary:
        where = (
            f"s3://{bucket}/{workspace_folder(args.workspace) if args.workspace else PREFIX + '<workspace>/'}"
        )
        print(f"nothing quarantined: no <name>_quarantine folder under {where}", file=out)
        return
    print(render.quarantine_rows(summary), file=out)


def _quarantine_replay(args: argparse.Namespace, names: Names, connection: Connection, out: TextIO) -> None:
    since, until = replay.window(args.since, args.until)
    found = DataSourceAdmin(names.require(DATASOURCES), connection.dynamodb()).show(args.name, args.workspace)
    bucket, refs = names.require(BUCKET), names.require(REFS)
    done = replay.replay(
        connection,
        bucket,
        names.require(DATASOURCES),
        refs,
        found.workspace,
        found.source,
        since,
        until,
        args.dry_run,
    )
    print(replay.summary(found.source.name, done, args.dry_run), file=out)


def _query(args: argparse.Namespace, names: Names, connection: Connection, out: TextIO) -> None:
    bucket = names.require(BUCKET)
    try:
        query.require_sql(args.sql)
        # One boto3 call first: a missing bucket, a closed endpoint or bad credentials is one line,
        # as for every other command, before pyarrow's S3 client retries it for a while.
        connection.s3().list_objects_v2(Bucket=bucket, Prefix=query.DATASOURCES + "/", MaxKeys=1)
        from lakegate_local.lake_files import LakeFiles  # pyarrow: for this command alone

        lake = LakeFiles(connection.s3_filesystem(), bucket)
        columns, rows = query.answer(lake, args.sql, f"s3://{bucket}", args.workspace, Progress(sys.stderr))
    except query.QueryError as e:
        raise CliError(e.message) from e
    print(query.render(columns, rows), file=out)


def _upgrade(args: argparse.Namespace, names: Names, connection: Connection, out: TextIO) -> None:
    done = upgrade(
        connection.dynamodb(), names.require(DATASOURCES), names.require(REFS), args.vayu_datasource
    )
    print(f"data sources indexed: {done.indexed}", file=out)
    for clash in done.clashes:
        print(f"name taken in another case, not indexed: {clash}", file=out)
    for what, n in sorted(done.claims.items()):
        print(f"claims {what}: {n}", file=out)
    bucket = names.values.get(BUCKET)
    if not bucket:
        print("lake not looked at: no lake bucket named (pass --bucket NAME)", file=out)
        return
    registered = DataSourceAdmin(names.require(DATASOURCES), connection.dynamodb()).list(None)
    moved = relocate(connection.s3(), bucket, registered)
    for what, n in moved.moved.items():
        print(f"moved {n} objects: {what}", file=out)
    for why in moved.left:
        print(f"left in place: {why}", file=out)


COMMANDS = {
    ("tokens", "create"): _tokens_create,
    ("tokens", "list"): _tokens_list,
    ("tokens", "revoke"): _tokens_revoke,
    ("datasources", "list"): _datasources_list,
    ("datasources", "show"): _datasources_show,
    ("quarantine", None): _quarantine,
    ("quarantine", "replay"): _quarantine_replay,
    ("query", None): _query,
    ("upgrade", None): _upgrade,
}


def main(argv: Sequence[str] | None = None, out: TextIO | None = None) -> int:
    """Run one command; every error a person can act on is one line on stderr and exit status 2."""
    args = parser.build().parse_args(argv)
    connection = _connection(args)
    run = COMMANDS[(args.command, getattr(args, "action", None))]
    try:
        try:
            run(args, _names(args, connection), connection, out or sys.stdout)
        except StoreUnavailable as e:
            # The adapters wrap AWS failures for the service; here the cause is what a person needs.
            raise aws_error(e.__cause__ or e, connection) from e
        except (BotoCoreError, ClientError) as e:
            raise aws_error(e, connection) from e
    except CliError as e:
        print(f"lakegate: {e.message}", file=sys.stderr)
        return EXIT_USAGE
    return 0
