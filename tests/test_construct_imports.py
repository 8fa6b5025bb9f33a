"""Each construct module's second docstring line states what it must never import; this holds it."""

from __future__ import annotations

import ast
from pathlib import Path

import pytest

CONSTRUCTS = Path(__file__).resolve().parent.parent / "constructs"
FORBIDDEN = ("stacks", "ops", "config")
LEAVES = {"compliance", "key_policies", "python_lambda", "rds_ca_bundle"}


def _imported_top_levels(path: Path) -> set[str]:
    names: set[str] = set()
    for node in ast.walk(ast.parse(path.read_text())):
        if isinstance(node, ast.Import):
            names.update(alias.name for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.add(node.module)
    return names


MODULES = sorted(CONSTRUCTS.glob("*.py"))


@pytest.mark.parametrize("path", MODULES, ids=lambda p: p.stem)
def test_a_construct_module_keeps_the_import_rule_it_states(path: Path) -> None:
    doc = ast.get_docstring(ast.parse(path.read_text()), clean=False) or ""
    rule = next((line for line in doc.splitlines()[:3] if "Must never import" in line), None)
    assert rule is not None, f"{path.name}: no 'Must never import' line at the top of its docstring"
    imported = _imported_top_levels(path)
    banned = [m for m in imported if m.split(".")[0] in FORBIDDEN]
    if path.stem in LEAVES:
        banned += [m for m in imported if m.startswith("constructs.")]
    assert not banned, f"{path.name} imports {banned}, against its rule: {rule.strip()}"


def test_the_rule_catches_a_forbidden_import(tmp_path: Path) -> None:
    bad = tmp_path / "bad.py"
    bad.write_text("from stacks.naming import name_prefix\nimport ops.plan\n")
    assert {m for m in _imported_top_levels(bad) if m.split(".")[0] in FORBIDDEN} == {
        "stacks.naming",
        "ops.plan",
    }
    assert len(MODULES) >= 15
