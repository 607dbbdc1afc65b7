"""The AWS client calls a function's code can make, read from its source with `ast`: the complement of the
recorded run, so an operation no test path reaches is still checked against the function's policy actions.

A function's code is its handler and every `lakegate` module the handler imports, directly or not (an
over-approximation: a module's every call counts, even one only the other function uses). A call is
`<receiver>.<operation>(...)` (or `<receiver>.get_paginator("<operation>")`) where `<operation>` is a botocore operation of a service lakegate uses; the
service is the receiver's (a `mypy_boto3_*` client annotation, `clients.<service>()`), else the only
service with that operation, else the one the enclosing class or module is named for.
"""

from __future__ import annotations

import ast
from collections.abc import Iterator
from dataclasses import dataclass
from functools import cache
from pathlib import Path

from tests.integration.deploy.iam_policy import Call

SERVICES = ("dynamodb", "s3", "firehose", "glue")
PACKAGE = "lakegate"
TRANSACT_KINDS = {"Put": "PutItem", "Update": "UpdateItem", "Delete": "DeleteItem", "ConditionCheck": "ConditionCheckItem"}  # fmt: skip


@cache
def operations() -> dict[str, dict[str, str]]:
    """Service -> python method name -> API operation name, from botocore's own models."""
    import botocore.session
    from botocore import xform_name

    session = botocore.session.get_session()
    return {
        service: {xform_name(op): op for op in session.get_service_model(service).operation_names}
        for service in SERVICES
    }


def modules_of(handler: Path, package_root: Path) -> list[Path]:
    """The handler and every module of the package it imports, transitively."""
    seen: dict[Path, None] = {}
    todo = [handler]
    while todo:
        path = todo.pop()
        if path in seen:
            continue
        seen[path] = None
        for name in _imported(ast.parse(path.read_text(), str(path))):
            candidate = package_root / (name.replace(".", "/") + ".py")
            if candidate.is_file():
                todo.append(candidate)
    return sorted(seen)


def _imported(tree: ast.Module) -> Iterator[str]:
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            yield from (a.name for a in node.names if a.name.split(".")[0] == PACKAGE)
        elif isinstance(node, ast.ImportFrom) and node.module and node.module.split(".")[0] == PACKAGE:
            yield node.module
            # `from lakegate.ingest import body` imports the module lakegate.ingest.body.
            yield from (f"{node.module}.{a.name}" for a in node.names)


@dataclass(frozen=True, slots=True)
class Ambiguous:
    """A call whose service cannot be told: annotate its client so the scan (and mypy) know it."""

    where: str
    operation: str
    services: tuple[str, ...]


def _client_types(tree: ast.Module) -> dict[str, str]:
    """`DynamoDBClient` -> `dynamodb`, from the module's `from mypy_boto3_dynamodb import ...` lines."""
    types = {}
    for node in ast.walk(tree):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("mypy_boto3_"):
            service = node.module.removeprefix("mypy_boto3_")
            types.update({a.asname or a.name: service for a in node.names if a.name.endswith("Client")})
    return types


def _annotated(fn: ast.FunctionDef, types: dict[str, str]) -> dict[str, str]:
    found = {}
    for arg in [*fn.args.args, *fn.args.kwonlyargs]:
        ann = arg.annotation
        name = ann.id if isinstance(ann, ast.Name) else ann.value if isinstance(ann, ast.Constant) else None
        if isinstance(name, str) and name in types:
            found[arg.arg] = types[name]
    return found


def _self_attributes(cls: ast.ClassDef, types: dict[str, str]) -> dict[str, str]:
    """`self._client = client` in `__init__(self, ..., client: S3Client)` -> {"_client": "s3"}."""
    found: dict[str, str] = {}
    for fn in (n for n in cls.body if isinstance(n, ast.FunctionDef) and n.name == "__init__"):
        params = _annotated(fn, types)
        for node in ast.walk(fn):
            if isinstance(node, ast.Assign) and isinstance(node.value, ast.Name) and node.value.id in params:
                for target in node.targets:
                    if isinstance(target, ast.Attribute):
                        found[target.attr] = params[node.value.id]
    return found


