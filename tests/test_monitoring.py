"""Seed 9 alarms and dashboard, seed 3 autoscaling, seed 4.3/4.4 lifecycle and retention."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import aws_cdk as cdk
import pytest
from aws_cdk import assertions

from app import build_app, project_context
from config.generated import generated_environment
from constructs.monitoring import THRESHOLDS, max_connections
from stacks.platform_stack import PlatformStack

TemplateFn = Callable[[str], assertions.Template]
PROD_PLATFORM = "chefs-kiss-prod-platform"
DEV_PLATFORM = "chefs-kiss-dev-platform"
PROD_TENANT = "chefs-kiss-prod-tenant-golden-wok"
LARGE_TENANT = "chefs-kiss-prod-tenant-le-petit-bistro"
POC_TENANT = "chefs-kiss-dev-tenant-bella-napoli"


def alarms(template: assertions.Template) -> dict[str, dict[str, Any]]:
    found = template.find_resources("AWS::CloudWatch::Alarm")
    return {a["Properties"]["AlarmName"]: a["Properties"] for a in found.values()}


def metric_names(alarm: dict[str, Any]) -> set[str]:
    if "MetricName" in alarm:
        return {alarm["MetricName"]}
    return {q["MetricStat"]["Metric"]["MetricName"] for q in alarm["Metrics"] if "MetricStat" in q}


PLATFORM_CASES = [
    # (alarm suffix, metric names used, warning, critical, evaluation periods)
    ("fargate-cpu", {"CPUUtilization"}, 70, 85, 5),
    ("fargate-memory", {"MemoryUtilization"}, 75, 90, 5),
    (
        "error-rate",
        {"RequestCount", "HTTPCode_Target_5XX_Count", "HTTPCode_ELB_5XX_Count"},
        1,
        5,
        5,
    ),
    ("p95-latency", {"TargetResponseTime"}, 2, 5, 5),
]


@pytest.mark.parametrize(("suffix", "metrics", "warning", "critical", "periods"), PLATFORM_CASES)
def test_platform_thresholds(
    template: TemplateFn,
    suffix: str,
    metrics: set[str],
    warning: float,
    critical: float,
    periods: int,
) -> None:
    found = alarms(template(PROD_PLATFORM))
    for severity, level in (("warning", warning), ("critical", critical)):
        alarm = found[f"chefs-kiss-prod-{suffix}-{severity}"]
        assert alarm["Threshold"] == level
        assert alarm["ComparisonOperator"] == "GreaterThanThreshold"
        assert alarm["EvaluationPeriods"] == periods
        assert alarm["DatapointsToAlarm"] == periods
        assert metric_names(alarm) == metrics
        assert alarm["TreatMissingData"] == "notBreaching"
        assert len(alarm["AlarmActions"]) == 1 and len(alarm["OKActions"]) == 1


def test_p95_uses_the_percentile_statistic(template: TemplateFn) -> None:
    alarm = alarms(template(PROD_PLATFORM))["chefs-kiss-prod-p95-latency-critical"]
    assert alarm["ExtendedStatistic"] == "p95"
    assert alarm["Period"] == 60


def test_error_rate_is_a_ratio_of_requests(template: TemplateFn) -> None:
    alarm = alarms(template(PROD_PLATFORM))["chefs-kiss-prod-error-rate-warning"]
    expression = next(q["Expression"] for q in alarm["Metrics"] if "Expression" in q)
    assert "/ requests" in expression and "100 *" in expression


def test_unhealthy_targets_count_then_share(template: TemplateFn) -> None:
    found = alarms(template(PROD_PLATFORM))
    warning = found["chefs-kiss-prod-unhealthy-targets-warning"]
    assert warning["MetricName"] == "UnHealthyHostCount" and warning["Threshold"] == 0
    critical = found["chefs-kiss-prod-unhealthy-targets-critical"]
    assert critical["Threshold"] == 50
    assert metric_names(critical) == {"UnHealthyHostCount", "HealthyHostCount"}
    assert critical["TreatMissingData"] == "breaching", "no target reporting is an outage"


def test_poc_profile_keeps_critical_alarms_only(template: TemplateFn) -> None:
    names = set(alarms(template(DEV_PLATFORM)))
    assert names and all(n.endswith("-critical") for n in names)
    assert len(alarms(template(PROD_PLATFORM))) == 2 * len(names)


@pytest.mark.parametrize(
    ("instance_class", "limit"),
    [("db.t4g.micro", 100), ("db.t4g.small", 200), ("db.t4g.medium", 400)],
)
def test_max_connections_per_class(instance_class: str, limit: int) -> None:
    # LEAST(DBInstanceClassMemory / 9531392, 5000) over 90% of the class memory, rounded down
    assert max_connections(instance_class) == limit


@pytest.mark.parametrize(
    ("stack", "instance_class"), [(PROD_TENANT, "db.t4g.small"), (LARGE_TENANT, "db.t4g.medium")]
)
def test_tenant_database_alarms(template: TemplateFn, stack: str, instance_class: str) -> None:
    t = template(stack)
    found = alarms(t)
    identifier = stack.replace("-tenant-", "-")
    limit = max_connections(instance_class)
    group = next(iter(t.find_resources("AWS::RDS::DBInstance").values()))["Properties"][
        "DBParameterGroupName"
    ]
    groups = template(PROD_PLATFORM).find_resources("AWS::RDS::DBParameterGroup")
    params = next(
        g["Properties"] for g in groups.values() if g["Properties"]["DBParameterGroupName"] == group
    )
    assert params["Parameters"]["max_connections"] == str(limit)
    for severity in ("warning", "critical"):
        cpu = found[f"{identifier}-rds-cpu-{severity}"]
        assert cpu["Threshold"] == {"warning": 60, "critical": 80}[severity]
        assert cpu["EvaluationPeriods"] == 10 and cpu["Period"] == 60
        connections = found[f"{identifier}-rds-connections-{severity}"]
        assert connections["Threshold"] == {"warning": 70, "critical": 85}[severity]
        expression = next(q["Expression"] for q in connections["Metrics"] if "Expression" in q)
        assert expression == f"100 * connections / {limit}"
        storage = found[f"{identifier}-rds-free-storage-{severity}"]
        assert storage["ComparisonOperator"] == "LessThanThreshold"
        assert storage["Threshold"] == {"warning": 20, "critical": 10}[severity]
        for alarm in (cpu, connections, storage):
            action = alarm["AlarmActions"][0]
            assert f"chefs-kiss-prod-alerts-{severity}" in str(action)


def test_poc_tenant_has_critical_alarms_only(template: TemplateFn) -> None:
    names = set(alarms(template(POC_TENANT)))
    assert len(names) == 3 and all(n.endswith("-critical") for n in names)


def test_alert_topics_are_encrypted_with_email_subscriptions(template: TemplateFn) -> None:
    t = template(PROD_PLATFORM)
    topics = t.find_resources("AWS::SNS::Topic")
    names = sorted(p["Properties"]["TopicName"] for p in topics.values())
    assert names == ["chefs-kiss-prod-alerts-critical", "chefs-kiss-prod-alerts-warning"]
    assert all("KmsMasterKeyId" in p["Properties"] for p in topics.values())
    subs = t.find_resources("AWS::SNS::Subscription")
    endpoints = sorted(s["Properties"]["Endpoint"] for s in subs.values())
    assert endpoints == [
        "cto@chefskiss.example",
        "oncall@chefskiss.example",
        "oncall@chefskiss.example",
    ]


def test_dashboard_finds_tenant_databases_by_search(template: TemplateFn) -> None:
    dashboards = template(PROD_PLATFORM).find_resources("AWS::CloudWatch::Dashboard")
    assert len(dashboards) == 1
    body = str(next(iter(dashboards.values()))["Properties"]["DashboardBody"])
    for title in ("p50 / p95 / p99", "Requests", "Errors", "Tasks", "CPU / memory"):
        assert title in body
    assert body.count("SEARCH(") == 3
    assert 'DBInstanceIdentifier=\\\\\\"chefs-kiss-prod-' in body or "chefs-kiss-prod-" in body


def platform_template(tenants: int, profile: str = "production", **settings: Any) -> dict[str, Any]:
    environment = generated_environment("scale", tenants, profile=profile, **settings)
    app = cdk.App(context=project_context(), builtin_cloud_formation_validation=False)
    stack = PlatformStack(
        app,
        "chefs-kiss-scale-platform",
        environment=environment,
        env=cdk.Environment(region=environment.region),
    )
    return assertions.Template.from_stack(stack).to_json()


@pytest.mark.slow
@pytest.mark.parametrize(
    ("tenants", "minimum", "maximum"),
    [(1, 2, 10), (5, 3, 8), (10, 4, 12), (25, 6, 20), (50, 8, 30), (100, 12, 50)],
)
def test_autoscaling_follows_the_seed_table(tenants: int, minimum: int, maximum: int) -> None:
    resources = platform_template(tenants)["Resources"]
    target = next(r for r in resources.values() if r["Type"].endswith("ScalableTarget"))
    assert (target["Properties"]["MinCapacity"], target["Properties"]["MaxCapacity"]) == (
        minimum,
        maximum,
    )
    service = next(r for r in resources.values() if r["Type"] == "AWS::ECS::Service")
    assert service["Properties"]["DesiredCount"] == minimum
    policies = [
        r["Properties"]["TargetTrackingScalingPolicyConfiguration"]
        for r in resources.values()
        if r["Type"] == "AWS::ApplicationAutoScaling::ScalingPolicy"
    ]
    kinds = sorted(p["PredefinedMetricSpecification"]["PredefinedMetricType"] for p in policies)
    assert kinds == ["ECSServiceAverageCPUUtilization", "ECSServiceAverageMemoryUtilization"]
    assert all(p["ScaleInCooldown"] == 300 and p["ScaleOutCooldown"] == 60 for p in policies)


@pytest.mark.slow
def test_autoscaling_overrides() -> None:
    resources = platform_template(3, app={"min_tasks": 4, "max_tasks": 9})["Resources"]
    target = next(r for r in resources.values() if r["Type"].endswith("ScalableTarget"))
    assert (target["Properties"]["MinCapacity"], target["Properties"]["MaxCapacity"]) == (4, 9)


@pytest.mark.slow
def test_poc_runs_one_fixed_task() -> None:
    resources = platform_template(3, profile="poc")["Resources"]
    assert not any(r["Type"].endswith("ScalableTarget") for r in resources.values())
    service = next(r for r in resources.values() if r["Type"] == "AWS::ECS::Service")
    assert service["Properties"]["DesiredCount"] == 1


def test_health_checks_on_target_group_and_container(template: TemplateFn) -> None:
    t = template(PROD_PLATFORM)
    group = next(iter(t.find_resources("AWS::ElasticLoadBalancingV2::TargetGroup").values()))
    props = group["Properties"]
    assert props["HealthCheckPath"] == "/"
    assert props["HealthyThresholdCount"] == 2 and props["UnhealthyThresholdCount"] == 3
    task = next(iter(t.find_resources("AWS::ECS::TaskDefinition").values()))
    check = task["Properties"]["ContainerDefinitions"][0]["HealthCheck"]
    assert check["Retries"] == 3 and check["StartPeriod"] == 60


@pytest.mark.parametrize(
    ("path_part", "days"),
    [("/app", 7), ("vpc-flow-logs", 90), ("aws-waf-logs-", 30)],
)
def test_log_retention_defaults(template: TemplateFn, path_part: str, days: int) -> None:
    groups = template(PROD_PLATFORM).find_resources("AWS::Logs::LogGroup")
    matching = [g for g in groups.values() if path_part in str(g["Properties"]["LogGroupName"])]
    assert matching, path_part
    assert all(g["Properties"]["RetentionInDays"] == days for g in matching)


def test_postgres_logs_retention_in_tenant(template: TemplateFn) -> None:
    groups = template(PROD_TENANT).find_resources("AWS::Logs::LogGroup")
    names = sorted(
        g["Properties"].get("LogGroupName", logical_id) for logical_id, g in groups.items()
    )
    assert names == [
        "/aws/rds/instance/chefs-kiss-prod-golden-wok/postgresql",
        "/aws/rds/instance/chefs-kiss-prod-golden-wok/upgrade",
        # the database bootstrap function's run log, named so only the tenant key covers it
        "/chefs-kiss/prod/tenants/golden-wok/db-bootstrap",
    ]
    assert all(g["Properties"]["RetentionInDays"] == 30 for g in groups.values())


@pytest.mark.slow
def test_log_retention_is_configurable() -> None:
    resources = platform_template(1, logs={"app_days": 14, "audit_days": 365})["Resources"]
    groups = {
        r["Properties"]["LogGroupName"]: r["Properties"]["RetentionInDays"]
        for r in resources.values()
        if r["Type"] == "AWS::Logs::LogGroup"
    }
    assert groups["/chefs-kiss-scale/app"] == 14
    assert groups["/chefs-kiss-scale/vpc-flow-logs"] == 365


def test_uploads_lifecycle_follows_seed_4_3(template: TemplateFn) -> None:
    buckets = template(PROD_PLATFORM).find_resources("AWS::S3::Bucket")
    uploads = next(b for k, b in buckets.items() if k.startswith("Uploads"))
    rule = uploads["Properties"]["LifecycleConfiguration"]["Rules"][0]
    transitions = {t["StorageClass"]: t["TransitionInDays"] for t in rule["Transitions"]}
    assert transitions == {"INTELLIGENT_TIERING": 30, "GLACIER_IR": 90}
    assert rule["NoncurrentVersionExpiration"]["NoncurrentDays"] == 30
    assert rule["AbortIncompleteMultipartUpload"]["DaysAfterInitiation"] == 7


@pytest.mark.parametrize(("stack", "days"), [(POC_TENANT, 1), (PROD_TENANT, 7)])
def test_backups_by_tier(template: TemplateFn, stack: str, days: int) -> None:
    instance = next(iter(template(stack).find_resources("AWS::RDS::DBInstance").values()))
    assert instance["Properties"]["BackupRetentionPeriod"] == days


@pytest.mark.slow
def test_adding_a_tenant_touches_only_its_own_stack() -> None:
    """Onboarding restaurant #3 (same capacity band): the platform template is unchanged and
    the new restaurant's alarms are in its own stack."""

    def synth(count: int) -> dict[str, dict[str, Any]]:
        environment = generated_environment("onb", count, profile="production")
        app = cdk.App(context=project_context(), builtin_cloud_formation_validation=False)
        assembly = build_app(environments=[environment], nag_packs=(), app=app).synth()
        return {s.stack_name: s.template for s in assembly.stacks}

    before, after = synth(2), synth(3)
    assert before["chefs-kiss-onb-platform"] == after["chefs-kiss-onb-platform"]
    assert set(after) - set(before) == {"chefs-kiss-onb-tenant-r0003"}
    for name in before:
        assert before[name] == after[name], f"{name} changed"
    new_alarms = [
        r
        for r in after["chefs-kiss-onb-tenant-r0003"]["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm"
    ]
    assert len(new_alarms) == 2 * 3


def test_threshold_table_matches_seed_9_2() -> None:
    rows = {k: (t.warning, t.critical, t.minutes) for k, t in THRESHOLDS.items()}
    assert rows["fargate_cpu"] == (70, 85, 5)
    assert rows["fargate_memory"] == (75, 90, 5)
    assert rows["rds_cpu"] == (60, 80, 10)
    assert rows["rds_connections"][:2] == (70, 85)
    assert rows["error_rate"] == (1, 5, 5)
    assert rows["p95_latency"] == (2, 5, 5)
    assert rows["unhealthy_targets"][:2] == (0, 50)
