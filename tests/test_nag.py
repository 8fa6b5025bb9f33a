"""cdk-nag: the example app is clean under all four packs, and each control still bites."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_rds as rds

from app import build_app, project_context
from config.generated import generated_environment
from config.schema import EnvironmentConfig
from constructs import IConstruct
from constructs.compliance import MIN_REASON_LENGTH, NAG_PACKS, acknowledge, scan_templates
from stacks.tenant_stack import TenantStack

# Apps of its own (the example built in memory, one-restaurant apps): not in `make test-quick`.
pytestmark = pytest.mark.slow


def violations(scope: IConstruct, pack: str) -> list[str]:
    report = NAG_PACKS[pack]().validate_scope(scope)
    return [
        f"{v.rule_name} @ {r.construct_path}"
        for v in report.violations
        for r in v.violating_resources
    ]


# The in-memory example app is built per worker: one worker runs the four packs over one build.
@pytest.mark.xdist_group("example-app")
@pytest.mark.parametrize("pack", sorted(NAG_PACKS))
def test_example_app_has_no_findings(example_app: cdk.App, pack: str) -> None:
    assert violations(example_app, pack) == []


def small_app(environment: EnvironmentConfig) -> cdk.App:
    return build_app(
        environments=[environment], nag_packs=(), app=cdk.App(context=project_context())
    )


@pytest.fixture(scope="module")
def prod_env() -> EnvironmentConfig:
    return generated_environment("neg", 1, profile="production")


def tenant_stack(app: cdk.App) -> TenantStack:
    return next(s for s in app.node.children if isinstance(s, TenantStack))


def tenant_instance(app: cdk.App) -> rds.CfnDBInstance:
    cfn = tenant_stack(app).database.instance.node.default_child
    assert isinstance(cfn, rds.CfnDBInstance)
    return cfn


def findings_on_tenant(app: cdk.App, pack: str) -> set[str]:
    """The rules the pack reports on the tenant stack (the only stack these tests change: the
    pack runs over that stack alone, not the platform's)."""
    return {f.split(" @ ")[0] for f in violations(tenant_stack(app), pack) if "-tenant-" in f}


def test_production_tenant_forced_single_az_is_reported(prod_env: EnvironmentConfig) -> None:
    app = small_app(prod_env)
    tenant_instance(app).multi_az = False
    assert "AwsSolutions-RDS3" in findings_on_tenant(app, "AwsSolutions")
    assert "HIPAA.Security-RDSMultiAZSupport" in findings_on_tenant(app, "HIPAA.Security")


def test_public_database_is_reported(prod_env: EnvironmentConfig) -> None:
    app = small_app(prod_env)
    tenant_instance(app).publicly_accessible = True
    assert "NIST.800.53.R5-RDSInstancePublicAccess" in findings_on_tenant(app, "NIST.800.53.R5")
    assert "PCI.DSS.321-RDSInstancePublicAccess" in findings_on_tenant(app, "PCI.DSS.321")


def test_unencrypted_database_is_reported(prod_env: EnvironmentConfig) -> None:
    app = small_app(prod_env)
    tenant_instance(app).storage_encrypted = False
    assert "AwsSolutions-RDS2" in findings_on_tenant(app, "AwsSolutions")
    assert "HIPAA.Security-RDSStorageEncrypted" in findings_on_tenant(app, "HIPAA.Security")


def test_database_open_to_the_internet_is_reported(prod_env: EnvironmentConfig) -> None:
    app = small_app(prod_env)
    stack = tenant_stack(app)
    stack.database.security_group.add_ingress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(5433))
    # AwsSolutions catches any port open to the world; the compliance packs only list
    # well-known ports (22, 3389, 3306...), so this control rests on EC23.
    assert "AwsSolutions-EC23" in findings_on_tenant(app, "AwsSolutions")


def test_synth_fails_on_a_finding(prod_env: EnvironmentConfig) -> None:
    """With the packs registered (as app.py does), a finding stops synthesis."""
    # The built-in CloudFormation validation is not what this is about (nag stops synthesis).
    app = cdk.App(context=project_context(), builtin_cloud_formation_validation=False)
    app = build_app(environments=[prod_env], app=app)
    tenant_instance(app).publicly_accessible = True
    with pytest.raises(Exception, match="RDSInstancePublicAccess"):
        app.synth()


def test_acknowledgment_requires_a_specific_reason(prod_env: EnvironmentConfig) -> None:
    app = small_app(prod_env)
    with pytest.raises(ValueError, match="needs a specific reason"):
        acknowledge(app, "AwsSolutions-RDS3", "false positive")


GENERIC = {"ok", "n/a", "suppressed", "false positive", "not needed", "todo"}


