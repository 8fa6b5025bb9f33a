"""How a command declares itself to `python -m ops`: its parser, and the options most share."""

from __future__ import annotations

import argparse
from typing import Any


def add_command(
    subparsers: argparse._SubParsersAction,  # type: ignore[type-arg]
    name: str,
    help_line: str,
    doc: str | None,
) -> Any:
    """Command `name`'s parser: `help_line` in the list of commands, its module's docstring
    (`doc`) as the description, with its line breaks and examples kept."""
    return subparsers.add_parser(
        name,
        help=help_line,
        description=doc,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )


def add_env(parser: argparse.ArgumentParser) -> None:
    """`--env NAME`, required: the environment file `config/environments/NAME.yaml`."""
    parser.add_argument("--env", required=True, help="environment name (config/environments)")


def add_page_options(parser: argparse.ArgumentParser, default_output: str, json_help: str) -> None:
    """A command that generates a page: `--output FILE`, and either `--check` (exit 1 when the
    page is out of date) or `--json` (the facts instead of the page)."""
    parser.add_argument(
        "--output", default=default_output, help="Markdown file (default: %(default)s)"
    )
    mode = parser.add_mutually_exclusive_group()
    mode.add_argument("--check", action="store_true", help="exit 1 if the file is out of date")
    mode.add_argument("--json", action="store_true", help=json_help)
