"""`ops smoke`: which URLs it checks and how it decides, against fake servers on 127.0.0.1.

No AWS: a stdlib http.server (plain and TLS, with a throwaway CA made by openssl) stands in for
the load balancer; `--resolve` points the restaurants' DNS names at it, as curl's --resolve does.
"""

from __future__ import annotations

import http.server
import json
import ssl
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest

from config.schema import AlertsConfig, DomainConfig, EnvironmentConfig, Restaurant
from ops.__main__ import main
from ops.deploy.smoke import Check, Response, judge, plan_checks, run_checks

DOMAIN = "app.example.test"


@dataclass
class Behaviour:
    """What the fake load balancer answers, per Host header; records what it was asked."""

    by_host: dict[str, tuple[int, str]] = field(default_factory=dict)
    default: tuple[int, str] = (200, "")
    seen: list[tuple[str, str]] = field(default_factory=list)


def _serve(behaviour: Behaviour, context: ssl.SSLContext | None) -> Iterator[int]:
    class Handler(http.server.BaseHTTPRequestHandler):
        def do_GET(self) -> None:
            host = (self.headers.get("Host") or "").split(":")[0]
            behaviour.seen.append((host, self.path))
            status, location = behaviour.by_host.get(host, behaviour.default)
            self.send_response(status)
            if location:
                self.send_header("Location", location)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: object) -> None:
            pass

    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    if context is not None:
        server.socket = context.wrap_socket(server.socket, server_side=True)
    thread = threading.Thread(target=server.serve_forever, args=(0.05,), daemon=True)
    thread.start()
    try:
        yield server.server_address[1]
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture(scope="module")
def certificate(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """A self-signed certificate for *.app.example.test (the ACM wildcard's shape)."""
    directory = tmp_path_factory.mktemp("tls")
    cert, key = directory / "cert.pem", directory / "key.pem"
    subprocess.run(
        ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
         "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={DOMAIN}",
         "-addext", f"subjectAltName=DNS:{DOMAIN},DNS:*.{DOMAIN}"],
        check=True, capture_output=True,
    )  # fmt: skip
    return cert, key


@pytest.fixture
def http_server() -> Iterator[tuple[Behaviour, int]]:
    behaviour = Behaviour()
    for port in _serve(behaviour, None):
        yield behaviour, port


@pytest.fixture
def https_server(certificate: tuple[Path, Path]) -> Iterator[tuple[Behaviour, int]]:
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(str(certificate[0]), str(certificate[1]))
    behaviour = Behaviour()
    for port in _serve(behaviour, context):
        yield behaviour, port


def _environment(*, domain: bool, slugs: tuple[str, ...] = ("bella", "wok")) -> EnvironmentConfig:
    return EnvironmentConfig(
        name="prod" if domain else "dev",
        profile="production" if domain else "poc",
        region="us-east-1",
        domain=DomainConfig(name=DOMAIN, hosted_zone_id="Z0EXAMPLE") if domain else None,
        alerts=AlertsConfig(critical_emails=("oncall@example.com",) if domain else ()),
        restaurants=tuple(Restaurant(slug=s, tier="production") for s in slugs),
    )


def _write_config(directory: Path, *, domain: bool, health: str = "/health") -> Path:
    profile = "production" if domain else "poc"
    lines = [f"profile: {profile}", "region: us-east-1", f"app:\n  health_check_path: {health}"]
    if domain:
        lines.append(f"domain:\n  name: {DOMAIN}\n  hosted_zone_id: Z0EXAMPLE")
        lines.append("alerts:\n  critical_emails: [oncall@example.com]")
    lines.append("restaurants:")
    lines.append("  - {slug: bella, tier: production}\n  - {slug: wok, tier: poc}")
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{'prod' if domain else 'dev'}.yaml").write_text("\n".join(lines) + "\n")
    return directory


# What is checked -------------------------------------------------------------------------------


