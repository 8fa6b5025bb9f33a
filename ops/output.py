"""How a command prints its result: one JSON document with `--json`, else lines for a reader."""

from __future__ import annotations

import json
from collections.abc import Callable, Iterable


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
