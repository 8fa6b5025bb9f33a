"""Least privilege between restaurants, proven from the synthesized IAM policies."""

from __future__ import annotations

import copy
import json
import re
from typing import Any

import pytest

from config.generated import generated_environment
from ops.assembly import read_assembly
from stacks import naming
from tests.conftest import synth_app

# A module fixture builds the example and a small app: once, on one worker (not in test-quick).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("isolation")]


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


@pytest.fixture(scope="module", params=["example", "standby"])
def stacks(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> dict[str, Any]:
    """The example configuration (nag packs on, as `make synth`), and a small environment with
    a warm standby (seed 7.1): every check below also runs over the recovery region's stacks."""
    if request.param == "example":
        assembly = request.getfixturevalue("example_cdk_out")
    else:
        environment = generated_environment(
            "isodr",
            3,
            profile="production",
            tier_mix={"production": 0.67, "poc": 0.33},
            disaster_recovery={"region": "us-west-2", "mode": "warm-standby"},
        )
        assert len(environment.standby_restaurants()) == 2
        from constructs.compliance import DEFAULT_NAG_PACKS

        assembly = tmp_path_factory.mktemp("isolation-dr")
        # Nag packs on for the acknowledgments in the metadata; the built-in validation off
        # (read-only templates: the example assembly runs it on these stack kinds).
        synth_app([environment], outdir=assembly, nag_packs=DEFAULT_NAG_PACKS, cfn_validation=False)
    return {name: s.template for name, s in read_assembly(assembly).items()}


def is_standby(name: str) -> bool:
    """A stack of the recovery region: chefs-kiss-<env>-dr-platform / -dr-tenant-<slug>."""
    return "-dr-" in name


def has_standby(stacks: dict[str, Any], env: str) -> bool:
    return naming.dr_platform_stack_name(env) in stacks


def tenant_stacks(stacks: dict[str, Any]) -> dict[str, tuple[str, str, dict[str, Any]]]:
    """Tenant stacks and standby stacks (`-dr-tenant-`, seed 7.1): each holds one restaurant's
    access role, which must reach that restaurant's resources only."""
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


def test_each_tenant_role_reaches_only_its_own_database_user_parameter_and_prefix(
    stacks: dict[str, Any],
) -> None:
    tenants = tenant_stacks(stacks)
    assert len(tenants) >= 4
    for name, (env, slug, template) in tenants.items():
        policy = [s for lid, s in statements(template) if lid.startswith("AccessPolicy")]
        assert policy, f"{name} has no access policy"
        instances = [
            k for k, r in template["Resources"].items() if r["Type"] == "AWS::RDS::DBInstance"
        ]
        for statement in policy:
            actions = as_list(statement["Action"])
            rendered = text(statement["Resource"])
            # IAM authentication: the application user of this restaurant's own instance only.
            if "rds-db:connect" in actions:
                assert actions == ["rds-db:connect"]
                assert f'"{instances[0]}", "DbiResourceId"' in rendered, rendered
                assert rendered.endswith(
                    ':dbuser:", {"Fn::GetAtt": ["'
                    + instances[0]
                    + '", "DbiResourceId"]}, "/chefs_app"]]}'
                ), rendered
            if "ssm:GetParameter" in actions:
                assert f":parameter/chefs-kiss-{env}/tenants/{slug}/connection" in rendered
            if "s3:" in text(actions) and "Object" in text(actions):
                assert rendered.endswith(f'/tenants/{slug}/*"]]}}'), rendered
            for _other_env, other_slug, _ in tenants.values():
                if other_slug == slug:
                    continue
                assert f"tenants/{other_slug}/" not in text(statement), (
                    f"{name} reaches {other_slug}"
                )


def test_no_app_policy_grants_a_master_secret_or_a_tenant_key(stacks: dict[str, Any]) -> None:
    """The app never holds the master credentials (IAM database authentication instead)."""
    for name, (_env, _slug, template) in tenant_stacks(stacks).items():
        keys = [k for k, r in template["Resources"].items() if r["Type"] == "AWS::KMS::Key"]
        for logical_id, statement in statements(template):
            if not logical_id.startswith("AccessPolicy"):
                continue
            assert "secretsmanager" not in text(statement), f"{name}: {statement}"
            assert not any(key in text(statement) for key in keys), f"{name}: {statement}"
    for name, template in stacks.items():
        if name.endswith("-platform"):
            for logical_id, statement in statements(template):
                if "secretsmanager" in text(statement.get("Action")):
                    assert "/tenants/" not in text(statement), f"{name}/{logical_id}"


def test_master_secret_denies_every_app_role(stacks: dict[str, Any]) -> None:
    """Each master secret denies the app's roles by name; with a standby, the recovery region's
    roles too (IAM is global). A standby holds no secret at all: its users and their passwords
    arrive by replication."""
    for name, (env, _slug, template) in tenant_stacks(stacks).items():
        types = {r["Type"] for r in template["Resources"].values()}
        if is_standby(name):
            assert not types & {
                "AWS::SecretsManager::Secret",
                "AWS::SecretsManager::ResourcePolicy",
            }
            continue
        policies = [
            r["Properties"]["ResourcePolicy"]
            for r in template["Resources"].values()
            if r["Type"] == "AWS::SecretsManager::ResourcePolicy"
        ]
        [deny] = [s for p in policies for s in p["Statement"] if s.get("Sid") == "NeverTheApp"]
        assert deny["Effect"] == "Deny" and deny["Action"] == "secretsmanager:*"
        principals = text(deny["Condition"]["ArnLike"]["aws:PrincipalArn"])
        sides = (False, True) if has_standby(stacks, env) else (False,)
        for standby in sides:
            for role in (
                naming.app_task_role_name(env, standby=standby),
                naming.app_probe_role_name(env, standby=standby),
                naming.tenant_role_name(env, "*", standby=standby),
            ):
                assert f":role/{role}" in principals, (name, principals)


def test_tenant_role_is_assumable_only_by_the_app_task_role(stacks: dict[str, Any]) -> None:
    """...of its own region: a standby's role trusts the standby platform's task role only."""
    for name, (env, slug, template) in tenant_stacks(stacks).items():
        roles = {k: r for k, r in template["Resources"].items() if r["Type"] == "AWS::IAM::Role"}
        access = next(r for k, r in roles.items() if k.startswith("AccessRole"))
        expected = naming.tenant_role_name(env, slug, standby=is_standby(name))
        assert access["Properties"]["RoleName"] == expected
        trust = access["Properties"]["AssumeRolePolicyDocument"]["Statement"]
        principals = [s["Principal"] for s in trust]
        assert all(set(p) == {"AWS"} for p in principals)
        assert all("AppTaskRole" in text(p) for p in principals), principals
        platform = naming.dr_platform_stack_name(env) if is_standby(name) else None
        for principal in principals:
            imported = text(principal)
            if platform is not None:
                assert f"{platform}:" in imported, (name, imported)
            else:
                assert "-dr-platform:" not in imported, (name, imported)


def test_each_region_assumes_only_its_own_access_roles(stacks: dict[str, Any]) -> None:
    """The task role's one assume statement names its own region's access roles (by prefix)."""
    for name, template in stacks.items():
        if not name.endswith("-platform"):
            continue
        env = name.split("-")[2]
        pattern = naming.tenant_role_name(env, "*", standby=is_standby(name))
        assumes = [
            s for _, s in statements(template) if "sts:AssumeRole" in as_list(s.get("Action"))
            and "tenant" in text(s.get("Resource"))
        ]  # fmt: skip
        assert assumes, name
        for statement in assumes:
            assert f":role/{pattern}" in text(statement["Resource"]), (name, statement)


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
    slugs = {slug for _env, slug, _ in tenant_stacks(stacks).values()}
    assert len(slugs) >= 3
    for name, template in stacks.items():
        if not name.endswith("-platform"):
            continue
        for logical_id, statement in statements(template):
            for slug in slugs:
                assert slug not in text(statement), f"{name}/{logical_id} names {slug}"


# Region-less service conditions: a condition that can never match denies silently. ------------

SERVICE_ENDPOINT_KEYS = frozenset({"kms:viaservice"})
REGIONLESS_ENDPOINT = re.compile(r"^[a-z0-9-]+\.amazonaws\.com(\.cn)?$")
# A region named literally (S3 replication: the source region's endpoint for decrypting, the
# recovery region's for encrypting the replicas).
LITERAL_REGION = re.compile(r"\.[a-z]{2}(-gov|-iso[a-z]?)?-[a-z]+-\d\.")


def conditions(node: Any, path: str = "") -> list[tuple[str, str, str, Any]]:
    """(path, operator, key, value) of every statement condition anywhere in a template:
    IAM policies, trust policies, key policies, bucket and secret resource policies."""
    found = []
    if isinstance(node, dict):
        for key, value in node.items():
            if key == "Condition" and isinstance(value, dict):
                for operator, pairs in value.items():
                    if isinstance(pairs, dict):
                        for name, expected in pairs.items():
                            found.append((path, operator, name, expected))
            else:
                found.extend(conditions(value, f"{path}/{key}"))
    elif isinstance(node, list):
        for index, item in enumerate(node):
            found.extend(conditions(item, f"{path}/{index}"))
    return found


def regionless_service_conditions(template: dict[str, Any]) -> list[str]:
    problems = []
    for path, operator, key, expected in conditions(template.get("Resources", {})):
        if key.lower() not in SERVICE_ENDPOINT_KEYS:
            continue
        for value in as_list(expected):
            if isinstance(value, str) and REGIONLESS_ENDPOINT.match(value):
                problems.append(f"{path}: {operator} {key} = {value}")
            elif (
                not isinstance(value, str)
                and "AWS::Region" not in text(value)
                and not LITERAL_REGION.search(text(value))
            ):
                problems.append(f"{path}: {operator} {key} = {text(value)} (no region)")
    return problems


def test_no_template_holds_a_regionless_service_condition(stacks: dict[str, Any]) -> None:
    assert len(stacks) >= 5
    scanned = sum(len(conditions(t.get("Resources", {}))) for t in stacks.values())
    assert scanned > 0
    for name, template in stacks.items():
        assert regionless_service_conditions(template) == [], name


def test_the_scan_catches_todays_statement(stacks: dict[str, Any]) -> None:
    """The statement this issue fixes, put back into a synthesized template, is reported."""
    name = next(n for n in stacks if "-tenant-" in n)
    template = copy.deepcopy(stacks[name])
    policy = next(r for k, r in template["Resources"].items() if k.startswith("AccessPolicy"))
    policy["Properties"]["PolicyDocument"]["Statement"].append(
        {
            "Sid": "DecryptOwnSecret",
            "Effect": "Allow",
            "Action": "kms:Decrypt",
            "Resource": "*",
            "Condition": {"StringEquals": {"kms:ViaService": "secretsmanager.amazonaws.com"}},
        }
    )
    [problem] = regionless_service_conditions(template)
    assert "secretsmanager.amazonaws.com" in problem


def test_the_scan_takes_a_literal_region_and_still_catches_a_join_without_one() -> None:
    def template(value: Any) -> dict[str, Any]:
        condition = {"StringEquals": {"kms:ViaService": value}}
        return {"Resources": {"P": {"Properties": {"Statement": [{"Condition": condition}]}}}}

    regional = {"Fn::Join": ["", ["s3.us-west-2.", {"Ref": "AWS::URLSuffix"}]]}
    assert regionless_service_conditions(template(regional)) == []
    regionless = {"Fn::Join": ["", ["s3.", {"Ref": "AWS::URLSuffix"}]]}
    [problem] = regionless_service_conditions(template(regionless))
    assert "(no region)" in problem
