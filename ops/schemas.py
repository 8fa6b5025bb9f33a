"""CloudFormation resource provider schemas, offline: which properties force a replacement.

cfn-lint ships the registry schemas of every region (`cfnlint/data/schemas`): an index per region
(`providers/<region>.json`: type name -> file id) and the schemas (`resources/<id>.json`). Each
schema lists `createOnlyProperties` (a change always replaces the resource) and
`conditionalCreateOnlyProperties` (a change *may* replace it, depending on values the schema does
not describe; ops/update_rules.py resolves the documented cases).
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cache
from pathlib import Path

DEFAULT_REGION = "us-east-1"


class SchemaUnavailable(RuntimeError):
    """cfn-lint's schema data is missing: the planner cannot judge replacements without it."""


@dataclass(frozen=True)
class ResourceSchema:
    type_name: str
    create_only: frozenset[tuple[str, ...]]  # property paths, e.g. ("DBName",)
    conditional_create_only: frozenset[tuple[str, ...]]
    known: bool = True  # False: no schema for this type (custom or SAM resources)


def _schemas_dir() -> Path:
    try:
        import cfnlint
    except ImportError as exc:  # pragma: no cover - cfn-lint is in requirements-dev.txt
        raise SchemaUnavailable("cfn-lint is not installed (pip install cfn-lint)") from exc
    return Path(cfnlint.__file__).resolve().parent / "data" / "schemas"


def _pointer_to_path(pointer: str) -> tuple[str, ...]:
    """'/properties/Foo/Bar' -> ('Foo', 'Bar'); array markers ('*') are kept as-is."""
    parts = [p for p in pointer.split("/") if p]
    if parts and parts[0] == "properties":
        parts = parts[1:]
    return tuple(parts)


@cache
def _index(region: str) -> dict[str, str]:
    path = _schemas_dir() / "providers" / f"{region.replace('_', '-')}.json"
    if not path.is_file():
        raise SchemaUnavailable(f"{path}: no cfn-lint provider index for region {region!r}")
    data: dict[str, str] = json.loads(path.read_text(encoding="utf-8"))
    return data


@cache
def resource_schema(type_name: str, region: str = DEFAULT_REGION) -> ResourceSchema:
    """The create-only facts of `type_name` (unknown types: no facts, `known=False`)."""
    file_id = _index(region).get(type_name)
    if file_id is None:
        return ResourceSchema(type_name, frozenset(), frozenset(), known=False)
    path = _schemas_dir() / "resources" / f"{file_id}.json"
    schema = json.loads(path.read_text(encoding="utf-8"))
    return ResourceSchema(
        type_name=type_name,
        create_only=frozenset(_pointer_to_path(p) for p in schema.get("createOnlyProperties", [])),
        conditional_create_only=frozenset(
            _pointer_to_path(p) for p in schema.get("conditionalCreateOnlyProperties", [])
        ),
    )


def schema_source(region: str = DEFAULT_REGION) -> str:
    """Where the facts come from, for reports: cfn-lint version and schema date."""
    import cfnlint.version

    date = "unknown date"
    version_file = _schemas_dir() / "version.json"
    if version_file.is_file():
        date = json.loads(version_file.read_text(encoding="utf-8")).get("schema_date", date)
    return f"cfn-lint {cfnlint.version.__version__} provider schemas ({region}, {date})"
