"""The post-deploy probe of the application contract, run as a Lambda function in the platform.

For each restaurant it does what the app does, with the app's identity: from the app task role's
session it assumes the restaurant's access role, reads the restaurant's connection parameter,
signs an IAM database authentication token (locally, with the assumed credentials), connects as
the application user over verified TLS (`runtime.app_connection.connect`), runs a query and
creates, reads and drops a table in the app schema, then writes, reads and deletes an object under
the restaurant's own prefix. Then it checks that the same session is refused another restaurant's
master secret, connection parameter, database user and prefix, and its own master secret.

The event (sent by `python -m ops smoke --probe`):
    {"restaurants": ["slug", ...], "rds_ca_bundle": "<PEM text of the RDS CA bundle>"}
`rds_ca_bundle` is optional: without it the probe verifies with the bundle shipped in its own
asset (`runtime.app_connection.SHIPPED_CA_BUNDLE`, the same pinned npm package `ops smoke` sends).
The result: {"environment", "passed", "restaurants": [{"slug", "passed", "steps": [...]}]}

The database step is its own function taking a `connect` callable, so it can be run against a
real PostgreSQL server in tests; `endpoint_url` lets the same code talk to a local emulator.
"""

from __future__ import annotations

import contextlib
import json
import os
import tempfile
import uuid
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

import boto3
from botocore.exceptions import BotoCoreError, ClientError

from runtime import app_connection

REFUSED_CODES = frozenset({"AccessDenied", "AccessDeniedException", "UnauthorizedOperation"})
EXPECTED_PARAMETER_FIELDS = ("host", "port", "database", "user", "auth", "sslmode")


@dataclass(frozen=True)
class ProbeSettings:
    """What the function's environment says (set by constructs/tenant_probe.py)."""

    environment: str
    region: str
    app_task_role_arn: str
    role_arn_template: str
    parameter_name_template: str
    secret_name_template: str
    uploads_bucket: str
    uploads_prefix_template: str

    @classmethod
    def from_environ(cls, environ: Mapping[str, str]) -> ProbeSettings:
        return cls(
            environment=environ["CHEFS_KISS_ENVIRONMENT"],
            region=environ.get("AWS_REGION") or environ["AWS_DEFAULT_REGION"],
            app_task_role_arn=environ["APP_TASK_ROLE_ARN"],
            role_arn_template=environ["TENANT_ROLE_ARN_TEMPLATE"],
            parameter_name_template=environ["TENANT_CONNECTION_PARAMETER_TEMPLATE"],
            secret_name_template=environ["TENANT_DB_SECRET_NAME_TEMPLATE"],
            uploads_bucket=environ["UPLOADS_BUCKET"],
            uploads_prefix_template=environ["TENANT_UPLOADS_PREFIX_TEMPLATE"],
        )


@dataclass
class Step:
    name: str
    passed: bool
    detail: str


@dataclass
class RestaurantReport:
    slug: str
    steps: list[Step] = field(default_factory=list)

    @property
    def passed(self) -> bool:
        return bool(self.steps) and all(step.passed for step in self.steps)

    def as_dict(self) -> dict[str, Any]:
        return {"slug": self.slug, "passed": self.passed, "steps": [asdict(s) for s in self.steps]}


class StepFailed(Exception):
    """A step that must pass did not; the rest of this restaurant's steps are not run."""


Connect = Callable[..., Any]


