"""The database bootstrap, run for real against PostgreSQL 18 (tests/postgres_server.py).

The handler's SQL path (runtime.db_bootstrap.converge, what the Lambda function runs) is run as
the master user twice, then the app user connects through runtime.app_connection.connect (the
app's and the probe's connection code) and is checked for what it can and cannot do. The
CloudFormation side of the handler (response on every path, watchdog, Delete) is run against a
local HTTP server standing in for the pre-signed response URL; only the Secrets Manager call and
the CA download are replaced, by the test server's master password and CA file.
"""

from __future__ import annotations

import http.server
import json
import re
import socket
import ssl
import struct
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar

import pg8000.native
import pytest
from postgres_server import PostgresServer, make_ca

from constructs.tenant_database import APP_SCHEMA, APP_USERNAME, DATABASE_NAME, MASTER_USERNAME
from runtime import db_bootstrap
from runtime.app_connection import tls_context
from runtime.db_bootstrap import BootstrapError, Target, converge

TARGET = Target(user=APP_USERNAME, schema=APP_SCHEMA, database=DATABASE_NAME)
TEST_PASSWORD = "test-only-password"  # on RDS the app logs in with an IAM token instead


def _error(error: BaseException) -> str:
    """pg8000 puts the server's message fields in args[0]."""
    detail = error.args[0] if error.args else error
    return str(detail.get("M", detail)) if isinstance(detail, dict) else str(detail)


def _role_state(server: PostgresServer) -> dict[str, Any]:
    """What the contract is about, read as the superuser stand-in."""
    admin = server.superuser()
    try:
        (attributes,) = admin.run(
            "SELECT rolsuper, rolcreatedb, rolcreaterole, rolreplication, rolbypassrls, "
            "rolcanlogin, rolpassword IS NULL FROM pg_authid WHERE rolname = :name",
            name=APP_USERNAME,
        )
        memberships = [
            row[0]
            for row in admin.run(
                "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
                "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = :name ORDER BY 1",
                name=APP_USERNAME,
            )
        ]
        (owner,) = admin.run(
            "SELECT pg_get_userbyid(nspowner) FROM pg_namespace WHERE nspname = :schema",
            schema=APP_SCHEMA,
        )[0]
        (database_acl,) = admin.run(
            "SELECT datacl::text FROM pg_database WHERE datname = :name", name=DATABASE_NAME
        )[0]
        settings = admin.run(
            "SELECT setconfig FROM pg_db_role_setting s JOIN pg_roles r ON r.oid = s.setrole "
            "WHERE r.rolname = :name",
            name=APP_USERNAME,
        )
        return {
            "attributes": attributes,
            "memberships": memberships,
            "schema_owner": owner,
            "database_acl": database_acl,
            "settings": settings,
        }
    finally:
        admin.close()


@pytest.fixture(scope="module")
def bootstrapped(postgres_server: PostgresServer) -> Iterator[dict[str, Any]]:
    """Bootstrap twice as the master user; then give the app user a password, for tests only."""
    runs = []
    for _ in range(2):
        master = postgres_server.master()
        try:
            runs.append(converge(master, TARGET))
        finally:
            master.close()
        runs.append(_role_state(postgres_server))
    master = postgres_server.master()
    try:
        master.run(f"ALTER ROLE {APP_USERNAME} PASSWORD {pg8000.native.literal(TEST_PASSWORD)}")
    finally:
        master.close()
    yield {"first": runs[0], "state_after_first": runs[1], "state_after_second": runs[3]}


@pytest.fixture
def app(
    postgres_server: PostgresServer, bootstrapped: dict[str, Any]
) -> Iterator[pg8000.native.Connection]:
    connection = postgres_server.connect_as(APP_USERNAME, TEST_PASSWORD)
    try:
        yield connection
    finally:
        connection.close()


def test_the_server_is_postgresql_18_like_the_rds_engine(postgres_server: PostgresServer) -> None:
    assert postgres_server.version.startswith("18."), postgres_server.version


