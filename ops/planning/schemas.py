"""CloudFormation resource provider schemas, offline: which properties force a replacement.

cfn-lint ships the registry schemas of every region (`cfnlint/data/schemas`): an index per region
(`providers/<region>.json`: type name -> file id) and the schemas (`resources/<id>.json`). Each
schema lists `createOnlyProperties` (a change always replaces the resource) and
`conditionalCreateOnlyProperties` (a change *may* replace it, depending on values the schema does
not describe; ops/planning/update_rules.py resolves the documented cases).

Two more facts are derived from the same files rather than kept as hand lists:

- **Physical names** (`ResourceSchema.name_property`): the property that gives a resource a fixed,
  user-chosen name. CloudFormation creates the replacement before it deletes the old resource, so
  replacing a resource whose name stays the same fails ("If you specify a name, you cannot perform
  updates that require replacement of this resource", CFN docs, e.g. AWS::S3::Bucket BucketName).
  A top-level, create-only, writable string property is the name when (1) its schema description
  says so (the sentence above), or (2) it is the schema's whole `primaryIdentifier` and ends in
  Name or Identifier (LogGroupName, RoleName, ClusterName...), or (3) it is called `Name`, or
  `<X>Name` where the type's last part ends in X (ECS Service ServiceName, SecurityGroup
  GroupName, Secret Name). `DBName` of an RDS instance is
  none of these: it names the database inside, not the instance.
- **Updates that fail** (`ResourceSchema.update_fails`): properties whose description says "If you
  change the value of the X property on an existing ..., the update request fails" (AWS::KMS::Key
  KeySpec, KeyUsage, MultiRegion: CloudFormation refuses rather than replace a key).
"""

from __future__ import annotations

import importlib.metadata
import importlib.util
import json
import re
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
    name_property: str | None = None  # the fixed physical name, when the type has one
    update_fails: frozenset[str] = frozenset()  # top-level properties: any change fails


def _schemas_dir() -> Path:
    # Found, not imported: importing cfnlint loads its whole linter (about a second), and only
    # its data files are read here.
    spec = importlib.util.find_spec("cfnlint")
    if spec is None or spec.origin is None:  # pragma: no cover - cfn-lint is in requirements-dev
        raise SchemaUnavailable("cfn-lint is not installed (pip install cfn-lint)")
    return Path(spec.origin).resolve().parent / "data" / "schemas"


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
    create_only = frozenset(_pointer_to_path(p) for p in schema.get("createOnlyProperties", []))
    properties = schema.get("properties") or {}
    fails = frozenset(
        name
        for name, definition in properties.items()
        if _UPDATE_FAILS.search(str((definition or {}).get("description", "")))
    )
    return ResourceSchema(
        type_name=type_name,
        create_only=create_only,
        conditional_create_only=frozenset(
            _pointer_to_path(p) for p in schema.get("conditionalCreateOnlyProperties", [])
        ),
        name_property=_name_property(type_name, schema, create_only),
        update_fails=fails,
    )


_NAMED_IN_DESCRIPTION = re.compile(
    r"(cannot|can't|can not) perform updates? that requires? replacement", re.IGNORECASE
)
_UPDATE_FAILS = re.compile(
    r"If you change the value of the `*\w+`* property on an existing [^.]*?, the update request "
    r"fails",
    re.IGNORECASE,
)


def _name_property(
    type_name: str, schema: dict[str, object], create_only: frozenset[tuple[str, ...]]
) -> str | None:
    """The property that fixes the physical name (see the module docstring for the rule)."""
    properties = schema.get("properties")
    if not isinstance(properties, dict):
        return None
    read_only = {_pointer_to_path(p) for p in schema.get("readOnlyProperties", []) or []}  # type: ignore[attr-defined]
    candidates = [
        name
        for name, definition in properties.items()
        if (name,) in create_only
        and (name,) not in read_only
        and isinstance(definition, dict)
        and definition.get("type", "string") == "string"
    ]
    for name in candidates:
        if _NAMED_IN_DESCRIPTION.search(str(properties[name].get("description", ""))):
            return name
    primary = [_pointer_to_path(p) for p in schema.get("primaryIdentifier", []) or []]  # type: ignore[attr-defined]
    if (
        len(primary) == 1
        and len(primary[0]) == 1
        and primary[0][0] in candidates
        and primary[0][0].endswith(("Name", "Identifier"))  # not BucketPolicy's Bucket
    ):
        return primary[0][0]
    last = type_name.split("::")[-1]
    for name in candidates:
        stem = name.removesuffix("Name")
        if name == "Name" or (name.endswith("Name") and stem and last.endswith(stem)):
            return name
    return None


def schema_source(region: str = DEFAULT_REGION) -> str:
    """Where the facts come from, for reports: cfn-lint version and schema date."""
    date = "unknown date"
    version_file = _schemas_dir() / "version.json"
    if version_file.is_file():
        date = json.loads(version_file.read_text(encoding="utf-8")).get("schema_date", date)
    version = importlib.metadata.version("cfn-lint")  # cfnlint.version, without importing cfnlint
    return f"cfn-lint {version} provider schemas ({region}, {date})"