def database_step(
    connect: Connect,
    *,
    connection: Mapping[str, Any],
    password: str,
    ca_file: str,
    server_side_tls_check: bool = True,
) -> str:
    """Connect as the application user and prove it can use its schema; returns a summary.

    `connect` verifies TLS on the client side (verify-full); the server's own view
    (`pg_stat_ssl`) is checked too. Only the local test server, whose TLS is terminated by a
    front process (tests/postgres_server.py), turns that second check off."""
    conn = connect(
        host=connection["host"],
        port=int(connection["port"]),
        database=connection["database"],
        user=connection["user"],
        password=password,
        ca_file=ca_file,
    )
    table = f"app.probe_{uuid.uuid4().hex[:12]}"
    try:
        [[user, ssl_in_use]] = conn.run(
            "SELECT current_user, (SELECT ssl FROM pg_stat_ssl WHERE pid = pg_backend_pid())"
        )
        if user != connection["user"]:
            raise StepFailed(f"connected as {user!r}, expected {connection['user']!r}")
        if server_side_tls_check and ssl_in_use is not True:
            raise StepFailed("the session is not encrypted (pg_stat_ssl.ssl is not true)")
        conn.run(f"CREATE TABLE {table} (id integer PRIMARY KEY, note text NOT NULL)")
        try:
            conn.run(f"INSERT INTO {table} (id, note) VALUES (1, :note)", note="probe")
            rows = conn.run(f"SELECT id, note FROM {table}")
            if [list(row) for row in rows] != [[1, "probe"]]:
                raise StepFailed(f"read back {rows!r} from {table}")
        finally:
            conn.run(f"DROP TABLE {table}")
    finally:
        conn.close()
    return f"connected as {user} over TLS; created, read and dropped {table}"


def _error_code(error: ClientError) -> str:
    return str(error.response.get("Error", {}).get("Code", ""))


def _expect_refused(name: str, call: Callable[[], object]) -> Step:
    try:
        call()
    except ClientError as error:
        code = _error_code(error)
        if (
            code in REFUSED_CODES
            or error.response.get("ResponseMetadata", {}).get("HTTPStatusCode") == 403
        ):
            return Step(name, True, f"refused ({code or 403})")
        return Step(name, False, f"expected a refusal, got {code}: {error}")
    return Step(name, False, "ALLOWED: the request succeeded; it must be refused")


