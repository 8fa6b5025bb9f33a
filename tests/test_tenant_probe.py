"""The post-deploy probe's AWS side, run against a moto server on 127.0.0.1.

The probe code is the code the Lambda function runs (`runtime/tenant_probe.py`), with the
endpoint URL pointed at moto and its settings taken from the synthesized probe function's
environment. moto emulates STS, SSM, Secrets Manager and S3 but not IAM's decisions (its IAM
enforcement ignores resource ARNs for SSM and Secrets Manager), so:

- run as is, moto lets every request through, and the probe must report the cross-tenant
  requests as leaks (that is what it is for);
- with `refuse_like_iam` registered on the probe's boto3 session, the requests that
  tests/test_access_evaluation.py proves IAM denies are answered AccessDenied, and every step
  must pass.

The database step gets a recording fake connection (`FakeDatabase`): it accepts a login only
with an IAM token signed by the restaurant's own access-role session, and records the SQL. The
same step against a real PostgreSQL server is tested with the bootstrap's fixture.
"""

from __future__ import annotations

import json
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import boto3
import pytest
from aws_cdk import cx_api
from boto_sessions import session as shared_loader_session
from botocore.awsrequest import AWSResponse
from moto.sts.models import sts_backends

from ops.__main__ import main
from runtime import tenant_probe
from runtime.tenant_probe import Probe, ProbeSettings
from tests.test_access_evaluation import Exports, Resolver

MOTO_ACCOUNT = "123456789012"
REGION = "us-east-1"
SLUGS = ("bella", "wok", "taco")
PEM = "-----BEGIN CERTIFICATE-----\nMIIBfake\n-----END CERTIFICATE-----\n"


@pytest.fixture(scope="module")
def moto_url(moto_endpoint: str) -> str:
    return moto_endpoint


