"""Check a `sam build` output before deploying: every function fits Lambda and its native code fits the CPU.

For each function of the built template: the unzipped size of its code plus its layers must be
within Lambda's limit (250 MB, 262,144,000 bytes), and every native library (`*.so`, `*.so.N`) in
its code and layers must be an ELF for the function's architecture (`e_machine` 183 for arm64, 62
for x86_64; a wheel tag naming the other platform is flagged too). Lambda would refuse the first
at deploy time and the second only at the first import, in production. Every Python module of its
layers must also come with its .pyc for the function's runtime (`cpython-313` for python3.13): /opt
is read-only, so a module without one is compiled anew on every cold start.

    python scripts/check_layers.py [BUILD_DIR]     # default .aws-sam/build

Prints a table of sizes; exits 1 naming each function or file at fault, 2 on a bad build dir.
"""

from __future__ import annotations

import argparse
import os
import struct
import sys
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

# Lambda's quota: "Unzipped size must be smaller than 262144000 bytes" (function + all layers).
LIMIT_BYTES = 262_144_000
MIB = 1024 * 1024
FUNCTION = "AWS::Serverless::Function"
LAYER = "AWS::Serverless::LayerVersion"
# ELF e_machine of each Lambda architecture, and the wheel platform tag of the other one.
MACHINES = {"arm64": 183, "x86_64": 62}
MACHINE_NAMES = {183: "arm64 (AArch64)", 62: "x86_64"}
FOREIGN_TAGS = {
    "arm64": ("-x86_64-linux-gnu.so", "-darwin.so", ".pyd"),
    "x86_64": ("-aarch64-linux-gnu.so", "-darwin.so", ".pyd"),
}
ELF_MAGIC = b"\x7fELF"


class BuildError(Exception):
    """The build dir cannot be checked at all (no template, unreadable): exit status 2."""


class _AnyTagLoader(yaml.SafeLoader):
    """Reads short-form intrinsics (`!Ref X`) as plain values: only paths and lists matter here."""


def _any_tag(loader: yaml.SafeLoader, suffix: str, node: yaml.Node) -> Any:
    if isinstance(node, yaml.ScalarNode):
        return {suffix: loader.construct_scalar(node)}
    if isinstance(node, yaml.SequenceNode):
        return {suffix: loader.construct_sequence(node)}
    return {suffix: loader.construct_mapping(node)}  # type: ignore[arg-type]


_AnyTagLoader.add_multi_constructor("!", _any_tag)


@dataclass(frozen=True, slots=True)
class Part:
    """A function's code or one of its layers, as built: where it is and its unzipped size."""

    name: str
    path: Path | None
    size: int


@dataclass(slots=True)
class Report:
    """One function: its architecture, its parts, and what is wrong with them."""

    function: str
    architecture: str
    parts: list[Part]
    problems: list[str] = field(default_factory=list)
    # What could not be checked (a layer by ARN, built elsewhere): said, but not a failure.
    warnings: list[str] = field(default_factory=list)

    @property
    def total(self) -> int:
        return sum(p.size for p in self.parts)


def load_template(build_dir: Path) -> dict[str, Any]:
    path = build_dir / "template.yaml"
    try:
        with path.open(encoding="utf-8") as f:
            template = yaml.load(f, Loader=_AnyTagLoader)  # noqa: S506 - a SafeLoader subclass
    except OSError as e:
        raise BuildError(f"no built template at {path}: run `sam build` first ({e.strerror})") from e
    except yaml.YAMLError as e:
        raise BuildError(f"{path} is not YAML: {e}") from e
    if not isinstance(template, dict) or not isinstance(template.get("Resources"), dict):
        raise BuildError(f"{path} has no Resources")
    return template


def tree_size(path: Path) -> int:
    """Bytes of every regular file below `path`, symlinks not followed (what a zip of it unpacks to)."""
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            st = os.lstat(os.path.join(root, name))
            total += st.st_size
    return total


def native_libraries(path: Path) -> Iterator[Path]:
    for root, _dirs, files in os.walk(path):
        for name in files:
            if name.endswith((".so", ".pyd")) or ".so." in name:
                yield Path(root) / name


def elf_machine(path: Path) -> int | None:
    """The ELF header's e_machine, or None when the file is not ELF."""
    with path.open("rb") as f:
        header = f.read(20)
    if len(header) < 20 or header[:4] != ELF_MAGIC:
        return None
    endian = "<" if header[5] == 1 else ">"
    machine: int = struct.unpack(endian + "H", header[18:20])[0]
    return machine


def platform_problem(path: Path, architecture: str) -> str | None:
    """Why this native library cannot load on `architecture`, or None when it can."""
    if path.name.endswith(FOREIGN_TAGS.get(architecture, ())):
        return f"is built for another platform (its name: {path.name})"
    try:
        machine = elf_machine(path)
    except OSError as e:
        return f"cannot be read ({e.strerror})"
    if machine is None:
        return "is not an ELF file"
    wanted = MACHINES.get(architecture)
    if wanted is not None and machine != wanted:
        found = MACHINE_NAMES.get(machine, f"e_machine {machine}")
        return f"is for {found}, not {architecture} (ELF e_machine {machine}, want {wanted})"
    return None


def uncompiled(path: Path, runtime: str) -> list[Path]:
    """The modules under `path` with no `__pycache__/<name>.cpython-3NN.pyc` for `runtime` (`python3.NN`)."""
    if not runtime.startswith("python3."):
        return []
    tag = "cpython-3" + runtime.removeprefix("python3.")
    return [
        Path(root) / name
        for root, _dirs, files in os.walk(path)
        for name in files
        if name.endswith(".py")
        and not (Path(root) / "__pycache__" / f"{name.removesuffix('.py')}.{tag}.pyc").is_file()
    ]


