"""One restaurant's config change, judged before it is written: promote, resize, offboard.

The change is made in memory, both versions of the environment are synthesized into temporary
directories (no nag packs: the plan compares templates; nag runs separately on the result), and
ops/planning/planner.py judges the difference. Only then, and only on request, is the YAML file
edited, in round-trip mode so that comments and layout stay, and the written file is validated
again.
"""

from __future__ import annotations

import codecs
import difflib
import io
import os
import stat
import sys
import tempfile
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from config.loader import (
    ENVIRONMENTS_DIR,
    ConfigError,
    decode_config,
    parse_environment,
    parse_yaml,
    read_config_bytes,
    read_yaml,
)
from config.schema import EnvironmentConfig, Restaurant
from ops.assembly import read_assembly
from ops.planning.planner import Plan, plan_assemblies
from stacks import naming

REMOVE = object()  # marker: delete the key
EXIT_OK, EXIT_BLOCKED, EXIT_INPUT, EXIT_NOTHING = 0, 1, 2, 3


class ChangeError(ValueError):
    """Bad input for a config change: unknown environment/slug, invalid result, ..."""


class NothingToDo(Exception):
    """The config already says what the command would write."""


def _yaml() -> Any:
    from ruamel.yaml import YAML

    yaml = YAML()  # round-trip: comments, order and quoting survive
    yaml.preserve_quotes = True
    yaml.indent(mapping=2, sequence=4, offset=2)
    yaml.width = 100
    return yaml


def shown(path: Path) -> str:
    """Paths relative to the working directory when possible, as the loader prints them."""
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


def environment_file(env: str, config_dir: Path | None = None) -> Path:
    directory = config_dir or ENVIRONMENTS_DIR
    path = directory / f"{env}.yaml"
    if not path.is_file():
        available = sorted(p.stem for p in directory.glob("*.yaml")) if directory.is_dir() else []
        raise ChangeError(
            f"{path}: no such environment file (environments: {', '.join(available) or 'none'})"
        )
    return path


def load(env: str, slug: str, config_dir: Path | None = None) -> tuple[Path, EnvironmentConfig]:
    path = environment_file(env, config_dir)
    try:
        environment = parse_environment(path, read_yaml(path))
    except ConfigError as exc:
        raise ChangeError(str(exc)) from None
    try:
        environment.restaurant(slug)
    except KeyError as exc:
        raise ChangeError(f"{path}: {exc.args[0]}") from None
    return path, environment


def edit_text(text: str, slug: str, edits: Mapping[str, Any], path: Path) -> str:
    """The YAML text with `edits` applied to restaurant `slug` (REMOVE deletes a key)."""
    yaml = _yaml()
    data = yaml.load(text)
    for item in data.get("restaurants") or []:
        if item.get("slug") == slug:
            break
    else:
        raise ChangeError(f"{path}: restaurants: no restaurant {slug!r}")
    for key, value in edits.items():
        if value is REMOVE:
            item.pop(key, None)
        elif key in item:
            item[key] = value
        else:
            keys = list(item.keys())
            position = keys.index("tier") + 1 if "tier" in keys else len(keys)
            item.insert(position, key, value)
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def remove_restaurant_text(text: str, slug: str, path: Path) -> str:
    yaml = _yaml()
    data = yaml.load(text)
    items = data.get("restaurants") or []
    for index, item in enumerate(items):
        if item.get("slug") == slug:
            del items[index]
            break
    else:
        raise ChangeError(f"{path}: restaurants: no restaurant {slug!r}")
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def validate_text(path: Path, text: str) -> EnvironmentConfig:
    """Parse and validate new file content exactly as the loader would read the file."""
    try:
        return parse_environment(path, parse_yaml(path, text))
    except ConfigError as exc:
        raise ChangeError(f"the changed config does not validate:\n{exc}") from None


def unified_diff(path: Path, before: str, after: str) -> str:
    return "".join(
        difflib.unified_diff(
            before.splitlines(keepends=True),
            after.splitlines(keepends=True),
            fromfile=f"{shown(path)} (now)",
            tofile=f"{shown(path)} (after)",
        )
    )


def read_original(path: Path) -> bytes:
    """The file's bytes as the loader reads them (regular file, size cap): the base of an edit."""
    try:
        return read_config_bytes(path)
    except ConfigError as exc:
        raise ChangeError(str(exc)) from None


def encode_like(text: str, original: bytes) -> bytes:
    """`text` (LF line ends, as ruamel writes it) in the original's line endings and BOM."""
    if b"\r\n" in original:
        text = text.replace("\r\n", "\n").replace("\n", "\r\n")
    data = text.encode("utf-8")
    return codecs.BOM_UTF8 + data if original.startswith(codecs.BOM_UTF8) else data


def _permission_message(path: Path, exc: OSError) -> str:
    return (
        f"{shown(path)}: cannot write: {exc.strerror or exc} ({exc.filename or path}); "
        "nothing was changed. Check the permissions of the file and its directory."
    )


def _read_only(info: os.stat_result) -> bool:
    """Whether the file's mode bits deny writing to whoever runs this. Checked explicitly
    because the write goes through a rename, which needs only the directory to be writable, and
    because root ignores the bits: for root, a file with no write bit at all (0444) is one a
    person marked read-only on purpose."""
    mode = stat.S_IMODE(info.st_mode)
    uid = os.geteuid()
    if uid == 0:
        allowed = mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)
    elif uid == info.st_uid:
        allowed = mode & stat.S_IWUSR
    elif info.st_gid == os.getegid() or info.st_gid in os.getgroups():
        allowed = mode & stat.S_IWGRP
    else:
        allowed = mode & stat.S_IWOTH
    return not allowed


