"""`python -m ops <command>`: every module in this package with a `register(subparsers)` is one.

Each command module defines `register(subparsers)` that adds its parser and sets
`func=<callable(args) -> int>`; every command takes `--json`.
"""

from __future__ import annotations

import argparse
import importlib
import pkgutil
import sys
from collections.abc import Sequence

import ops


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ops",
        description="Chef's Kiss operations: what the CDK CLI does not do.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="<command>", required=True)
    for module_info in sorted(pkgutil.iter_modules(ops.__path__), key=lambda m: m.name):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"ops.{module_info.name}")
        register = getattr(module, "register", None)
        if callable(register):
            register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    return int(args.func(args) or 0)


if __name__ == "__main__":
    sys.exit(main())