class Probe:
    """One run over some restaurants; `session` is the probe's own boto3 session."""

    def __init__(
        self,
        settings: ProbeSettings,
        *,
        session: boto3.Session,
        connect: Connect = app_connection.connect,
        ca_file: str | None,
        endpoint_url: str | None = None,
    ) -> None:
        self.settings = settings
        self.session = session
        self.connect = connect
        self.ca_file = ca_file
        self.endpoint_url = endpoint_url
        self.connections: dict[str, dict[str, Any]] = {}

    # AWS clients ---------------------------------------------------------------------------

    def _client(self, service: str, credentials: Mapping[str, str] | None = None) -> Any:
        kwargs: dict[str, Any] = {"region_name": self.settings.region}
        if self.endpoint_url:
            kwargs["endpoint_url"] = self.endpoint_url
        if credentials is not None:
            kwargs["aws_access_key_id"] = credentials["AccessKeyId"]
            kwargs["aws_secret_access_key"] = credentials["SecretAccessKey"]
            kwargs["aws_session_token"] = credentials["SessionToken"]
        return self.session.client(service, **kwargs)

    def _assume(self, credentials: Mapping[str, str] | None, role_arn: str, name: str) -> Any:
        answer = self._client("sts", credentials).assume_role(
            RoleArn=role_arn, RoleSessionName=name, DurationSeconds=900
        )
        return answer["Credentials"]

    # Names -----------------------------------------------------------------------------------

    def role_arn(self, slug: str) -> str:
        return self.settings.role_arn_template.format(slug=slug)

    def parameter_name(self, slug: str) -> str:
        return self.settings.parameter_name_template.format(slug=slug)

    def secret_name(self, slug: str) -> str:
        return self.settings.secret_name_template.format(slug=slug)

    def prefix(self, slug: str) -> str:
        return self.settings.uploads_prefix_template.format(slug=slug)

    # The run ---------------------------------------------------------------------------------

    def run(self, restaurants: Sequence[str]) -> dict[str, Any]:
        reports = [RestaurantReport(slug) for slug in restaurants]
        try:
            app = self._assume(None, self.settings.app_task_role_arn, "chefs-kiss-probe")
        except (ClientError, BotoCoreError) as error:
            for report in reports:
                report.steps.append(Step("assume app task role", False, str(error)))
            return self._result(reports)
        sessions: dict[str, Any] = {}
        for report in reports:
            with contextlib.suppress(StepFailed):  # recorded in the report; go on with the next
                sessions[report.slug] = self._own_path(app, report)
        for index, report in enumerate(reports):
            if report.slug not in sessions:
                continue
            # Another restaurant: the next one in the list (a name that exists in no stack when
            # the environment has only one; IAM refuses before it looks the resource up).
            other = (
                restaurants[(index + 1) % len(restaurants)]
                if len(restaurants) > 1
                else f"{report.slug}-other"
            )
            report.steps.extend(self._refusals(sessions[report.slug], report.slug, other))
        return self._result(reports)

    def _result(self, reports: list[RestaurantReport]) -> dict[str, Any]:
        return {
            "environment": self.settings.environment,
            "passed": bool(reports) and all(r.passed for r in reports),
            "restaurants": [r.as_dict() for r in reports],
        }

    def _step(self, report: RestaurantReport, name: str, action: Callable[[], str]) -> None:
        try:
            detail = action()
        except StepFailed as error:
            report.steps.append(Step(name, False, str(error)))
            raise
        except (ClientError, BotoCoreError, OSError, ValueError, KeyError) as error:
            report.steps.append(Step(name, False, f"{type(error).__name__}: {error}"))
            raise StepFailed(name) from error
        except Exception as error:  # pg8000's errors and anything else the driver raises
            report.steps.append(Step(name, False, f"{type(error).__name__}: {error}"))
            raise StepFailed(name) from error
        report.steps.append(Step(name, True, detail))

    def _own_path(self, app: Mapping[str, str], report: RestaurantReport) -> Any:
        slug = report.slug
        state: dict[str, Any] = {}

        def assume() -> str:
            state["credentials"] = self._assume(app, self.role_arn(slug), f"probe-{slug}")
            identity = self._client("sts", state["credentials"]).get_caller_identity()
            arn = str(identity["Arn"])
            role_name = self.role_arn(slug).rsplit("/", 1)[1]
            if f":assumed-role/{role_name}/" not in arn:
                raise StepFailed(f"the session is {arn}, not the role {role_name}")
            return arn

        def parameter() -> str:
            ssm = self._client("ssm", state["credentials"])
            value = ssm.get_parameter(Name=self.parameter_name(slug))["Parameter"]["Value"]
            connection = json.loads(value)
            missing = [f for f in EXPECTED_PARAMETER_FIELDS if f not in connection]
            if missing:
                raise StepFailed(f"{self.parameter_name(slug)} lacks {missing}")
            if connection["auth"] != "iam" or connection["sslmode"] != "verify-full":
                raise StepFailed(f"{self.parameter_name(slug)}: auth/sslmode {connection}")
            state["connection"] = connection
            self.connections[slug] = connection
            return f"{connection['host']}:{connection['port']}/{connection['database']}"

        def token() -> str:
            state["token"] = self._token(state["credentials"], state["connection"])
            return f"signed for {state['connection']['user']} (15 minutes)"

        def database() -> str:
            if not self.ca_file:
                raise StepFailed("no RDS CA bundle: none in the event and none in the asset")
            return database_step(
                self.connect,
                connection=state["connection"],
                password=state["token"],
                ca_file=self.ca_file,
            )

        def uploads() -> str:
            s3 = self._client("s3", state["credentials"])
            key = f"{self.prefix(slug)}probe/{uuid.uuid4().hex}.txt"
            body = f"chefs-kiss probe {slug}".encode()
            s3.put_object(Bucket=self.settings.uploads_bucket, Key=key, Body=body)
            try:
                read = s3.get_object(Bucket=self.settings.uploads_bucket, Key=key)["Body"].read()
                if read != body:
                    raise StepFailed(
                        f"s3://{self.settings.uploads_bucket}/{key} read back {read!r}"
                    )
            finally:
                s3.delete_object(Bucket=self.settings.uploads_bucket, Key=key)
            return f"put, got and deleted s3://{self.settings.uploads_bucket}/{key}"

        for name, action in (
            ("assume access role", assume),
            ("read connection parameter", parameter),
            ("sign database token", token),
            ("database as app user", database),
            ("own uploads prefix", uploads),
        ):
            self._step(report, name, action)
        return state["credentials"]

    def _token(self, credentials: Mapping[str, str], connection: Mapping[str, Any]) -> str:
        rds = self._client("rds", credentials)
        return str(
            rds.generate_db_auth_token(
                DBHostname=connection["host"],
                Port=int(connection["port"]),
                DBUsername=connection["user"],
                Region=self.settings.region,
            )
        )

    def _refusals(self, credentials: Mapping[str, str], slug: str, other: str) -> list[Step]:
        secrets = self._client("secretsmanager", credentials)
        ssm = self._client("ssm", credentials)
        s3 = self._client("s3", credentials)
        bucket = self.settings.uploads_bucket
        steps = [
            _expect_refused(
                "refused: own master secret",
                lambda: secrets.get_secret_value(SecretId=self.secret_name(slug)),
            ),
            _expect_refused(
                f"refused: {other} master secret",
                lambda: secrets.get_secret_value(SecretId=self.secret_name(other)),
            ),
            _expect_refused(
                f"refused: {other} connection parameter",
                lambda: ssm.get_parameter(Name=self.parameter_name(other)),
            ),
            _expect_refused(
                f"refused: {other} uploads prefix (put)",
                lambda: s3.put_object(
                    Bucket=bucket, Key=f"{self.prefix(other)}probe/{slug}.txt", Body=b"x"
                ),
            ),
            _expect_refused(
                f"refused: {other} uploads prefix (list)",
                lambda: s3.list_objects_v2(Bucket=bucket, Prefix=self.prefix(other)),
            ),
        ]
        steps.append(self._other_database(credentials, slug, other))
        return steps

    def _other_database(self, credentials: Mapping[str, str], slug: str, other: str) -> Step:
        """A token signed by this restaurant's role must not open the other's database: RDS
        checks `rds-db:connect` on the other instance's dbuser when the login arrives."""
        name = f"refused: {other} database user"
        target = self.connections.get(other)
        if target is None:
            return Step(name, True, f"skipped: no connection details of {other} were read")
        if not self.ca_file:
            return Step(name, False, "no RDS CA bundle: none in the event and none in the asset")
        try:
            conn = self.connect(
                host=target["host"],
                port=int(target["port"]),
                database=target["database"],
                user=target["user"],
                password=self._token(credentials, target),
                ca_file=self.ca_file,
            )
        except Exception as error:  # the driver's authentication error is the expected outcome
            return Step(name, True, f"refused ({type(error).__name__}: {error})")
        conn.close()
        return Step(name, False, f"ALLOWED: {slug}'s token opened {other}'s database")


def shipped_ca_bundle() -> str | None:
    """The RDS CA bundle in this function's asset, if it is there (it is, when deployed)."""
    path = app_connection.SHIPPED_CA_BUNDLE
    return path if os.path.isfile(path) else None


def handler(event: Mapping[str, Any], context: object) -> dict[str, Any]:
    """Lambda entry point: `runtime.tenant_probe.handler`."""
    restaurants = list(event.get("restaurants") or [])
    if not restaurants or not all(isinstance(s, str) and s for s in restaurants):
        raise ValueError(
            f"event.restaurants must be a non-empty list of slugs; got {restaurants!r}"
        )
    settings = ProbeSettings.from_environ(os.environ)
    bundle = event.get("rds_ca_bundle")
    with tempfile.TemporaryDirectory() as directory:
        ca_file = shipped_ca_bundle()
        if bundle:
            ca_file = os.path.join(directory, "rds-ca-bundle.pem")
            with open(ca_file, "w", encoding="ascii") as handle:
                handle.write(str(bundle))
        probe = Probe(
            settings,
            session=boto3.Session(),
            ca_file=ca_file,
            endpoint_url=os.environ.get("CHEFS_KISS_PROBE_ENDPOINT_URL") or None,
        )
        return probe.run(restaurants)