def test_without_a_domain_only_the_load_balancer_is_checked() -> None:
    checks = plan_checks(_environment(domain=False), "alb-123.elb.amazonaws.com")
    assert checks == [Check("load balancer", "http://alb-123.elb.amazonaws.com/", "healthy")]


def test_with_a_domain_the_redirect_and_every_restaurant_name_are_checked() -> None:
    checks = plan_checks(_environment(domain=True, slugs=("a1", "b2", "c3")), "alb.example")
    assert [c.url for c in checks] == [
        "http://alb.example/",
        f"https://a1.{DOMAIN}/",
        f"https://b2.{DOMAIN}/",
        f"https://c3.{DOMAIN}/",
    ]
    assert [c.expect for c in checks] == ["https-redirect"] + ["healthy"] * 3


@pytest.mark.parametrize(
    ("expect", "status", "location", "passed"),
    [
        ("healthy", 200, "", True),
        ("healthy", 302, "/login", True),
        ("healthy", 404, "", False),
        ("healthy", 502, "", False),
        ("healthy", 503, "", False),
        ("https-redirect", 301, "https://x.example/", True),
        ("https-redirect", 308, "https://x.example/", True),
        ("https-redirect", 301, "http://x.example/", False),
        ("https-redirect", 200, "", False),
    ],
)
def test_judge(expect: str, status: int, location: str, passed: bool) -> None:
    assert judge(Check("c", "http://x/", expect), Response(status, location))[0] is passed


# Against fake servers -------------------------------------------------------------------------


