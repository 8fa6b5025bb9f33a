"""Words the commands print: counts with the right noun, and the CDK command they suggest."""

from __future__ import annotations

# The CDK CLI as the README runs it: `make install` links the pinned CLI into .venv/bin, so in a
# shell with `source .venv/bin/activate` it is plain `cdk` (the version package.json pins).
CDK = "cdk"


def plural(count: int, noun: str, plural_form: str | None = None) -> str:
    """`1 stack`, `3 stacks`, `0 stacks`; `plural_form` for irregular nouns."""
    word = noun if count == 1 else (plural_form or f"{noun}s")
    return f"{count:,} {word}"