def _architecture(props: Mapping[str, Any], globals_: Mapping[str, Any]) -> str:
    archs = props.get("Architectures") or globals_.get("Architectures") or ["x86_64"]
    return str(archs[0])


def _local_dir(build_dir: Path, uri: Any) -> Path | None:
    """A CodeUri/ContentUri the build left as a folder; None for S3 URIs, zips and intrinsics."""
    if not isinstance(uri, str) or uri.startswith("s3://"):
        return None
    path = build_dir / uri
    return path if path.is_dir() else None


def check(build_dir: Path, limit: int = LIMIT_BYTES) -> list[Report]:
    template = load_template(build_dir)
    resources: Mapping[str, Any] = template["Resources"]
    globals_ = (template.get("Globals") or {}).get("Function") or {}
    sizes: dict[Path, int] = {}
    reports = [
        _report(build_dir, logical_id, resource.get("Properties") or {}, globals_, resources, sizes, limit)
        for logical_id, resource in resources.items()
        if isinstance(resource, dict)
        and resource.get("Type") == FUNCTION
        and (resource.get("Properties") or {}).get("PackageType") != "Image"
    ]
    if not reports:
        raise BuildError(f"{build_dir / 'template.yaml'} declares no {FUNCTION}")
    return reports


def _report(
    build_dir: Path,
    logical_id: str,
    props: Mapping[str, Any],
    globals_: Mapping[str, Any],
    resources: Mapping[str, Any],
    sizes: dict[Path, int],
    limit: int,
) -> Report:
    """One function's parts (its code, then its layers in order), their sizes and their problems."""

    def part(name: str, path: Path | None) -> Part:
        # A layer shared by several functions is walked once.
        if path is not None and path not in sizes:
            sizes[path] = tree_size(path)
        return Part(name, path, sizes[path] if path is not None else 0)

    report = Report(logical_id, _architecture(props, globals_), [])
    code = _local_dir(build_dir, props.get("CodeUri") or globals_.get("CodeUri"))
    if code is None:
        report.problems.append(f"{logical_id}: its code is not a built folder under {build_dir}")
    report.parts.append(part(logical_id, code))
    for layer in props.get("Layers") or globals_.get("Layers") or []:
        ref = layer.get("Ref") if isinstance(layer, dict) else None
        layer_resource = resources.get(ref) if isinstance(ref, str) else None
        if not isinstance(layer_resource, dict) or layer_resource.get("Type") != LAYER:
            report.warnings.append(f"{logical_id}: layer {layer!r} is not built here: not counted")
            continue
        path = _local_dir(build_dir, (layer_resource.get("Properties") or {}).get("ContentUri"))
        if path is None:
            report.problems.append(f"{logical_id}: layer {ref} is not a built folder under {build_dir}")
        report.parts.append(part(str(ref), path))
    if report.total > limit:
        listing = " + ".join(f"{p.name} {p.size / MIB:.1f}" for p in report.parts)
        report.problems.append(
            f"{logical_id}: {report.total / MIB:.1f} MiB unzipped with its layers ({listing}), "
            f"over Lambda's limit of {limit / MIB:.1f} MiB ({limit} bytes)"
        )
    runtime = str(props.get("Runtime") or globals_.get("Runtime") or "")
    for p in report.parts[1:]:
        missing = sorted(uncompiled(p.path, runtime)) if p.path is not None else []
        if missing:
            report.problems.append(
                f"{logical_id}: layer {p.name} ships {len(missing)} modules without a .pyc for {runtime} "
                f"(e.g. {missing[0].relative_to(build_dir)}): build it with a Python 3.13 (layers/*/Makefile)"
            )
    for p in report.parts:
        for lib in sorted(native_libraries(p.path)) if p.path is not None else []:
            problem = platform_problem(lib, report.architecture)
            if problem:
                report.problems.append(
                    f"{logical_id}: {lib.relative_to(build_dir)} {problem}; the function runs on {report.architecture}"
                )
    return report


def table(reports: Sequence[Report], limit: int) -> str:
    rows = [["FUNCTION", "ARCH", "CODE MiB", "LAYERS (MiB)", "TOTAL MiB", f"OF {limit / MIB:.0f} MiB"]]
    for r in reports:
        code, *layers = r.parts
        rows.append(
            [
                r.function,
                r.architecture,
                f"{code.size / MIB:.1f}",
                ", ".join(f"{p.name} {p.size / MIB:.1f}" for p in layers) or "-",
                f"{r.total / MIB:.1f}",
                f"{100 * r.total / limit:.0f}%",
            ]
        )
    widths = [max(len(row[i]) for row in rows) for i in range(len(rows[0]))]
    return "\n".join("  ".join(c.ljust(w) for c, w in zip(row, widths, strict=True)).rstrip() for row in rows)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("build_dir", nargs="?", default=".aws-sam/build", type=Path)
    parser.add_argument("--limit-bytes", type=int, default=LIMIT_BYTES, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    try:
        reports = check(args.build_dir, args.limit_bytes)
    except BuildError as e:
        print(f"check_layers: {e}", file=sys.stderr)
        return 2
    print(table(reports, args.limit_bytes))
    for warning in (w for r in reports for w in r.warnings):
        print(f"check_layers: warning: {warning}", file=sys.stderr)
    problems = [p for r in reports for p in r.problems]
    for problem in problems:
        print(f"check_layers: {problem}", file=sys.stderr)
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
