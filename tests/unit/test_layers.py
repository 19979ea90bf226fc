"""The library's layers: a module imports only from its own layer or the layers below it."""

from __future__ import annotations

import ast
from pathlib import Path

from tests.dag_runs import ROOT

PACKAGE = ROOT / "include" / "cloudfront_ssl"
LAYERS = ["views", "steps", "aws", "rules", "vocabulary", "errors"]
"""Top to bottom. ``vocabulary`` and ``errors`` are modules at the bottom and import nothing of ours."""


def layer_of(module: str) -> str:
    """The layer of ``cloudfront_ssl.X[.Y]``: its first part after the package."""
    return module.split(".")[1]


def imports_of(path: Path) -> list[str]:
    """Every ``cloudfront_ssl...`` module that ``path`` imports, at top level or inside a function."""
    found = []
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith("cloudfront_ssl"):
            if node.module == "cloudfront_ssl":
                found += [f"cloudfront_ssl.{alias.name}" for alias in node.names]
            else:
                found.append(node.module)
        elif isinstance(node, ast.Import):
            found += [alias.name for alias in node.names if alias.name.startswith("cloudfront_ssl.")]
    return found


def test_every_module_sits_in_a_layer() -> None:
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        assert parts[0] in LAYERS or parts == ("__init__",), path


def test_imports_point_down() -> None:
    upward = []
    for path in PACKAGE.rglob("*.py"):
        parts = path.relative_to(PACKAGE).with_suffix("").parts
        if parts == ("__init__",):
            continue
        own = LAYERS.index(parts[0])
        for module in imports_of(path):
            if LAYERS.index(layer_of(module)) < own:
                upward.append(f"{path.relative_to(ROOT)} imports {module}")
    assert not upward, "\n".join(upward)


def test_the_check_sees_an_upward_import(tmp_path: Path) -> None:
    module = tmp_path / "m.py"
    module.write_text("def f():\n    from cloudfront_ssl.views import page\n")
    assert [layer_of(name) for name in imports_of(module)] == ["views"]
