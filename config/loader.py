"""Load and validate `config/environments/*.yaml` once; errors name file, field and value."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from config.schema import EnvironmentConfig

CONFIG_DIR = Path(__file__).resolve().parent
ENVIRONMENTS_DIR = CONFIG_DIR / "environments"


class ConfigError(ValueError):
    """A configuration file is invalid; the message names the file, field and allowed values."""


def _field_path(loc: Iterable[Any]) -> str:
    path = ""
    for part in loc:
        if isinstance(part, int):
            path += f"[{part}]"
        else:
            path += f".{part}" if path else str(part)
    return path or "(top level)"


def _describe(file: Path, error: Mapping[str, Any], data: Any) -> str:
    loc = tuple(error.get("loc", ()))
    field = _field_path(loc)
    message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
    if error.get("type") == "extra_forbidden":
        return f"{file}: {field}: unknown key (check the spelling; see the configuration reference)"
    where = ""
    if loc and loc[0] == "restaurants" and len(loc) > 1 and isinstance(loc[1], int):
        try:
            where = f" (restaurant {data['restaurants'][loc[1]]['slug']!r})"
        except (KeyError, IndexError, TypeError):
            where = ""
    shown = error.get("input")
    got = "" if isinstance(shown, dict) else f"; got {shown!r}"
    return f"{file}: {field}{where}: {message}{got}"


def _display(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def parse_environment(path: Path, data: Any) -> EnvironmentConfig:
    """Validate already-parsed YAML of one environment file."""
    shown = Path(_display(path))
    if not isinstance(data, dict):
        raise ConfigError(f"{shown}: expected a mapping of environment settings at the top level")
    data = dict(data)
    stem = path.stem
    if "name" not in data:
        data["name"] = stem
    elif data["name"] != stem:
        raise ConfigError(f"{shown}: name: must equal the file name {stem!r}; got {data['name']!r}")
    try:
        return EnvironmentConfig.model_validate(data)
    except ValidationError as exc:
        problems = [_describe(shown, err, data) for err in exc.errors()]
        raise ConfigError("\n".join(problems)) from None


def read_yaml(path: Path) -> Any:
    yaml = YAML(typ="safe", pure=True)
    try:
        return yaml.load(path.read_text(encoding="utf-8"))
    except YAMLError as exc:
        raise ConfigError(f"{_display(path)}: not valid YAML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{_display(path)}: cannot read: {exc.strerror}") from None


def load_environment(path: Path) -> EnvironmentConfig:
    return parse_environment(path, read_yaml(path))


def load_environments(
    directory: Path = ENVIRONMENTS_DIR, names: Iterable[str] | None = None
) -> list[EnvironmentConfig]:
    """Every `*.yaml` in `directory` (or only `names`), validated, sorted by name."""
    if not directory.is_dir():
        raise ConfigError(f"{_display(directory)}: no such configuration directory")
    files = sorted(directory.glob("*.yaml"))
    if names is not None:
        wanted = list(names)
        available = {f.stem: f for f in files}
        missing = [n for n in wanted if n not in available]
        if missing:
            raise ConfigError(
                f"{_display(directory)}: no environment file for {', '.join(missing)} "
                f"(available: {', '.join(sorted(available)) or 'none'})"
            )
        files = [available[n] for n in wanted]
    if not files:
        raise ConfigError(f"{_display(directory)}: no environment files (*.yaml)")
    errors: list[str] = []
    environments: list[EnvironmentConfig] = []
    for file in files:
        try:
            environments.append(load_environment(file))
        except ConfigError as exc:
            errors.append(str(exc))
    if errors:
        raise ConfigError("\n".join(errors))
    return environments
