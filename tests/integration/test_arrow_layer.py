"""The Arrow layer's trim (layers/arrow/trim.py) leaves everything the compactor loads.

The layer is built for aarch64 and cannot be imported on this machine. The same rules, applied to the dev
venv's pyarrow (the same version, for x86_64: the wheels hold the same files), must leave a pyarrow that
imports what the compactor imports, loads no Arrow library from anywhere else, and passes the compactor's
tests, run in a process that imports pyarrow from the trimmed copy only.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pyarrow
import pytest

from tests.pins import pins

ROOT = Path(__file__).resolve().parents[2]
TRIM = ROOT / "layers" / "arrow" / "trim.py"
# The compactor's tests: the lake side's unit tests, and the handler on moto.
COMPACTOR_TESTS = ["tests/unit/lake", "tests/integration/test_compactor.py"]
# Imported first, from the trimmed copy: the compactor's imports, and pyarrow.fs, which pyarrow.parquet uses.
IMPORTS = "import pyarrow, pyarrow.parquet, pyarrow.json, pyarrow.compute, pyarrow.fs"
CHECK = f"""
import sys
{IMPORTS}
site = sys.argv[1]
assert pyarrow.__file__.startswith(site), pyarrow.__file__
loaded = {{line.split()[-1] for line in open("/proc/self/maps") if "libarrow" in line or "libparquet" in line}}
assert loaded and all(path.startswith(site) for path in loaded), loaded
"""
RUN_TESTS = f"""
import sys
{IMPORTS}
import pytest
assert pyarrow.__file__.startswith(sys.argv[1]), pyarrow.__file__
sys.exit(pytest.main(["-q", *sys.argv[2:]]))
"""


def test_the_dev_venv_has_the_layers_pyarrow() -> None:
    assert pyarrow.__version__ == pins("layers/arrow/requirements.txt")["pyarrow"]


@pytest.mark.skipif(not Path("/proc/self/maps").exists(), reason="reads the loaded libraries from /proc")
def test_the_compactor_runs_on_the_trimmed_pyarrow(tmp_path: Path) -> None:
    # Given the dev venv's pyarrow, trimmed by the layer's rules
    site = tmp_path / "python"
    shutil.copytree(
        Path(pyarrow.__file__).parent, site / "pyarrow", ignore=shutil.ignore_patterns("__pycache__")
    )
    before = {p.relative_to(site) for p in site.rglob("*")}
    trimmed = subprocess.run([sys.executable, TRIM, site], capture_output=True, text=True, check=False)
    assert trimmed.returncode == 0, trimmed.stdout + trimmed.stderr
    gone = before - {p.relative_to(site) for p in site.rglob("*")}
    names = {p.name for p in gone}
    assert "libarrow_flight.so.2600" in names and "libarrow_s3.so.2600" in names
    assert "libarrow_python.so.2600" not in names

    # Then what the compactor imports loads from it alone, and the compactor's tests pass on it
    env = os.environ | {"PYTHONPATH": os.pathsep.join([str(site), os.environ.get("PYTHONPATH", "")])}
    imports = subprocess.run(
        [sys.executable, "-c", CHECK, str(site)], env=env, capture_output=True, text=True, check=False
    )
    assert imports.returncode == 0, imports.stderr
    tests = subprocess.run(
        [sys.executable, "-c", RUN_TESTS, str(site), *COMPACTOR_TESTS],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )
    assert tests.returncode == 0, tests.stdout[-3000:] + tests.stderr[-3000:]
    assert " passed" in tests.stdout.splitlines()[-1]
