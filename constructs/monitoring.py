"""Seed section 9: alert topics, the platform's alarms and dashboard, and each tenant's alarms.
Must never import stacks/, ops/ or config/: settings arrive as constructor arguments.

Thresholds live in one table (`THRESHOLDS`) that the alarms, the README's alarm table and the
tests all read. Per-tenant alarms belong to the tenant stack, and the platform dashboard finds
every tenant database with metric SEARCH expressions, so onboarding never edits the platform.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions

from constructs import Construct
from constructs.key_policies import allow_alarm_notifications

SEVERITIES = ("warning", "critical")


@dataclass(frozen=True)
class Threshold:
    """One seed 9.2 row: what is measured, both levels, and for how long."""

    metric: str
    warning: float
    critical: float
    minutes: int
    unit: str
    comparison: str  # ">" or "<"
    scope: str  # "platform" or "tenant"
    action: str


THRESHOLDS: dict[str, Threshold] = {
    "fargate_cpu": Threshold("Fargate CPU", 70, 85, 5, "%", ">", "platform", "Scale up tasks"),
    "fargate_memory": Threshold(
        "Fargate memory", 75, 90, 5, "%", ">", "platform", "Scale up tasks"
    ),
    "error_rate": Threshold(
        "ALB 5xx error rate (5xx / requests)",
        1,
        5,
        5,
        "%",
        ">",
        "platform",
        "Investigate application errors",
    ),
    "p95_latency": Threshold(
        "p95 target response time", 2, 5, 5, "s", ">", "platform", "Investigate performance"
    ),
    "unhealthy_targets": Threshold(
        "ALB unhealthy targets (warning: count, critical: share)",
        0,
        50,
        5,
        "count / %",
        ">",
        "platform",
        "Investigate application health",
    ),
    "rds_cpu": Threshold("RDS CPU", 60, 80, 10, "%", ">", "tenant", "Upgrade instance"),
    "rds_connections": Threshold(
        "RDS connections (share of max_connections)",
        70,
        85,
        5,
        "%",
        ">",
        "tenant",
        "Implement connection pooling",
    ),
    "rds_free_storage": Threshold(
        "RDS free storage (share of allocated)",
        20,
        10,
        10,
        "%",
        "<",
        "tenant",
        "Grow storage or enable storage autoscaling",
    ),
}

# RDS for PostgreSQL sizes max_connections as LEAST(DBInstanceClassMemory / 9531392, 5000).
# DBInstanceClassMemory is the class memory less what RDS reserves, so the tenant parameter group
# sets max_connections explicitly to the formula over 90% of the class memory: the alarm's
# denominator is then the real limit, not an estimate.
INSTANCE_MEMORY_GIB: dict[str, float] = {
    "db.t4g.micro": 1,
    "db.t4g.small": 2,
    "db.t4g.medium": 4,
    "db.t4g.large": 8,
    "db.m6g.large": 8,
}


def max_connections(instance_class: str) -> int:
    try:
        memory = INSTANCE_MEMORY_GIB[instance_class] * 1024**3
    except KeyError:
        known = ", ".join(sorted(INSTANCE_MEMORY_GIB))
        raise ValueError(f"unknown instance class {instance_class!r}; known: {known}") from None
    return min(int(memory * 0.9 / 9531392) // 10 * 10, 5000)


class AlertTopics(Construct):
    """One encrypted SNS topic per severity, with email subscriptions from config.

    The topic names are a convention (`<prefix>-alerts-<severity>`) so that tenant stacks can
    address them without a cross-stack export.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        key: kms.IKey,
        emails: Mapping[str, Sequence[str]],
    ) -> None:
        super().__init__(scope, construct_id)
        # Alarms of this environment only (tenant alarms share the prefix): issue 15.
        allow_alarm_notifications(key, alarm_name_pattern=f"{name_prefix}-*")
        self.topics: dict[str, sns.Topic] = {}
        for severity in SEVERITIES:
            topic = sns.Topic(
                self,
                severity.title(),
                topic_name=topic_name(name_prefix, severity),
                display_name=f"Chefs Kiss {name_prefix} {severity} alerts",
                master_key=key,
                enforce_ssl=True,
            )
            for address in emails.get(severity, ()):
                topic.add_subscription(subscriptions.EmailSubscription(address))
            self.topics[severity] = topic


