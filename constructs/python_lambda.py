"""Lambda code assets for the handlers in `runtime/`, bundled offline and without Docker.
Must never import stacks/, ops/, config/ or another construct module (others build on it).

A handler that needs a pure-Python package (pg8000 for PostgreSQL) gets it copied from this
virtualenv's site-packages, with its dependencies, into one staging folder that CDK hashes and
uploads. Nothing is downloaded at synth, and the versions are the ones `constraints.txt` pins, so
the asset hash is the same on every machine that ran `make install`. Imports nothing from stacks
or ops.
"""

from __future__ import annotations

import atexit
import hashlib
import re
import shutil
import tempfile
from collections.abc import Iterable, Mapping, Sequence
from importlib import metadata
from pathlib import Path

from aws_cdk import aws_lambda as lambda_

RUNTIME_DIR = Path(__file__).resolve().parent.parent / "runtime"
_REQUIREMENT_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9._-]*")
_built: dict[tuple[tuple[str, ...], tuple[str, ...], tuple[tuple[str, str], ...]], Path] = {}


def _closure(packages: Iterable[str]) -> list[metadata.Distribution]:
    """The installed distributions `packages` need, following unconditional requirements."""
    seen: dict[str, metadata.Distribution] = {}
    pending = list(packages)
    while pending:
        name = pending.pop()
        key = re.sub(r"[-_.]+", "-", name).lower()
        if key in seen:
            continue
        try:
            dist = metadata.distribution(name)
        except metadata.PackageNotFoundError as error:
            raise RuntimeError(
                f"Lambda asset: the package {name!r} is not installed in this virtualenv; "
                "run `make install` (it is pinned in requirements.txt)"
            ) from error
        seen[key] = dist
        for requirement in dist.requires or []:
            if ";" in requirement:  # extras and environment markers: not needed on Lambda
                continue
            match = _REQUIREMENT_NAME.match(requirement)
            if match:
                pending.append(match.group(0))
    return [seen[key] for key in sorted(seen)]


# Installer records differ between machines (paths, hashes, installer name); the metadata and
# licence files stay, since packages read their own version from them (scramp does at import).
_MACHINE_SPECIFIC = frozenset({"RECORD", "INSTALLER", "REQUESTED", "direct_url.json"})


def _copy_distribution(dist: metadata.Distribution, target: Path) -> None:
    for file in dist.files or []:
        parts = file.parts
        if parts[0] in {"..", "bin"} or "__pycache__" in parts or parts[-1] in _MACHINE_SPECIFIC:
            continue
        source = Path(str(dist.locate_file(file)))
        if source.is_file():
            destination = target.joinpath(*parts)
            destination.parent.mkdir(parents=True, exist_ok=True)
            shutil.copyfile(source, destination)


def _staging_dir(modules: Sequence[str], packages: Sequence[str], files: Mapping[str, str]) -> Path:
    data = tuple(
        (name, hashlib.sha256(text.encode()).hexdigest()) for name, text in sorted(files.items())
    )
    key = (tuple(sorted(modules)), tuple(sorted(packages)), data)
    if key in _built and _built[key].is_dir():
        return _built[key]
    digest = hashlib.sha256(repr(key).encode()).hexdigest()[:16]
    target = Path(tempfile.mkdtemp(prefix=f"chefs-kiss-lambda-{digest}-"))
    # CDK copies the folder into the assembly when the asset is created; the copy here goes at exit.
    atexit.register(shutil.rmtree, target, True)
    package_dir = target / "runtime"
    package_dir.mkdir()
    for module in ["__init__", *key[0]]:
        shutil.copyfile(RUNTIME_DIR / f"{module}.py", package_dir / f"{module}.py")
    for name, text in files.items():
        if "/" in name or name.startswith(".") or name.endswith(".py"):
            raise ValueError(f"Lambda asset: {name!r} is not a plain data file name")
        (package_dir / name).write_text(text, encoding="utf-8")
    for dist in _closure(key[1]):
        _copy_distribution(dist, target)
    _built[key] = target
    return target


def bundled_code(
    *,
    modules: Sequence[str],
    packages: Sequence[str] = (),
    files: Mapping[str, str] | None = None,
) -> lambda_.Code:
    """Code for a handler in `runtime/`: the named modules (file names without `.py`) and the
    installed `packages` with their dependencies. Handlers are then `runtime.<module>.<function>`.
    `files` are data files (name -> text) written next to the modules, in `runtime/` (the RDS
    CA bundle: constructs/rds_ca_bundle.py).
    """
    return lambda_.Code.from_asset(str(_staging_dir(modules, packages, files or {})))
