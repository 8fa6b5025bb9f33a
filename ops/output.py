"""How a command prints its result: one JSON document with `--json`, else lines for a reader;
and how a command that generates a page writes it or, with `--check`, says it is stale."""

from __future__ import annotations

import json
import sys
from collections.abc import Callable, Iterable
from pathlib import Path


def print_result(
    as_json: bool, data: Callable[[], object], text: Callable[[], str | Iterable[str]]
) -> None:
    """Print `data()` as indented JSON (values JSON does not know as their text) or `text()`,
    a string or lines (none: nothing printed). Both are callables: a command builds only the
    form it prints."""
    if as_json:
        print(json.dumps(data(), indent=2, default=str))
        return
    rendered = text()
    for line in [rendered] if isinstance(rendered, str) else rendered:
        print(line)


def write_or_check(
    path: Path,
    updated: str,
    current: str | None,
    *,
    check: bool,
    stale: str,
    fresh: str,
    written: str,
    unchanged: str | None = None,
) -> int:
    """The tail of a command that generates a page: with `check`, 0 and `fresh` when the page
    (`current`, None when missing) equals `updated`, else 1 and `stale` on stderr, nothing
    written; without, write it and print `written` (or, given `unchanged`, print that and leave
    an equal page alone)."""
    if check:
        if updated != current:
            print(stale, file=sys.stderr)
            return 1
        print(fresh)
        return 0
    if unchanged is not None and updated == current:
        print(unchanged)
        return 0
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(updated, encoding="utf-8")
    print(written)
    return 0
