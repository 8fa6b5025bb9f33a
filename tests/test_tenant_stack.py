"""Tenant stacks of both tiers: snapshots, per-requirement assertions, pinned logical ids."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import pytest
from aws_cdk import assertions
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

TemplateFn = Callable[[str], assertions.Template]
POC = "chefs-kiss-dev-tenant-bella-napoli"
PROD = "chefs-kiss-prod-tenant-golden-wok"
LARGE = "chefs-kiss-prod-tenant-le-petit-bistro"
POC_IN_PROD = "chefs-kiss-prod-tenant-sushi-zen"


def only(template: assertions.Template, type_: str) -> tuple[str, dict[str, Any]]:
    found = template.find_resources(type_)
    assert len(found) == 1, f"expected one {type_}, found {sorted(found)}"
    return next(iter(found.items()))


def instance(template: assertions.Template) -> dict[str, Any]:
    return only(template, "AWS::RDS::DBInstance")[1]


def snapshot_body(template: assertions.Template) -> dict[str, Any]:
    body = template.to_json()
    body.get("Resources", {}).pop("CDKMetadata", None)
    return body


@pytest.mark.parametrize("stack", [POC, PROD], ids=["poc-tier", "production-tier"])
def test_tenant_snapshot(template: TemplateFn, snapshot: SnapshotAssertion, stack: str) -> None:
    assert snapshot_body(template(stack)) == snapshot.use_extension(JSONSnapshotExtension)


@pytest.mark.parametrize(
    ("stack", "multi_az", "instance_class", "backups"),
    [
        (POC, False, "db.t4g.micro", 1),
        (POC_IN_PROD, False, "db.t4g.micro", 7),  # a production environment keeps a week
        (PROD, True, "db.t4g.small", 7),
        (LARGE, True, "db.t4g.medium", 7),
    ],
)
def test_tier_drives_availability_size_and_backups(
    template: TemplateFn, stack: str, multi_az: bool, instance_class: str, backups: int
) -> None:
    props = instance(template(stack))["Properties"]
    assert props["MultiAZ"] is multi_az
    assert props["DBInstanceClass"] == instance_class
    assert props["BackupRetentionPeriod"] == backups


@pytest.mark.parametrize("stack", [POC, PROD])
def test_database_is_private_encrypted_postgres_on_gp3(template: TemplateFn, stack: str) -> None:
    t = template(stack)
    props = instance(t)["Properties"]
    assert props["Engine"] == "postgres"
    assert props["EngineVersion"] == "18"
    assert props["StorageType"] == "gp3"
    assert props["StorageEncrypted"] is True
    key_id, key = only(t, "AWS::KMS::Key")
    assert props["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}
    assert key["Properties"]["EnableKeyRotation"] is True
    assert key["DeletionPolicy"] == "Retain", "final snapshots need the key"
    assert props["PubliclyAccessible"] is False
    assert "Fn::ImportValue" in props["DBSubnetGroupName"], "the platform's shared subnet group"
    assert not t.find_resources("AWS::RDS::DBSubnetGroup"), "no subnet group per tenant"


@pytest.mark.parametrize(
    ("stack", "group"),
    [
        (POC, "chefs-kiss-dev-postgres18-db-t4g-micro"),
        (PROD, "chefs-kiss-prod-postgres18-db-t4g-small"),
        (LARGE, "chefs-kiss-prod-postgres18-db-t4g-medium"),
    ],
)
def test_tls_is_forced(template: TemplateFn, stack: str, group: str) -> None:
    """Each database uses its environment's shared group for its class (no group per tenant:
    RDS allows 50 per region), and every such group requires TLS."""
    assert instance(template(stack))["Properties"]["DBParameterGroupName"] == group
    assert not template(stack).find_resources("AWS::RDS::DBParameterGroup")
    env = stack.split("-")[2]
    groups = template(f"chefs-kiss-{env}-platform").find_resources("AWS::RDS::DBParameterGroup")
    by_name = {g["Properties"]["DBParameterGroupName"]: g["Properties"] for g in groups.values()}
    assert len(by_name) == 3
    assert by_name[group]["Parameters"]["rds.force_ssl"] == "1"
    assert by_name[group]["Family"] == "postgres18"


@pytest.mark.parametrize("stack", [POC, PROD])
def test_db_security_group_admits_only_the_app_rotation_and_bootstrap(
    template: TemplateFn, stack: str
) -> None:
    t = template(stack)
    groups = t.find_resources("AWS::EC2::SecurityGroup")
    db_sg = next(k for k in groups if k.startswith("DatabaseSecurityGroup"))
    assert "SecurityGroupIngress" not in groups[db_sg]["Properties"]
    rules = [
        r["Properties"]
        for r in t.find_resources("AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"]["GroupId"] == {"Fn::GetAtt": [db_sg, "GroupId"]}
    ]
    assert len(rules) == 3
    sources = sorted(str(r["SourceSecurityGroupId"]) for r in rules)
    assert sum("ImportValue" in s for s in sources) == 1, "one rule admits the platform's app SG"
    assert any("DatabaseRotationSecurityGroup" in s for s in sources)
    assert any("DatabaseBootstrapSecurityGroup" in s for s in sources)
    for rule in rules:
        assert (rule["FromPort"], rule["ToPort"], rule["IpProtocol"]) == (5433, 5433, "tcp")
        assert "CidrIp" not in rule


@pytest.mark.parametrize(("stack", "retention_policy"), [(POC, "Snapshot"), (PROD, "Snapshot")])
def test_final_snapshot_on_delete_and_replace(
    template: TemplateFn, stack: str, retention_policy: str
) -> None:
    db = instance(template(stack))
    assert db["DeletionPolicy"] == retention_policy
    assert db["UpdateReplacePolicy"] == retention_policy
    assert db["Properties"]["DeletionProtection"] is True


def test_production_monitoring_and_logs(template: TemplateFn) -> None:
    props = instance(template(PROD))["Properties"]
    assert props["MonitoringInterval"] == 60
    assert props["EnablePerformanceInsights"] is True
    assert props["PerformanceInsightsRetentionPeriod"] == 7
    assert props["EnableCloudwatchLogsExports"] == ["postgresql", "upgrade"]
    poc = instance(template(POC))["Properties"]
    assert "MonitoringInterval" not in poc


@pytest.mark.parametrize("stack", [POC, PROD])
def test_secret_is_rotated_and_encrypted_with_the_tenant_key(
    template: TemplateFn, stack: str
) -> None:
    t = template(stack)
    _, secret = only(t, "AWS::SecretsManager::Secret")
    assert secret["Properties"]["Name"].endswith("/db")
    assert "KmsKeyId" in secret["Properties"]
    _, schedule = only(t, "AWS::SecretsManager::RotationSchedule")
    assert schedule["Properties"]["RotationRules"]["ScheduleExpression"] == "rate(30 days)"
    _, rotation = only(t, "AWS::Serverless::Application")
    params = rotation["Properties"]["Parameters"]
    assert "vpcSubnetIds" in params and "vpcSecurityGroupIds" in params


@pytest.mark.parametrize(
    ("stack", "tier"), [(POC, "poc"), (PROD, "production"), (POC_IN_PROD, "poc")]
)
def test_cost_allocation_tags(template: TemplateFn, stack: str, tier: str) -> None:
    tags = {t["Key"]: t["Value"] for t in instance(template(stack))["Properties"]["Tags"]}
    slug = stack.split("-tenant-")[1]
    assert tags["TenantId"] == slug
    assert tags["Tier"] == tier
    assert tags["Environment"] == stack.split("-")[2]


@pytest.mark.parametrize(("stack", "protected"), [(POC, False), (PROD, True), (POC_IN_PROD, False)])
def test_production_tenants_have_termination_protection(
    example_assembly: Any, stack: str, protected: bool
) -> None:
    assert example_assembly.get_stack_by_name(stack).termination_protection is protected


def test_dns_name_per_restaurant_in_production(template: TemplateFn) -> None:
    _, record = only(template(PROD), "AWS::Route53::RecordSet")
    assert record["Properties"]["Name"] == "golden-wok.app.chefskiss.example."
    assert record["Properties"]["Type"] == "A"
    assert "AliasTarget" in record["Properties"]
    assert not template(POC).find_resources("AWS::Route53::RecordSet")


# A changed logical id makes CloudFormation create a new, EMPTY database and delete the old one
# (after a final snapshot). These ids must never change for an existing restaurant; if this test
# fails, the change moved or renamed a stateful construct: undo it, do not update the test.
PINNED_TENANT_IDS = {
    "AWS::RDS::DBInstance": "DatabaseInstanceAA8A5FDE",
    "AWS::KMS::Key": "DatabaseKey5E5D9547",
    "AWS::SecretsManager::Secret": ("chefskiss{env}tenant{slug}DatabaseInstanceSecret"),
}


@pytest.mark.parametrize("stack", [POC, PROD, LARGE, POC_IN_PROD])
def test_stateful_logical_ids_are_pinned(template: TemplateFn, stack: str) -> None:
    t = template(stack)
    env, slug = stack.split("-")[2], stack.split("-tenant-")[1]
    assert only(t, "AWS::RDS::DBInstance")[0] == PINNED_TENANT_IDS["AWS::RDS::DBInstance"]
    assert only(t, "AWS::KMS::Key")[0] == PINNED_TENANT_IDS["AWS::KMS::Key"]
    secret_id = only(t, "AWS::SecretsManager::Secret")[0]
    expected = PINNED_TENANT_IDS["AWS::SecretsManager::Secret"].format(
        env=env, slug=slug.replace("-", "")
    )
    assert secret_id.startswith(expected)
    if stack == PROD:
        # the full id, hash included: a changed secret definition would replace the secret
        assert secret_id == (
            "chefskissprodtenantgoldenwokDatabaseInstanceSecret632FB2533fdaad7efa858a3daf9490cf0a702aeb"
        )


def test_shared_subnet_group_logical_id_is_pinned(template: TemplateFn) -> None:
    # DBSubnetGroupName is create-only and every tenant database lives in this group.
    for stack in ("chefs-kiss-dev-platform", "chefs-kiss-prod-platform"):
        assert only(template(stack), "AWS::RDS::DBSubnetGroup")[0] == (
            "NetworkDatabaseSubnetGroup1F475A95"
        )
