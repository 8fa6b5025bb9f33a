"""Seed 7.3 options (RDS Proxy, CloudFront, ElastiCache) and CloudTrail: off by default, and
clean under every nag pack and cfn-lint when turned on."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from app import build_app, project_context
from config.generated import generated_environment
from config.schema import EnvironmentConfig
from constructs.compliance import DEFAULT_NAG_PACKS, NAG_PACKS, scan_templates

# Its own synthesis (every option on, all packs), built once: one worker, not quick.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("options")]

ALL_ON = {
    "performance": {"cloudfront": True, "session_cache": True},
    "security": {"cloudtrail": True},
}


def with_proxy(environment: EnvironmentConfig) -> EnvironmentConfig:
    data = environment.model_dump()
    data["restaurants"][0]["rds_proxy"] = True
    return EnvironmentConfig.model_validate(data)


@pytest.fixture(scope="module")
def options_out(tmp_path_factory: pytest.TempPathFactory) -> tuple[cdk.App, Path]:
    environments = [
        with_proxy(generated_environment("optprod", 2, profile="production", **ALL_ON)),
        with_proxy(generated_environment("optpoc", 2, profile="poc", domain=True, **ALL_ON)),
    ]
    outdir = tmp_path_factory.mktemp("options")
    app = build_app(
        environments=environments,
        nag_packs=DEFAULT_NAG_PACKS,
        app=cdk.App(context=project_context(), outdir=str(outdir)),
    )
    app.synth()  # raises ValidationFailed on any unacknowledged finding
    return app, outdir


def resources(outdir: Path, stack: str, type_: str) -> list[dict[str, Any]]:
    template = json.loads((outdir / f"{stack}.template.json").read_text())
    return [r for r in template["Resources"].values() if r["Type"] == type_]


@pytest.mark.parametrize("pack", sorted(NAG_PACKS))
def test_every_option_on_is_clean(options_out: tuple[cdk.App, Path], pack: str) -> None:
    report = NAG_PACKS[pack]().validate_scope(options_out[0])
    assert [v.rule_name for v in report.violations] == []


def test_template_scan_of_every_option_on_is_clean(options_out: tuple[cdk.App, Path]) -> None:
    """The four packs over the synthesized templates, CDK-generated resources included."""
    assert scan_templates(options_out[1].glob("*.template.json")) == []


def test_options_on_pass_cfn_lint(options_out: tuple[cdk.App, Path]) -> None:
    templates = sorted(str(p) for p in options_out[1].glob("*.template.json"))
    result = subprocess.run(
        [
            str(Path(sys.executable).parent / "cfn-lint"),
            "--ignore-checks",
            "W3005",
            "--",
            *templates,
        ],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("env", ["optprod", "optpoc"])
def test_rds_proxy_requires_tls_and_admits_only_the_app(
    options_out: tuple[cdk.App, Path], env: str
) -> None:
    outdir = options_out[1]
    proxies = resources(outdir, f"chefs-kiss-{env}-tenant-r0001", "AWS::RDS::DBProxy")
    assert len(proxies) == 1 and proxies[0]["Properties"]["RequireTLS"] is True
    assert not resources(outdir, f"chefs-kiss-{env}-tenant-r0002", "AWS::RDS::DBProxy")


def test_session_cache_is_encrypted_and_redundant_in_production(
    options_out: tuple[cdk.App, Path],
) -> None:
    outdir = options_out[1]
    (prod,) = resources(outdir, "chefs-kiss-optprod-platform", "AWS::ElastiCache::ReplicationGroup")
    props = prod["Properties"]
    assert props["TransitEncryptionEnabled"] and props["AtRestEncryptionEnabled"]
    assert props["NumCacheClusters"] == 2 and props["MultiAZEnabled"] is True
    assert props["Port"] == 6380 and "AuthToken" in props
    (poc,) = resources(outdir, "chefs-kiss-optpoc-platform", "AWS::ElastiCache::ReplicationGroup")
    assert poc["Properties"]["NumCacheClusters"] == 1
    task = resources(outdir, "chefs-kiss-optprod-platform", "AWS::ECS::TaskDefinition")[0]
    names = {s["Name"] for s in task["Properties"]["ContainerDefinitions"][0]["Secrets"]}
    assert {"SESSION_CACHE_ENDPOINT", "SESSION_CACHE_AUTH_TOKEN"} <= names


def test_cloudfront_serves_static_assets_over_tls12(options_out: tuple[cdk.App, Path]) -> None:
    outdir = options_out[1]
    (dist,) = resources(outdir, "chefs-kiss-optprod-platform", "AWS::CloudFront::Distribution")
    config = dist["Properties"]["DistributionConfig"]
    assert config["Aliases"] == ["static.app.chefskiss.example"]
    assert config["ViewerCertificate"]["MinimumProtocolVersion"] == "TLSv1.2_2021"
    assert "WebACLId" in config
    origin = config["Origins"][0]
    assert origin["DomainName"] == "origin.app.chefskiss.example"
    assert origin["CustomOriginConfig"]["OriginProtocolPolicy"] == "https-only"
    acls = resources(outdir, "chefs-kiss-optprod-platform", "AWS::WAFv2::WebACL")
    assert sorted(a["Properties"]["Scope"] for a in acls) == ["CLOUDFRONT", "REGIONAL"]


def test_cloudtrail_trail_when_asked(options_out: tuple[cdk.App, Path]) -> None:
    (trail,) = resources(options_out[1], "chefs-kiss-optprod-platform", "AWS::CloudTrail::Trail")
    props = trail["Properties"]
    assert props["EnableLogFileValidation"] and props["IsMultiRegionTrail"]
    assert "KMSKeyId" in props and "CloudWatchLogsLogGroupArn" in props


def test_options_are_off_by_default(template: Any) -> None:
    for stack in ("chefs-kiss-prod-platform", "chefs-kiss-dev-platform"):
        t = template(stack)
        for type_ in (
            "AWS::CloudFront::Distribution",
            "AWS::ElastiCache::ReplicationGroup",
            "AWS::CloudTrail::Trail",
        ):
            assert not t.find_resources(type_), f"{type_} in {stack}"
    assert not template("chefs-kiss-prod-tenant-golden-wok").find_resources("AWS::RDS::DBProxy")


def test_cloudfront_needs_domain_and_us_east_1() -> None:
    with pytest.raises(ValueError, match=r"performance\.cloudfront: needs a domain"):
        generated_environment("cdn", 1, profile="poc", performance={"cloudfront": True})


def test_cloudtrail_may_use_the_key_for_this_trail_only(options_out: tuple[cdk.App, Path]) -> None:
    from tests.test_security import ACCOUNT, OTHER_ACCOUNT, allowed

    template = json.loads(
        (options_out[1] / "chefs-kiss-optprod-platform.template.json").read_text()
    )
    # The platform key (the log archive has its own, for its bucket only).
    (key_id,) = [
        k
        for k, r in template["Resources"].items()
        if r["Type"] == "AWS::KMS::Key" and k.startswith("PlatformKey")
    ]
    (trail,) = [r for r in template["Resources"].values() if r["Type"] == "AWS::CloudTrail::Trail"]
    name = trail["Properties"]["TrailName"]

    def context(trail_name: str, account: str = ACCOUNT) -> dict[str, str]:
        arn = f"arn:aws:cloudtrail:us-east-1:{account}:trail/{trail_name}"
        return {"aws:SourceArn": arn, "kms:EncryptionContext:aws:cloudtrail:arn": arn}

    service = "cloudtrail.amazonaws.com"
    assert allowed(template, key_id, service, "kms:GenerateDataKey", context(name))
    assert allowed(template, key_id, service, "kms:DescribeKey", context(name))
    assert not allowed(template, key_id, service, "kms:GenerateDataKey", context("other"))
    assert not allowed(
        template, key_id, service, "kms:GenerateDataKey", context(name, OTHER_ACCOUNT)
    )
    assert not allowed(template, key_id, service, "kms:Decrypt", context(name))
