"""Shared fixtures: the example app is built and synthesized once per test session.

The suite runs in parallel (`make test`: pytest-xdist, one worker per core, `--dist loadgroup`),
so "once per session" means once for all workers, not once per worker:

- `example_assembly` / `template` (the example app without nag packs: snapshots and template
  assertions) and `example_cdk_out` (with every pack, as `make synth` leaves cdk.out) are
  synthesized by the first worker that asks, into a directory all workers share
  (`shared_directory`); the others wait for it and read the same files. Treat them as read-only:
  a test that edits templates copies them first (`lifecycle_helpers.copy_assembly`).
- `example_app` is the in-memory app (for `validate_scope`): built per worker that needs it.
- A module whose fixtures are expensive and module-scoped (its own synthesis, a git repository)
  puts its tests in one xdist group (`pytestmark = pytest.mark.xdist_group("name")`), so that
  one worker runs them all and builds the fixture once. (`_LoadGroupNodeIds` below keeps that
  true with pytest 9.2; tests/test_suite_parallel.py proves it.) Keep a group short (well under
  a minute and a half on one worker): it cannot be split.
- Where the tests themselves are long (each runs `make`, the CLI or a synthesis), do not group
  them: build the expensive input once with `shared_directory` (session-scoped) and let each
  test work on its own copy (`shutil.copytree(..., symlinks=True)`), so the tests spread over
  the workers. Example: `pr_template` / `pr_repo` in tests/test_workflows.py.
- Anything synthesized only to be read (templates, counts) is session-scoped and built through
  `shared_directory`, never per test or per worker.
- Tests that run a subprocess synthesis, make, the CDK CLI or a local server, or synthesize
  anything but the shared `example_assembly`, are marked `slow` (by hand, or below for the
  fixtures in `_SLOW_FIXTURES`); `make test-quick` runs the rest (`-m "not slow"`).
- `clone_project` copies this checkout into a throwaway git repository for the tests that run
  `make` there, without letting that make reinstall the shared .venv or node_modules. A test
  that runs `make` in this checkout itself passes `-o install` (test_workflows.NO_INSTALL).

Writing tests: take a temporary directory (`tmp_path`) for anything you write, a free port
(port 0) for anything you serve, and one of these fixtures for anything you synthesize more than
once. A new environment kind (say, disaster recovery's standby stacks) belongs in the example
config, so `example_assembly` covers it at no extra synthesis.
"""

from __future__ import annotations

import dataclasses
import fcntl
import gc
import os
import shutil
import subprocess
import tempfile
from collections.abc import Callable, Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import pytest

from synthesis.kernel import VALIDATE_TRACE, skip_jsii_type_checks, use_direct_kernel

# Before any test module imports aws_cdk: every kernel of the session (and of the subprocesses
# it starts) runs without jsii's relay process, as the app itself does (synthesis/kernel.py).
use_direct_kernel()
# The app as `cdk synth` runs it: without jsii's Python type checks (typeguard, a tenth of a
# synthesis' build); the kernel still refuses a value of the wrong type (synthesis/kernel.py).
skip_jsii_type_checks()
# The CloudFormation Validate threads (synthesis/cfn_validate_pool.js) note each validation they
# do here, for tests/test_synthesis.py; one file per test process (and its subprocesses).
os.environ.setdefault(
    VALIDATE_TRACE, os.path.join(tempfile.gettempdir(), f"chefs-kiss-validate-{os.getpid()}.jsonl")
)

# Fewer full garbage collections. A test process holds a few hundred thousand long-lived objects
# (jsii proxies, botocore's service models, moto's backends, parsed assemblies), and Python's
# default thresholds (700, 10, 10) scan all of them in a full collection every few hundred
# thousand allocations: a third of the CPU of the moto and planner modules (23 full collections,
# 6.8 s, in test_failover and test_plan_rules). Young objects are collected as usual; full
# collections are about a hundred times rarer. Nothing a test asserts depends on when garbage is
# freed.
GC_THRESHOLDS = (50_000, 20, 100)
gc.set_threshold(*GC_THRESHOLDS)

if TYPE_CHECKING:
    import aws_cdk as cdk
    from aws_cdk import assertions, cx_api
    from postgres_server import PostgresServer

    from config.schema import EnvironmentConfig

PROJECT_DIR = Path(__file__).resolve().parent.parent


