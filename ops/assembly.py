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


def read_assembly(directory: Path) -> dict[str, StackArtifact]:
    """Every CloudFormation stack of the assembly in `directory`, by name, in manifest order."""
    manifest_path = directory / "manifest.json"
    if not manifest_path.is_file():
        raise AssemblyError(
            f"{directory}: no manifest.json; not a synthesized assembly (run `make synth` first)"
        )
    try:
        manifest = json.loads(manifest_path.read_text(encoding="utf-8"))
    except (OSError, json.JSONDecodeError) as exc:
        raise AssemblyError(f"{manifest_path}: unreadable: {exc}") from None
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
