"""Read a synthesized cloud assembly (`cdk.out`) without the CDK: manifest, stacks, templates."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any


class AssemblyError(ValueError):
    """The directory is not a readable cloud assembly."""


@dataclass(frozen=True)
class StackArtifact:
    name: str  # the artifact id, which this project keeps equal to the CloudFormation stack name
    template_path: Path
    template: dict[str, Any] = field(repr=False)
    environment: str | None = None  # "aws://account/region" as the manifest says

    @property
    def resources(self) -> dict[str, dict[str, Any]]:
        return dict(self.template.get("Resources", {}))


def read_manifest(directory: Path) -> dict[str, Any]:
    """The cloud assembly's manifest.json in `directory`, or an AssemblyError that says why not."""
    manifest_path = directory / "manifest.json"
    if not manifest_path.is_file():
        raise AssemblyError(
            f"{directory}: no manifest.json; not a synthesized assembly (run `make synth` first)"
        )
    try:
        manifest: dict[str, Any] = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise AssemblyError(f"{manifest_path}: unreadable: {exc}") from None
    return manifest


def read_assembly(directory: Path) -> dict[str, StackArtifact]:
    """Every CloudFormation stack of the assembly in `directory`, by name, in manifest order."""
    manifest = read_manifest(directory)
    stacks: dict[str, StackArtifact] = {}
    for artifact_id, artifact in manifest.get("artifacts", {}).items():
        if artifact.get("type") != "aws:cloudformation:stack":
            continue
        properties = artifact.get("properties", {})
        template_path = directory / properties.get("templateFile", f"{artifact_id}.template.json")
        try:
            template = json.loads(template_path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as exc:
            raise AssemblyError(f"{template_path}: unreadable template: {exc}") from None
        name = properties.get("stackName", artifact_id)
        stacks[name] = StackArtifact(
            name=name,
            template_path=template_path,
            template=template,
            environment=artifact.get("environment"),
        )
    return stacks


# What an assembly is synthesized from: the app, its constructs and stacks, the config and the
# CDK context. Directories count too: deleting a file (a restaurant's YAML) changes its folder.
SOURCE_FILES = ("app.py", "cdk.json", "cdk.context.json", "requirements.txt", "constraints.txt")
SOURCE_DIRS = ("stacks", "constructs", "config")
SOURCE_SUFFIXES = (".py", ".yaml", ".yml", ".json")


def _sources(project_dir: Path) -> list[Path]:
    found = [project_dir / name for name in SOURCE_FILES if (project_dir / name).exists()]
    for folder in SOURCE_DIRS:
        root = project_dir / folder
        if not root.is_dir():
            continue
        found.append(root)
        for path in root.rglob("*"):
            if "__pycache__" in path.parts:
                continue
            if path.is_dir() or path.suffix in SOURCE_SUFFIXES:
                found.append(path)
    return found


def staleness(directory: Path, project_dir: Path) -> str | None:
    """Why the assembly in `directory` may not be what `project_dir` synthesizes now, or None.

    An assembly is stale when a source (file or folder, see SOURCE_FILES/SOURCE_DIRS) changed
    after its manifest.json was written: an edit, a new or deleted restaurant, `ops promote
    --write`, or a checkout of another commit (git rewrites the files that differ).
    """
    manifest = directory / "manifest.json"
    try:
        synthesized = manifest.stat().st_mtime
    except OSError:
        return f"{directory}: no manifest.json"
    newer = [p for p in _sources(project_dir) if p.stat().st_mtime > synthesized]
    if not newer:
        return None
    newest = max(newer, key=lambda p: p.stat().st_mtime)
    shown = newest.relative_to(project_dir) if newest.is_relative_to(project_dir) else newest
    more = f" (and {len(newer) - 1} more)" if len(newer) > 1 else ""
    return f"{shown}{more} changed after {directory} was synthesized"


def imported_names(value: Any) -> set[str]:
    """Export names a template, or any part of one, imports with a literal `Fn::ImportValue`."""
    found: set[str] = set()
    pending = [value]
    while pending:
        node = pending.pop()
        if isinstance(node, dict):
            if isinstance(name := node.get("Fn::ImportValue"), str):
                found.add(name)
            pending.extend(node.values())
        elif isinstance(node, list):
            pending.extend(node)
    return found