def synth_app(
    environments: Iterable[EnvironmentConfig] | None = None,
    *,
    outdir: Path | None = None,
    nag_packs: tuple[str, ...] = (),
    cfn_validation: bool = True,
) -> tuple[cdk.App, cx_api.CloudAssembly]:
    """Build and synthesize; nag packs off by default (nag tests use validate_scope).

    cfn_validation=False skips aws-cdk-lib's built-in CloudFormation validation, about half of
    synthesis time at 100 restaurants: it changes no template, so tests that only read the
    templates of their own generated environments may skip it (the example assemblies, cfn-lint
    and `make synth` keep it)."""
    # aws_cdk starts the jsii kernel (a Node.js process) on import: imported when first needed,
    # so that pytest-xdist's controller, which loads this file but runs no test, never starts one.
    import aws_cdk as cdk

    from app import build_app, project_context

    app = cdk.App(
        context=project_context(),
        outdir=str(outdir) if outdir else None,
        builtin_cloud_formation_validation=cfn_validation,
    )
    build_app(environments=environments, nag_packs=nag_packs, app=app)
    return app, app.synth()


def shared_directory(
    tmp_path_factory: pytest.TempPathFactory, name: str, build: Callable[[Path], object]
) -> Path:
    """`build(directory)` once per test session, for every xdist worker: the first worker to get
    here builds under a file lock, the others wait and get the finished directory. A failed
    build leaves nothing behind, so the next worker tries again (and reports the same error)."""
    base = tmp_path_factory.getbasetemp()
    # Under xdist each worker's basetemp is <session>/popen-gwN: the session's is the parent.
    root = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    target = root / f"shared-{name}"
    with (root / f"shared-{name}.lock").open("w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not target.is_dir():
            partial = root / f"shared-{name}.partial"
            shutil.rmtree(partial, ignore_errors=True)
            partial.mkdir()
            build(partial)
            partial.rename(target)
    return target


@pytest.fixture(scope="session", autouse=True)
def _subprocesses_skip_builtin_cloudformation_validation() -> Iterator[None]:
    """This worker's own kernel validates every template it synthesizes (aws-cdk-lib's built-in
    CloudFormation validation, as `cdk synth` runs it); the syntheses it starts as subprocesses
    (`python app.py`, make, the CDK CLI, the pr-check and plan scripts) skip it.

    Those tests check what a tool does with an assembly, not the templates, and the validation
    is a fixed ~2 s (a WASM engine loaded per process) plus a third of each synthesis: about a
    tenth of the suite's time. The kernel copies the environment when it starts, so it starts
    here first (if collection has not started it), then CDK_VALIDATION=false is set for what
    starts after. Templates are validated still: every in-process synthesis (the example
    assemblies included), cfn-lint over the example (tests/test_cfn_lint.py), and `make synth`
    in tests/test_plan_fresh.py, which clears CDK_* variables for that reason."""
    import aws_cdk  # noqa: F401  (starts this process's kernel with validation on)

    before = os.environ.get("CDK_VALIDATION")
    os.environ["CDK_VALIDATION"] = "false"
    yield
    if before is None:
        os.environ.pop("CDK_VALIDATION", None)
    else:
        os.environ["CDK_VALIDATION"] = before


@pytest.fixture(scope="session")
def example(tmp_path_factory: pytest.TempPathFactory) -> tuple[cdk.App, cx_api.CloudAssembly]:
    """The example configuration (config/environments) built and synthesized in this process:
    for tests that need the construct tree itself. Prefer `example_assembly` for templates.

    If no worker has synthesized the shared example assembly yet, this synthesis is it (then
    the returned assembly object names a directory since renamed: read `example_assembly`)."""
    built: list[tuple[cdk.App, cx_api.CloudAssembly]] = []

    def build(outdir: Path) -> None:
        built.append(synth_app(outdir=outdir))

    shared_directory(tmp_path_factory, "example.out", build)
    return built[0] if built else synth_app()


@pytest.fixture(scope="session")
def example_app(example: tuple[cdk.App, cx_api.CloudAssembly]) -> cdk.App:
    return example[0]


@pytest.fixture(scope="session")
def example_assembly(tmp_path_factory: pytest.TempPathFactory) -> cx_api.CloudAssembly:
    """The example app without nag packs, synthesized once for all workers (read-only)."""
    from aws_cdk import cx_api

    directory = shared_directory(
        tmp_path_factory, "example.out", lambda outdir: synth_app(outdir=outdir)
    )
    return cx_api.CloudAssembly(str(directory))


@pytest.fixture(scope="session")
def template(example_assembly: cx_api.CloudAssembly) -> Callable[[str], assertions.Template]:
    """template("chefs-kiss-prod-platform") -> assertions.Template of the example app."""
    from aws_cdk import assertions

    cache: dict[str, assertions.Template] = {}

    def get(stack_name: str) -> assertions.Template:
        if stack_name not in cache:
            artifact = example_assembly.get_stack_by_name(stack_name)
            cache[stack_name] = assertions.Template.from_json(artifact.template)
        return cache[stack_name]

    return get


@pytest.fixture(scope="session")
def example_cdk_out(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """The example app synthesized into a directory with every nag pack registered, as
    `make synth` leaves cdk.out (acknowledgments included in the template metadata)."""
    from constructs.compliance import DEFAULT_NAG_PACKS

    def build(outdir: Path) -> None:
        synth_app(outdir=outdir, nag_packs=DEFAULT_NAG_PACKS)

    return shared_directory(tmp_path_factory, "cdk.out", build)


# Files whose change makes `make install` reinstall: in a clone that shares this checkout's .venv
# and node_modules through links, a newer one would make `make` run pip install into the shared
# venv, or `npm ci` through the link (which empties this checkout's node_modules).
_INSTALL_INPUTS = {
    ".venv/.installed": ("requirements.txt", "requirements-dev.txt", "constraints.txt"),
    "node_modules/.installed": ("package.json", "package-lock.json"),
}


def clone_project(
    target: Path, *, environments: Sequence[str] | None = None, skip: Sequence[str] = ()
) -> Path:
    """This checkout's tracked files, as they are now, in a new git repository at `target` (one
    commit on `main`), sharing .venv and node_modules by symbolic links.

    `environments`: keep only these config/environments/<name>.yaml (None: all), so that a
    synthesis there is only as large as the test needs. `skip`: path prefixes left out. The
    dependency manifests are dated no later than the installed stamps, so `make` there never
    reinstalls into the shared directories."""
    listed = subprocess.run(
        ["git", "ls-files", "-z"], cwd=PROJECT_DIR, capture_output=True, check=True
    ).stdout.decode()
    keep = None if environments is None else {f"config/environments/{e}.yaml" for e in environments}
    for name in filter(None, listed.split("\0")):
        source = PROJECT_DIR / name
        if not source.is_file() or name.startswith(tuple(skip)):
            continue
        if keep is not None and name.startswith("config/environments/") and name not in keep:
            continue
        (target / name).parent.mkdir(parents=True, exist_ok=True)
        shutil.copy2(source, target / name)  # keeps mtimes: make sees an installed venv
    for shared in (".venv", "node_modules"):
        (target / shared).symlink_to(PROJECT_DIR / shared)
    for stamp, inputs in _INSTALL_INPUTS.items():
        installed = PROJECT_DIR / stamp
        assert installed.exists(), f"{stamp} missing: run `make install` first"
        # In nanoseconds: a float mtime rounds, and a copy a few ns newer than the stamp would
        # make `make` run `npm ci` through the link (emptying this checkout's node_modules).
        stamp_time = installed.stat().st_mtime_ns
        for name in inputs:
            copy = target / name
            if copy.exists() and copy.stat().st_mtime_ns > stamp_time:
                os.utime(copy, ns=(stamp_time, stamp_time))
    git = ["git", "-c", "user.email=ci@example.com", "-c", "user.name=ci"]
    for command in (["init", "-q", "-b", "main"], ["add", "-A"], ["commit", "-q", "-m", "base"]):
        subprocess.run([*git, *command], cwd=target, capture_output=True, check=True)
    return target


@pytest.fixture(scope="session")
def postgres_server() -> Iterator[PostgresServer]:
    """A PostgreSQL 18 server set up like an RDS tenant database (tests/postgres_server.py):
    127.0.0.1:5433 (`.port` says if another was free instead), TLS required and verified against
    `.ca_file`, SCRAM passwords, stand-in rds_iam/rds_superuser roles, the master user
    `chefs_admin` (`.master()`) and the database `chefs_kiss`. Started on first use, stopped and
    removed at the end of the session."""
    from postgres_server import start_postgres

    server = start_postgres()
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def moto_endpoint() -> Iterator[str]:
    """A moto server on 127.0.0.1 (a free port), fresh for each test module that uses it: the
    local STS, SSM, Secrets Manager, S3 and ECS the runtime/ handlers are tested against."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    try:
        yield f"http://{host}:{port}"
    finally:
        server.stop()


# Fixtures that make a test `slow` wherever it is used: a local server, or a second synthesis of
# the example app (with every nag pack, or in memory). The quick tests' one synthesis is
# `example_assembly`; a test that builds an app of its own is marked `slow` where it is written.
_SLOW_FIXTURES = ("postgres_server", "moto_endpoint", "example_cdk_out", "example_app", "example")


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist reads the groups
def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark `slow` every test that uses a slow fixture, and keep the PostgreSQL tests on one
    worker (one server for them all) unless their module already chose a group.

    Then the modules with an xdist group (the long units one worker must run whole) go first,
    the other modules with slow tests next, the rest last (details below); each module's tests
    stay together and in order, so module fixtures are built once. pytest-xdist hands out work
    in this order (its default --loadscope-reorder first moves the groups ahead, the group of
    most tests first): the long runs start first and the quick tests fill the gaps at the end,
    instead of one worker finishing a long group alone."""
    grouped_modules: set[str] = set()
    slow_modules: set[str] = set()
    for item in items:
        fixtures = set(getattr(item, "fixturenames", ()))
        if fixtures & set(_SLOW_FIXTURES):
            item.add_marker(pytest.mark.slow)
        if "postgres_server" in fixtures and not any(item.iter_markers("xdist_group")):
            item.add_marker(pytest.mark.xdist_group("postgres"))
        module = item.nodeid.split("::", 1)[0]
        if item.get_closest_marker("xdist_group") is not None:
            grouped_modules.add(module)
        if item.get_closest_marker("slow") is not None:
            slow_modules.add(module)

    # One module that reads the shared example assembly goes first of all, so one worker starts
    # that synthesis at once; within each tier the modules that do not need it come first, so
    # the other worker has work meanwhile instead of waiting on the lock.
    example_modules = [
        item.nodeid.split("::", 1)[0]
        for item in items
        if {"example_assembly", "template"} & set(getattr(item, "fixturenames", ()))
    ]
    first = example_modules[0] if example_modules else None
    # That module's tests run on one worker (xdist hands out ungrouped tests one by one, in
    # turn, so both workers would start on it and one would wait for the other's synthesis).
    for item in items:
        if item.nodeid.split("::", 1)[0] == first and not any(item.iter_markers("xdist_group")):
            item.add_marker(pytest.mark.xdist_group("example-first"))
            grouped_modules.add(first)

    def rank(item: pytest.Item) -> tuple[bool, bool, bool, bool]:
        module = item.nodeid.split("::", 1)[0]
        return (
            module != first,
            module not in grouped_modules,
            module not in slow_modules,
            module in example_modules,
        )

    items.sort(key=rank)


class _LoadGroupNodeIds:
    """pytest-xdist 3.8's `--dist loadgroup` tells the controller a test's group by appending
    `@<group>` to its node id on the worker (`item._nodeid`). pytest 9.2 keeps node ids
    structured (`item._id`), so that assignment no longer changes the id the controller gets:
    every group was silently spread over all workers and its module fixtures built on each
    (pytest-dev/pytest-xdist#1386). This puts the suffix where pytest 9.2 reads the id, the same
    suffix xdist means, and nothing where xdist's own assignment still works."""

    @pytest.hookimpl(trylast=True)  # after pytest-xdist's worker hook
    def pytest_collection_modifyitems(
        self, config: pytest.Config, items: list[pytest.Item]
    ) -> None:
        if not config.getvalue("loadgroup"):
            return
        for item in items:
            groups = {
                str(mark.args[0] if mark.args else mark.kwargs.get("name", "default"))
                for mark in item.iter_markers("xdist_group")
            }
            suffix = "@" + "_".join(sorted(groups))
            node_id = getattr(item, "_id", None)
            if not groups or item.nodeid.endswith(suffix) or node_id is None:
                continue
            grouped = dataclasses.replace(node_id)
            object.__setattr__(grouped, "_str_cache", str(node_id) + suffix)
            item._id = grouped  # type: ignore[attr-defined]
            assert item.nodeid.endswith(suffix), "pytest's node ids changed again"


def pytest_configure(config: pytest.Config) -> None:
    # Only on xdist workers (the controller collects nothing).
    if os.environ.get("PYTEST_XDIST_WORKER"):
        config.pluginmanager.register(_LoadGroupNodeIds(), "chefs-kiss-loadgroup-node-ids")


def pytest_unconfigure(config: pytest.Config) -> None:
    """The validation trace this process made (above) goes with it."""
    trace = Path(os.environ.get(VALIDATE_TRACE, ""))
    if trace.name == f"chefs-kiss-validate-{os.getpid()}.jsonl":
        trace.unlink(missing_ok=True)
