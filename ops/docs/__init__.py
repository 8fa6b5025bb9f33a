"""Reference pages generated from the code, kept true by `--check` in tests and pre-commit.

`architecture` writes docs/architecture.md (stacks, cross-stack references, naming conventions)
from a synthesized assembly and stacks/naming.py; `config_reference` writes docs/configuration.md
from config/schema.py. They may read config/, stacks/ and `ops.assembly`; they must never import
another ops sub-package, and nothing in the app imports them.
"""