def topic_name(name_prefix: str, severity: str) -> str:
    return f"{name_prefix}-alerts-{severity}"


def imported_topics(scope: Construct, name_prefix: str) -> dict[str, sns.ITopic]:
    """The platform's alert topics, addressed by their conventional names."""
    stack = cdk.Stack.of(scope)
    return {
        severity: sns.Topic.from_topic_arn(
            scope,
            f"{severity.title()}Topic",
            stack.format_arn(service="sns", resource=topic_name(name_prefix, severity)),
        )
        for severity in SEVERITIES
    }


def _alarm(
    scope: Construct,
    construct_id: str,
    *,
    name: str,
    description: str,
    metric: cloudwatch.IMetric,
    threshold: float,
    minutes: int,
    period_minutes: int,
    below: bool,
    missing: cloudwatch.TreatMissingData,
    action: cloudwatch.IAlarmAction | None = None,
    topic: sns.ITopic | None = None,
) -> cloudwatch.Alarm:
    """An alarm that notifies `action` (shared by the alarms of one severity, see
    `_alarm_actions`), or a new SNS action on `topic`, on alarm and on recovery."""
    if action is None:
        if topic is None:
            raise TypeError("_alarm needs an action or a topic")
        action = cloudwatch_actions.SnsAction(topic)
    periods = max(1, math.ceil(minutes / period_minutes))
    alarm = cloudwatch.Alarm(
        scope,
        construct_id,
        alarm_name=name,
        alarm_description=description,
        metric=metric,
        threshold=threshold,
        evaluation_periods=periods,
        datapoints_to_alarm=periods,
        comparison_operator=(
            cloudwatch.ComparisonOperator.LESS_THAN_THRESHOLD
            if below
            else cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD
        ),
        treat_missing_data=missing,
    )
    alarm.add_alarm_action(action)
    alarm.add_ok_action(action)
    return alarm


def _alarm_actions(
    topics: Mapping[str, sns.ITopic], severities: Sequence[str]
) -> dict[str, cloudwatch.IAlarmAction]:
    """One SNS action per severity, shared by that severity's alarms: an action only names its
    topic (each new one is a round trip to the jsii kernel, and a tenant has several alarms)."""
    return {severity: cloudwatch_actions.SnsAction(topics[severity]) for severity in severities}


def _threshold_alarms(
    scope: Construct,
    plans: Sequence[tuple[str, str, cloudwatch.IMetric, cloudwatch.TreatMissingData]],
    severity: str,
    *,
    subject: str,
    action: cloudwatch.IAlarmAction,
    described: str = "",
) -> list[cloudwatch.Alarm]:
    """One alarm per plan (THRESHOLDS key, construct id label, metric, missing data) at one
    severity: named `<subject>-<key>-<severity>`, described by its seed 9.2 row (after
    `described`, what it watches)."""
    alarms = []
    for key, label, metric, missing in plans:
        threshold = THRESHOLDS[key]
        level = getattr(threshold, severity)
        alarms.append(
            _alarm(
                scope,
                f"{label}{severity.title()}",
                name=f"{subject}-{key.replace('_', '-')}-{severity}",
                description=f"{described}{threshold.metric} {threshold.comparison} {level}"
                f"{threshold.unit} for {threshold.minutes} min (seed 9.2). "
                f"Action: {threshold.action}.",
                metric=metric,
                threshold=level,
                minutes=threshold.minutes,
                period_minutes=1,
                below=threshold.comparison == "<",
                missing=missing,
                action=action,
            )
        )
    return alarms


