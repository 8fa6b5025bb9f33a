"""The jsii kernel without its relay process.

Every construct call from Python is a request to the jsii kernel, a Node.js process, and the
answer comes back the same way: a 100-restaurant app makes about 19,000 of them. jsii starts the
kernel behind a relay (`bin/jsii-runtime.js` spawns `lib/program.js` and copies every message
between its own stdin/stdout and the child's fd 3), so each call crosses four pipes instead of
two. On this project's 2-core machines the relay was a third of the build time (100 restaurants:
build 13.2 s with it, 8.9 s without; `python -m ops bench`).

`use_direct_kernel()` points jsii at `jsii_direct.js`, which runs the same `lib/program.js` of the
installed jsii in the kernel process itself, its API channel on stdin/stdout. jsii reads the
`JSII_RUNTIME` environment variable for exactly this (a runtime script to run instead of its
own). The files are jsii's own, extracted once per jsii version, as jsii itself extracts them at
every start. Hosted code's output still reaches Python's stderr sink as the relay sends it.

The launcher also runs aws-cdk-lib's CloudFormation Validate in worker threads
(`cfn_validate_pool.js`): their engines (about a second each to create) start while Python
builds the app, and the templates are validated on every core instead of one; the report and the
outcome are the built-in plugin's (tests/test_synthesis.py compares them).
`CHEFS_KISS_CFN_VALIDATE_THREADS=0` keeps the plugin in the kernel's thread.

Call it before the first `import aws_cdk` of a process (the import starts the kernel). A
`JSII_RUNTIME` already set wins, and jsii's relay stays on a system without /bin/sh; a
`JSII_NODE` already set is the node the wrapper runs. `CHEFS_KISS_JSII_RELAY=1` keeps jsii's
relay (to compare, or if a jsii release moves its files: `tests/test_synthesis.py` holds both to
the same templates).
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.resources
import os
import shutil
import sys
import tempfile
from pathlib import Path

LAUNCHER = Path(__file__).with_name("jsii_direct.js")
# Loaded by the launcher: aws-cdk-lib's CloudFormation Validate in worker threads, and the
# wrapping of hosted code's output both use.
VALIDATE_POOL = Path(__file__).with_name("cfn_validate_pool.js")
HOSTED_OUTPUT = Path(__file__).with_name("hosted_output.js")
LAUNCHER_FILES = (LAUNCHER, VALIDATE_POOL, HOSTED_OUTPUT)
RELAY_SWITCH = "CHEFS_KISS_JSII_RELAY"
# cfn_validate_pool.js: threads that run aws-cdk-lib's CloudFormation Validate (0: in the kernel),
# started as soon as aws-cdk-lib loads (1) rather than when an App that validates synthesizes.
VALIDATE_THREADS = "CHEFS_KISS_CFN_VALIDATE_THREADS"
VALIDATE_EARLY = "CHEFS_KISS_CFN_VALIDATE_EARLY"
# A file the threads append a line to per validation (the tests read it).
VALIDATE_TRACE = "CHEFS_KISS_CFN_VALIDATE_TRACE"
# The relay starts the kernel with `--preserve-symlinks`, and the kernel reads that flag: with it,
# it links each package into its scratch directory by one symbolic link; without it, it makes a
# hard link per file of aws-cdk-lib (thousands) and deletes them all at exit (2 s of rmdir per
# process). jsii runs `$JSII_NODE --max-old-space-size=... $JSII_RUNTIME`, so JSII_NODE names
# this wrapper, which runs the same node with the flag.
NODE_WRAPPER = "node-preserve-symlinks"
# CHEFS_KISS_JSII_NODE_FLAGS: more node options, word-split (shards set --single-threaded-gc).
NODE_FLAGS = "CHEFS_KISS_JSII_NODE_FLAGS"
NODE_WRAPPER_TEXT = (
    '#!/bin/sh\nexec "${CHEFS_KISS_JSII_NODE:-node}" --preserve-symlinks'
    f' ${{{NODE_FLAGS}}} "$@"\n'
)


class SettingError(ValueError):
    """An environment variable of this package holds a value it cannot use."""


def check_validate_threads() -> None:
    """CHEFS_KISS_CFN_VALIDATE_THREADS, if set, is a whole number of threads (0 or more); the
    launcher refuses anything else too, but only once the kernel starts."""
    value = os.environ.get(VALIDATE_THREADS, "").strip()
    if value and not (value.isascii() and value.isdigit()):
        raise SettingError(
            f"{VALIDATE_THREADS}={value!r}: give a whole number of threads, 0 or more "
            "(0: CloudFormation validation in the jsii kernel's own thread)"
        )


def as_cdk_synth() -> None:
    """This process synthesizes the app as `cdk synth` does (app.py run as a script, a shard,
    `ops bench`): jsii's Python type checks skipped, and the CloudFormation Validate threads
    started with the kernel, so their engines are ready when Python has built the app. Call it
    before the first `import aws_cdk`. The tests skip the type checks too (tests/conftest.py),
    and start the threads when a synthesis first validates."""
    os.environ.setdefault(VALIDATE_EARLY, "1")
    skip_jsii_type_checks()


def skip_jsii_type_checks() -> bool:
    """Skip the runtime type checks jsii's generated Python makes on every construct call
    (typeguard, about a tenth of the build time of 100 restaurants), as `python -O` would,
    without `-O`: where Python writes no bytecode (PYTHONDONTWRITEBYTECODE, set on this
    project's machines), `-O` recompiles aws_cdk's modules from source in every process, which
    costs more than the checks. `cdk synth` (app.py run as a script, its shards, `ops bench`)
    and the tests call this. A wrong argument type still fails, in the kernel, which checks
    every value it receives (SerializationError, naming the parameter), and mypy checks the
    types before that (`make lint`). Returns False, changing nothing, if this jsii has no such
    checks."""
    try:
        from jsii import _type_checking as checks
    except ImportError:
        return False
    if not hasattr(checks, "_resolved_check") or not hasattr(checks, "_type_hints_cache"):
        return False
    # check_type() calls _resolved_check; cached_type_hints() looks the stub's hints up in
    # _type_hints_cache: both are read at call time, so this holds for modules imported already.
    checks._resolved_check = _no_check
    checks._type_hints_cache = _NoHints()  # type: ignore[assignment]
    return True


def _no_check(**_: object) -> None:
    return None


class _NoHints:
    """Stands in for jsii's cache of type hints: every stub's hints are "anything"."""

    def get(self, _stub: object) -> _NoHints:
        return self

    def __getitem__(self, _name: str) -> None:
        return None


def use_direct_kernel() -> Path | None:
    """Set `JSII_RUNTIME` (and `JSII_NODE`) to the direct launcher for this process and its
    children; returns the launcher's path, or None where jsii's own runtime stays (set by the
    user, or switched off)."""
    if os.environ.get("JSII_RUNTIME") or os.environ.get(RELAY_SWITCH) in ("1", "true"):
        return None
    if os.name != "posix":  # the node wrapper is a shell script
        return None
    try:
        root = _extracted_runtime()
    except OSError as error:  # no writable cache directory: jsii's own relay still works
        print(f"note: jsii kernel with its relay ({error})", file=sys.stderr)
        return None
    if os.environ.get("JSII_NODE") and "CHEFS_KISS_JSII_NODE" not in os.environ:
        os.environ["CHEFS_KISS_JSII_NODE"] = os.environ["JSII_NODE"]  # the user's node
    os.environ["JSII_NODE"] = str(root / "bin" / NODE_WRAPPER)
    os.environ["JSII_RUNTIME"] = str(root / "bin" / LAUNCHER.name)
    return root / "bin" / LAUNCHER.name


def _extracted_runtime() -> Path:
    """jsii's embedded runtime files, laid out as jsii lays them out (bin/, lib/), with the
    launcher and the node wrapper beside jsii's own in bin/, in the user's cache directory (where
    jsii keeps its package cache too): once per jsii version and launcher, reused after.

    The directory's name carries a digest of what goes in it, and it appears whole (renamed from
    a scratch directory) or not at all, so processes starting at once (pytest-xdist's workers on
    a new machine) never see half of it, and none deletes a copy another one runs from."""
    import jsii
    import jsii._embedded.jsii as embedded

    ours = {path.name: path.read_bytes() for path in LAUNCHER_FILES}
    digest = hashlib.sha256(b"".join(ours.values()) + NODE_WRAPPER_TEXT.encode()).hexdigest()[:12]
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache")
    root = cache / "chefs-kiss" / f"jsii-runtime-{jsii.__version__}-{digest}"
    if root.is_dir():
        return root
    root.parent.mkdir(parents=True, exist_ok=True)
    partial = Path(tempfile.mkdtemp(prefix=f".{root.name}.", dir=root.parent))
    try:
        for resource, relative in embedded.EMBEDDED_FILES.items():
            target = partial / relative
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_bytes(importlib.resources.files(embedded).joinpath(resource).read_bytes())
        for name, content in ours.items():
            (partial / "bin" / name).write_bytes(content)
        (partial / "bin" / NODE_WRAPPER).write_text(NODE_WRAPPER_TEXT, encoding="utf-8")
        (partial / "bin" / NODE_WRAPPER).chmod(0o755)
        with contextlib.suppress(OSError):  # another process got there first: use its copy
            partial.rename(root)
    finally:
        shutil.rmtree(partial, ignore_errors=True)
    return root
