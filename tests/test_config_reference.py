"""The configuration reference is generated from the schema and must not go stale."""

from __future__ import annotations

import json
from enum import Enum
from pathlib import Path
from typing import Literal

import pytest
from pydantic import BaseModel, Field

from config.schema import EnvironmentConfig
from ops.__main__ import main
from ops.docs.config_reference import DEFAULT_OUTPUT, render_markdown, walk


def _all_fields(model: type[BaseModel]) -> set[str]:
    """Every (model, field) pair reachable from `model`, found independently of the walker:
    any schema model whose name appears in a field's annotation is followed."""
    schema_models = _schema_models()
    found: set[str] = set()
    stack: list[type[BaseModel]] = [model]
    while stack:
        current = stack.pop()
        for name, info in current.model_fields.items():
            key = f"{current.__name__}.{name}"
            if key in found:
                continue
            found.add(key)
            text = repr(info.annotation)
            stack.extend(m for m in schema_models if f".{m.__name__}" in text)
    return found


def _schema_models() -> list[type[BaseModel]]:
    import config.schema as schema

    return [v for v in vars(schema).values() if isinstance(v, type) and issubclass(v, BaseModel)]


def test_docs_configuration_md_is_up_to_date(capsys: pytest.CaptureFixture[str]) -> None:
    """Fails when config/schema.py changed and docs/configuration.md was not regenerated."""
    code = main(["config-reference", "--check"])
    err = capsys.readouterr().err
    assert code == 0, err


def test_every_schema_field_is_documented() -> None:
    documented = {f"{row.model}.{row.name}" for doc in walk() for row in doc.fields}
    assert documented == _all_fields(EnvironmentConfig)
    models = {doc.name for doc in walk()}
    assert {
        "EnvironmentConfig",
        "AppConfig",
        "DomainConfig",
        "AlertsConfig",
        "SecurityConfig",
        "Restaurant",
    } <= models


def test_rows_carry_types_defaults_choices_and_bounds() -> None:
    rows = {f"{row.model}.{row.name}": row for doc in walk() for row in doc.fields}
    tier = rows["Restaurant.tier"]
    assert tier.required and '"poc"' in tier.allowed and '"production"' in tier.allowed
    assert rows["Restaurant.tier"].path == "restaurants[].tier"
    memory = rows["AppConfig.memory_mib"]
    assert memory.type == "int" and memory.default == "`1024`"
    assert ">= 512" in memory.allowed and "<= 30720" in memory.allowed
    assert rows["EnvironmentConfig.account"].type == "str or null"
    assert "checked when the file loads" in rows["Restaurant.slug"].allowed
    assert rows["EnvironmentConfig.restaurants"].type == "list of Restaurant"


class _Leaf(BaseModel):
    """A nested model added later."""

    level: Literal["low", "high"] = Field(default="low", description="How loud.")


class _Root(BaseModel):
    """A schema the walker has never seen."""

    count: int = Field(default=3, ge=1, le=9, description="Between one and nine.")
    leaves: tuple[_Leaf, ...] = Field(default=(), description="Any number of leaves.")
    single: _Leaf | None = None


def test_walker_is_generic_for_models_added_later() -> None:
    docs = walk(_Root)
    assert [d.name for d in docs] == ["_Root", "_Leaf"]
    assert docs[1].path == "leaves[]"
    text = render_markdown(docs)
    assert "| `count` | int | `3` | >= 1; <= 9 | Between one and nine. |" in text
    assert '`"low"`; `"high"`' in text


def test_check_fails_on_a_stale_file_and_leaves_it_alone(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    stale = tmp_path / "configuration.md"
    stale.write_text(DEFAULT_OUTPUT.read_text(encoding="utf-8").replace("`1024`", "`2048`"))
    before = stale.read_text()
    assert main(["config-reference", "--check", "--output", str(stale)]) == 1
    assert "out of date" in capsys.readouterr().err
    assert stale.read_text() == before
    missing = tmp_path / "nothing.md"
    assert main(["config-reference", "--check", "--output", str(missing)]) == 1
    assert not missing.exists()


def test_json_lists_every_model(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["config-reference", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert [m["model"] for m in data] == [d.name for d in walk()]
    assert all(m["fields"] for m in data)


class _Colour(Enum):
    RED = "red"


class _Odd(BaseModel):
    """Defaults that are not plain JSON: models in a list, an enum, a mapping."""

    leaves: tuple[_Leaf, ...] = (_Leaf(),)
    colour: _Colour = _Colour.RED
    tags: dict[str, int] = Field(default_factory=lambda: {"b": 2, "a": 1})


def test_unusual_defaults_render_without_crashing() -> None:
    rows = {row.name: row for row in walk(_Odd)[0].fields}
    assert rows["colour"].default == "`red`"
    assert rows["tags"].default == '`{"a": 1, "b": 2}`'
    assert rows["tags"].type == "mapping of str to int"
    assert rows["leaves"].default.startswith("`")