@dataclass(frozen=True)
class _AppMetrics:
    """The shared app's one-minute metrics that the alarms and the dashboard both use."""

    cpu: cloudwatch.IMetric
    memory: cloudwatch.IMetric
    error_rate: cloudwatch.IMetric
    p95: cloudwatch.IMetric
    unhealthy: cloudwatch.IMetric
    healthy: cloudwatch.IMetric
    unhealthy_share: cloudwatch.IMetric

    @staticmethod
    def of(
        service: ecs.FargateService,
        load_balancer: elbv2.ApplicationLoadBalancer,
        target_group: elbv2.ApplicationTargetGroup,
    ) -> _AppMetrics:
        minute = cdk.Duration.minutes(1)
        cpu = service.metric_cpu_utilization(period=minute, statistic="Average")
        memory = service.metric_memory_utilization(period=minute, statistic="Average")
        requests = load_balancer.metrics.request_count(period=minute, statistic="Sum")
        target_5xx = load_balancer.metrics.http_code_target(
            elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=minute, statistic="Sum"
        )
        elb_5xx = load_balancer.metrics.http_code_elb(
            elbv2.HttpCodeElb.ELB_5XX_COUNT, period=minute, statistic="Sum"
        )
        error_rate = cloudwatch.MathExpression(
            expression=(
                "IF(requests > 0, 100 * (FILL(target5xx, 0) + FILL(elb5xx, 0)) / requests, 0)"
            ),
            using_metrics={"requests": requests, "target5xx": target_5xx, "elb5xx": elb_5xx},
            label="5xx error rate (%)",
            period=minute,
        )
        p95 = target_group.metrics.target_response_time(period=minute, statistic="p95")
        unhealthy = target_group.metrics.unhealthy_host_count(period=minute, statistic="Maximum")
        healthy = target_group.metrics.healthy_host_count(period=minute, statistic="Minimum")
        unhealthy_share = cloudwatch.MathExpression(
            expression="100 * unhealthy / (unhealthy + healthy)",
            using_metrics={"unhealthy": unhealthy, "healthy": healthy},
            label="Unhealthy targets (%)",
            period=minute,
        )
        return _AppMetrics(
            cpu=cpu,
            memory=memory,
            error_rate=error_rate,
            p95=p95,
            unhealthy=unhealthy,
            healthy=healthy,
            unhealthy_share=unhealthy_share,
        )


