"""The architecture README describes, held by tests: a pure core that never loads AWS's SDK, an ingest side
that never loads pyarrow, no import cycle, and modules small enough to read in one sitting."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
LAYER = ROOT / "layers" / "shared" / "python"
PACKAGE = LAYER / "lakegate"
MAX_LINES = 450


def _modules() -> dict[str, Path]:
    found = {}
    for path in sorted(PACKAGE.rglob("*.py")):
        name = ".".join(path.relative_to(LAYER).with_suffix("").parts)
        found[name.removesuffix(".__init__")] = path
    return found


MODULES = _modules()
PURE = sorted(m for m in MODULES if not (m == "lakegate.aws" or m.startswith("lakegate.aws.")))
# The ingest side and what it shares with the lake: the ingest function ships without pyarrow.
ARROW = ("compactor", "parquet", "arrow_types", "quarantine", "landing", "replay", "expiry")
NO_ARROW = sorted(m for m in PURE if not (m.startswith("lakegate.lake.") and m.split(".")[-1] in ARROW))

_PROBE = """
import importlib, sys
loaded = {}
for name in sys.argv[2:]:
    for k in [k for k in sys.modules if k.split(".")[0] in ("lakegate", "botocore", "boto3", "pyarrow")]:
        del sys.modules[k]
    importlib.import_module(name)
    heavy = sorted({k.split(".")[0] for k in sys.modules} & set(sys.argv[1].split(",")))
    if heavy:
        loaded[name] = heavy
print(loaded)
"""


def _loads(modules: list[str], heavy: str) -> str:
    """Each module imported anew (its package's earlier imports forgotten), and what heavy packages it loaded."""
    run = subprocess.run(
        [sys.executable, "-c", _PROBE, heavy, *modules],
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
        env={"PYTHONPATH": f"{LAYER}:{ROOT / 'functions' / 'ingest'}", "PATH": ""},
    )
    return run.stdout.strip()


def test_no_module_outside_aws_loads_boto3_or_botocore() -> None:
    assert len(PURE) > 20, "the scan found too few modules: is it reading the package?"
    assert _loads(PURE, "botocore,boto3") == "{}"


def test_no_ingest_side_module_loads_pyarrow() -> None:
    assert _loads([*NO_ARROW, "app"], "pyarrow") == "{}"


def test_the_probe_sees_what_a_module_loads() -> None:
    assert "botocore" in _loads(["lakegate.aws.refs"], "botocore,boto3")
    assert "pyarrow" in _loads(["lakegate.lake.parquet"], "pyarrow")


def _imports(name: str, path: Path) -> set[str]:
    """The lakegate modules `name` imports at any level (TYPE_CHECKING blocks too: they still tie files)."""
    package = name if path.name == "__init__.py" else name.rsplit(".", 1)[0]
    out: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            targets = [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom):
            base = node.module or ""
            if node.level:
                parts = package.split(".")
                base = ".".join(parts[: len(parts) - node.level + 1] + ([base] if base else []))
            targets = [base, *(f"{base}.{a.name}" for a in node.names)]
        else:
            continue
        out |= {t for t in targets if t in MODULES and t != name}
    return out


def _cycle(graph: dict[str, set[str]]) -> list[str]:
    """One import cycle, as the modules along it, or [] when there is none (a package importing its own
    submodules is no cycle: the package is their namespace)."""
    state: dict[str, int] = {}
    stack: list[str] = []

    def visit(m: str) -> list[str]:
        state[m] = 1
        stack.append(m)
        for n in sorted(graph[m]):
            if m.startswith(n + "."):  # a submodule importing its package's __init__
                continue
            if state.get(n) == 1:
                return [*stack[stack.index(n) :], n]
            if n not in state and (found := visit(n)):
                return found
        stack.pop()
        state[m] = 2
        return []

    for m in sorted(graph):
        if m not in state and (found := visit(m)):
            return found
    return []


def test_no_import_cycle_inside_lakegate() -> None:
    graph = {name: _imports(name, path) for name, path in MODULES.items()}
    assert _cycle(graph) == []


def test_the_cycle_search_finds_a_cycle() -> None:
    assert _cycle({"a": {"b"}, "b": {"c"}, "c": {"a"}}) == ["a", "b", "c", "a"]
    assert _cycle({"a": {"b"}, "b": set()}) == []


@pytest.mark.parametrize("name", sorted(MODULES))
def test_a_module_is_small_enough_to_read_in_one_sitting(name: str) -> None:
    lines = len(MODULES[name].read_text().splitlines())
    assert lines <= MAX_LINES, f"{name} has {lines} lines: split it where a second concept moved in"
