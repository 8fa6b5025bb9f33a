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
