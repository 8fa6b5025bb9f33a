"""`ops cost` prices the seed 7.1 standby: every line of the recovery region, computed by hand from
its price and its named usage assumption, none of them missing or free.

Templates here are small hand-written ones shaped like the synthesized standby (a replica with
`SourceDBInstanceIdentifier` as the source's ARN and no `AllocatedStorage`, failover records with
a health check, a replicating uploads bucket), so each line's arithmetic is checked alone; the
real assemblies are priced in tests/test_cost_standby_synth.py.
"""

from __future__ import annotations

from decimal import Decimal
from typing import Any

import pytest

from ops.costing import bill, estimate_templates
from ops.costing.report import CostReport, is_standby_stack, is_tenant_stack
from ops.costing.tables import load_prices, load_usage

D = Decimal
HOURS = 730
CURRENT = load_prices("current")
ENV = "t"
PLATFORM = f"chefs-kiss-{ENV}-platform"
DR_PLATFORM = f"chefs-kiss-{ENV}-dr-platform"
SOURCE_ID = f"chefs-kiss-{ENV}-r0001"
SOURCE_ARN = {
    "Fn::Join": ["", ["arn:", {"Ref": "AWS::Partition"}, ":rds:us-east-1:",
                      {"Ref": "AWS::AccountId"}, f":db:{SOURCE_ID}"]]
}  # fmt: skip


def _primary_db() -> dict:
    return {
        "Type": "AWS::RDS::DBInstance",
        "Properties": {
            "DBInstanceIdentifier": SOURCE_ID,
            "DBInstanceClass": "db.t4g.small",
            "Engine": "postgres",
            "MultiAZ": True,
            "AllocatedStorage": "20",
            "StorageType": "gp3",
            "BackupRetentionPeriod": 7,
        },
    }


def _replica(**extra: Any) -> dict:
    return {
        "Type": "AWS::RDS::DBInstance",
        "Properties": {
            "SourceDBInstanceIdentifier": SOURCE_ARN,
            "SourceRegion": "us-east-1",
            "DBInstanceClass": "db.t4g.small",
            "StorageEncrypted": True,
            "KmsKeyId": {"Fn::GetAtt": ["ReplicaKey", "Arn"]},
            "EnableIAMDatabaseAuthentication": True,
            **extra,
        },
    }


def _alb() -> dict:
    return {
        "Type": "AWS::ElasticLoadBalancingV2::LoadBalancer",
        "Properties": {"Type": "application", "Scheme": "internet-facing",
                       "Subnets": [{"Ref": "A"}, {"Ref": "B"}]},
    }  # fmt: skip


def _service(minimum: int) -> dict[str, dict]:
    return {
        "Task": {
            "Type": "AWS::ECS::TaskDefinition",
            "Properties": {"Cpu": "512", "Memory": "1024",
                           "RuntimePlatform": {"CpuArchitecture": "ARM64"}},
        },
        "Service": {
            "Type": "AWS::ECS::Service",
            "Properties": {"LaunchType": "FARGATE", "DesiredCount": minimum,
                           "TaskDefinition": {"Ref": "Task"}},
        },
        "Target": {
            "Type": "AWS::ApplicationAutoScaling::ScalableTarget",
            "Properties": {"ServiceNamespace": "ecs", "MinCapacity": minimum, "MaxCapacity": 8,
                           "ResourceId": {"Fn::Join": ["/", [
                               "service", {"Fn::GetAtt": ["Service", "Name"]}]]}},
        },
    }  # fmt: skip


def _bucket(replicating: bool = False, rtc: bool = False) -> dict:
    props: dict[str, Any] = {
        "BucketEncryption": {"ServerSideEncryptionConfiguration": [
            {"ServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms"}, "BucketKeyEnabled": True}
        ]},
    }  # fmt: skip
    if replicating:
        destination: dict[str, Any] = {"Bucket": "arn:aws:s3:::standby-uploads"}
        if rtc:
            destination["ReplicationTime"] = {"Status": "Enabled", "Time": {"Minutes": 15}}
        props["ReplicationConfiguration"] = {
            "Role": {"Fn::GetAtt": ["ReplicationRole", "Arn"]},
            "Rules": [{"Status": "Enabled", "Destination": destination}],
        }
    return {"Type": "AWS::S3::Bucket", "Properties": props}