def acknowledgments(cdk_out: Path) -> list[tuple[str, str, str, str]]:
    """(template, resource, rule id, reason) of every acknowledgment written to templates."""
    found = []
    for path in sorted(cdk_out.glob("*.template.json")):
        template: dict[str, Any] = json.loads(path.read_text())
        for logical_id, resource in template.get("Resources", {}).items():
            nag = resource.get("Metadata", {}).get("cdk_nag", {})
            for rule in nag.get("rules_to_suppress", []):
                found.append((path.name, logical_id, rule["id"], rule.get("reason", "")))
    return found


def test_every_acknowledgment_has_a_specific_reason(example_cdk_out: Path) -> None:
    found = acknowledgments(example_cdk_out)
    assert found, "the packs write acknowledgments into template metadata"
    for template, logical_id, rule, reason in found:
        where = f"{template}:{logical_id}:{rule}"
        assert len(reason) >= MIN_REASON_LENGTH, where
        assert reason.lower().strip(". ") not in GENERIC, where


def test_acknowledgment_inventory(example_cdk_out: Path) -> None:
    """The full list, printed for reviewers (`pytest -s`); PoC-only ones say so."""
    found = acknowledgments(example_cdk_out)
    rules = {rule for _, _, rule, _ in found}
    poc_only = {
        "AwsSolutions-RDS3",
        "HIPAA.Security-RDSEnhancedMonitoringEnabled",
        "NIST.800.53.R5-ALBWAFEnabled",
        "AwsSolutions-ECS4",
    }
    for template, logical_id, rule, reason in found:
        print(f"{template:48} {logical_id:40} {rule}: {reason}")
        if rule in poc_only and "-dr-tenant-" in template:
            # A standby replica (seed 7.1) is single-AZ by design, and says why.
            assert "standby replica" in reason, f"{rule} on {logical_id} must name the standby"
        elif rule in poc_only:
            assert "PoC" in reason, f"{rule} on {logical_id} must name the PoC trade-off"
            assert "prod-tenant-golden-wok" not in template
    assert "AwsSolutions-RDS3" in rules  # the PoC restaurants
    # production-tier tenants carry no PoC acknowledgment
    prod_tier = [r for t, _, r, _ in found if t.startswith("chefs-kiss-prod-tenant-golden-wok")]
    assert not set(prod_tier) & poc_only


def test_template_scan_of_the_example_app_is_clean(example_cdk_out: Path) -> None:
    """The four packs over the synthesized templates (CfnInclude), not the construct tree:
    every resource, CDK's own providers included, passes or carries its reason in metadata."""
    templates = sorted(example_cdk_out.glob("*.template.json"))
    assert len(templates) > 3
    assert scan_templates(templates) == []


def test_template_scan_reports_what_the_metadata_does_not_explain(
    example_cdk_out: Path, tmp_path: Path
) -> None:
    """Without the acknowledgments in their own metadata, CDK's provider and the VPC fail."""
    source = example_cdk_out / "chefs-kiss-dev-platform.template.json"
    template = json.loads(source.read_text())
    provider = [
        logical_id
        for logical_id, resource in template["Resources"].items()
        if logical_id.startswith("CustomVpcRestrictDefaultSGCustomResourceProvider")
        or resource["Type"] == "AWS::EC2::VPC"
    ]
    assert len(provider) == 3  # role, handler, VPC
    for logical_id in provider:
        template["Resources"][logical_id].get("Metadata", {}).pop("cdk_nag", None)
    stripped = tmp_path / source.name
    stripped.write_text(json.dumps(template))
    rules = {finding.split(" @ ")[0] for finding in scan_templates([stripped])}
    assert {
        "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
        "AWSLambdaBasicExecutionRole]",
        "HIPAA.Security-IAMNoInlinePolicy",
        "NIST.800.53.R5-LambdaInsideVPC",
        "NIST.800.53.R5-LambdaDLQ",
        "HIPAA.Security-LambdaConcurrency",
        "PCI.DSS.321-VPCDefaultSecurityGroupClosed",
    } <= rules


def test_vpc_acknowledgment_names_the_resource_that_closes_the_default_group(
    example_cdk_out: Path,
) -> None:
    for path in example_cdk_out.glob("*-platform.template.json"):
        resources = json.loads(path.read_text())["Resources"]
        (vpc_id,) = [k for k, r in resources.items() if r["Type"] == "AWS::EC2::VPC"]
        (remedy_id,) = [
            k for k, r in resources.items() if r["Type"] == "Custom::VpcRestrictDefaultSG"
        ]
        assert resources[remedy_id]["Properties"]["DefaultSecurityGroupId"] == {
            "Fn::GetAtt": [vpc_id, "DefaultSecurityGroup"]
        }
        reasons = [
            rule["reason"]
            for rule in resources[vpc_id]["Metadata"]["cdk_nag"]["rules_to_suppress"]
            if rule["id"].endswith("VPCDefaultSecurityGroupClosed")
        ]
        assert len(reasons) == 3 and all(remedy_id in reason for reason in reasons), path.name