def write_atomically(path: Path, text: str, original: bytes | None = None) -> None:
    """Replace the file's content with `text`, keeping everything else about it.

    - refuses (ChangeError) if the file no longer holds `original`: someone saved it meanwhile;
    - a symbolic link stays a link: its target is written;
    - mode, owner and group stay; CRLF line endings and a UTF-8 BOM stay;
    - written to a temporary file beside the target and renamed over it, so a crash never leaves
      half a config; where the owner cannot be kept that way (not root, someone else's file),
      the content is rewritten in place instead;
    - a read-only file (no write bit for the caller; for root, none at all) is refused, not
      replaced through the rename;
    - permission problems are a ChangeError, and no temporary file is left behind.
    """
    target = Path(os.path.realpath(path))
    try:
        before = target.stat()
        current = target.read_bytes()
    except OSError as exc:
        raise ChangeError(_permission_message(path, exc)) from None
    if _read_only(before):
        raise ChangeError(
            f"{shown(path)}: cannot write: the file is read-only "
            f"(mode {stat.S_IMODE(before.st_mode):04o}); nothing was changed. "
            "Make it writable (chmod u+w) if the change is intended."
        )
    if original is None:
        original = current
    if current != original:
        raise ChangeError(
            f"{shown(path)}: changed on disk since it was read (another editor saved it?); "
            "nothing was written. Run the command again on the new content."
        )
    data = encode_like(text, original)
    mode = stat.S_IMODE(before.st_mode)
    tmp: str | None = None
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".tmp", dir=target.parent)
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
            os.fchmod(handle.fileno(), mode)
            try:
                os.fchown(handle.fileno(), before.st_uid, before.st_gid)
                in_place = False
            except PermissionError:
                in_place = (before.st_uid, before.st_gid) != (os.getuid(), os.getgid())
        if target.read_bytes() != original:  # the last moment to notice a concurrent save
            raise ChangeError(
                f"{shown(path)}: changed on disk while the change was prepared; nothing was "
                "written. Run the command again."
            )
        if in_place:
            with open(target, "r+b") as handle:
                handle.write(data)
                handle.truncate()
        else:
            os.replace(tmp, target)
            tmp = None
    except PermissionError as exc:
        raise ChangeError(_permission_message(path, exc)) from None
    except OSError as exc:
        raise ChangeError(_permission_message(path, exc)) from None
    finally:
        if tmp is not None and os.path.exists(tmp):
            os.unlink(tmp)


# ---------------------------------------------------------------------------------------------
# Synthesis and judging


def synth_environment(environment: EnvironmentConfig, outdir: Path) -> Any:
    """Synthesize one environment into `outdir`; returns the cdk.App (for nag)."""
    from ops.planning.plan import _synth_env

    os.environ.update(_synth_env())  # Node 22 first on PATH before jsii starts its runtime
    import aws_cdk as cdk

    from app import build_app, project_context

    app = cdk.App(context=project_context(), outdir=str(outdir))
    build_app(environments=[environment], nag_packs=(), app=app)
    app.synth()
    return app


def nag_findings(app: Any, stack_name: str) -> list[str]:
    """Unacknowledged findings of the default nag packs on one stack of `app`."""
    from constructs.compliance import DEFAULT_NAG_PACKS, NAG_PACKS

    stack = app.node.try_find_child(stack_name)
    if stack is None:
        return []
    findings: list[str] = []
    for name in DEFAULT_NAG_PACKS:
        pack = NAG_PACKS[name]()  # a cdk_nag NagPack: validate_scope lists findings, no raise
        report = pack.validate_scope(stack)  # type: ignore[attr-defined]
        for violation in report.violations:
            findings.append(f"{violation.rule_name}: {violation.description.splitlines()[0]}")
    return findings


@dataclass
class Judgement:
    plan: Plan
    nag: list[str] = field(default_factory=list)
    cost: Any = None
    cost_note: str = ""
    base_template: dict[str, Any] = field(default_factory=dict)  # of the focus stack


def judge(
    before: EnvironmentConfig,
    after: EnvironmentConfig,
    *,
    focus_stack: str | None,
    allow: Sequence[str] = (),
    with_nag: bool = True,
) -> Judgement:
    """Synthesize both versions in temporary dirs, plan them, nag the focus stack, cost it."""
    from ops.planning.plan import cost_difference

    with tempfile.TemporaryDirectory(prefix="ops-change-") as tmp:
        base_dir, head_dir = Path(tmp) / "before", Path(tmp) / "after"
        synth_environment(before, base_dir)
        head_app = synth_environment(after, head_dir)
        plan = plan_assemblies(
            read_assembly(base_dir),
            read_assembly(head_dir),
            allow=allow,
            base_label=f"config now ({before.name})",
            head_label=f"config after ({after.name})",
        )
        nag = nag_findings(head_app, focus_stack) if with_nag and focus_stack else []
        cost, note = cost_difference(base_dir, head_dir, [after.name])
        base_stacks = read_assembly(base_dir)
        base_template = base_stacks[focus_stack].template if focus_stack in base_stacks else {}
    return Judgement(plan, nag, cost, note, base_template)


def tenant_stack(environment: EnvironmentConfig, slug: str) -> str:
    return naming.tenant_stack_name(environment.name, slug)


def restaurant(environment: EnvironmentConfig, slug: str) -> Restaurant:
    return environment.restaurant(slug)


def eprint(message: str) -> None:
    print(message, file=sys.stderr)


def decode_text(path: Path, original: bytes) -> str:
    try:
        return decode_config(path, original)
    except ConfigError as exc:
        raise ChangeError(str(exc)) from None
