"""The pins that must agree across the requirement files of the separate venvs and layers."""

from __future__ import annotations

from tests.pins import pins


def test_the_deploy_tests_translate_with_the_sam_clis_translator() -> None:
    sam, dev = pins("requirements-sam.txt"), pins("requirements-dev.txt")
    assert "aws-sam-cli" in sam
    assert sam["aws-sam-translator"] == dev["aws-sam-translator"]


def test_the_tests_run_the_arrow_layers_pyarrow() -> None:
    """tests/integration/test_arrow_layer.py proves the layer's trim on the dev venv's pyarrow."""
    assert pins("requirements-dev.txt")["pyarrow"] == pins("layers/arrow/requirements.txt")["pyarrow"]
