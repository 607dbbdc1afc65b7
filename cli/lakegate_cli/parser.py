"""The command line: `lakegate [target] tokens|datasources|quarantine|query ...`, parsed by argparse."""

from __future__ import annotations

import argparse
from collections.abc import Callable
from typing import NoReturn

from lakegate_cli.errors import EXIT_USAGE

TARGET_HELP = """target (before or after the command):
  --stack NAME          a deployed stack: names from its outputs
  --local               the local server (`make run`): names from template.yaml, endpoint
                        http://127.0.0.1:4566 unless --endpoint-url says otherwise
  --tokens-table, --datasources-table, --refs-table, --bucket
                        name a resource yourself (also to override one of the above)"""


class Parser(argparse.ArgumentParser):
    """Usage errors in one line on stderr, exit status 2, like every other error of the CLI."""

    def error(self, message: str) -> NoReturn:
        self.exit(EXIT_USAGE, f"{self.prog}: {message} (see --help)\n")


def _positive(kind: str) -> Callable[[str], int]:
    def parse(raw: str) -> int:
        try:
            value = int(raw)
        except ValueError:
            raise argparse.ArgumentTypeError(f"{raw!r} is not a whole number of {kind}") from None
        if value <= 0:
            raise argparse.ArgumentTypeError(f"{raw!r}: must be a positive number of {kind}")
        return value

    return parse


def _add_target(parser: argparse.ArgumentParser, top: bool) -> None:
    # Accepted before and after the command: the subcommand's copies default to SUPPRESS so they
    # never overwrite what was given before the command.
    def default(value: object) -> object:
        return value if top else argparse.SUPPRESS

    group = parser.add_argument_group("target")
    group.add_argument(
        "--endpoint-url",
        metavar="URL",
        default=default(None),
        help="AWS endpoint (the local server's aws=...)",
    )
    group.add_argument("--region", default=default(None), help="AWS region (default: the environment's)")
    group.add_argument(
        "--stack", metavar="NAME", default=default(None), help="deployed stack to read names from"
    )
    group.add_argument(
        "--local", action="store_true", default=default(False), help="the local server's names"
    )
    group.add_argument("--template", metavar="PATH", default=default(None), help="template.yaml for --local")
    group.add_argument("--tokens-table", metavar="NAME", default=default(None))
    group.add_argument("--datasources-table", metavar="NAME", default=default(None))
    group.add_argument("--refs-table", metavar="NAME", default=default(None))
    group.add_argument("--bucket", metavar="NAME", default=default(None))


def build() -> Parser:
    parser = Parser(
        prog="lakegate",
        description="Administer a lakegate deployment: tokens, data sources, quarantine, queries.",
        epilog=TARGET_HELP,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    _add_target(parser, top=True)
    commands = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    def command(parent: argparse._SubParsersAction[Parser], name: str, help: str) -> Parser:
        sub: Parser = parent.add_parser(name, help=help, description=help)
        _add_target(sub, top=False)
        return sub

    tokens = commands.add_parser("tokens", help="create, list and revoke tokens").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    create = command(tokens, "create", "create a token: prints the token once, stores only its hash")
    create.add_argument("--workspace", required=True, help="the token's workspace")
    create.add_argument(
        "--scope",
        action="append",
        required=True,
        dest="scopes",
        metavar="SCOPE",
        help="ADMIN, DATASOURCE:CREATE, DATASOURCE:APPEND or DATASOURCE:APPEND:<name> (repeatable)",
    )
    create.add_argument("--name", default="", help="a name to list and revoke it by (unique)")
    expiry = create.add_mutually_exclusive_group()
    expiry.add_argument("--expires-in", type=_positive("seconds"), metavar="SECONDS")
    expiry.add_argument("--expires-at", type=_positive("seconds since 1970"), metavar="EPOCH")
    create.add_argument("--cluster", help="the workspace's cluster (default: the target's ClusterId)")

    listing = command(tokens, "list", "list tokens (never a plain token, never a full hash)")
    listing.add_argument("--workspace")

    revoke = command(tokens, "revoke", "revoke a token by name or by the start of its id")
    revoke.add_argument("ref", metavar="ID_PREFIX|NAME")

    datasources = commands.add_parser("datasources", help="list and show data sources").add_subparsers(
        dest="action", required=True, metavar="ACTION"
    )
    ds_list = command(datasources, "list", "list data sources")
    ds_list.add_argument("--workspace")
    show = command(datasources, "show", "show a data source's schema, Tinybird-style")
    show.add_argument("name")
    show.add_argument("--workspace")

    quarantine = command(
        commands,
        "quarantine",
        "objects in each <name>_quarantine folder of the lake; `quarantine replay NAME` lands the rows "
        "the data source's current schema takes",
    )
    quarantine.add_argument("--workspace", help="one workspace's (default: every workspace's)")
    replay = command(
        quarantine.add_subparsers(dest="action", required=False, metavar="ACTION"),
        "replay",
        "check each quarantined row of a data source again against its current schema and land those that "
        "fit, exactly once; the rest stay quarantined with their new error",
    )
    replay.add_argument("name", help="the data source (name or id)")
    # SUPPRESS: `quarantine --workspace W replay NAME` keeps W (a subparser's default would overwrite it).
    replay.add_argument(
        "--workspace", default=argparse.SUPPRESS, help="its workspace (needed when several have that name)"
    )
    replay.add_argument(
        "--since", metavar="TIME", help="only rows ingested at or after TIME (UTC by default)"
    )
    replay.add_argument("--until", metavar="TIME", help="only rows ingested before TIME")
    replay.add_argument("--dry-run", action="store_true", help="count what would happen, write nothing")

    upgrade = command(
        commands,
        "upgrade",
        "bring what an earlier version stored to this version's shapes (registry indexes, row claim keys, "
        "lake folders per workspace); "
        "idempotent",
    )
    upgrade.add_argument(
        "--vayu-datasource", default="events", metavar="NAME", help="the deployment's VAYU_DATASOURCE"
    )

    query = command(
        commands,
        "query",
        "run SQL (DuckDB) over the landed Parquet: each data source and each <name>_quarantine is a view",
    )
    query.add_argument("sql", metavar="SQL", help='one argument, quoted: "SELECT count(*) FROM events"')
    query.add_argument(
        "--workspace",
        help="whose data sources the views are (default: the only workspace with data; with several, "
        "the command lists them)",
    )
    return parser