@pytest.fixture(autouse=True)
def fake_credentials(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    for name, value in {
        "AWS_ACCESS_KEY_ID": "AKIAPROBETESTING0001",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_CONFIG_FILE": str(tmp_path / "none"),
        "AWS_SHARED_CREDENTIALS_FILE": str(tmp_path / "none"),
    }.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_SESSION_TOKEN", raising=False)
    monkeypatch.delenv("AWS_PROFILE", raising=False)


@pytest.fixture(scope="module")
def probe_environment(example_assembly: cx_api.CloudAssembly) -> dict[str, str]:
    """The probe function's environment variables as the dev platform stack sets them."""
    stack = example_assembly.get_stack_by_name("chefs-kiss-dev-platform")
    resolver = Resolver(stack.stack_name, stack.template, REGION, Exports(), MOTO_ACCOUNT)
    [function] = [
        r
        for k, r in stack.template["Resources"].items()
        if r["Type"] == "AWS::Lambda::Function" and k.startswith("ProbeFunction")
    ]
    assert function["Properties"]["Handler"] == "runtime.tenant_probe.handler"
    variables = resolver.resolve(function["Properties"]["Environment"]["Variables"])
    return {str(k): str(v) for k, v in variables.items()}


@pytest.fixture
def settings(probe_environment: dict[str, str]) -> ProbeSettings:
    return ProbeSettings.from_environ({**probe_environment, "AWS_REGION": REGION})


def host_of(slug: str) -> str:
    return f"chefs-kiss-dev-{slug}.abcdefghijkl.{REGION}.rds.amazonaws.com"


@pytest.fixture
def world(moto_url: str, settings: ProbeSettings) -> dict[str, Any]:
    """A fresh moto: each restaurant's connection parameter, master secret, and the bucket."""
    urllib.request.urlopen(urllib.request.Request(f"{moto_url}/moto-api/reset", method="POST"))
    session = shared_loader_session()
    ssm = session.client("ssm", endpoint_url=moto_url)
    secrets = session.client("secretsmanager", endpoint_url=moto_url)
    s3 = session.client("s3", endpoint_url=moto_url)
    s3.create_bucket(Bucket=settings.uploads_bucket)
    for slug in SLUGS:
        connection = {
            "host": host_of(slug),
            "port": 5433,
            "database": "chefs_kiss",
            "user": "chefs_app",
            "auth": "iam",
            "sslmode": "verify-full",
            "role_arn": settings.role_arn_template.format(slug=slug),
            "region": REGION,
        }
        ssm.put_parameter(
            Name=settings.parameter_name_template.format(slug=slug),
            Value=json.dumps(connection),
            Type="String",
        )
        secrets.create_secret(
            Name=settings.secret_name_template.format(slug=slug),
            SecretString=json.dumps({"username": "chefs_admin", "password": "master"}),
        )
    return {"s3": s3, "ssm": ssm}


def role_of(access_key: str) -> str:
    """Which role a moto-issued session belongs to (moto's STS backend, in this process)."""
    assumed = sts_backends[MOTO_ACCOUNT]["aws"].get_assumed_role_from_access_key(access_key)
    return assumed.role_arn.rsplit("/", 1)[1] if assumed else f"base:{access_key}"


def tenant_of(role_name: str) -> str | None:
    if role_name.startswith("chefs-kiss-dev-tenant-") and role_name.endswith("-access"):
        return role_name.removeprefix("chefs-kiss-dev-tenant-").removesuffix("-access")
    return None


@dataclass
class IamStandIn:
    """Answers AccessDenied where IAM does (as proven in test_access_evaluation.py) and records
    which identity made each AssumeRole call."""

    settings: ProbeSettings
    assume_calls: list[tuple[str, str]] = field(default_factory=list)  # (caller role, target)

    def register(self, session: boto3.Session, *, refuse: bool) -> None:
        # botocore hands the API parameters to before-parameter-build; keep them for before-call
        session.events.register("before-parameter-build", self.keep_params)
        session.events.register("before-call" if refuse else "before-call.sts.AssumeRole", self)

    @staticmethod
    def keep_params(params: dict[str, Any], context: dict[str, Any], **_: Any) -> None:
        context["api_params"] = dict(params)

    def __call__(self, model: Any, request_signer: Any, context: dict[str, Any], **_: Any) -> Any:
        params = context["api_params"]
        caller = role_of(request_signer._credentials.get_frozen_credentials().access_key)
        tenant = tenant_of(caller)
        operation = f"{model.service_model.service_name}:{model.name}"
        if operation == "sts:AssumeRole":
            self.assume_calls.append((caller, params["RoleArn"].rsplit("/", 1)[1]))
        if tenant is None:
            return None
        own_prefix = self.settings.uploads_prefix_template.format(slug=tenant)
        denied = (
            operation == "secretsmanager:GetSecretValue"  # the master secret's resource policy
            or (
                operation == "ssm:GetParameter"
                and params["Name"] != self.settings.parameter_name_template.format(slug=tenant)
            )
            or (
                operation.startswith("s3:")
                and not str(params.get("Key", params.get("Prefix", ""))).startswith(own_prefix)
            )
        )
        if not denied:
            return None
        code = "AccessDenied" if operation.startswith("s3:") else "AccessDeniedException"
        response = AWSResponse("https://stand-in", 403, {}, None)
        return response, {
            "Error": {"Code": code, "Message": f"{caller} may not {operation}"},
            "ResponseMetadata": {"HTTPStatusCode": 403},
        }


class FakeConnection:
    def __init__(self, database: FakeDatabase, user: str) -> None:
        self.database = database
        self.user = user
        self.tables: dict[str, list[tuple[int, str]]] = {}
        self.closed = False

    def run(self, sql: str, **params: Any) -> list[list[Any]]:
        self.database.statements.append(sql)
        words = sql.split()
        if sql.startswith("SELECT current_user"):
            return [[self.user, True]]
        if words[:2] == ["CREATE", "TABLE"]:
            assert words[2].startswith("app."), sql  # the app schema, not public
            self.tables[words[2]] = []
        elif words[:2] == ["INSERT", "INTO"]:
            self.tables[words[2]].append((1, params["note"]))
        elif words[0] == "SELECT":
            return [list(row) for row in self.tables[words[words.index("FROM") + 1]]]
        elif words[:2] == ["DROP", "TABLE"]:
            del self.tables[words[2]]
        return []

    def close(self) -> None:
        self.closed = True


@dataclass
class FakeDatabase:
    """A recording stand-in for `runtime.app_connection.connect` to every restaurant's RDS: a
    login succeeds only with a token signed by that restaurant's own access-role session."""

    logins: list[tuple[str, str, str]] = field(default_factory=list)  # (host, signer role, result)
    statements: list[str] = field(default_factory=list)
    connections: list[FakeConnection] = field(default_factory=list)

    def connect(self, **kwargs: Any) -> FakeConnection:
        assert Path(kwargs["ca_file"]).read_text().startswith("-----BEGIN CERTIFICATE-----")
        token = urlsplit("https://" + kwargs["password"])
        query = parse_qs(token.query)
        assert token.hostname == kwargs["host"] and query["Action"] == ["connect"]
        assert query["DBUser"] == [kwargs["user"]] == ["chefs_app"]
        signer = role_of(query["X-Amz-Credential"][0].split("/")[0])
        slug = kwargs["host"].split(".")[0].removeprefix("chefs-kiss-dev-")
        if tenant_of(signer) != slug:
            self.logins.append((kwargs["host"], signer, "refused"))
            raise PermissionError(f'PAM authentication failed for user "{kwargs["user"]}"')
        self.logins.append((kwargs["host"], signer, "ok"))
        connection = FakeConnection(self, kwargs["user"])
        self.connections.append(connection)
        return connection


def make_probe(
    settings: ProbeSettings, moto_url: str, database: FakeDatabase, ca_file: Path, iam: bool
) -> tuple[Probe, IamStandIn]:
    session = shared_loader_session()
    stand_in = IamStandIn(settings)
    stand_in.register(session, refuse=iam)  # without refusals it only records AssumeRole calls
    probe = Probe(
        settings,
        session=session,
        connect=database.connect,
        ca_file=str(ca_file),
        endpoint_url=moto_url,
    )
    return probe, stand_in


@pytest.fixture
def ca_file(tmp_path: Path) -> Path:
    path = tmp_path / "rds-ca.pem"
    path.write_text(PEM)
    return path


def test_every_step_passes_when_the_platform_refuses_what_it_must(
    world: dict[str, Any], settings: ProbeSettings, moto_url: str, ca_file: Path
) -> None:
    database = FakeDatabase()
    probe, iam = make_probe(settings, moto_url, database, ca_file, iam=True)
    report = probe.run(list(SLUGS))
    failed = [(r["slug"], s) for r in report["restaurants"] for s in r["steps"] if not s["passed"]]
    assert failed == []
    assert report["passed"] is True and [r["slug"] for r in report["restaurants"]] == list(SLUGS)
    steps = [s["name"] for s in report["restaurants"][0]["steps"]]
    assert steps == [
        "assume access role",
        "read connection parameter",
        "sign database token",
        "database as app user",
        "own uploads prefix",
        "refused: own master secret",
        "refused: wok master secret",
        "refused: wok connection parameter",
        "refused: wok uploads prefix (put)",
        "refused: wok uploads prefix (list)",
        "refused: wok database user",
    ]
    # The app's chain: probe -> app task role -> each access role, never a shortcut.
    task = settings.app_task_role_arn.rsplit("/", 1)[1]
    assert iam.assume_calls[0] == (role_of("AKIAPROBETESTING0001"), task)
    assert sorted(iam.assume_calls[1:]) == sorted(
        (task, f"chefs-kiss-dev-tenant-{slug}-access") for slug in SLUGS
    )
    # Each database was opened once by its own restaurant, and refused to the next one.
    assert sorted(database.logins) == sorted(
        [(host_of(s), f"chefs-kiss-dev-tenant-{s}-access", "ok") for s in SLUGS]
        + [
            (host_of(SLUGS[(i + 1) % 3]), f"chefs-kiss-dev-tenant-{s}-access", "refused")
            for i, s in enumerate(SLUGS)
        ]
    )
    assert all(c.closed and c.tables == {} for c in database.connections)
    creates = [s for s in database.statements if s.startswith("CREATE TABLE app.probe_")]
    assert len(creates) == 3
    # The objects the probe wrote are gone again.
    assert "Contents" not in world["s3"].list_objects_v2(Bucket=settings.uploads_bucket)


def test_a_cross_tenant_leak_fails_the_probe(
    world: dict[str, Any], settings: ProbeSettings, moto_url: str, ca_file: Path
) -> None:
    """moto alone grants everything: exactly the refusal steps must fail, naming the leak."""
    probe, _ = make_probe(settings, moto_url, FakeDatabase(), ca_file, iam=False)
    report = probe.run(list(SLUGS))
    assert report["passed"] is False
    for restaurant in report["restaurants"]:
        failed = {s["name"] for s in restaurant["steps"] if not s["passed"]}
        other = SLUGS[(SLUGS.index(restaurant["slug"]) + 1) % 3]
        assert failed == {
            "refused: own master secret",
            f"refused: {other} master secret",
            f"refused: {other} connection parameter",
            f"refused: {other} uploads prefix (put)",
            f"refused: {other} uploads prefix (list)",
        }
        leak = next(s for s in restaurant["steps"] if s["name"] == "refused: own master secret")
        assert leak["detail"].startswith("ALLOWED")


def test_a_missing_parameter_stops_that_restaurant_only(
    world: dict[str, Any], settings: ProbeSettings, moto_url: str, ca_file: Path
) -> None:
    world["ssm"].delete_parameter(Name=settings.parameter_name_template.format(slug="wok"))
    probe, _ = make_probe(settings, moto_url, FakeDatabase(), ca_file, iam=True)
    report = probe.run(list(SLUGS))
    by_slug = {r["slug"]: r for r in report["restaurants"]}
    assert by_slug["bella"]["passed"] and by_slug["taco"]["passed"]
    wok = by_slug["wok"]
    assert not wok["passed"]
    assert [s["name"] for s in wok["steps"]] == ["assume access role", "read connection parameter"]
    assert "ParameterNotFound" in wok["steps"][-1]["detail"]
    # bella's next restaurant is wok, whose details were never read: that check says so.
    other_db = next(
        s for s in by_slug["bella"]["steps"] if s["name"] == "refused: wok database user"
    )
    assert other_db["detail"].startswith("skipped")


def test_without_a_ca_bundle_the_database_step_fails(
    world: dict[str, Any], settings: ProbeSettings, moto_url: str, ca_file: Path
) -> None:
    probe, _ = make_probe(settings, moto_url, FakeDatabase(), ca_file, iam=True)
    probe.ca_file = None
    report = probe.run(["bella"])
    [bella] = report["restaurants"]
    assert not bella["passed"]
    assert bella["steps"][-1]["name"] == "database as app user"
    assert "no RDS CA bundle" in bella["steps"][-1]["detail"]


def test_the_lambda_handler_reads_its_settings_and_refuses_a_bad_event(
    world: dict[str, Any],
    probe_environment: dict[str, str],
    moto_url: str,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    for name, value in probe_environment.items():
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_REGION", REGION)
    monkeypatch.setenv("CHEFS_KISS_PROBE_ENDPOINT_URL", moto_url)
    with pytest.raises(ValueError, match=r"event\.restaurants"):
        tenant_probe.handler({"restaurants": []}, None)
    # A real run up to the database: the made-up RDS host name does not resolve there.
    report = tenant_probe.handler({"restaurants": ["bella"], "rds_ca_bundle": PEM}, None)
    [bella] = report["restaurants"]
    assert [s["passed"] for s in bella["steps"]] == [True, True, True, False]
    assert bella["steps"][-1]["name"] == "database as app user"


# ops smoke --probe -------------------------------------------------------------------------


def write_config(directory: Path) -> Path:
    directory.mkdir()
    restaurants = "\n".join(f"  - {{slug: {s}, tier: poc}}" for s in SLUGS)
    (directory / "dev.yaml").write_text(
        f"profile: poc\nregion: {REGION}\nrestaurants:\n{restaurants}\n"
    )
    return directory


def test_ops_smoke_probe_prints_a_line_per_restaurant(
    world: dict[str, Any],
    settings: ProbeSettings,
    moto_url: str,
    ca_file: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    invoked: list[tuple[str, dict[str, Any]]] = []
    database = FakeDatabase()

    def invoker(region: str) -> Any:
        assert region == REGION

        def invoke(function_name: str, payload: dict[str, Any]) -> dict[str, Any]:
            invoked.append((function_name, payload))
            ca = tmp_path / "payload-ca.pem"
            ca.write_text(payload["rds_ca_bundle"])
            probe, _ = make_probe(settings, moto_url, database, ca, iam=True)
            return probe.run(payload["restaurants"])

        return invoke

    monkeypatch.setattr("ops.deploy.smoke.lambda_invoker", invoker)
    config = write_config(tmp_path / "envs")
    args = ["smoke", "--env", "dev", "--config-dir", str(config), "--probe",
            "--rds-ca-bundle", str(ca_file)]  # fmt: skip
    assert main(args) == 0
    out = capsys.readouterr().out.splitlines()
    assert [line.split()[:3] for line in out[:3]] == [["PASS", "probe", s] for s in SLUGS]
    assert out[3] == "3/3 restaurants passed the probe in dev"
    assert invoked == [
        ("chefs-kiss-dev-app-probe", {"restaurants": list(SLUGS), "rds_ca_bundle": PEM})
    ]

    # One failed step fails the command, and the line says which.
    world["s3"].delete_bucket(Bucket=settings.uploads_bucket)
    assert main([*args, "--json"]) == 1
    report = json.loads(capsys.readouterr().out)
    assert report["passed"] is False
    assert all(not r["passed"] for r in report["probe"]["restaurants"])
    assert main(args) == 1
    out = capsys.readouterr().out.splitlines()
    assert out[0].startswith("FAIL  probe bella") and "own uploads prefix: " in out[0]


def test_ops_smoke_probe_input_errors(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = write_config(tmp_path / "envs")
    bad = tmp_path / "not-a-bundle.pem"
    bad.write_text("hello")
    code = main(["smoke", "--env", "dev", "--config-dir", str(config), "--probe",
                 "--rds-ca-bundle", str(bad)])  # fmt: skip
    assert code == 2 and "no PEM certificate" in capsys.readouterr().err
    code = main(["smoke", "--env", "dev", "--config-dir", str(config)])
    assert code == 2 and "--outputs-file" in capsys.readouterr().err
