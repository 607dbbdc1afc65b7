"""scripts/check_layers.py on small synthetic `sam build` trees: sizes against the limit, ELF machines."""

from __future__ import annotations

import struct
from collections.abc import Callable
from pathlib import Path

import pytest

import check_layers

AARCH64, X86_64 = 183, 62

TEMPLATE = """\
Transform: AWS::Serverless-2016-10-31
Globals:
  Function:
    Runtime: python3.13
    Architectures: [arm64]
Resources:
  SharedLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: SharedLayer
  ArrowLayer:
    Type: AWS::Serverless::LayerVersion
    Properties:
      ContentUri: ArrowLayer
  IngestFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: IngestFunction
      Layers: [!Ref SharedLayer]
  CompactorFunction:
    Type: AWS::Serverless::Function
    Properties:
      CodeUri: CompactorFunction
      Layers:
        - Ref: SharedLayer
        - Ref: ArrowLayer
        - arn:aws:lambda:us-east-1:017000801446:layer:AWSLambdaPowertoolsPythonV3-python313-arm64:1
"""


def elf(machine: int, big_endian: bool = False, size: int = 64) -> bytes:
    """An ELF header as far as e_machine (offset 18), padded to `size` bytes."""
    endian = ">" if big_endian else "<"
    ident = b"\x7fELF" + bytes([2, 2 if big_endian else 1, 1]) + bytes(9)
    return (ident + struct.pack(endian + "HH", 3, machine)).ljust(size, b"\0")


def write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)


@pytest.fixture
def build(tmp_path: Path) -> Path:
    """A build of two arm64 functions: 1,000 bytes of code each, a 3,000 and a 20,000 byte layer."""
    (tmp_path / "template.yaml").write_text(TEMPLATE)
    write(tmp_path / "IngestFunction" / "app.py", b"x" * 1000)
    write(tmp_path / "CompactorFunction" / "compactor_app.py", b"x" * 1000)
    write(
        tmp_path / "SharedLayer" / "python" / "orjson" / "orjson.cpython-313-aarch64-linux-gnu.so",
        elf(AARCH64, size=3000),
    )
    write(tmp_path / "ArrowLayer" / "python" / "pyarrow" / "libarrow.so.2600", elf(AARCH64, size=20_000))
    return tmp_path


def test_sizes_per_function_with_its_layers(build: Path) -> None:
    reports = {r.function: r for r in check_layers.check(build)}
    assert reports["IngestFunction"].total == 4000
    assert [p.name for p in reports["CompactorFunction"].parts] == [
        "CompactorFunction",
        "SharedLayer",
        "ArrowLayer",
    ]
    assert reports["CompactorFunction"].total == 24_000
    assert all(r.architecture == "arm64" and not r.problems for r in reports.values())
    # A layer given by ARN is said, not counted and not a failure.
    assert reports["CompactorFunction"].warnings == [
        "CompactorFunction: layer 'arn:aws:lambda:us-east-1:017000801446:layer:"
        "AWSLambdaPowertoolsPythonV3-python313-arm64:1' is not built here: not counted"
    ]


def test_main_prints_the_table_and_passes(build: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert check_layers.main([str(build)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split()[:2] == ["FUNCTION", "ARCH"]
    assert out[2].startswith("CompactorFunction  arm64")
    assert "SharedLayer 0.0, ArrowLayer 0.0" in out[2]


def test_over_the_limit_fails_naming_the_function(build: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert check_layers.main([str(build), "--limit-bytes", "10000"]) == 1
    err = capsys.readouterr().err
    assert "CompactorFunction: 0.0 MiB unzipped with its layers" in err
    assert "over Lambda's limit" in err
    assert "IngestFunction:" not in err


@pytest.mark.parametrize(
    ("name", "data", "message"),
    [
        (
            "_compute.cpython-313-aarch64-linux-gnu.so",
            elf(X86_64),
            "is for x86_64, not arm64 (ELF e_machine 62, want 183)",
        ),
        ("libfoo.so", elf(X86_64, big_endian=True), "is for x86_64, not arm64 (ELF e_machine 62, want 183)"),
        ("_compute.cpython-313-x86_64-linux-gnu.so", elf(AARCH64), "is built for another platform"),
        ("libbar.so.1", b"INPUT(-lbar)\n", "is not an ELF file"),
    ],
)
def test_a_library_for_another_machine_fails_naming_the_file(
    build: Path, name: str, data: bytes, message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    write(build / "ArrowLayer" / "python" / "pyarrow" / name, data)
    assert check_layers.main([str(build)]) == 1
    err = capsys.readouterr().err
    assert f"CompactorFunction: ArrowLayer/python/pyarrow/{name} {message}" in err
    assert "IngestFunction" not in err


def test_an_x86_function_wants_x86_libraries(build: Path) -> None:
    template = (
        (build / "template.yaml").read_text().replace("Architectures: [arm64]", "Architectures: [x86_64]")
    )
    (build / "template.yaml").write_text(template)
    problems = [p for r in check_layers.check(build) for p in r.problems]
    # orjson's wheel tag for both functions; libarrow's ELF header for the compactor.
    assert sorted(p.split(" ", 2)[2] for p in problems) == [
        "is built for another platform (its name: orjson.cpython-313-aarch64-linux-gnu.so); the function runs on x86_64",
        "is built for another platform (its name: orjson.cpython-313-aarch64-linux-gnu.so); the function runs on x86_64",
        "is for arm64 (AArch64), not x86_64 (ELF e_machine 183, want 62); the function runs on x86_64",
    ]


def test_a_layer_module_without_its_pyc_for_the_runtime_fails(build: Path) -> None:
    # Given a layer module compiled for 3.13, and one compiled only for another Python
    write(build / "SharedLayer" / "python" / "lakegate" / "auth.py", b"")
    write(build / "SharedLayer" / "python" / "lakegate" / "__pycache__" / "auth.cpython-313.pyc", b"")
    assert not [p for r in check_layers.check(build) for p in r.problems]
    write(build / "SharedLayer" / "python" / "lakegate" / "body.py", b"")
    write(build / "SharedLayer" / "python" / "lakegate" / "__pycache__" / "body.cpython-311.pyc", b"")

    # Then each function with that layer names it (the function's own code may compile at start)
    problems = [p for r in check_layers.check(build) for p in r.problems]
    assert len(problems) == 2
    assert "layer SharedLayer ships 1 modules without a .pyc for python3.13" in problems[0]
    assert "SharedLayer/python/lakegate/body.py" in problems[0]


@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda d: (d / "template.yaml").unlink(), "no built template at"),
        (
            lambda d: (d / "template.yaml").write_text("Resources: {}\n"),
            "declares no AWS::Serverless::Function",
        ),
        (lambda d: (d / "template.yaml").write_text("a: [\n"), "is not YAML"),
    ],
)
def test_a_bad_build_dir_exits_2(
    build: Path, setup: Callable[[Path], object], message: str, capsys: pytest.CaptureFixture[str]
) -> None:
    setup(build)
    assert check_layers.main([str(build)]) == 2
    assert message in capsys.readouterr().err


def test_a_missing_layer_folder_is_a_problem(build: Path) -> None:
    import shutil

    shutil.rmtree(build / "ArrowLayer")
    problems = [p for r in check_layers.check(build) for p in r.problems]
    assert problems == ["CompactorFunction: layer ArrowLayer is not a built folder under " + str(build)]
