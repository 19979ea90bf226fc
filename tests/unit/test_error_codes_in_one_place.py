"""AWS error codes are read in ``errors.py`` only: every other module asks what an error means."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.dag_runs import ROOT

SOURCES = [*(ROOT / "include" / "cloudfront_ssl").rglob("*.py"), *(ROOT / "plugins").rglob("*.py")]
ERRORS_MODULE = ROOT / "include" / "cloudfront_ssl" / "errors.py"


def code_comparisons(source: str) -> list[int]:
    """The lines where a comparison reads an AWS error code: ``aws_error_code(e) == ...`` or a
    variable ``code`` compared with something."""
    lines = []
    for node in ast.walk(ast.parse(source)):
        if not isinstance(node, ast.Compare):
            continue
        for side in (node.left, *node.comparators):
            is_code_call = (
                isinstance(side, ast.Call) and isinstance(side.func, ast.Name) and side.func.id == "aws_error_code"
            )
            if is_code_call or (isinstance(side, ast.Name) and side.id == "code"):
                lines.append(node.lineno)
    return lines


def test_no_module_but_errors_compares_aws_error_codes() -> None:
    found = [
        f"{path.relative_to(ROOT)}:{line}"
        for path in SOURCES
        if path != ERRORS_MODULE
        for line in code_comparisons(path.read_text())
    ]
    assert not found, "ask errors.py what the error means instead:\n" + "\n".join(found)


def test_the_check_sees_a_comparison(tmp_path: Path) -> None:
    assert code_comparisons('if aws_error_code(e) == "NoSuchDistribution":\n    pass\n') == [1]
    assert code_comparisons('code = aws_error_code(e)\nif code in ("A", "B"):\n    pass\n') == [2]
