"""The delivery docs only point at things that exist: ops commands, make targets, files, links."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from ops.__main__ import build_parser
from tests.test_workflows import make_targets

PROJECT_DIR = Path(__file__).resolve().parent.parent
DOCS = ["getting-started.md", "runbooks.md", "delivery.md", "architecture.md", "configuration.md"]


def _text(name: str) -> str:
    return (PROJECT_DIR / "docs" / name).read_text(encoding="utf-8")


def _ops_commands() -> set[str]:
    parser = build_parser()
    action = next(a for a in parser._actions if a.dest == "command")
    return set(action.choices or {})  # type: ignore[arg-type]


@pytest.mark.parametrize("name", DOCS)
def test_ops_commands_named_in_the_doc_exist(name: str) -> None:
    """A command from another branch fails here until that branch is merged (by design)."""
    named = set(re.findall(r"python -m ops ([a-z][a-z-]*)", _text(name)))
    missing = sorted(named - _ops_commands())
    assert missing == [], f"docs/{name} names unknown `python -m ops` commands: {missing}"


@pytest.mark.parametrize("name", DOCS)
def test_make_targets_and_links_in_the_doc_exist(name: str) -> None:
    text = _text(name)
    targets = set(re.findall(r"`make ([a-z]+)", text))
    assert targets <= make_targets()
    for link in re.findall(r"\]\(([^)#:]+)(?:#[^)]*)?\)", text):
        assert (PROJECT_DIR / "docs" / link).exists(), f"docs/{name}: broken link {link}"
    for path in re.findall(r"`((?:scripts|ops|tests|\.github/workflows)/[\w./-]+\.\w+)`", text):
        assert (PROJECT_DIR / path).exists(), f"docs/{name}: {path} does not exist"


def test_runbook_names_match_the_naming_module() -> None:
    from stacks import naming

    text = _text("runbooks.md")
    for name in (
        naming.platform_stack_name("<env>"),
        naming.tenant_stack_name("<env>", "<slug>"),
        naming.db_instance_identifier("<env>", "<slug>"),
        naming.tenant_secret_name("<env>", "<slug>"),
        naming.tenant_role_name("<env>", "<slug>"),
    ):
        assert f"`{name}`" in text, name