class _Scan(ast.NodeVisitor):
    def __init__(self, path: Path, root: Path, tree: ast.Module) -> None:
        self.path, self.root = path, root
        self.types = _client_types(tree)
        # `botocore.session.get_session()` is no client call: module receivers are skipped.
        self.modules = {
            (a.asname or a.name).split(".")[0]
            for node in ast.walk(tree)
            if isinstance(node, ast.Import)
            for a in node.names
        }
        self.context: list[tuple[str, dict[str, str]]] = [(path.stem, {})]
        self.calls: list[Call] = []
        self.ambiguous: list[Ambiguous] = []
        self.transact_kinds = {
            TRANSACT_KINDS[k.value]
            for node in ast.walk(tree)
            if isinstance(node, ast.Dict)
            for k in node.keys
            if isinstance(k, ast.Constant) and k.value in TRANSACT_KINDS
        }

    def visit_ClassDef(self, node: ast.ClassDef) -> None:
        self.context.append(
            (node.name, {f"self.{k}": v for k, v in _self_attributes(node, self.types).items()})
        )
        self.generic_visit(node)
        self.context.pop()

    def visit_FunctionDef(self, node: ast.FunctionDef) -> None:
        self.context.append((self.context[-1][0], _annotated(node, self.types)))
        self.generic_visit(node)
        self.context.pop()

    def _known(self, receiver: ast.expr) -> str | None:
        if isinstance(receiver, ast.Call) and isinstance(receiver.func, ast.Attribute):
            # clients.s3().put_object(...)
            return receiver.func.attr if receiver.func.attr in SERVICES else None
        key = ast.unparse(receiver)
        for _, names in reversed(self.context):
            if key in names:
                return names[key]
        return None

    def visit_Call(self, node: ast.Call) -> None:
        self.generic_visit(node)
        if not isinstance(node.func, ast.Attribute):
            return
        method = node.func.attr
        receiver = node.func.value
        if method == "get_paginator" and node.args and isinstance(node.args[0], ast.Constant):
            # client.get_paginator("list_objects_v2").paginate(...) calls list_objects_v2 page by page.
            method = str(node.args[0].value)
        candidates = tuple(s for s in SERVICES if method in operations()[s])
        if not candidates:
            return
        where = f"{self.path.relative_to(self.root)}:{node.lineno}"
        known = self._known(receiver)
        root = receiver
        while isinstance(root, ast.Attribute):
            root = root.value
        if known is None and isinstance(root, ast.Name) and root.id in self.modules:
            return
        if known is not None:
            chosen: tuple[str, ...] = (known,) if known in candidates else ()
        elif len(candidates) == 1:
            chosen = candidates
        else:
            named = self.context[-1][0].lower() + " " + self.path.stem.lower()
            chosen = tuple(s for s in candidates if s in named)
            if len(chosen) != 1:
                self.ambiguous.append(Ambiguous(where, method, candidates))
                return
        for service in chosen:
            operation = operations()[service][method]
            if service == "dynamodb" and operation == "TransactWriteItems":
                # Authorised item by item: the kinds of item this module builds are what it needs.
                self.calls.extend(
                    Call(service, kind, None, f"{where} (TransactWriteItems)")
                    for kind in sorted(self.transact_kinds)
                )
            else:
                self.calls.append(Call(service, operation, None, where))


def client_calls(paths: list[Path], root: Path) -> tuple[list[Call], list[Ambiguous]]:
    """Every client call in these modules (paths shown relative to `root`), and the ones left unresolved."""
    calls: list[Call] = []
    ambiguous: list[Ambiguous] = []
    for path in paths:
        tree = ast.parse(path.read_text(), str(path))
        scan = _Scan(path, root, tree)
        scan.visit(tree)
        calls.extend(scan.calls)
        ambiguous.extend(scan.ambiguous)
    return calls, ambiguous
