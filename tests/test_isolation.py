"""Least privilege between restaurants, proven from the synthesized IAM policies."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from ops.assembly import read_assembly


def statements(template: dict[str, Any]) -> list[tuple[str, dict[str, Any]]]:
    found = []
    for logical_id, resource in template["Resources"].items():
        if resource["Type"] in {"AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"}:
            for statement in resource["Properties"]["PolicyDocument"]["Statement"]:
                found.append((logical_id, statement))
        if resource["Type"] == "AWS::IAM::Role":
            for policy in resource["Properties"].get("Policies", []):
                for statement in policy["PolicyDocument"]["Statement"]:
                    found.append((logical_id, statement))
    return found


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def text(value: Any) -> str:
    return json.dumps(value, sort_keys=True)


@pytest.fixture(scope="module")
def stacks(example_cdk_out: Path) -> dict[str, Any]:
    return {name: s.template for name, s in read_assembly(example_cdk_out).items()}


def tenant_stacks(stacks: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    found = {}
    for name, template in stacks.items():
        if "-tenant-" in name:
            env = name.split("-")[2]
            slug = name.split("-tenant-")[1]
            found[name] = (env, slug, template)
    return found


def test_no_wildcard_actions_anywhere(stacks: dict[str, Any]) -> None:
    for name, template in stacks.items():
        for logical_id, statement in statements(template):
            if statement["Effect"] != "Allow":
                continue
            for action in as_list(statement["Action"]):
                assert "*" not in action, f"{name}/{logical_id}: {action}"


def test_every_wildcard_resource_is_acknowledged_with_a_reason(stacks: dict[str, Any]) -> None:
    for name, template in stacks.items():
        for logical_id, statement in statements(template):
            wildcard = [r for r in as_list(statement.get("Resource", [])) if "*" in text(r)]
            if not wildcard or statement["Effect"] != "Allow":
                continue
            resource = template["Resources"][logical_id]
            generated = "DefaultPolicy" in logical_id
            acks = resource.get("Metadata", {}).get("cdk_nag", {}).get("rules_to_suppress", [])
            iam5 = [a for a in acks if a["id"].startswith("AwsSolutions-IAM5")]
            # CDK-generated policies carry AWS-required wildcards (e.g. logs:CreateLogStream on
            # a log group's streams) that AwsSolutions already accepts as resource-scoped.
            assert iam5 or generated, f"{name}/{logical_id}: {wildcard} without acknowledgment"


def test_each_tenant_role_reaches_only_its_own_secret_key_and_prefix(
    stacks: dict[str, Any],
) -> None:
    tenants = tenant_stacks(stacks)
    assert len(tenants) >= 4
    for name, (_env, slug, template) in tenants.items():
        policy = [s for lid, s in statements(template) if lid.startswith("AccessPolicy")]
        assert policy, f"{name} has no access policy"
        key_ids = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::KMS::Key"]
        # the secret's ARN, directly or through its target attachment (which returns the ARN)
        secret_ids = [
            k
            for k, r in template["Resources"].items()
            if r["Type"]
            in {"AWS::SecretsManager::Secret", "AWS::SecretsManager::SecretTargetAttachment"}
        ]
        for statement in policy:
            resources = as_list(statement["Resource"])
            for resource in resources:
                rendered = text(resource)
                if "secretsmanager" in text(statement["Action"]):
                    assert resource.get("Ref") in secret_ids, rendered
                if statement["Action"] == "kms:Decrypt" and "secretsmanager" in rendered + text(
                    statement.get("Condition")
                ):
                    assert key_ids[0] in rendered
                if "s3:" in text(statement["Action"]) and "Object" in text(statement["Action"]):
                    assert rendered.endswith(f'/tenants/{slug}/*"]]}}'), rendered
            for _other_env, other_slug, _ in tenants.values():
                if other_slug == slug:
                    continue
                rendered = text(statement)
                assert f"tenants/{other_slug}/" not in rendered, f"{name} reaches {other_slug}"
                assert f"tenants/{other_slug}/" not in text(statement.get("Condition"))


def test_tenant_role_is_assumable_only_by_the_app_task_role(stacks: dict[str, Any]) -> None:
    for _name, (env, slug, template) in tenant_stacks(stacks).items():
        roles = {k: r for k, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Role"}
        access = next(r for k, r in roles.items() if k.startswith("AccessRole"))
        assert access["Properties"]["RoleName"] == f"chefs-kiss-{env}-tenant-{slug}-access"
        trust = access["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        principals = [s["Principal"] for s in trust]
        assert all(set(p) == {"AWS"} for p in principals)
        assert all("AppTaskRole" in text(p) for p in principals), principals


def test_s3_key_grant_is_limited_to_the_tenant_prefix(stacks: dict[str, Any]) -> None:
    for _name, (_env, slug, template) in tenant_stacks(stacks).items():
        policy = [s for lid, s in statements(template) if lid.startswith("AccessPolicy")]
        kms_s3 = [s for s in policy if s.get("Sid") == "UploadsKeyForOwnPrefix"]
        assert len(kms_s3) == 1
        condition = text(kms_s3[0]["Condition"])
        assert "kms:EncryptionContext:aws:s3:arn" in condition
        assert f"/tenants/{slug}/*" in condition
        listing = next(s for s in policy if s.get("Sid") == "ListOwnPrefix")
        assert listing["Condition"] == {"StringLike": {"s3:prefix": [f"tenants/{slug}/*"]}}


def test_app_task_role_has_no_tenant_specific_grant(stacks: dict[str, Any]) -> None:
    """The platform's role grows no statement per restaurant: it scales past 100 tenants."""
    for name, template in stacks.items():
        if not name.endswith("-platform"):
            continue
        for logical_id, statement in statements(template):
            for slug in ("golden-wok", "bella-napoli", "sushi-zen", "taco-loco"):
                assert slug not in text(statement), f"{name}/{logical_id} names {slug}"