def test_bootstrap_is_idempotent_and_converges_to_the_contract(
    bootstrapped: dict[str, Any],
) -> None:
    assert any(sql.startswith(f'CREATE ROLE "{APP_USERNAME}"') for sql in bootstrapped["first"])
    first, second = bootstrapped["state_after_first"], bootstrapped["state_after_second"]
    assert first == second
    # super, createdb, createrole, replication, bypassrls, login, no password
    assert first["attributes"] == [False, False, False, False, False, True, True]
    assert first["memberships"] == ["rds_iam"]
    assert first["schema_owner"] == APP_USERNAME
    acl = first["database_acl"]
    assert f"{APP_USERNAME}=Tc/" in acl and not re.search(r"[{,]=", acl), acl  # no PUBLIC entry
    assert first["settings"] == [[[f"search_path={APP_SCHEMA}"]]]


def test_app_user_works_in_its_own_schema(app: pg8000.native.Connection) -> None:
    assert app.run("SELECT current_user, current_schema()") == [[APP_USERNAME, APP_SCHEMA]]
    app.run("CREATE TABLE orders (id int PRIMARY KEY, dish text)")
    app.run("INSERT INTO orders VALUES (1, 'ramen')")
    assert app.run(f"SELECT dish FROM {APP_SCHEMA}.orders") == [["ramen"]]
    app.run("CREATE TEMPORARY TABLE scratch (x int)")
    app.run("DROP TABLE orders")


@pytest.mark.parametrize(
    ("sql", "refusal"),
    [
        ("CREATE ROLE intruder", "permission denied to create role"),
        ("CREATE DATABASE other", "permission denied to create database"),
        ("SELECT rolpassword FROM pg_authid", "permission denied for table pg_authid"),
        (f"SET ROLE {MASTER_USERNAME}", f'permission denied to set role "{MASTER_USERNAME}"'),
        ("SET ROLE rdsadmin", 'permission denied to set role "rdsadmin"'),
        (f"ALTER ROLE {APP_USERNAME} SUPERUSER", "permission denied to alter role"),
        (f"ALTER ROLE {APP_USERNAME} CREATEDB", "permission denied to alter role"),
        (
            f"GRANT rds_superuser TO {APP_USERNAME}",
            'permission denied to grant role "rds_superuser"',
        ),
        ("CREATE TABLE public.leak (x int)", "permission denied for schema public"),
        ("CREATE SCHEMA another", "permission denied for database"),
    ],
)
def test_app_user_cannot(app: pg8000.native.Connection, sql: str, refusal: str) -> None:
    with pytest.raises(pg8000.native.DatabaseError) as refused:
        app.run(sql)
    assert refusal in _error(refused.value)


def test_connection_without_tls_is_refused(
    postgres_server: PostgresServer, bootstrapped: dict[str, Any]
) -> None:
    with pytest.raises(pg8000.native.DatabaseError) as refused:
        pg8000.native.Connection(
            user=APP_USERNAME,
            password=TEST_PASSWORD,
            host=postgres_server.host,
            port=postgres_server.port,
            database=DATABASE_NAME,
            ssl_context=False,  # pg8000's default (None) would try TLS without verifying
        )
    assert "no encryption" in _error(refused.value)


def test_connection_with_another_ca_is_refused(
    postgres_server: PostgresServer, bootstrapped: dict[str, Any], tmp_path: Path
) -> None:
    other_ca = make_ca(tmp_path, "not-the-rds-ca")
    with pytest.raises(ssl.SSLCertVerificationError):
        postgres_server.connect_as(APP_USERNAME, TEST_PASSWORD, ca_file=other_ca)


def test_connection_to_a_name_not_in_the_certificate_is_refused(
    postgres_server: PostgresServer, bootstrapped: dict[str, Any]
) -> None:
    """verify-full checks the host name too (the certificate names 127.0.0.1 and localhost):
    the app's TLS context, asked for another restaurant's host name, refuses this server."""
    with socket.create_connection((postgres_server.host, postgres_server.port), timeout=10) as raw:
        raw.sendall(struct.pack("!ii", 8, 80877103))  # SSLRequest
        assert raw.recv(1) == b"S"
        context = tls_context(str(postgres_server.ca_file))
        with pytest.raises(ssl.SSLCertVerificationError, match="Hostname mismatch"):
            context.wrap_socket(raw, server_hostname="chefs-kiss-dev-other.rds.example")