def _health_check(kind: str = "HTTPS", **config: Any) -> dict:
    return {
        "Type": "AWS::Route53::HealthCheck",
        "Properties": {"HealthCheckConfig": {
            "Type": kind, "FullyQualifiedDomainName": "r0001.example.com", "Port": 443,
            "ResourcePath": "/healthz", "RequestInterval": 30, "FailureThreshold": 3, **config}},
    }  # fmt: skip


def _failover(role: str, health_check: bool) -> dict:
    props: dict[str, Any] = {
        "Name": "r0001.example.com.",
        "Type": "A",
        "HostedZoneId": "Z123",
        "Failover": role,
        "SetIdentifier": role.lower(),
        "AliasTarget": {"DNSName": "alb.example", "HostedZoneId": "Z35",
                        "EvaluateTargetHealth": True},
    }  # fmt: skip
    if health_check:
        props["HealthCheckId"] = {"Ref": "HealthCheck"}
    return {"Type": "AWS::Route53::RecordSet", "Properties": props}


def _templates(*, tenants: int = 1, standby: bool = True, minimum: int = 2) -> dict[str, dict]:
    platform: dict[str, Any] = {
        "Description": "test platform (production profile)",
        "Resources": {
            "Alb": _alb(),
            "Nat": {"Type": "AWS::EC2::NatGateway", "Properties": {}},
            "UploadsBucket": _bucket(replicating=standby),
            "AppSecret": {
                "Type": "AWS::SecretsManager::Secret",
                "Properties": {"ReplicaRegions": [{"Region": "us-west-2"}] if standby else []},
            },
            **_service(2),
        },
    }
    templates = {PLATFORM: platform}
    for index in range(tenants):
        slug = f"r{index + 1:04d}"
        resources: dict[str, Any] = {"Db": _primary_db()}
        resources["Db"]["Properties"]["DBInstanceIdentifier"] = f"chefs-kiss-{ENV}-{slug}"
        if standby:
            resources["HealthCheck"] = _health_check()
            resources["Primary"] = _failover("PRIMARY", True)
        templates[f"chefs-kiss-{ENV}-tenant-{slug}"] = {"Resources": resources}
    if not standby:
        return templates
    templates[DR_PLATFORM] = {
        "Description": "test standby platform (production profile)",
        "Resources": {
            "Alb": _alb(),
            "Nat": {"Type": "AWS::EC2::NatGateway", "Properties": {}},
            "StandbyUploadsBucket": _bucket(),
            "Key": {"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": True}},
            "Acl": {"Type": "AWS::WAFv2::WebACL", "Properties": {"Rules": [{}, {}, {}]}},
            **_service(minimum),
        },
    }
    for index in range(tenants):
        slug = f"r{index + 1:04d}"
        replica = _replica()
        replica["Properties"]["SourceDBInstanceIdentifier"] = {
            "Fn::Join": ["", ["arn:aws:rds:us-east-1:", {"Ref": "AWS::AccountId"},
                              f":db:chefs-kiss-{ENV}-{slug}"]]
        }  # fmt: skip
        templates[f"chefs-kiss-{ENV}-dr-tenant-{slug}"] = {
            "Resources": {
                "Replica": replica,
                "ReplicaKey": {"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": True}},
                "Secondary": _failover("SECONDARY", False),
                "Lag": {"Type": "AWS::CloudWatch::Alarm", "Properties": {"Period": 60}},
            }
        }
    return templates


@pytest.fixture(scope="module")
def report() -> CostReport:
    return estimate_templates(_templates(tenants=2), ENV)


def _stack(report: CostReport, name: str) -> Any:
    return next(s for s in report.stacks if s.name == name)


def _line(report: CostReport, stack: str, key: str, resource: str | None = None) -> Any:
    found = [
        ln for ln in _stack(report, stack).lines
        if ln.price_key == key and (resource is None or ln.resource == resource)
    ]  # fmt: skip
    assert len(found) == 1, (stack, key, [ln.item for ln in _stack(report, stack).lines])
    return found[0]


