"""`python -m ops config-reference`: the configuration reference, generated from the schema.

Walks the pydantic models of `config/schema.py` from `EnvironmentConfig` down (nested models,
lists of models, optional models), generically, so a field added to the schema appears in the
reference without touching this module. Each field gets its type, default, allowed values
(Literal choices and Field constraints such as `ge`/`le`/`max_length`/`pattern`) and description.

    python -m ops config-reference            # (re)write docs/configuration.md
    python -m ops config-reference --check    # exit 1 if docs/configuration.md is out of date
    python -m ops config-reference --json     # the same rows, machine-readable
"""

from __future__ import annotations

import argparse
import json
import types
from dataclasses import asdict, dataclass
from enum import Enum
from pathlib import Path
from typing import Any, Literal, Union, get_args, get_origin

import annotated_types
from pydantic import BaseModel
from pydantic.fields import FieldInfo
from pydantic_core import PydanticUndefined

from config.schema import EnvironmentConfig
from ops.cli import add_command, add_page_options
from ops.output import write_or_check

PROJECT_DIR = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = PROJECT_DIR / "docs" / "configuration.md"
REGENERATE = "python -m ops config-reference"


@dataclass(frozen=True)
class FieldRow:
    """One documented field: what a user may write and what happens when they do not."""

    model: str
    path: str  # dotted path from the environment file's top level, `[]` for list items
    name: str
    type: str
    required: bool
    default: str
    allowed: str
    description: str


@dataclass(frozen=True)
class ModelDoc:
    name: str
    path: str
    doc: str
    fields: tuple[FieldRow, ...]


def _is_model(tp: Any) -> bool:
    return isinstance(tp, type) and issubclass(tp, BaseModel)


def _union_members(tp: Any) -> tuple[Any, ...] | None:
    origin = get_origin(tp)
    if origin is Union or origin is types.UnionType:
        return get_args(tp)
    return None


def type_name(tp: Any) -> str:
    """A short, readable name for an annotation: `int`, `list of Restaurant`, `str or null`."""
    members = _union_members(tp)
    if members is not None:
        return " or ".join("null" if m is type(None) else type_name(m) for m in members)
    origin = get_origin(tp)
    if origin is Literal:
        kinds = sorted({type(v).__name__ for v in get_args(tp)})
        return " or ".join(kinds)
    if origin in (tuple, list, set, frozenset):
        args = [a for a in get_args(tp) if a is not Ellipsis]
        return f"list of {type_name(args[0])}" if args else "list"
    if origin is dict:
        key, value = get_args(tp) or (Any, Any)
        return f"mapping of {type_name(key)} to {type_name(value)}"
    if tp is Any:
        return "any"
    return getattr(tp, "__name__", str(tp))


def _literal_choices(tp: Any) -> list[Any]:
    """Every Literal value reachable in the annotation (through unions and lists)."""
    if get_origin(tp) is Literal:
        return list(get_args(tp))
    choices: list[Any] = []
    for arg in get_args(tp):
        choices.extend(_literal_choices(arg))
    return choices


def _nested_models(tp: Any) -> list[tuple[type[BaseModel], bool]]:
    """(model, is_list_item) for every pydantic model inside the annotation."""
    if _is_model(tp):
        return [(tp, False)]
    origin = get_origin(tp)
    found: list[tuple[type[BaseModel], bool]] = []
    for arg in get_args(tp):
        for model, listed in _nested_models(arg):
            found.append((model, listed or origin in (tuple, list, set, frozenset)))
    return found


_CONSTRAINTS: tuple[tuple[type, str, str], ...] = (
    (annotated_types.Ge, "ge", ">= {}"),
    (annotated_types.Gt, "gt", "> {}"),
    (annotated_types.Le, "le", "<= {}"),
    (annotated_types.Lt, "lt", "< {}"),
    (annotated_types.MinLen, "min_length", "at least {} characters/items"),
    (annotated_types.MaxLen, "max_length", "at most {} characters/items"),
    (annotated_types.MultipleOf, "multiple_of", "a multiple of {}"),
)


def _constraints(info: FieldInfo) -> list[str]:
    """Numeric and length bounds and patterns declared with Field(...)."""
    found: list[str] = []
    for item in info.metadata:
        for kind, attribute, text in _CONSTRAINTS:
            if isinstance(item, kind):
                found.append(text.format(getattr(item, attribute)))
        pattern = getattr(item, "pattern", None)
        if isinstance(pattern, str):
            found.append(f"matches `{pattern}`")
    return found


def _format_value(value: Any) -> str:
    """A default as a user would write it in YAML; anything exotic falls back to its text."""
    if isinstance(value, BaseModel):
        return "(see its section)"
    if isinstance(value, Enum):
        value = value.value
    if isinstance(value, str):
        return f"`{value}`" if value else '`""`'
    if value is None:
        return "null"
    if isinstance(value, tuple | list | set | frozenset) and not value:
        return "`[]`"
    try:
        plain = list(value) if isinstance(value, tuple | set | frozenset) else value
        return f"`{json.dumps(plain, sort_keys=True)}`"
    except TypeError:
        return f"`{value}`"


def _default(info: FieldInfo) -> tuple[bool, str]:
    """(required, rendered default)."""
    if info.default_factory is not None:
        try:
            value = info.default_factory()  # type: ignore[call-arg]
        except TypeError:
            return False, "(computed)"
        return False, _format_value(value)
    if info.default is PydanticUndefined:
        return True, "required"
    return False, _format_value(info.default)