def test_bootstrap_undoes_tampering(
    postgres_server: PostgresServer, bootstrapped: dict[str, Any]
) -> None:
    """What the master user (or a migration run as it) may have changed is put back."""
    master = postgres_server.master()
    try:
        master.run("CREATE ROLE reporting NOLOGIN")
        master.run(f"GRANT reporting TO {APP_USERNAME}")
        master.run(f"ALTER ROLE {APP_USERNAME} CREATEDB CREATEROLE")
        master.run("GRANT CREATE ON SCHEMA public TO PUBLIC")
        master.run(f"GRANT ALL ON DATABASE {DATABASE_NAME} TO PUBLIC")
        converge(master, TARGET)
        master.run("DROP ROLE reporting")
    finally:
        master.close()
    assert _role_state(postgres_server) == bootstrapped["state_after_second"]
    _restore_test_password(postgres_server)
    app = postgres_server.connect_as(APP_USERNAME, TEST_PASSWORD)
    try:
        with pytest.raises(pg8000.native.DatabaseError, match="permission denied for schema"):
            app.run("CREATE TABLE public.leak (x int)")
    finally:
        app.close()


@pytest.mark.parametrize(
    ("tamper", "undo", "refusal"),
    [
        (
            f"ALTER ROLE {APP_USERNAME} BYPASSRLS",
            f"ALTER ROLE {APP_USERNAME} NOBYPASSRLS",
            "BYPASSRLS",
        ),
        (
            f"GRANT rds_superuser TO {APP_USERNAME}",
            f"REVOKE rds_superuser FROM {APP_USERNAME}",
            "member of rds_superuser",
        ),
    ],
)
def test_bootstrap_refuses_what_only_a_superuser_could_do_and_changes_nothing(
    postgres_server: PostgresServer,
    bootstrapped: dict[str, Any],
    tamper: str,
    undo: str,
    refusal: str,
) -> None:
    admin = postgres_server.superuser()
    admin.run(tamper)
    try:
        master = postgres_server.master()
        try:
            with pytest.raises(BootstrapError, match=refusal):
                converge(master, TARGET)
            assert master.run("SELECT 1") == [[1]]  # rolled back, the session is usable
        finally:
            master.close()
    finally:
        admin.run(undo)
        admin.close()
    assert _role_state(postgres_server) == {
        **bootstrapped["state_after_second"],
        "attributes": _role_state(postgres_server)["attributes"],
    }


def test_identifiers_are_checked_before_they_reach_sql() -> None:
    with pytest.raises(ValueError, match=r"user='app; DROP DATABASE x' is not allowed"):
        Target(user="app; DROP DATABASE x", schema="app", database="chefs_kiss")


def test_sql_version_changes_with_the_statements() -> None:
    version = db_bootstrap.sql_version(TARGET, master_user=MASTER_USERNAME)
    assert version == db_bootstrap.sql_version(TARGET, master_user=MASTER_USERNAME)
    other = Target(user=APP_USERNAME, schema="other", database=DATABASE_NAME)
    assert version != db_bootstrap.sql_version(other, master_user=MASTER_USERNAME)


# --- the CloudFormation side --------------------------------------------------------------------


class _ResponseUrl(http.server.BaseHTTPRequestHandler):
    """Stands in for CloudFormation's pre-signed S3 URL: records each PUT body."""

    received: ClassVar[list[dict[str, Any]]] = []

    def do_PUT(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).received.append(json.loads(self.rfile.read(length)))
        self.send_response(200)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        pass


@pytest.fixture
def response_url() -> Iterator[tuple[str, list[dict[str, Any]]]]:
    received: list[dict[str, Any]] = []
    handler = type("Recorder", (_ResponseUrl,), {"received": received})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}/response?signed=1", received
    finally:
        server.shutdown()
        server.server_close()


class _Context:
    def __init__(self, seconds: float) -> None:
        self._end = time.monotonic() + seconds

    def get_remaining_time_in_millis(self) -> int:
        return int((self._end - time.monotonic()) * 1000)


