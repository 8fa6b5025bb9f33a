"""Seed 7.1 disaster recovery, the stacks: the standby platform and one standby per covered
restaurant in the recovery region, the DNS failover pair, and what changes in the primary region.

The example `prod` environment turns disaster recovery on (us-west-2, warm standby); small
generated environments cover the other modes and the promotion of a failed-over restaurant.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import assertions, cx_api
from shared_assemblies import dr_assemblies, dr_environment
from syrupy.assertion import SnapshotAssertion
from syrupy.extensions.json import JSONSnapshotExtension

from app import build_app, project_context
from config.generated import generated_environment
from config.schema import EnvironmentConfig
from constructs.compliance import NAG_PACKS, acknowledge_cdk_providers
from constructs.monitoring import REPLICA_LAG_RPO_SECONDS
from ops.assembly import StackArtifact, read_assembly
from ops.planning.intrinsics import resolve_template
from ops.planning.planner import INTERRUPTION, NO_INTERRUPTION, REPLACEMENT, plan_assemblies
from ops.planning.schemas import resource_schema
from stacks import naming

# A module fixture builds three recovery-region apps: once, on one worker (not in test-quick).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("dr-stacks")]

TemplateFn = Callable[[str], assertions.Template]
DR_PLATFORM = "chefs-kiss-prod-dr-platform"
STANDBY = "chefs-kiss-prod-dr-tenant-golden-wok"
TENANT = "chefs-kiss-prod-tenant-golden-wok"
POC_TENANT = "chefs-kiss-prod-tenant-sushi-zen"
ACCOUNT = "123456789012"


def snapshot_body(template: assertions.Template) -> dict[str, Any]:
    body = template.to_json()
    body.get("Resources", {}).pop("CDKMetadata", None)
    return body


def only(template: dict[str, Any], type_: str) -> tuple[str, dict[str, Any]]:
    found = [(k, r) for k, r in template["Resources"].items() if r["Type"] == type_]
    assert len(found) == 1, f"expected one {type_}, found {[k for k, _ in found]}"
    return found[0]


def of_type(template: dict[str, Any], type_: str) -> dict[str, dict[str, Any]]:
    return {k: r for k, r in template["Resources"].items() if r["Type"] == type_}


def resolved(artifact: StackArtifact) -> dict[str, Any]:
    """The template with pseudo parameters and joins evaluated as CloudFormation would."""
    region = (artifact.environment or "aws://unknown/unknown").rsplit("/", 1)[1]
    return resolve_template(
        artifact.template, stack_name=artifact.name, environment=f"aws://{ACCOUNT}/{region}"
    )


def flat(value: Any) -> str:
    """A resolved value as text: joins concatenated, a GetAtt as `<Resource.Attribute>`."""
    if isinstance(value, str):
        return value
    if isinstance(value, dict) and "Fn::Join" in value:
        delimiter, parts = value["Fn::Join"]
        return str(delimiter).join(flat(part) for part in parts)
    if isinstance(value, dict) and "Fn::GetAtt" in value:
        return "<{}.{}>".format(*value["Fn::GetAtt"])
    if isinstance(value, dict) and "Ref" in value:
        return f"<{value['Ref']}>"
    return json.dumps(value)


def synth(environment: EnvironmentConfig, outdir: Path) -> tuple[cdk.App, dict[str, StackArtifact]]:
    # Read-only templates: the example assembly runs the built-in validation on these kinds.
    app = cdk.App(
        context=project_context(), outdir=str(outdir), builtin_cloud_formation_validation=False
    )
    build_app(environments=[environment], nag_packs=(), app=app)
    app.synth()
    return app, read_assembly(outdir)


def recovery_environment(**recovery: Any) -> EnvironmentConfig:
    """ "rec": r0001 and r0003 production tier (covered), r0002 PoC (not covered); a warm standby
    in us-west-2 unless `recovery` says otherwise (tests/shared_assemblies.py)."""
    return dr_environment(standby=True, **recovery)


@pytest.fixture(scope="module")
def warm(tmp_path_factory: pytest.TempPathFactory) -> dict[str, StackArtifact]:
    """Synthesized once per session with tests/test_plan_disaster_recovery.py (read-only)."""
    return read_assembly(dr_assemblies(tmp_path_factory)[1])


@pytest.fixture(scope="module")
def failed_over(tmp_path_factory: pytest.TempPathFactory) -> dict[str, StackArtifact]:
    environment = recovery_environment(failed_over=["r0001"])
    return synth(environment, tmp_path_factory.mktemp("failed-over"))[1]


@pytest.fixture(scope="module")
def without_recovery(tmp_path_factory: pytest.TempPathFactory) -> dict[str, StackArtifact]:
    """The same environment with disaster recovery off (shared like `warm`)."""
    return read_assembly(dr_assemblies(tmp_path_factory)[0])


# What the example synthesizes ------------------------------------------------------------------


@pytest.mark.parametrize("stack", [DR_PLATFORM, STANDBY], ids=["dr-platform", "dr-tenant"])
def test_dr_snapshot(template: TemplateFn, snapshot: SnapshotAssertion, stack: str) -> None:
    assert snapshot_body(template(stack)) == snapshot.use_extension(JSONSnapshotExtension)


def test_stacks_of_the_recovery_region(example_assembly: cx_api.CloudAssembly) -> None:
    regions = {s.stack_name: s.environment.region for s in example_assembly.stacks}
    standbys = {n for n in regions if n.startswith("chefs-kiss-prod-dr-tenant-")}
    # The production-tier restaurants are covered by default; the PoC one (sushi-zen) is not.
    assert standbys == {STANDBY, "chefs-kiss-prod-dr-tenant-le-petit-bistro"}
    assert {regions[n] for n in [DR_PLATFORM, *standbys]} == {"us-west-2"}
    assert regions["chefs-kiss-prod-platform"] == regions[TENANT] == "us-east-1"
    # Environments without disaster_recovery have none.
    assert not [n for n in regions if n.startswith(("chefs-kiss-dev-dr", "chefs-kiss-staging-dr"))]


def test_deploy_order_from_the_assembly(example_assembly: cx_api.CloudAssembly) -> None:
    """Primary platform, standby platform, tenants, standbys: the order `cdk deploy` (and
    `make deploy`) takes from the stack dependencies."""
    direct = {
        s.stack_name: {d.id for d in s.dependencies if not d.id.endswith(".assets")}
        for s in example_assembly.stacks
    }

    def after(stack: str) -> set[str]:  # every stack that must be deployed before `stack`
        seen: set[str] = set()
        todo = list(direct[stack])
        while todo:
            name = todo.pop()
            if name not in seen:
                seen.add(name)
                todo.extend(direct.get(name, ()))
        assert stack not in seen, f"dependency cycle through {stack}"
        return seen

    assert after(DR_PLATFORM) == {"chefs-kiss-prod-platform"}
    for tenant in ("golden-wok", "le-petit-bistro", "sushi-zen"):
        assert after(f"chefs-kiss-prod-tenant-{tenant}") == {
            "chefs-kiss-prod-platform",
            DR_PLATFORM,
        }
    for slug in ("golden-wok", "le-petit-bistro"):
        assert after(naming.standby_stack_name("prod", slug)) == {
            "chefs-kiss-prod-platform",
            DR_PLATFORM,
            f"chefs-kiss-prod-tenant-{slug}",
        }


# The replica ----------------------------------------------------------------------------------

# A changed logical id would make CloudFormation create a new replica (a full copy over the
# network) and delete the old one; after a failover it would be the restaurant's live database.
PINNED_STANDBY_IDS = {
    "AWS::RDS::DBInstance": "DatabaseInstanceAA8A5FDE",
    "AWS::KMS::Key": "DatabaseKey5E5D9547",
}


@pytest.mark.parametrize("slug", ["golden-wok", "le-petit-bistro"])
def test_standby_logical_ids_are_pinned(template: TemplateFn, slug: str) -> None:
    body = template(naming.standby_stack_name("prod", slug)).to_json()
    for type_, logical_id in PINNED_STANDBY_IDS.items():
        assert only(body, type_)[0] == logical_id


def test_replica_is_an_encrypted_cross_region_replica_of_the_primary(
    warm: dict[str, StackArtifact],
) -> None:
    stack = warm["chefs-kiss-rec-dr-tenant-r0001"]
    logical_id, instance = only(resolved(stack), "AWS::RDS::DBInstance")
    props = instance["Properties"]
    assert props["SourceDBInstanceIdentifier"] == naming.db_instance_arn(
        partition="aws",
        region="us-east-1",
        account=ACCOUNT,
        identifier="chefs-kiss-rec-r0001",
    )
    assert props["SourceRegion"] == "us-east-1"
    assert props["DBInstanceIdentifier"] == "chefs-kiss-rec-r0001"  # regional: the same id
    key_id, _ = only(stack.template, "AWS::KMS::Key")
    assert props["KmsKeyId"] == {"Fn::GetAtt": [key_id, "Arn"]}  # this region's own key
    assert "StorageEncrypted" not in props  # forbidden beside SourceDBInstanceIdentifier
    assert props["EnableIAMDatabaseAuthentication"] is True
    assert props["Port"] == "5433" and props["PubliclyAccessible"] is False
    assert props["MultiAZ"] is False and "BackupRetentionPeriod" not in props
    assert props["DBParameterGroupName"] == "chefs-kiss-rec-postgres18-db-t4g-small"
    assert stack.template["Resources"][logical_id]["DeletionPolicy"] == "Retain"
    # chefs_app arrives by physical replication: no master secret, rotation or bootstrap.
    types = {r["Type"] for r in stack.template["Resources"].values()}
    assert not {t for t in types if t.startswith(("Custom::", "AWS::SecretsManager::"))}
    assert "AWS::Lambda::Function" not in types and "AWS::Serverless::Application" not in types


def test_replica_lag_alarm_pages_at_the_rpo(warm: dict[str, StackArtifact]) -> None:
    stack = resolved(warm["chefs-kiss-rec-dr-tenant-r0001"])
    alarms = of_type(stack, "AWS::CloudWatch::Alarm")
    [lag] = [
        a["Properties"]
        for a in alarms.values()
        if a["Properties"].get("MetricName") == "ReplicaLag"
    ]
    assert REPLICA_LAG_RPO_SECONDS == 60
    assert lag["Threshold"] == 60 and lag["ComparisonOperator"] == "GreaterThanThreshold"
    assert lag["Statistic"] == "Maximum" and lag["Period"] == 60 and lag["EvaluationPeriods"] == 1
    assert lag["TreatMissingData"] == "breaching"  # replication stopped: the worst lag
    assert lag["AlarmName"] == "chefs-kiss-rec-r0001-replica-lag-critical"
    instance_id, _ = only(stack, "AWS::RDS::DBInstance")
    assert lag["Dimensions"] == [{"Name": "DBInstanceIdentifier", "Value": {"Ref": instance_id}}]
    # To the standby platform's critical topic, in the recovery region.
    assert lag["AlarmActions"] == [
        f"arn:aws:sns:us-west-2:{ACCOUNT}:chefs-kiss-rec-alerts-critical"
    ]


def test_standby_access_role_reaches_the_replica_parameter_and_prefix(
    warm: dict[str, StackArtifact],
) -> None:
    stack = resolved(warm["chefs-kiss-rec-dr-tenant-r0001"])
    instance_id, _ = only(stack, "AWS::RDS::DBInstance")
    role = next(r for k, r in stack["Resources"].items() if k.startswith("AccessRole"))
    assert role["Properties"]["RoleName"] == "chefs-kiss-rec-dr-tenant-r0001-access"
    [policy] = [r for k, r in stack["Resources"].items() if k.startswith("AccessPolicy")]
    assert (
        policy["Properties"]["ManagedPolicyName"] == "chefs-kiss-rec-dr-tenant-r0001-access-policy"
    )
    grants = {s["Sid"]: s["Resource"] for s in policy["Properties"]["PolicyDocument"]["Statement"]}
    # The replica's own DbiResourceId, not the source's.
    assert flat(grants["ConnectAsOwnAppUser"]) == (
        f"arn:aws:rds-db:us-west-2:{ACCOUNT}:dbuser:<{instance_id}.DbiResourceId>/chefs_app"
    )
    assert grants["ReadOwnConnectionParameter"] == (
        f"arn:aws:ssm:us-west-2:{ACCOUNT}:parameter/chefs-kiss-rec/tenants/r0001/connection"
    )
    standby_bucket = naming.uploads_bucket_name("rec", ACCOUNT, "us-west-2")
    assert grants["OwnUploads"] == f"arn:aws:s3:::{standby_bucket}/tenants/r0001/*"
    assert "NeverTheApp" not in json.dumps(stack)  # no master secret to guard here


def test_connection_parameter_in_the_recovery_region(warm: dict[str, StackArtifact]) -> None:
    stack = resolved(warm["chefs-kiss-rec-dr-tenant-r0001"])
    _, parameter = only(stack, "AWS::SSM::Parameter")
    assert parameter["Properties"]["Name"] == "/chefs-kiss-rec/tenants/r0001/connection"
    value = json.dumps(parameter["Properties"]["Value"])
    assert '\\"region\\":\\"us-west-2\\"' in value and "AccessRole" in value


# The standby platform -------------------------------------------------------------------------


def test_standby_platform_names_do_not_collide_with_the_primary(
    warm: dict[str, StackArtifact],
) -> None:
    """IAM and dashboard names are global; everything else keeps its regional name."""
    primary = resolved(warm["chefs-kiss-rec-platform"])
    standby = resolved(warm["chefs-kiss-rec-dr-platform"])

    def names(template: dict[str, Any], type_: str, key: str) -> set[str]:
        return {
            r["Properties"][key]
            for r in of_type(template, type_).values()
            if key in r["Properties"]
        }

    for type_, key in (
        ("AWS::IAM::Role", "RoleName"),
        ("AWS::IAM::ManagedPolicy", "ManagedPolicyName"),
        ("AWS::CloudWatch::Dashboard", "DashboardName"),
    ):
        assert names(standby, type_, key), type_
        assert not names(standby, type_, key) & names(primary, type_, key), type_
    assert names(standby, "AWS::IAM::Role", "RoleName") == {
        naming.app_task_role_name("rec", standby=True),
        naming.app_probe_role_name("rec", standby=True),
        naming.log_archive_subscription_role_name("rec", standby=True),
    }
    # The app's settings point at the standby roles; regional names stay the same.
    settings = {
        r["Properties"]["Name"]: r["Properties"]["Value"]
        for r in of_type(standby, "AWS::SSM::Parameter").values()
    }
    assert settings["/chefs-kiss-rec/app/tenant_role_arn_template"] == (
        f"arn:aws:iam::{ACCOUNT}:role/chefs-kiss-rec-dr-tenant-{{slug}}-access"
    )
    buckets = {
        k: r["Properties"].get("BucketName") for k, r in of_type(standby, "AWS::S3::Bucket").items()
    }
    bucket = settings["/chefs-kiss-rec/app/uploads_bucket"]["Ref"]
    assert buckets[bucket] == naming.uploads_bucket_name("rec", ACCOUNT, "us-west-2")
    assert names(standby, "AWS::ECS::Cluster", "ClusterName") == {"chefs-kiss-rec-cluster"}
    assert names(standby, "AWS::ECS::Service", "ServiceName") == {"chefs-kiss-rec-app"}
    outputs = warm["chefs-kiss-rec-dr-platform"].template["Outputs"]
    assert {"ClusterName", "AppServiceName", "ProbeFunctionName", "LoadBalancerDnsName"} <= set(
        outputs
    )


def test_standby_app_uses_the_replicated_secret(warm: dict[str, StackArtifact]) -> None:
    primary = resolved(warm["chefs-kiss-rec-platform"])
    standby = resolved(warm["chefs-kiss-rec-dr-platform"])
    _, secret = only(primary, "AWS::SecretsManager::Secret")
    assert secret["Properties"]["ReplicaRegions"] == [
        {
            "Region": "us-west-2",
            "KmsKeyId": f"arn:aws:kms:us-west-2:{ACCOUNT}:alias/chefs-kiss/rec/platform",
        }
    ]
    # Rotation writes new versions in the primary; Secrets Manager encrypts the replica with
    # the writer's permissions, so the rotation role may use the standby key there, and only it.
    statements = [
        s
        for r in of_type(primary, "AWS::IAM::Policy").values()
        for s in r["Properties"]["PolicyDocument"]["Statement"]
        if s.get("Sid") == "EncryptReplicaInUsWest2"
    ]
    assert statements == [
        {
            "Action": ["kms:Encrypt", "kms:GenerateDataKey"],
            "Condition": {
                "ForAnyValue:StringEquals": {
                    "kms:ResourceAliases": ["alias/chefs-kiss/rec/platform"]
                },
                "StringEquals": {"kms:ViaService": "secretsmanager.us-west-2.amazonaws.com"},
            },
            "Effect": "Allow",
            "Resource": f"arn:aws:kms:us-west-2:{ACCOUNT}:key/*",
            "Sid": "EncryptReplicaInUsWest2",
        }
    ]
    # The standby creates no secret and no rotation: it reads the replica, by name.
    assert not of_type(standby, "AWS::SecretsManager::Secret")
    assert not of_type(standby, "AWS::SecretsManager::RotationSchedule")
    _, task = only(standby, "AWS::ECS::TaskDefinition")
    [app] = [c for c in task["Properties"]["ContainerDefinitions"] if c["Name"] == "app"]
    [secret_ref] = [s["ValueFrom"] for s in app["Secrets"] if s["Name"] == "APP_SECRETS"]
    assert (
        secret_ref
        == f"arn:aws:secretsmanager:us-west-2:{ACCOUNT}:secret:chefs-kiss-rec/app/secrets"
    )
    _, alias = next(iter(of_type(standby, "AWS::KMS::Alias").items()))
    assert alias["Properties"]["AliasName"] == "alias/chefs-kiss/rec/platform"


def test_uploads_replicate_to_the_standby_bucket(warm: dict[str, StackArtifact]) -> None:
    primary = resolved(warm["chefs-kiss-rec-platform"])
    buckets = of_type(primary, "AWS::S3::Bucket")
    [uploads] = [b for b in buckets.values() if "ReplicationConfiguration" in b["Properties"]]
    [rule] = uploads["Properties"]["ReplicationConfiguration"]["Rules"]
    standby_bucket = naming.uploads_bucket_name("rec", ACCOUNT, "us-west-2")
    assert rule["Destination"]["Bucket"] == f"arn:aws:s3:::{standby_bucket}"
    assert rule["Destination"]["EncryptionConfiguration"]["ReplicaKmsKeyID"] == (
        f"arn:aws:kms:us-west-2:{ACCOUNT}:alias/chefs-kiss/rec/platform"
    )
    assert rule["SourceSelectionCriteria"]["SseKmsEncryptedObjects"]["Status"] == "Enabled"
    assert rule["DeleteMarkerReplication"]["Status"] == "Enabled"
    # The replication role may encrypt only with the standby key, through S3 of that region.
    policy = next(
        r for k, r in primary["Resources"].items() if k.startswith("UploadsReplicationPolicy")
    )
    [encrypt] = [
        s
        for s in policy["Properties"]["PolicyDocument"]["Statement"]
        if s["Sid"] == "EncryptReplicasWithTheStandbyKey"
    ]
    assert encrypt["Resource"] == f"arn:aws:kms:us-west-2:{ACCOUNT}:key/*"
    assert encrypt["Condition"]["ForAnyValue:StringEquals"] == {
        "kms:ResourceAliases": ["alias/chefs-kiss/rec/platform"]
    }
    assert encrypt["Condition"]["StringEquals"] == {"kms:ViaService": "s3.us-west-2.amazonaws.com"}
    # The standby bucket is the destination and replicates nowhere.
    standby = resolved(warm["chefs-kiss-rec-dr-platform"])
    assert not [
        b
        for b in of_type(standby, "AWS::S3::Bucket").values()
        if "ReplicationConfiguration" in b["Properties"]
    ]
    assert standby_bucket in {
        b["Properties"].get("BucketName") for b in of_type(standby, "AWS::S3::Bucket").values()
    }


@pytest.mark.parametrize(("mode", "tasks"), [("warm-standby", 2), ("pilot-light", 0)])
def test_standby_task_count_by_mode(
    warm: dict[str, StackArtifact], tmp_path: Path, mode: str, tasks: int
) -> None:
    assembly = warm
    if mode == "pilot-light":
        assembly = synth(recovery_environment(mode=mode), tmp_path)[1]
    _, service = only(assembly["chefs-kiss-rec-dr-platform"].template, "AWS::ECS::Service")
    assert service["Properties"]["DesiredCount"] == tasks
    [target] = of_type(
        assembly["chefs-kiss-rec-dr-platform"].template,
        "AWS::ApplicationAutoScaling::ScalableTarget",
    ).values()
    assert target["Properties"]["MinCapacity"] == tasks
    # The primary keeps the seed table's count (3 restaurants: the 5-restaurant row, 3 tasks).
    _, primary = only(assembly["chefs-kiss-rec-platform"].template, "AWS::ECS::Service")
    assert primary["Properties"]["DesiredCount"] == 3


def test_standby_serving_a_failed_over_restaurant_runs_the_primary_count(
    failed_over: dict[str, StackArtifact],
) -> None:
    """After a failover the standby platform serves: its next deploy keeps the primary's task
    count and autoscaling minimum, which `ops failover` scaled it to, instead of scaling in."""
    counts = {}
    for name in ("chefs-kiss-rec-platform", "chefs-kiss-rec-dr-platform"):
        template = failed_over[name].template
        _, service = only(template, "AWS::ECS::Service")
        [target] = of_type(template, "AWS::ApplicationAutoScaling::ScalableTarget").values()
        counts[name] = (
            service["Properties"]["DesiredCount"],
            target["Properties"]["MinCapacity"],
            target["Properties"]["MaxCapacity"],
        )
    assert counts["chefs-kiss-rec-dr-platform"] == counts["chefs-kiss-rec-platform"] == (3, 3, 8)


# DNS: the failover pair -----------------------------------------------------------------------


def test_record_pair_primary_in_the_tenant_secondary_in_the_standby(
    warm: dict[str, StackArtifact],
) -> None:
    tenant = warm["chefs-kiss-rec-tenant-r0001"].template
    standby = warm["chefs-kiss-rec-dr-tenant-r0001"].template
    platform = warm["chefs-kiss-rec-platform"].template
    primary_id, primary = only(tenant, "AWS::Route53::RecordSet")
    _, secondary = only(standby, "AWS::Route53::RecordSet")
    assert primary_id.startswith("DnsName")  # the same construct id as the simple record
    p, s = primary["Properties"], secondary["Properties"]
    assert p["Name"] == s["Name"] == "r0001.app.chefskiss.example."
    assert p["Type"] == s["Type"] == "A"
    assert (p["Failover"], s["Failover"]) == ("PRIMARY", "SECONDARY")
    assert p["SetIdentifier"] != s["SetIdentifier"]
    assert p["AliasTarget"]["EvaluateTargetHealth"] is True
    assert s["AliasTarget"]["EvaluateTargetHealth"] is True
    assert "dr-platform" in json.dumps(s["AliasTarget"]) and "dr-platform" not in json.dumps(p)
    # PRIMARY: a calculated check per restaurant over the platform's one endpoint check.
    check_id, check = only(tenant, "AWS::Route53::HealthCheck")
    assert p["HealthCheckId"] == {"Ref": check_id}
    config = check["Properties"]["HealthCheckConfig"]
    assert config["Type"] == "CALCULATED" and config["HealthThreshold"] == 1
    [child] = config["ChildHealthChecks"]
    platform_check_id, platform_check = only(platform, "AWS::Route53::HealthCheck")
    assert platform_check_id in json.dumps(child)  # imported from the primary platform
    endpoint = platform_check["Properties"]["HealthCheckConfig"]
    assert endpoint["Type"] == "HTTPS" and endpoint["Port"] == 443
    assert "LoadBalancer" in json.dumps(endpoint["FullyQualifiedDomainName"])
    assert "FailoverHealthCheckId" in warm["chefs-kiss-rec-tenant-r0001"].template["Outputs"]


def test_uncovered_restaurant_keeps_its_simple_record(template: TemplateFn) -> None:
    _, record = only(template(POC_TENANT).to_json(), "AWS::Route53::RecordSet")
    assert "Failover" not in record["Properties"]
    assert not template(POC_TENANT).find_resources("AWS::Route53::HealthCheck")


def test_record_change_is_an_update_in_place_per_the_schema() -> None:
    """The provider schema (cfn-lint's offline copy) makes only the hosted zone create-only:
    adding SetIdentifier, Failover and HealthCheckId updates the record, never replaces it."""
    schema = resource_schema("AWS::Route53::RecordSet")
    assert schema.create_only == {("HostedZoneId",), ("HostedZoneName",)}


def test_turning_disaster_recovery_on_replaces_nothing(
    without_recovery: dict[str, StackArtifact], warm: dict[str, StackArtifact]
) -> None:
    plan = plan_assemblies(without_recovery, warm)
    assert not plan.blocked, plan.blockers
    assert not plan.replacements()
    record = next(
        r
        for r in plan.stack("chefs-kiss-rec-tenant-r0001").resources
        if r.type == "AWS::Route53::RecordSet"
    )
    assert record.action == "modify" and record.impact != REPLACEMENT
    assert {c.path.split(".")[0] for c in record.changes} >= {"Failover", "SetIdentifier"}
    assert not [
        r
        for r in plan.stack("chefs-kiss-rec-tenant-r0001").resources
        if r.type == "AWS::RDS::DBInstance"
    ]
    assert plan.stack("chefs-kiss-rec-dr-platform").action == "add"
    assert plan.stack("chefs-kiss-rec-dr-tenant-r0001").action == "add"


def test_without_disaster_recovery_nothing_of_it_is_rendered(
    without_recovery: dict[str, StackArtifact],
) -> None:
    """The production snapshots now show DR on (prod.yaml); this keeps DR-off honest."""
    assert set(without_recovery) == {
        "chefs-kiss-rec-platform",
        "chefs-kiss-rec-tenant-r0001",
        "chefs-kiss-rec-tenant-r0002",
        "chefs-kiss-rec-tenant-r0003",
    }
    for name, artifact in without_recovery.items():
        text = json.dumps(artifact.template)
        for marker in (
            "AWS::Route53::HealthCheck",
            "ReplicationConfiguration",
            "ReplicaRegions",
            "Failover",
            "SetIdentifier",
            "-dr-",
            "us-west-2",
        ):
            assert marker not in text, (name, marker)


# Failed over: promoted in place, DNS held on the standby --------------------------------------


def test_failed_over_standby_is_promoted_in_place(
    warm: dict[str, StackArtifact], failed_over: dict[str, StackArtifact]
) -> None:
    plan = plan_assemblies(warm, failed_over)
    assert not plan.blocked, plan.blockers
    assert not plan.replacements()
    standby = plan.stack("chefs-kiss-rec-dr-tenant-r0001")
    [db] = [r for r in standby.resources if r.type == "AWS::RDS::DBInstance"]
    assert db.action == "modify"
    impacts = {c.path: c.impact for c in db.changes}
    assert impacts["SourceDBInstanceIdentifier"] == INTERRUPTION  # the promotion
    assert impacts["MultiAZ"] == NO_INTERRUPTION
    assert "BackupRetentionPeriod" in impacts and impacts["BackupRetentionPeriod"] != REPLACEMENT
    # Every create-only property stays as it was.
    create_only = {p[0] for p in resource_schema("AWS::RDS::DBInstance").create_only}
    assert not create_only & set(impacts)
    # Not a replica any more: the lag alarm goes; the other covered restaurant is untouched.
    removed = [r for r in standby.resources if r.action == "remove"]
    assert [r.type for r in removed] == ["AWS::CloudWatch::Alarm"]
    assert plan.stack("chefs-kiss-rec-dr-tenant-r0003").action == "unchanged"


def test_failed_over_restaurant_stays_on_the_standby(
    warm: dict[str, StackArtifact], failed_over: dict[str, StackArtifact]
) -> None:
    """HealthThreshold above the number of children: Route 53 treats the PRIMARY as always
    unhealthy, so DNS answers the standby even when the primary region is healthy again."""
    props = only(failed_over["chefs-kiss-rec-dr-tenant-r0001"].template, "AWS::RDS::DBInstance")[1][
        "Properties"
    ]
    assert "SourceDBInstanceIdentifier" not in props and props["SourceRegion"] == "us-east-1"
    assert props["MultiAZ"] is True and props["BackupRetentionPeriod"] == 7
    for assembly, threshold in ((warm, 1), (failed_over, 2)):
        _, check = only(
            assembly["chefs-kiss-rec-tenant-r0001"].template, "AWS::Route53::HealthCheck"
        )
        config = check["Properties"]["HealthCheckConfig"]
        assert config["HealthThreshold"] == threshold
        assert (threshold > len(config["ChildHealthChecks"])) is (assembly is failed_over)
    plan = plan_assemblies(warm, failed_over)
    [check_change] = [
        r
        for r in plan.stack("chefs-kiss-rec-tenant-r0001").resources
        if r.type == "AWS::Route53::HealthCheck"
    ]
    assert check_change.action == "modify" and check_change.impact == NO_INTERRUPTION
    assert plan.stack("chefs-kiss-rec-tenant-r0003").action == "unchanged"


# cdk-nag on a PoC environment in pilot-light mode (the example covers production) ------------


def test_pilot_light_poc_standby_has_no_nag_findings(tmp_path: Path) -> None:
    environment = generated_environment(
        "lite",
        2,
        profile="poc",
        disaster_recovery={"region": "eu-west-1", "mode": "pilot-light"},
        tier_mix={"poc": 0.5, "production": 0.5},
    )
    app, assembly = synth(environment, tmp_path)
    assert {n for n in assembly if "-dr-" in n} == {
        "chefs-kiss-lite-dr-platform",
        "chefs-kiss-lite-dr-tenant-r0002",
    }
    acknowledge_cdk_providers(app)
    findings = [
        f"{v.rule_name} @ {r.construct_path}"
        for pack in sorted(NAG_PACKS)
        for v in NAG_PACKS[pack]().validate_scope(app).violations
        for r in v.violating_resources
    ]
    assert findings == []
