"""Helpers for the lifecycle tests: copy an assembly and edit its templates as JSON (fast)."""

from __future__ import annotations

import json
import shutil
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest


def copy_assembly(source: Path, target: Path) -> Path:
    """The assembly's files (not asset directories): all that ops plan and `cdk diff` read."""
    target.mkdir(parents=True, exist_ok=True)
    for path in source.iterdir():
        if path.is_file():
            shutil.copy2(path, target / path.name)
    return target


def template_path(assembly: Path, stack: str) -> Path:
    return assembly / f"{stack}.template.json"


def edit_template(assembly: Path, stack: str, change: Callable[[dict[str, Any]], Any]) -> None:
    path = template_path(assembly, stack)
    template = json.loads(path.read_text())
    result = change(template)
    path.write_text(json.dumps(result if result is not None else template, indent=1))


def resources_of_type(template: dict[str, Any], type_name: str) -> dict[str, dict[str, Any]]:
    return {k: v for k, v in template["Resources"].items() if v["Type"] == type_name}


def only_id(template: dict[str, Any], type_name: str) -> str:
    found = list(resources_of_type(template, type_name))
    assert len(found) == 1, f"expected one {type_name}, found {found}"
    return found[0]


def db_props(template: dict[str, Any]) -> dict[str, Any]:
    return template["Resources"][only_id(template, "AWS::RDS::DBInstance")]["Properties"]


def set_db(**values: Any) -> Callable[[dict[str, Any]], None]:
    """A template edit: the database's properties set to `values` (None: removed)."""

    def edit(template: dict[str, Any]) -> None:
        props = db_props(template)
        for key, value in values.items():
            if value is None:
                props.pop(key, None)
            else:
                props[key] = value

    return edit


def rename_resource(template: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    """A changed construct id: the logical id changes, and every reference with it."""
    text = json.dumps(template).replace(f'"{old}"', f'"{new}"')
    return json.loads(text)


class SynthesisCache:
    """`ops promote/resize/offboard` synthesize the environment before and after the change
    (ops/lifecycle/config_change.py: `synth_environment`, seconds each). Tests that run those
    commands on the same small environment again and again use this: each distinct environment
    is synthesized once, for real, and later calls get a copy of that assembly (and its app, for
    the nag check). The plan, nag, cost and the write still run in every test."""

    def __init__(self, store: Path) -> None:
        self.store = store
        self.made: dict[str, tuple[Path, Any]] = {}

    def install(self, monkeypatch: Any) -> None:
        from ops.lifecycle import config_change

        synthesize = config_change.synth_environment

        def synth_once(environment: Any, outdir: Path) -> Any:
            key = environment.model_dump_json()
            if key not in self.made:
                kept = self.store / f"environment-{len(self.made)}"
                self.made[key] = (kept, synthesize(environment, kept))
            kept, app = self.made[key]
            shutil.copytree(kept, outdir)
            return app

        monkeypatch.setattr(config_change, "synth_environment", synth_once)


@pytest.fixture(scope="module", autouse=True)
def each_environment_synthesized_once(
    tmp_path_factory: pytest.TempPathFactory,
) -> Iterator[SynthesisCache]:
    """Import into a test module (autouse there): every distinct environment its commands
    synthesize is synthesized once for the module (SynthesisCache)."""
    cache = SynthesisCache(tmp_path_factory.mktemp("syntheses"))
    with pytest.MonkeyPatch.context() as patch:
        cache.install(patch)
        yield cache