def _event(url: str, server: PostgresServer, request_type: str = "Create") -> dict[str, Any]:
    return {
        "RequestType": request_type,
        "ResponseURL": url,
        "StackId": "arn:aws:cloudformation:eu-west-1:111111111111:stack/t/1",
        "RequestId": "request-1",
        "LogicalResourceId": "DatabaseBootstrap",
        "ResourceType": "Custom::DatabaseBootstrap",
        "ResourceProperties": {
            "ServiceToken": "arn:aws:lambda:eu-west-1:111111111111:function:f",
            "Host": server.host,
            "Port": str(server.port),
            "Database": DATABASE_NAME,
            "User": APP_USERNAME,
            "Schema": APP_SCHEMA,
            "MasterSecretArn": "arn:aws:secretsmanager:eu-west-1:111111111111:secret:db",
            "SqlVersion": db_bootstrap.sql_version(TARGET, master_user=MASTER_USERNAME),
        },
    }


@pytest.fixture
def aws_stand_ins(
    postgres_server: PostgresServer, monkeypatch: pytest.MonkeyPatch
) -> list[tuple[str, str]]:
    """Secrets Manager answers with the test server's master user; the CA is the test CA."""
    asked: list[tuple[str, str]] = []

    def credentials(secret_arn: str, stage: str) -> dict[str, Any]:
        asked.append((secret_arn, stage))
        if stage != "AWSCURRENT":
            raise LookupError(f"no {stage} version (no rotation running)")
        return {"username": MASTER_USERNAME, "password": postgres_server.master_password}

    monkeypatch.setattr(db_bootstrap, "_master_credentials", credentials)
    monkeypatch.setattr(db_bootstrap, "_ca_bundle", lambda: str(postgres_server.ca_file))
    return asked


@dataclass
class Handler:
    """The custom resource's handler against the test server: its events, the responses it
    sent to the pre-signed URL and the master secret stages it read."""

    server: PostgresServer
    url: str
    received: list[dict[str, Any]]
    asked: list[tuple[str, str]]

    def event(self, request_type: str = "Create") -> dict[str, Any]:
        return _event(self.url, self.server, request_type)

    def run(self, event: dict[str, Any], seconds: float = 60) -> None:
        db_bootstrap.handler(event, _Context(seconds))


@pytest.fixture
def handler(
    postgres_server: PostgresServer,
    response_url: tuple[str, list[dict[str, Any]]],
    aws_stand_ins: list[tuple[str, str]],
) -> Handler:
    url, received = response_url
    return Handler(postgres_server, url, received, aws_stand_ins)


def test_handler_create_converges_and_answers_success(
    handler: Handler, bootstrapped: dict[str, Any]
) -> None:
    for request_type in ("Create", "Update"):
        handler.run(handler.event(request_type))
    received = handler.received
    assert [r["Status"] for r in received] == ["SUCCESS", "SUCCESS"], received
    assert {r["PhysicalResourceId"] for r in received} == {f"{DATABASE_NAME}/{APP_USERNAME}"}
    assert received[0]["Data"] == {"User": APP_USERNAME, "Schema": APP_SCHEMA}
    state = _role_state(handler.server)
    assert state == bootstrapped["state_after_second"]
    _restore_test_password(handler.server)


def test_handler_answers_failed_with_the_reason(
    handler: Handler, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db_bootstrap, "CONNECT_ATTEMPT_SECONDS", 1.0)
    event = handler.event()
    event["ResourceProperties"]["User"] = "Robert'); DROP TABLE students;--"
    handler.run(event)
    received = handler.received
    assert len(received) == 1 and received[0]["Status"] == "FAILED"
    assert "is not allowed" in received[0]["Reason"]