def _validated_fields(model: type[BaseModel]) -> dict[str, list[str]]:
    """Field name -> docstrings (or names) of the `@field_validator`s that check it."""
    found: dict[str, list[str]] = {}
    for name, decorator in model.__pydantic_decorators__.field_validators.items():
        doc = " ".join((getattr(decorator.func, "__doc__", None) or "").split())
        for field_name in decorator.info.fields:
            found.setdefault(field_name, []).append(doc or name)
    return found


def _allowed(info: FieldInfo, validators: list[str]) -> str:
    """Literal choices, booleans, Field bounds, nested models, then a note on custom checks."""
    parts = [f"`{json.dumps(choice)}`" for choice in _literal_choices(info.annotation)]
    if bool in _flat_types(info.annotation) and not parts:
        parts = ["`true`", "`false`"]
    parts += _constraints(info)
    nested = _nested_models(info.annotation)
    parts += [f"see [{m.__name__}](#{m.__name__.lower()})" for m, _ in nested]
    if type(None) in _flat_types(info.annotation) and parts and not nested:
        parts.append("null (use the default)")
    if validators:
        parts.append("checked when the file loads (see description)")
    return "; ".join(parts)


def _flat_types(tp: Any) -> set[Any]:
    members = _union_members(tp)
    return set(members) if members is not None else {tp}


def _field_row(
    model: type[BaseModel], path: str, name: str, info: FieldInfo, validators: list[str]
) -> FieldRow:
    required, default = _default(info)
    allowed_text = _allowed(info, validators)
    description = " ".join((info.description or "").split())
    return FieldRow(
        model=model.__name__,
        path=f"{path}.{name}" if path else name,
        name=name,
        type=type_name(info.annotation),
        required=required,
        default=default,
        allowed=allowed_text,
        description=description,
    )


def walk(root: type[BaseModel] = EnvironmentConfig) -> list[ModelDoc]:
    """Every model reachable from `root`, breadth first, each once, with its field rows."""
    docs: list[ModelDoc] = []
    seen: set[type[BaseModel]] = set()
    queue: list[tuple[type[BaseModel], str]] = [(root, "")]
    while queue:
        model, path = queue.pop(0)
        if model in seen:
            continue
        seen.add(model)
        rows: list[FieldRow] = []
        validated = _validated_fields(model)
        for name, info in model.model_fields.items():
            rows.append(_field_row(model, path, name, info, validated.get(name, [])))
            for nested, listed in _nested_models(info.annotation):
                child = f"{path}.{name}" if path else name
                queue.append((nested, f"{child}[]" if listed else child))
        doc = " ".join((model.__doc__ or "").split())
        docs.append(ModelDoc(name=model.__name__, path=path, doc=doc, fields=tuple(rows)))
    return docs


def _cell(text: str) -> str:
    return text.replace("|", "\\|").replace("\n", " ") or " "


def render_markdown(docs: list[ModelDoc]) -> str:
    lines = [
        "# Configuration reference",
        "",
        f"<!-- Generated from config/schema.py by `{REGENERATE}`; do not edit by hand. -->",
        "",
        "One YAML file per environment in `config/environments/<name>.yaml`. Unknown keys are",
        "errors; every value is validated when the app loads, before anything is synthesized.",
        "Beyond the bounds listed here, the schema's validators enforce cross-field rules (for",
        "example: production restaurants must be Multi-AZ with at least 7 days of backups; the",
        "production profile needs a `domain`); their errors name the file, field and value.",
        "",
        f"Regenerate after a schema change: `{REGENERATE}` (the test suite runs",
        f"`{REGENERATE} --check` and fails while this file is out of date).",
        "",
    ]
    for doc in docs:
        where = f"`{doc.path}`" if doc.path else "the top level of an environment file"
        lines += [f"## {doc.name}", "", f"Found at {where}. {doc.doc}".rstrip(), ""]
        lines += [
            "| Field | Type | Default | Allowed values | Description |",
            "| --- | --- | --- | --- | --- |",
        ]
        for row in doc.fields:
            lines.append(
                "| "
                + " | ".join(
                    _cell(v)
                    for v in (
                        f"`{row.name}`",
                        row.type,
                        "**required**" if row.required else row.default,
                        row.allowed or "any " + row.type,
                        row.description,
                    )
                )
                + " |"
            )
        lines.append("")
    return "\n".join(lines)


def render_json(docs: list[ModelDoc]) -> str:
    return json.dumps(
        [
            {"model": d.name, "path": d.path, "doc": d.doc, "fields": [asdict(f) for f in d.fields]}
            for d in docs
        ],
        indent=2,
    )


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def run(args: argparse.Namespace) -> int:
    docs = walk()
    if args.json:
        print(render_json(docs))
        return 0
    output = Path(args.output)
    shown = _display(output)
    text = render_markdown(docs)
    current = output.read_text(encoding="utf-8") if output.is_file() else None
    state = "missing" if current is None else "out of date with config/schema.py"
    fields = sum(len(d.fields) for d in docs)
    return write_or_check(
        output,
        text,
        current,
        check=args.check,
        stale=f"{shown}: {state}; run `{REGENERATE}` and commit the result",
        fresh=f"{shown}: up to date ({fields} fields)",
        written=f"wrote {shown}: {len(docs)} models, {fields} fields",
    )


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_command(
        subparsers,
        "config-reference",
        "generate docs/configuration.md from config/schema.py (or --check it)",
        __doc__,
    )
    add_page_options(parser, str(DEFAULT_OUTPUT), "print the field rows as JSON")
    parser.set_defaults(func=run)