class PlatformMonitoring(Construct):
    """Alarms on the shared app (Fargate, ALB) and the platform dashboard.

    `severities` is ("warning", "critical") in production and ("critical",) for the PoC
    profile, which the seed keeps inside the CloudWatch free tier (10 alarms).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        service: ecs.FargateService,
        load_balancer: elbv2.ApplicationLoadBalancer,
        target_group: elbv2.ApplicationTargetGroup,
        topics: Mapping[str, sns.ITopic],
        severities: Sequence[str],
        dashboard_name: str | None = None,
    ) -> None:
        """`dashboard_name`: default `<name_prefix>-platform`. Dashboard names are global to the
        account (their ARN has no region), so a second region's platform needs another one."""
        super().__init__(scope, construct_id)
        self.alarms: list[cloudwatch.Alarm] = []
        metrics = _AppMetrics.of(service, load_balancer, target_group)
        self._alarms(name_prefix, metrics, topics=topics, severities=severities)
        self._dashboard(
            name_prefix,
            metrics,
            load_balancer,
            target_group,
            dashboard_name=dashboard_name or f"{name_prefix}-platform",
        )

    def _alarms(
        self,
        name_prefix: str,
        metrics: _AppMetrics,
        *,
        topics: Mapping[str, sns.ITopic],
        severities: Sequence[str],
    ) -> None:
        """Seed 9.2 alarms on the app, per severity the profile keeps."""
        actions = _alarm_actions(topics, severities)
        not_breaching = cloudwatch.TreatMissingData.NOT_BREACHING
        plans: list[tuple[str, str, cloudwatch.IMetric, cloudwatch.TreatMissingData]] = [
            # No tasks running means no utilisation data; the unhealthy-target alarm covers that.
            ("fargate_cpu", "FargateCpu", metrics.cpu, not_breaching),
            ("fargate_memory", "FargateMemory", metrics.memory, not_breaching),
            # No requests, no errors: the expression is 0 then, and gaps are not errors.
            ("error_rate", "ErrorRate", metrics.error_rate, not_breaching),
            ("p95_latency", "P95Latency", metrics.p95, not_breaching),
        ]
        for severity in severities:
            self.alarms += _threshold_alarms(
                self, plans, severity, subject=name_prefix, action=actions[severity]
            )
            health = THRESHOLDS["unhealthy_targets"]
            self.alarms.append(
                _alarm(
                    self,
                    f"UnhealthyTargets{severity.title()}",
                    name=f"{name_prefix}-unhealthy-targets-{severity}",
                    description=(
                        "Any unhealthy target for 5 min (seed 9.2)."
                        if severity == "warning"
                        else "Over 50% of targets unhealthy for 5 min, or no target reporting "
                        "at all (seed 9.2). Action: investigate application health."
                    ),
                    metric=metrics.unhealthy if severity == "warning" else metrics.unhealthy_share,
                    threshold=getattr(health, severity),
                    minutes=health.minutes,
                    period_minutes=1,
                    below=False,
                    # An empty target group reports nothing: for the critical level that is
                    # an outage, not an absence of problems.
                    missing=(
                        not_breaching
                        if severity == "warning"
                        else cloudwatch.TreatMissingData.BREACHING
                    ),
                    action=actions[severity],
                )
            )

    def _dashboard(
        self,
        name_prefix: str,
        metrics: _AppMetrics,
        load_balancer: elbv2.ApplicationLoadBalancer,
        target_group: elbv2.ApplicationTargetGroup,
        *,
        dashboard_name: str,
    ) -> None:
        """The platform dashboard: app graphs, the alarms, and the tenant database fleet.

        Stays long: one widget list that reads like the dashboard it draws.
        """
        self.dashboard = cloudwatch.Dashboard(
            self,
            "Dashboard",
            dashboard_name=dashboard_name,
            default_interval=cdk.Duration.hours(6),
        )
        five = cdk.Duration.minutes(5)
        self.dashboard.add_widgets(
            cloudwatch.TextWidget(
                markdown=f"# Chef's Kiss {name_prefix}\nShared app (Fargate + ALB) and every "
                "tenant database of this environment (found by metric search: new restaurants "
                "appear without a platform change).",
                width=24,
                height=2,
            ),
            cloudwatch.GraphWidget(
                title="Requests",
                left=[load_balancer.metrics.request_count(period=five, statistic="Sum")],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Target response time p50 / p95 / p99",
                left=[
                    target_group.metrics.target_response_time(period=five, statistic=stat)
                    for stat in ("p50", "p95", "p99")
                ],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Errors: 4xx / 5xx and 5xx rate",
                left=[
                    load_balancer.metrics.http_code_target(
                        elbv2.HttpCodeTarget.TARGET_4XX_COUNT, period=five, statistic="Sum"
                    ),
                    load_balancer.metrics.http_code_target(
                        elbv2.HttpCodeTarget.TARGET_5XX_COUNT, period=five, statistic="Sum"
                    ),
                ],
                right=[metrics.error_rate],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Tasks: healthy / unhealthy targets",
                left=[metrics.healthy, metrics.unhealthy],
                width=8,
            ),
            cloudwatch.GraphWidget(
                title="Fargate CPU / memory (%)",
                left=[metrics.cpu, metrics.memory],
                width=8,
            ),
            cloudwatch.AlarmStatusWidget(
                title="Platform alarms", alarms=self.alarms, width=8, height=6
            ),
        )
        # Database fleet: SEARCH finds every tenant instance of this environment by name prefix.
        for metric_name, title, stat in (
            ("CPUUtilization", "Tenant databases: CPU (%) top 10", "MAX"),
            ("DatabaseConnections", "Tenant databases: connections, top 10", "MAX"),
            ("FreeStorageSpace", "Tenant databases: free storage (bytes), lowest 10", "MIN"),
        ):
            order = "ASC" if stat == "MIN" else "DESC"
            search = (
                f'SORT(SEARCH(\'{{AWS/RDS,DBInstanceIdentifier}} MetricName="{metric_name}" '
                f"DBInstanceIdentifier=\"{name_prefix}-\"', 'Average', 300), {stat}, {order}, 10)"
            )
            self.dashboard.add_widgets(
                cloudwatch.GraphWidget(
                    title=title,
                    left=[cloudwatch.MathExpression(expression=search, label="", period=five)],
                    width=8,
                )
            )