def test_stack_kinds_and_the_tenant_count() -> None:
    assert is_standby_stack(DR_PLATFORM) and is_standby_stack("chefs-kiss-t-dr-tenant-a")
    assert not is_standby_stack(PLATFORM) and not is_standby_stack("chefs-kiss-t-tenant-a")
    assert is_tenant_stack("chefs-kiss-t-tenant-dr") and not is_tenant_stack(DR_PLATFORM)
    report = estimate_templates(_templates(tenants=2), ENV)
    assert report.tenants == 2  # a standby is not a second restaurant
    kinds = [(s.name, s.kind) for s in report.stacks]
    assert kinds[0] == (PLATFORM, "platform")  # the anchor carries environment-wide usage
    assert [k for _, k in kinds].count("standby") == 3
    assert kinds[-1][1] == "standby" and (DR_PLATFORM, "standby") in kinds


def test_replica_instance_is_billed_as_a_single_az_instance_of_its_class(
    report: CostReport,
) -> None:
    stack = "chefs-kiss-t-dr-tenant-r0001"
    hours = _line(report, stack, "rds.postgres.instance_hour.db.t4g.small")
    assert hours.quantity == HOURS and "single-AZ read replica" in hours.item
    assert hours.monthly_usd == D("23.36")  # 730 x $0.032, not doubled: no Multi-AZ
    storage = _line(report, stack, "rds.storage.gp3.gb_month")  # inherited from the source
    assert storage.quantity == 20 and storage.monthly_usd == D("2.30")
    assert "chefs-kiss-t-r0001" in storage.note
    items = [ln.item for ln in _stack(report, stack).lines]
    assert not any("backups" in i for i in items)  # RDS: no backups on a replica by default
    assert not any("cross-AZ" in i for i in items)  # it serves no app traffic


def test_a_multi_az_replica_doubles_and_an_unknown_source_is_unpriced() -> None:
    templates = _templates()
    templates["chefs-kiss-t-dr-tenant-r0001"]["Resources"]["Replica"]["Properties"]["MultiAZ"] = (
        True
    )
    report = estimate_templates(templates, ENV)
    hours = _line(report, "chefs-kiss-t-dr-tenant-r0001", "rds.postgres.instance_hour.db.t4g.small")
    assert hours.quantity == 2 * HOURS
    props = templates["chefs-kiss-t-dr-tenant-r0001"]["Resources"]["Replica"]["Properties"]
    props["SourceDBInstanceIdentifier"] = "arn:aws:rds:us-east-1:1:db:somewhere-else"
    report = estimate_templates(templates, ENV)
    [note] = [n for n in report.unpriced if n.resource == "Replica"]
    assert "AllocatedStorage" in note.reason  # never silently $0 storage


def test_replication_wal_transfer_from_the_seed_workload(report: CostReport) -> None:
    usage = load_usage("production", 2)
    line = _line(report, "chefs-kiss-t-dr-tenant-r0001", "rds.cross_region_transfer_gb")
    daily = 20 * usage.get("db_used_fraction") * usage.get("db_daily_change_fraction")
    expected_gb = daily * usage.get("db_wal_amplification") * bill.DAYS_PER_MONTH
    assert line.quantity == pytest.approx(expected_gb)
    assert 40 < line.quantity < 50  # 0.5 GB/day x 3 x 30.42
    assert line.monthly_usd == D("0.91") and line.component == bill.DATA_TRANSFER
    assert "from us-east-1" in line.item and "db_wal_amplification" in line.note


def test_s3_replication_transfer_and_the_standby_copy(report: CostReport) -> None:
    usage = load_usage("production", 2)
    transfer = _line(report, PLATFORM, "s3.replication_inter_region_gb")
    held = usage.get("s3_gb")
    assert transfer.quantity == pytest.approx(
        held * bill.DAYS_PER_MONTH / usage.get("s3_stock_age_days")
    )
    assert transfer.monthly_usd > 0
    standby = _stack(report, DR_PLATFORM)
    storage = [ln for ln in standby.lines if ln.resource == "StandbyUploadsBucket"
               and ln.price_key.startswith("s3.") and "gb_month" in ln.price_key]  # fmt: skip
    assert storage and sum(ln.quantity for ln in storage) == pytest.approx(held)
    puts = _line(report, DR_PLATFORM, "s3.put_per_1k", "StandbyUploadsBucket")
    assert "replication PUT" in puts.item and puts.monthly_usd > 0
    assert puts.quantity == usage.get("s3_put_requests") / 1000


