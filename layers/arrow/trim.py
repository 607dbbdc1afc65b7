"""Trim a pyarrow install down to what the compactor loads: `python trim.py <site dir>`.

The compactor imports pyarrow, pyarrow.parquet, pyarrow.json and pyarrow.compute, and reads and writes S3
through boto3. What it never loads is removed: Arrow Flight, the remote filesystems (S3, GCS, Azure,
HDFS: `pyarrow.fs` imports each only if present), test modules, C++ headers and Cython sources, and the
extra copies of the libarrow_python libraries a wheel carries in place of symlinks (the loader asks for
`<lib>.so.<major>`, their SONAME). The rules name files the same way on every platform, so the tests can
apply them to the x86_64 pyarrow of the dev venv and run the compactor's tests on what is left
(tests/integration/test_arrow_layer.py); the layer built for aarch64 cannot be imported here.

Prints what each rule removed; exits 1 when a rule matches nothing (a new pyarrow renamed its files).
"""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

# (why, globs under the site dir). Every rule must match: a stale one would hide a layer grown back.
RULES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Arrow Flight (RPC): never imported",
        (
            "pyarrow/libarrow_flight.so*",
            "pyarrow/libarrow_python_flight.so*",
            "pyarrow/_flight.cpython-*.so",
            "pyarrow/flight.py",
        ),
    ),
    (
        "remote filesystems: S3 goes through boto3; pyarrow.fs imports these only if present",
        (
            "pyarrow/libarrow_s3.so*",
            "pyarrow/_s3fs.cpython-*.so",
            "pyarrow/_gcsfs.cpython-*.so",
            "pyarrow/_azurefs.cpython-*.so",
            "pyarrow/_hdfs.cpython-*.so",
        ),
    ),
    (
        "copies of libarrow_python* besides <lib>.so.<major>, the name the loader asks for",
        (
            "pyarrow/libarrow_python*.so",
            "pyarrow/libarrow_python*.so.*.*.*",
        ),
    ),
    (
        "tests",
        ("pyarrow/tests", "pyarrow/_pyarrow_cpp_tests.cpython-*.so", "pyarrow/conftest.py"),
    ),
    (
        "C++ headers, C++ and Cython sources, scripts",
        ("pyarrow/include", "pyarrow/src", "pyarrow/**/*.pxd", "pyarrow/**/*.pyx", "pyarrow/**/*.pxi", "bin"),
    ),
)


def _size(path: Path) -> int:
    if path.is_dir() and not path.is_symlink():
        return sum(p.lstat().st_size for p in path.rglob("*") if not p.is_dir())
    return path.lstat().st_size


def trim(site: Path) -> list[tuple[str, int, int]]:
    """Remove what the rules match under `site`: (why, files and folders removed, bytes) per rule."""
    done = []
    for why, globs in RULES:
        count = size = 0
        for pattern in globs:
            for path in sorted(site.glob(pattern)):
                if not path.exists() and not path.is_symlink():
                    continue  # inside a folder an earlier pattern removed
                size += _size(path)
                count += 1
                if path.is_dir() and not path.is_symlink():
                    shutil.rmtree(path)
                else:
                    path.unlink()
        done.append((why, count, size))
    return done


def main(argv: list[str]) -> int:
    if len(argv) != 1 or not (Path(argv[0]) / "pyarrow").is_dir():
        print("usage: python trim.py <site dir holding pyarrow/>", file=sys.stderr)
        return 2
    done = trim(Path(argv[0]))
    for why, count, size in done:
        print(f"trim: {size / 2**20:6.1f} MiB in {count:3d} files/folders: {why}")
    print(f"trim: {sum(s for _, _, s in done) / 2**20:6.1f} MiB removed in all")
    unmatched = [why for why, count, _ in done if count == 0]
    for why in unmatched:
        print(f"trim: no file matched the rule {why!r}: has pyarrow renamed it?", file=sys.stderr)
    return 1 if unmatched else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
