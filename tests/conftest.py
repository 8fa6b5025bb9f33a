"""Shared fixtures: the example app is built and synthesized once per test session."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING

import aws_cdk as cdk
import pytest
from aws_cdk import assertions, cx_api

from app import build_app, project_context
from config.schema import EnvironmentConfig

if TYPE_CHECKING:
    from postgres_server import PostgresServer

PROJECT_DIR = Path(__file__).resolve().parent.parent


def synth_app(
    environments: Iterable[EnvironmentConfig] | None = None,
    *,
    outdir: Path | None = None,
    nag_packs: tuple[str, ...] = (),
) -> tuple[cdk.App, cx_api.CloudAssembly]:
    """Build and synthesize; nag packs off by default (nag tests use validate_scope)."""
    app = cdk.App(context=project_context(), outdir=str(outdir) if outdir else None)
    build_app(environments=environments, nag_packs=nag_packs, app=app)
    return app, app.synth()


@pytest.fixture(scope="session")
def example() -> tuple[cdk.App, cx_api.CloudAssembly]:
    """The example configuration (config/environments), synthesized once."""
    return synth_app()


@pytest.fixture(scope="session")
def example_app(example: tuple[cdk.App, cx_api.CloudAssembly]) -> cdk.App:
    return example[0]


@pytest.fixture(scope="session")
def example_assembly(example: tuple[cdk.App, cx_api.CloudAssembly]) -> cx_api.CloudAssembly:
    return example[1]


@pytest.fixture(scope="session")
def template(example_assembly: cx_api.CloudAssembly) -> Callable[[str], assertions.Template]:
    """template("chefs-kiss-prod-platform") -> assertions.Template of the example app."""
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

    outdir = tmp_path_factory.mktemp("cdk.out")
    synth_app(outdir=outdir, nag_packs=DEFAULT_NAG_PACKS)
    return outdir


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