def test_replication_time_control_is_a_line_of_its_own() -> None:
    templates = _templates()
    templates[PLATFORM]["Resources"]["UploadsBucket"] = _bucket(replicating=True, rtc=True)
    report = estimate_templates(templates, ENV)
    rtc = _line(report, PLATFORM, "s3.replication_time_control_gb")
    transfer = _line(report, PLATFORM, "s3.replication_inter_region_gb")
    assert rtc.quantity == transfer.quantity and rtc.unit_usd == D("0.015")


def test_secret_replicas_are_billed_as_secrets(report: CostReport) -> None:
    line = _line(report, PLATFORM, "secretsmanager.secret_month", "AppSecret")
    assert line.quantity == 2 and line.monthly_usd == D("0.80")


def test_health_checks_aws_endpoint_https_and_the_free_allowance(report: CostReport) -> None:
    stack = "chefs-kiss-t-tenant-r0001"
    basic = _line(report, stack, "route53.health_check_aws_month")
    assert basic.monthly_usd == D("0.50") and "AWS endpoint" in basic.item
    https = _line(report, stack, "route53.health_check_feature_aws_month")
    assert https.monthly_usd == D("1.00") and "HTTPS" in https.item
    credits = [ln for ln in report.lines if ln.resource == "(free tier)"
               and ln.price_key == "route53.health_check_aws_month"]  # fmt: skip
    assert len(credits) == 1 and credits[0].monthly_usd == D("-1.00")  # 2 checks of 50 free
    assert credits[0].component == bill.DNS
    dns = report.by_component()[bill.DNS]
    assert dns >= D("2.00")  # the HTTPS feature is never free


@pytest.mark.parametrize(
    ("config", "key", "features"),
    [
        ({"Type": "HTTP"}, "route53.health_check_aws_month", 0),
        ({"Type": "HTTPS_STR_MATCH", "SearchString": "ok"}, "route53.health_check_aws_month", 2),
        ({"Type": "HTTPS", "RequestInterval": 10, "MeasureLatency": True},
         "route53.health_check_aws_month", 3),
        ({"Type": "HTTPS", "IPAddress": "192.0.2.1", "FullyQualifiedDomainName": None},
         "route53.health_check_non_aws_month", 1),
    ],
)  # fmt: skip
def test_health_check_features_by_hand(config: dict, key: str, features: int) -> None:
    templates = _templates(tenants=1)
    check = _health_check(**config)
    hc = check["Properties"]["HealthCheckConfig"]
    for name in [k for k, v in hc.items() if v is None]:
        del hc[name]
    templates["chefs-kiss-t-tenant-r0001"]["Resources"]["HealthCheck"] = check
    report = estimate_templates(templates, ENV)
    lines = {ln.price_key: ln for ln in _stack(report, "chefs-kiss-t-tenant-r0001").lines}
    assert key in lines
    feature_key = key.replace("health_check_", "health_check_feature_")
    assert (lines[feature_key].quantity if feature_key in lines else 0) == features


def test_failover_records_are_free_and_alias_queries_stay_free(report: CostReport) -> None:
    free = [
        n.reason for s in report.stacks for n in s.free if n.resource in ("Primary", "Secondary")
    ]
    assert len(free) == 4 and all("failover record" in r for r in free)
    dns = [ln for ln in report.lines if ln.item == "DNS queries"]
    assert dns and dns[0].price_key == "route53.alias_query_per_million"


