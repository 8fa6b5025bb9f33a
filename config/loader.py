"""Load and validate `config/environments/*.yaml` once; errors name file, field and value.

Reading is defensive, because a config file is input like any other: only regular files (a FIFO
or a device would hang or never end), symbolic links only to files inside the configuration
directory, at most MAX_FILE_BYTES, UTF-8 (an error names the line), safe YAML only (no
language-specific tags), at most MAX_DEPTH levels of nesting and MAX_NODES values after alias
expansion (a "billion laughs" file is refused before it is built), and messages of bounded size.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from pydantic import ValidationError
from ruamel.yaml import YAML
from ruamel.yaml.error import YAMLError

from config import rules
from config.checks import checked
from config.schema import MAX_RESTAURANTS, EnvironmentConfig, FieldError

CONFIG_DIR = Path(__file__).resolve().parent
ENVIRONMENTS_DIR = CONFIG_DIR / "environments"

MAX_FILE_BYTES = 1024 * 1024  # the example files are ~1 KB; 1,000 restaurants fit in ~100 KB
MAX_DEPTH = 32  # the schema nests 4 levels deep
MAX_NODES = 200_000  # scalars and collections after alias expansion (1,000 restaurants: ~20,000)
MAX_PROBLEMS = 20  # problems listed per file; the rest are counted
MAX_LINE = 400  # characters of one problem's explanation


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


def _parts(field: str) -> list[str | int]:
    """'restaurants[2].slug' -> ['restaurants', 2, 'slug']."""
    return [int(index) if index else name for index, name in _PART.findall(field)]


_PART = re.compile(r"\[(\d+)\]|([^.\[\]]+)")

# Pydantic's words for a type mismatch, in the words of a YAML file.
_TYPE_MESSAGES = {
    "tuple_type": "expected a list",
    "list_type": "expected a list",
    "int_type": "expected a whole number (unquoted, not true/false)",
    "int_from_float": "expected a whole number",
    "string_type": "expected text (quote values such as 123 or yes)",
    "bool_type": "expected true or false",
    "model_type": "expected a mapping of settings",
    "dict_type": "expected a mapping of settings",
    "model_attributes_type": "expected a mapping of settings",
    "missing": "required: this setting is missing",
}


def _describe(file: Path, error: Mapping[str, Any], data: Any) -> str:
    loc = tuple(error.get("loc", ()))
    # Model validators raise FieldError: its field is relative to the model that raised it.
    cause = (error.get("ctx") or {}).get("error")
    value = error.get("input")
    if isinstance(cause, FieldError):
        loc = (*loc, *_parts(cause.field))
        message = cause.message
        value = cause.value
    elif error.get("type") in _TYPE_MESSAGES:
        message = _TYPE_MESSAGES[error["type"]]
    else:
        message = str(error.get("msg", "invalid")).removeprefix("Value error, ")
        if error.get("type") == "literal_error":
            message = message.replace("Input should be", "allowed:")
    field = _field_path(loc)
    if error.get("type") == "extra_forbidden":
        return f"{file}: {field}: unknown key (check the spelling; see the configuration reference)"
    where = ""
    if loc and loc[0] == "restaurants" and len(loc) > 1 and isinstance(loc[1], int):
        try:
            slug = data["restaurants"][loc[1]]["slug"]
            if isinstance(slug, str):
                where = f" (restaurant {rules.short(slug, 30)})"
        except (KeyError, IndexError, TypeError):
            where = ""
    got = "" if error.get("type") == "missing" else f"; got {rules.short(value)}"
    return f"{file}: {_cap(field, 200)}{where}: {_cap(message)}{got}"


def _cap(line: str, limit: int = MAX_LINE) -> str:
    return line if len(line) <= limit else line[: limit - 30] + f"... ({len(line)} characters)"


def _join(problems: list[str]) -> str:
    shown = problems[:MAX_PROBLEMS]
    if len(problems) > MAX_PROBLEMS:
        shown.append(f"... and {len(problems) - MAX_PROBLEMS} more problem(s)")
    return "\n".join(shown)


def _display(path: Path) -> str:
    try:
        return str(path.absolute().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def parse_environment(path: Path, data: Any) -> EnvironmentConfig:
    """Validate already-parsed YAML of one environment file."""
    shown = Path(_display(path))
    if not isinstance(data, dict):
        raise ConfigError(
            f"{shown}: expected a mapping of environment settings at the top level; "
            f"got {rules.short(data)}"
        )
    data = dict(data)
    stem = path.stem
    if "name" not in data:
        data["name"] = stem
    elif data["name"] != stem:
        raise ConfigError(
            f"{shown}: name: must equal the file name {stem!r}; got {rules.short(data['name'])}"
        )
    restaurants = data.get("restaurants")
    if isinstance(restaurants, list) and len(restaurants) > MAX_RESTAURANTS:
        # Before validation: refused in milliseconds, not after a synthesis of hours.
        raise ConfigError(
            f"{shown}: restaurants: {len(restaurants)} restaurants; allowed: at most "
            f"{MAX_RESTAURANTS} per environment (docs/scale.md)"
        )
    try:
        return checked(EnvironmentConfig.model_validate(data))
    except ValidationError as exc:
        problems = [_describe(shown, err, data) for err in exc.errors()]
        raise ConfigError(_join(problems)) from None
    except FieldError as exc:  # a check of the whole environment (config/checks.py)
        raise ConfigError(_describe(shown, {"ctx": {"error": exc}}, data)) from None
    except RecursionError:  # pragma: no cover - MAX_DEPTH stops this before validation
        raise ConfigError(f"{shown}: nested too deeply") from None


def read_config_bytes(path: Path, root: Path | None = None) -> bytes:
    """The bytes of a config file: a regular file (or a link to one inside `root`), capped."""
    shown = _display(path)
    root = (root or path.parent).resolve()
    try:
        if path.is_symlink():
            target = path.resolve(strict=True)
            if not target.is_relative_to(root):
                raise ConfigError(
                    f"{shown}: a symbolic link to {target}, outside the configuration directory "
                    f"{root}; allowed: links to files inside it, or a regular file"
                )
        else:
            target = path
        # O_NONBLOCK: opening a FIFO must not wait for a writer; fstat then refuses it.
        fd = os.open(target, os.O_RDONLY | os.O_NONBLOCK | getattr(os, "O_NOFOLLOW", 0))
    except FileNotFoundError:
        raise ConfigError(f"{shown}: no such file (or a link to a missing file)") from None
    except ConfigError:
        raise
    except OSError as exc:
        raise ConfigError(f"{shown}: cannot read: {exc.strerror}") from None
    try:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            raise ConfigError(
                f"{shown}: not a regular file ({_file_kind(info.st_mode)}); allowed: a YAML file"
            )
        if info.st_size > MAX_FILE_BYTES:
            raise ConfigError(
                f"{shown}: {info.st_size} bytes; allowed: at most {MAX_FILE_BYTES} bytes"
            )
        chunks: list[bytes] = []
        size = 0
        while size <= MAX_FILE_BYTES:  # the size can change after fstat: count what is read
            chunk = os.read(fd, 65536)
            if not chunk:
                break
            chunks.append(chunk)
            size += len(chunk)
        if size > MAX_FILE_BYTES:
            raise ConfigError(f"{shown}: more than {MAX_FILE_BYTES} bytes; allowed: at most that")
        return b"".join(chunks)
    except OSError as exc:
        raise ConfigError(f"{shown}: cannot read: {exc.strerror}") from None
    finally:
        os.close(fd)


def _file_kind(mode: int) -> str:
    for test, name in (
        (stat.S_ISDIR, "a directory"),
        (stat.S_ISFIFO, "a named pipe"),
        (stat.S_ISCHR, "a character device"),
        (stat.S_ISBLK, "a block device"),
        (stat.S_ISSOCK, "a socket"),
    ):
        if test(mode):
            return name
    return "not a regular file"


def decode_config(path: Path, raw: bytes) -> str:
    """UTF-8 text (a BOM is allowed); an error names the line and column."""
    try:
        return raw.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        column = exc.start - (raw.rfind(b"\n", 0, exc.start) + 1) + 1
        raise ConfigError(
            f"{_display(path)}: line {line}, column {column}: not UTF-8 (byte "
            f"0x{raw[exc.start]:02x}); allowed: UTF-8 text"
        ) from None


def _check_structure(path: Path, text: str) -> None:
    """Refuse deep nesting, alias bombs and too many restaurants from the event stream, before
    any node is built (the pure-Python parser takes seconds for 10,000 restaurants)."""
    from ruamel.yaml.events import (
        AliasEvent,
        CollectionEndEvent,
        CollectionStartEvent,
        MappingStartEvent,
        NodeEvent,
        ScalarEvent,
        SequenceStartEvent,
    )

    shown = _display(path)
    sizes: dict[str, int] = {}
    # One entry per open collection: [anchor, expanded node count, direct children, role]
    stack: list[list[Any]] = []
    total = 0
    restaurants_next = False

    def add(count: int, line: int) -> None:
        nonlocal total
        if stack:
            stack[-1][1] += count
            grown = stack[-1][1]
        else:
            total += count
            grown = total
        if grown > MAX_NODES or total > MAX_NODES:
            raise ConfigError(
                f"{shown}: line {line}: more than {MAX_NODES} values once aliases are "
                "expanded; allowed: fewer (is this an alias bomb?)"
            )

    for event in YAML(typ="safe", pure=True).parse(text):
        line = (event.start_mark.line + 1) if event.start_mark else 0
        role = None
        if isinstance(event, NodeEvent) and stack:
            parent = stack[-1]
            parent[2] += 1
            if parent[3] == "top" and parent[2] % 2 == 1:  # a key of the top-level mapping
                restaurants_next = isinstance(event, ScalarEvent) and event.value == "restaurants"
            elif parent[3] == "top":
                role = "restaurants" if restaurants_next else None
                restaurants_next = False
            elif parent[3] == "restaurants" and parent[2] > MAX_RESTAURANTS:
                raise ConfigError(
                    f"{shown}: line {line}: restaurants: more than {MAX_RESTAURANTS}; allowed: "
                    f"at most {MAX_RESTAURANTS} per environment (docs/scale.md)"
                )
        if isinstance(event, AliasEvent):
            add(sizes.get(event.anchor, 1), line)
        elif isinstance(event, ScalarEvent):
            if event.anchor:
                sizes[event.anchor] = 1
            add(1, line)
        elif isinstance(event, CollectionStartEvent):
            if len(stack) >= MAX_DEPTH:
                raise ConfigError(
                    f"{shown}: line {line}: nested more than {MAX_DEPTH} levels deep; "
                    "allowed: the settings of the configuration reference"
                )
            if not stack and isinstance(event, MappingStartEvent):
                role = "top"
            elif role == "restaurants" and not isinstance(event, SequenceStartEvent):
                role = None
            stack.append([event.anchor, 1, 0, role])
        elif isinstance(event, CollectionEndEvent):
            anchor, count, _, _ = stack.pop()
            if anchor:
                sizes[anchor] = count
            add(count, line)


def parse_yaml(path: Path, text: str) -> Any:
    """Safe YAML of one document; every failure is a ConfigError naming the file."""
    shown = _display(path)
    try:
        _check_structure(path, text)
        return YAML(typ="safe", pure=True).load(text)
    except ConfigError:
        raise
    except YAMLError as exc:
        raise ConfigError(_cap(f"{shown}: not valid YAML: {exc}", 1000)) from None
    except (ValueError, TypeError, OverflowError, RecursionError) as exc:
        # ruamel raises plain Python errors for a few malformed scalars (e.g. a timestamp
        # with an impossible date, an unhashable key): still a file error, not a crash.
        raise ConfigError(_cap(f"{shown}: not valid YAML: {exc}", 1000)) from None


def read_yaml(path: Path, root: Path | None = None) -> Any:
    return parse_yaml(path, decode_config(path, read_config_bytes(path, root)))


def load_environment(path: Path, root: Path | None = None) -> EnvironmentConfig:
    return parse_environment(path, read_yaml(path, root))


def misnamed_environment_files(directory: Path) -> list[Path]:
    """Files in `directory` that look like an environment's YAML but are not `<env>.yaml`
    (`qa.yml`, `qa.YAML`): refused rather than skipped, so an environment a user just wrote
    never silently does not exist. Only `.yaml` is accepted because every tool names the file
    `config/environments/<env>.yaml` (`ops promote/resize --write`, `ops deploy-check`,
    `make require-env`, the deploy workflow): a second spelling would be a second name for the
    same environment, and `qa.yaml` next to `qa.yml` would be two."""
    return sorted(
        path
        for path in directory.iterdir()
        if path.suffix.lower() in (".yml", ".yaml") and path.suffix != ".yaml"
    )


def _misnamed_message(path: Path) -> str:
    return (
        f"{_display(path)}: environment files must end in .yaml (got {path.suffix!r}); "
        f"rename it to {path.stem}.yaml"
    )


def load_environments(
    directory: Path = ENVIRONMENTS_DIR, names: Iterable[str] | None = None
) -> list[EnvironmentConfig]:
    """Every `*.yaml` in `directory` (or only `names`), validated, sorted by name."""
    if not directory.is_dir():
        raise ConfigError(f"{_display(directory)}: no such configuration directory")
    misnamed = misnamed_environment_files(directory)
    if misnamed:
        raise ConfigError(_join([_misnamed_message(path) for path in misnamed]))
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
            environments.append(load_environment(file, directory))
        except ConfigError as exc:
            errors.append(str(exc))
    if not errors:
        from config.names import collisions_between

        by_name = {e.name: f for e, f in zip(environments, files, strict=True)}
        errors += [
            _cap(f"{_display(by_name[env])}: {message}")
            for env, message in collisions_between(environments)
        ]
    if errors:
        raise ConfigError(_join(errors))
    return environments
