"""The `python -m ops` contract (DESIGN.md): every command has --help and --json."""

from __future__ import annotations

import argparse

import pytest

from ops.__main__ import build_parser, main


def subcommands() -> dict[str, argparse.ArgumentParser]:
    parser = build_parser()
    action = next(a for a in parser._actions if isinstance(a, argparse._SubParsersAction))
    return dict(action.choices)


def test_the_commands_the_docs_name_exist() -> None:
    assert {
        "architecture",
        "bench",
        "config-reference",
        "cost",
        "offboard",
        "plan",
        "preflight",
        "promote",
        "resize",
        "smoke",
    } <= set(subcommands())


@pytest.mark.parametrize("name", sorted(subcommands()))
def test_every_command_has_help_and_json(name: str, capsys: pytest.CaptureFixture[str]) -> None:
    options = {o for a in subcommands()[name]._actions for o in a.option_strings}
    assert {"-h", "--json"} <= options
    with pytest.raises(SystemExit) as exit_info:
        main([name, "--help"])
    assert exit_info.value.code == 0
    assert "--json" in capsys.readouterr().out


def test_listing_the_commands_starts_no_node_process() -> None:
    """Every `python -m ops` command builds the whole parser; importing the `constructs` library
    there (jsii) would start a Node.js process, and its end-of-life banner, for each command."""
    import subprocess
    import sys

    code = (
        "import sys; from ops.__main__ import build_parser; build_parser(); "
        "print(sorted(m for m in ('jsii', 'aws_cdk', 'constructs') if m in sys.modules))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60
    )
    assert result.stdout.strip() == "[]"