def test_standby_platform_lines(report: CostReport) -> None:
    usage = load_usage("production", 2)
    fraction = usage.get("standby_activity_fraction")
    assert _line(report, DR_PLATFORM, "alb.hour").monthly_usd == D("16.43")
    assert _line(report, DR_PLATFORM, "ec2.public_ipv4_hour").quantity == 2 * HOURS
    assert not [ln for ln in _stack(report, DR_PLATFORM).lines if ln.price_key == "alb.lcu_hour"]
    assert _line(report, DR_PLATFORM, "nat.hour").monthly_usd == D("32.85")
    nat_gb = _line(report, DR_PLATFORM, "nat.gb")
    assert nat_gb.quantity == pytest.approx(usage.get("nat_processed_gb") * fraction)
    # the primary's NAT is not split with the standby's
    assert _line(report, PLATFORM, "nat.gb").quantity == usage.get("nat_processed_gb")
    vcpu = _line(report, DR_PLATFORM, "fargate.linux_arm64.vcpu_hour")
    assert vcpu.quantity == 2 * 0.5 * HOURS and "standby" in vcpu.note  # warm: the minimum
    assert _line(report, DR_PLATFORM, "kms.key_month").monthly_usd == D("1.00")
    assert _line(report, DR_PLATFORM, "wafv2.web_acl_month").monthly_usd == D("5.00")
    assert _line(report, DR_PLATFORM, "wafv2.rule_month").quantity == 3
    requests = _line(report, DR_PLATFORM, "wafv2.per_million_requests")
    assert requests.quantity == pytest.approx(usage.get("http_requests") * fraction / 1e6)


def test_pilot_light_runs_no_tasks() -> None:
    report = estimate_templates(_templates(minimum=0), ENV)
    standby = _stack(report, DR_PLATFORM)
    assert not [ln for ln in standby.lines if ln.price_key.startswith("fargate.")]
    # even with autoscaled tasks above the minimum in the primary
    assert [ln for ln in _stack(report, PLATFORM).lines if ln.price_key.startswith("fargate.")]


# Every line the standby needs must be present and cost something: a rule that goes missing (or
# a price that drops to $0) fails here by name.
STANDBY_LINES = {
    "replica instance hours": ("dr-tenant", "rds.postgres.instance_hour."),
    "replica storage": ("dr-tenant", "rds.storage."),
    "replication (WAL) transfer": ("dr-tenant", "rds.cross_region_transfer_gb"),
    "S3 replication transfer": ("platform", "s3.replication_inter_region_gb"),
    "standby bucket storage": ("dr-platform", "s3.standard.gb_month"),
    "replication PUT requests": ("dr-platform", "s3.put_per_1k"),
    "Secrets Manager replica": ("platform", "secretsmanager.secret_month"),
    "health check": ("tenant", "route53.health_check_"),
    "standby ALB": ("dr-platform", "alb.hour"),
    "standby NAT gateway": ("dr-platform", "nat.hour"),
    "standby tasks": ("dr-platform", "fargate."),
    "standby KMS keys": ("dr-platform", "kms.key_month"),
    "standby public IPv4": ("dr-platform", "ec2.public_ipv4_hour"),
    "standby WAF": ("dr-platform", "wafv2."),
    "replica-lag alarm": ("dr-tenant", "cloudwatch.alarm"),
}


@pytest.mark.parametrize("name", sorted(STANDBY_LINES))
def test_no_standby_line_is_missing_or_free(report: CostReport, name: str) -> None:
    assert_standby_line_priced(report, name)


def assert_standby_line_priced(report: CostReport, name: str) -> None:
    """The report has STANDBY_LINES[name] on a standby stack, and it costs something."""
    kind, prefix = STANDBY_LINES[name]
    found = [
        ln for s in report.stacks for ln in s.lines
        if f"-{kind}" in s.name and ln.price_key.startswith(prefix) and ln.resource != "(free tier)"
    ]  # fmt: skip
    assert found, f"{name}: no {prefix}* line on a *-{kind}* stack"
    assert all(ln.monthly_usd > 0 for ln in found), [(ln.item, ln.monthly_usd) for ln in found]


def test_the_report_states_the_standby_share_against_the_seed(report: CostReport) -> None:
    without = estimate_templates(_templates(tenants=2, standby=False), ENV)
    assert without.standby_share is None and without.standby_monthly_usd == 0
    standby = report.standby_monthly_usd
    assert standby == sum((s.monthly_usd for s in report.stacks if s.kind == "standby"), D(0))
    assert report.standby_share == standby / (report.total_monthly_usd - standby)
    assert report.to_json()["standby_share"] == pytest.approx(float(report.standby_share))
    from ops.costing.report import render_report

    text = render_report(report)
    assert "standby (recovery region, seed 7.1)" in text and "seed 7.1: ~40%" in text