# Seed 7.1: the recovery point objective of the cross-region standby (issue 20).
REPLICA_LAG_RPO_SECONDS = 60


class TenantMonitoring(Construct):
    """A restaurant's database alarms (seed 9.2), in the tenant stack, to the platform's topics.

    `replica_lag_rpo_seconds`: the database is a read replica; a critical alarm pages when its
    `ReplicaLag` passes this many seconds (the standby's RPO) or stops being reported.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        instance: rds.IDatabaseInstance,
        instance_identifier: str,
        instance_class: str,
        allocated_storage_gb: int,
        topics: Mapping[str, sns.ITopic],
        severities: Sequence[str],
        replica_lag_rpo_seconds: int | None = None,
    ) -> None:
        super().__init__(scope, construct_id)
        self.max_connections = max_connections(instance_class)
        metrics = _database_metrics(instance, self.max_connections, allocated_storage_gb)
        self.alarms: list[cloudwatch.Alarm] = []
        actions = _alarm_actions(topics, severities)
        for severity in severities:  # seed 9.2: CPU, connections, free storage
            self.alarms += _threshold_alarms(
                self,
                metrics,
                severity,
                subject=instance_identifier,
                described=f"{instance_identifier}: ",
                action=actions[severity],
            )
        self.replica_lag_alarm: cloudwatch.Alarm | None = None
        if replica_lag_rpo_seconds is not None:
            self.replica_lag_alarm = self._replica_lag_alarm(
                instance,
                instance_identifier=instance_identifier,
                rpo_seconds=replica_lag_rpo_seconds,
                topic=topics["critical"],
            )
            self.alarms.append(self.replica_lag_alarm)

    def _replica_lag_alarm(
        self,
        instance: rds.IDatabaseInstance,
        *,
        instance_identifier: str,
        rpo_seconds: int,
        topic: sns.ITopic,
    ) -> cloudwatch.Alarm:
        """Critical when the standby's ReplicaLag passes the RPO or stops being reported."""
        return _alarm(
            self,
            "ReplicaLagCritical",
            name=f"{instance_identifier}-replica-lag-critical",
            description=f"{instance_identifier} standby: ReplicaLag > "
            f"{rpo_seconds} s, the recovery point objective (seed 7.1), or no "
            "lag reported (replication stopped). Action: check the primary and the "
            "replication; a failover now would lose more than the RPO.",
            metric=instance.metric(
                "ReplicaLag", period=cdk.Duration.minutes(1), statistic="Maximum"
            ),
            threshold=rpo_seconds,
            minutes=1,
            period_minutes=1,
            below=False,
            # A replica that stopped replicating reports nothing: that is the worst lag.
            missing=cloudwatch.TreatMissingData.BREACHING,
            topic=topic,
        )


def _database_metrics(
    instance: rds.IDatabaseInstance, max_connections: int, allocated_storage_gb: int
) -> list[tuple[str, str, cloudwatch.IMetric, cloudwatch.TreatMissingData]]:
    """The plans of a tenant database's alarms (see `_threshold_alarms`): CPU, connections as a
    share of max_connections, free storage as a share of allocated. A stopped or failing-over
    instance sends no data: the alarms keep their last state rather than flap to OK."""
    minute = cdk.Duration.minutes(1)
    cpu = instance.metric_cpu_utilization(period=minute, statistic="Average")
    connections = cloudwatch.MathExpression(
        expression=f"100 * connections / {max_connections}",
        using_metrics={
            "connections": instance.metric_database_connections(period=minute, statistic="Maximum")
        },
        label=f"Connections (% of max_connections = {max_connections})",
        period=minute,
    )
    allocated_bytes = allocated_storage_gb * 1024**3
    free_storage = cloudwatch.MathExpression(
        expression=f"100 * storage / {allocated_bytes}",
        using_metrics={
            "storage": instance.metric_free_storage_space(period=minute, statistic="Minimum")
        },
        label="Free storage (% of allocated)",
        period=minute,
    )
    missing = cloudwatch.TreatMissingData.MISSING
    return [
        ("rds_cpu", "Cpu", cpu, missing),
        ("rds_connections", "Connections", connections, missing),
        ("rds_free_storage", "FreeStorage", free_storage, missing),
    ]
