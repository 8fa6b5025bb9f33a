"""`python -m ops <command>`: each module in ops/ or a sub-package with a `register(subparsers)`.

Each command module defines `register(subparsers)` that adds its parser and sets
`func=<callable(args) -> int>`; every command takes `--json`. `python -m ops` alone lists the
commands. Output piped into a reader that stops early (`| head`) ends quietly.
"""

from __future__ import annotations

import argparse
import importlib
import os
import pkgutil
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path
from types import ModuleType

import ops

PROJECT_DIR = Path(__file__).resolve().parent.parent
VENV_PYTHON = PROJECT_DIR / ".venv" / "bin" / "python"
EXIT_INPUT = 2


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m ops",
        description="Chef's Kiss operations: what the CDK CLI does not do.",
        epilog="`python -m ops <command> --help` shows a command's options.",
    )
    subparsers = parser.add_subparsers(dest="command", metavar="<command>")
    # Listed in the order of the module names, which are the command names (`-` written `_`).
    for module in sorted(_modules(ops), key=lambda m: m.__name__.rsplit(".", 1)[-1]):
        register = getattr(module, "register", None)
        if callable(register):
            register(subparsers)
    return parser


def _modules(package: ModuleType) -> Iterator[ModuleType]:
    """Every public module of `package` and of its sub-packages, imported (the packages too).

    Not pkgutil.walk_packages: it ignores a sub-package that fails to import, and a missing
    dependency must reach main() as ModuleNotFoundError (what to do about the venv)."""
    for module_info in pkgutil.iter_modules(package.__path__):
        if module_info.name.startswith("_"):
            continue
        module = importlib.import_module(f"{package.__name__}.{module_info.name}")
        yield module
        if module_info.ispkg:
            yield from _modules(module)


def missing_environment_message(exc: ModuleNotFoundError) -> str:
    """What to do when a dependency is missing: usually the venv is not the Python in use."""
    in_venv = Path(sys.prefix).resolve() == (PROJECT_DIR / ".venv").resolve()
    name = exc.name or str(exc)
    if in_venv or not VENV_PYTHON.exists():
        how = "run `make install` (it creates .venv and installs requirements-dev.txt)"
        if in_venv:
            how = "run `make install` again: .venv lacks it (requirements changed?)"
        return f"python -m ops: the Python package {name!r} is not installed; {how}."
    return (
        f"python -m ops: the Python package {name!r} is missing from {sys.executable}.\n"
        "The ops tools run in the project's virtual environment. Either activate it once per "
        "shell:\n    source .venv/bin/activate\nor call its Python directly:\n"
        f"    .venv/bin/python -m ops {' '.join(sys.argv[1:])}".rstrip()
    )


def _quiet_broken_pipe() -> int:
    """The reader went away (`| head`): no traceback, and no second error at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
    return 141  # 128 + SIGPIPE, what a shell reports for a tool killed by a closed pipe


def main(argv: Sequence[str] | None = None) -> int:
    try:
        parser = build_parser()
    except ModuleNotFoundError as exc:
        print(missing_environment_message(exc), file=sys.stderr)
        return EXIT_INPUT
    try:
        args = parser.parse_args(argv)
        if not getattr(args, "func", None):
            parser.print_help()
            return 0
        code = int(args.func(args) or 0)
        sys.stdout.flush()
        return code
    except BrokenPipeError:
        return _quiet_broken_pipe()


if __name__ == "__main__":
    sys.exit(main())