def test_handler_watchdog_answers_before_the_lambda_timeout(
    handler: Handler, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A database that never answers: FAILED arrives from the watchdog, once, in time."""
    received = handler.received
    release = threading.Event()
    monkeypatch.setattr(db_bootstrap, "_connect_as_master", lambda props, deadline: release.wait(5))
    started = time.monotonic()
    worker = threading.Thread(
        target=handler.run, args=(handler.event(), db_bootstrap.WATCHDOG_MARGIN_SECONDS + 1)
    )
    worker.start()
    while not received and time.monotonic() - started < 4:
        time.sleep(0.05)
    release.set()
    worker.join(timeout=10)
    assert len(received) == 1, received
    assert received[0]["Status"] == "FAILED" and "timed out" in received[0]["Reason"]
    assert time.monotonic() - started < 5


def test_handler_delete_changes_nothing(handler: Handler, bootstrapped: dict[str, Any]) -> None:
    before = _role_state(handler.server)
    event = handler.event("Delete")
    event["PhysicalResourceId"] = f"{DATABASE_NAME}/{APP_USERNAME}"
    handler.run(event)
    assert [r["Status"] for r in handler.received] == ["SUCCESS"]
    assert handler.asked == []  # never read the master secret
    assert _role_state(handler.server) == before


def _restore_test_password(server: PostgresServer) -> None:
    master = server.master()
    try:
        master.run(f"ALTER ROLE {APP_USERNAME} PASSWORD {pg8000.native.literal(TEST_PASSWORD)}")
    finally:
        master.close()


def test_without_the_shipped_ca_bundle_the_bootstrap_refuses_to_connect(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """Outside an asset (or an asset built without it) there is no bundle: a clear error, and no
    fallback to a download or to the system's CAs (tests/test_rds_ca_bundle.py runs the asset)."""
    monkeypatch.setattr(db_bootstrap, "SHIPPED_CA_BUNDLE", str(tmp_path / "rds-ca-bundle.pem"))
    with pytest.raises(FileNotFoundError, match="not in this function's asset"):
        db_bootstrap._ca_bundle()


# The probe's database step (runtime/tenant_probe.py), the code `ops smoke --probe` runs on AWS,
# against the bootstrapped server: its own connection code, as the application user.
def _probe_connection(server: PostgresServer) -> dict[str, Any]:
    return {
        "host": server.host,
        "port": server.port,
        "database": DATABASE_NAME,
        "user": APP_USERNAME,
    }


def test_probe_database_step_works_as_the_app_user(
    postgres_server: PostgresServer, bootstrapped: dict[str, Any]
) -> None:
    from runtime import app_connection
    from runtime.tenant_probe import database_step

    summary = database_step(
        app_connection.connect,
        connection=_probe_connection(postgres_server),
        password=TEST_PASSWORD,
        ca_file=postgres_server.ca_file,
        # TLS ends at the test server's front process, so PostgreSQL sees a local socket; the
        # client side still verified the certificate and host name (verify-full).
        server_side_tls_check=False,
    )
    assert summary.startswith(f"connected as {APP_USERNAME} over TLS; created, read and dropped")
    admin = postgres_server.superuser(DATABASE_NAME)
    try:
        leftovers = admin.run(
            "SELECT tablename FROM pg_tables WHERE schemaname = :schema AND tablename "
            "LIKE 'probe\\_%'",
            schema=APP_SCHEMA,
        )
    finally:
        admin.close()
    assert leftovers == []  # the probe's table is dropped again


def test_probe_database_step_refuses_a_session_the_server_does_not_see_as_tls(
    postgres_server: PostgresServer, bootstrapped: dict[str, Any]
) -> None:
    """The server-side check is live: here PostgreSQL itself sees no TLS, and the probe says so."""
    from runtime import app_connection
    from runtime.tenant_probe import StepFailed, database_step

    with pytest.raises(StepFailed, match="not encrypted"):
        database_step(
            app_connection.connect,
            connection=_probe_connection(postgres_server),
            password=TEST_PASSWORD,
            ca_file=postgres_server.ca_file,
        )


def test_probe_database_step_is_refused_with_a_wrong_password_or_ca(
    postgres_server: PostgresServer, bootstrapped: dict[str, Any], tmp_path: Path
) -> None:
    """Another restaurant's credentials (here: a wrong password) or an untrusted CA never log in."""
    import pg8000.exceptions

    from runtime import app_connection
    from runtime.tenant_probe import database_step

    with pytest.raises(pg8000.exceptions.DatabaseError):
        database_step(
            app_connection.connect,
            connection=_probe_connection(postgres_server),
            password="not-the-token",
            ca_file=postgres_server.ca_file,
            server_side_tls_check=False,
        )
    other_ca = make_ca(tmp_path, "not-the-rds-ca")
    with pytest.raises(ssl.SSLCertVerificationError):
        database_step(
            app_connection.connect,
            connection=_probe_connection(postgres_server),
            password=TEST_PASSWORD,
            ca_file=str(other_ca),
            server_side_tls_check=False,
        )