def test_healthy_environment_without_domain_passes_through_the_cli(
    http_server: tuple[Behaviour, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    behaviour, port = http_server
    config = _write_config(tmp_path / "envs", domain=False)
    outputs = tmp_path / "outputs.json"
    alb = f"127.0.0.1:{port}"
    outputs.write_text(json.dumps({"chefs-kiss-dev-platform": {"LoadBalancerDnsName": alb}}))
    code = main(["smoke", "--env", "dev", "--config-dir", str(config),
                 "--outputs-file", str(outputs), "--json"])  # fmt: skip
    report = json.loads(capsys.readouterr().out)
    assert code == 0 and report["passed"] is True
    assert behaviour.seen == [("127.0.0.1", "/health")]


def test_unhealthy_load_balancer_fails_after_retries(
    http_server: tuple[Behaviour, int], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    behaviour, port = http_server
    behaviour.default = (503, "")
    config = _write_config(tmp_path / "envs", domain=False)
    code = main(["smoke", "--env", "dev", "--config-dir", str(config), "--alb-dns",
                 f"127.0.0.1:{port}", "--attempts", "3", "--delay", "0"])  # fmt: skip
    out = capsys.readouterr().out
    assert code == 1
    assert "FAIL" in out and "503: expected 200-399" in out and "(attempts: 3)" in out
    assert len(behaviour.seen) == 3


def test_a_recovering_target_passes_on_a_later_attempt(http_server: tuple[Behaviour, int]) -> None:
    behaviour, port = http_server
    behaviour.default = (502, "")
    sleeps: list[float] = []

    def heal(seconds: float) -> None:
        sleeps.append(seconds)
        behaviour.default = (200, "")

    [result] = run_checks(
        [Check("lb", f"http://127.0.0.1:{port}/", "healthy")], attempts=4, delay=7, sleep=heal
    )
    assert result.passed and result.attempts == 2 and sleeps == [7]


def test_domain_environment_checks_redirect_and_each_tenant_over_tls(
    http_server: tuple[Behaviour, int],
    https_server: tuple[Behaviour, int],
    certificate: tuple[Path, Path],
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    plain, http_port = http_server
    plain.default = (301, f"https://{DOMAIN}:443/health")
    tls, https_port = https_server
    tls.by_host = {f"wok.{DOMAIN}": (503, "")}
    config = _write_config(tmp_path / "envs", domain=True)
    args = ["smoke", "--env", "prod", "--config-dir", str(config), "--alb-dns",
            f"127.0.0.1:{http_port}", "--attempts", "1", "--ca-file", str(certificate[0]),
            "--resolve", f"bella.{DOMAIN}=127.0.0.1:{https_port}",
            "--resolve", f"wok.{DOMAIN}=127.0.0.1:{https_port}", "--json"]  # fmt: skip
    code = main(args)
    report = json.loads(capsys.readouterr().out)
    verdicts = {c["name"]: c["passed"] for c in report["checks"]}
    assert verdicts == {
        "load balancer (HTTP -> HTTPS)": True,
        "restaurant bella": True,
        "restaurant wok": False,
    }
    assert code == 1
    # The tenant checks reached the server under their own names (Host header and SNI).
    assert sorted(tls.seen) == [(f"bella.{DOMAIN}", "/health"), (f"wok.{DOMAIN}", "/health")]


def test_an_untrusted_certificate_fails_the_tenant_check(
    https_server: tuple[Behaviour, int],
) -> None:
    _, port = https_server
    [result] = run_checks(
        [Check("t", f"https://bella.{DOMAIN}/", "healthy")],
        attempts=1,
        resolve={f"bella.{DOMAIN}": ("127.0.0.1", port)},
    )
    assert not result.passed and "SSL" in result.detail


def test_connection_refused_is_a_failure_not_a_crash() -> None:
    [result] = run_checks([Check("lb", "http://127.0.0.1:1/", "healthy")], attempts=1, timeout=2)
    assert not result.passed and "ConnectionRefused" in result.detail


# Bad input ------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("outputs", "message"),
    [
        (None, "cannot read outputs file"),
        ("not json", "not JSON"),
        (json.dumps({"other-stack": {}}), "no output LoadBalancerDnsName for stack"),
    ],
)
def test_bad_outputs_file_exits_2(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], outputs: str | None, message: str
) -> None:
    config = _write_config(tmp_path / "envs", domain=False)
    path = tmp_path / "outputs.json"
    if outputs is not None:
        path.write_text(outputs)
    code = main(["smoke", "--env", "dev", "--config-dir", str(config), "--outputs-file", str(path)])
    assert code == 2 and message in capsys.readouterr().err


def test_unknown_environment_exits_2(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = _write_config(tmp_path / "envs", domain=False)
    code = main(["smoke", "--env", "staging", "--config-dir", str(config), "--alb-dns", "x"])
    err = capsys.readouterr().err
    assert code == 2 and "no environment file for staging" in err


# --restaurant: the rollout probes one wave's restaurants -----------------------------------------


def test_restaurant_option_limits_the_checks_and_the_probe(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    from ops.deploy.smoke import only_restaurants

    both = _environment(domain=True)
    names = [c.name for c in plan_checks(only_restaurants(both, ["wok"]), "alb.example")]
    assert names == ["load balancer (HTTP -> HTTPS)", "restaurant wok"]

    payloads: list[dict[str, object]] = []

    def invoker(region: str) -> object:
        def invoke(function_name: str, payload: dict[str, object]) -> dict[str, object]:
            payloads.append(payload)
            slugs = list(payload["restaurants"])  # type: ignore[call-overload]
            reports = [{"slug": s, "passed": True, "steps": []} for s in slugs]
            return {"environment": "dev", "passed": True, "restaurants": reports}

        return invoke

    monkeypatch.setattr("ops.deploy.smoke.lambda_invoker", invoker)
    config = _write_config(tmp_path / "envs", domain=False)
    args = ["smoke", "--env", "dev", "--config-dir", str(config), "--probe"]
    assert main([*args, "--restaurant", "wok"]) == 0
    assert [p["restaurants"] for p in payloads] == [["wok"]]
    assert "BEGIN CERTIFICATE" in payloads[0]["rds_ca_bundle"], "the shipped bundle is sent"
    assert "1/1 restaurants passed the probe in dev" in capsys.readouterr().out
    assert main([*args, "--restaurant", "wok", "--restaurant", "nope"]) == 2
    assert "--restaurant nope: not a restaurant of dev (allowed: bella, wok)" in (
        capsys.readouterr().err
    )
    assert len(payloads) == 1, "bad input probes nothing"
