"""Bill of quantities: every resource of an environment's templates, by CloudFormation type.

Each resource type has one rule that reads its properties and returns what it bills for
(`Charge`: a quantity of a price-table key), or says why it is free (`Free`) or why the model
cannot price it (`Unpriced`). A type without a rule is unpriced, never silently $0: the platform
grows (alarms, dashboards, topics, endpoints) and a new costly type must show up in the report.
Usage that no template states (log GB, requests, egress) comes from `config/usage.yaml`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from decimal import Decimal
from typing import Any

from ops.costing.tables import PriceTable, Usage

DAYS_PER_MONTH = 30.42

# Seed components (its tables' rows) plus what the seed leaves out.
APP = "Application containers"
DATABASES = "Databases"
LOAD_BALANCER = "Load balancer"
OBJECT_STORAGE = "Object storage"
MONITORING = "Monitoring"
SECRETS = "Secrets"
DNS = "DNS"
BACKUP = "Backup storage"
DATA_TRANSFER = "Data transfer"
NETWORKING = "Networking (NAT, public IPv4, endpoints)"
KEYS = "Encryption keys (KMS)"
LOG_ARCHIVE = "Log archive"
OTHER = "Other"
COMPONENTS = (
    APP,
    DATABASES,
    LOAD_BALANCER,
    OBJECT_STORAGE,
    MONITORING,
    SECRETS,
    DNS,
    BACKUP,
    DATA_TRANSFER,
    NETWORKING,
    KEYS,
    LOG_ARCHIVE,
    OTHER,
)


@dataclass(frozen=True)
class Charge:
    """`quantity` units of the price `price_key` (x `factor`), billed monthly."""

    component: str
    item: str
    quantity: float
    unit: str
    price_key: str
    note: str = ""
    fallback_keys: tuple[str, ...] = ()
    factor: Decimal = Decimal(1)
    commitment_eligible: bool = True
    resource: str = ""
    resource_type: str = ""


@dataclass(frozen=True)
class Free:
    reason: str
    resource: str = ""
    resource_type: str = ""


@dataclass(frozen=True)
class Unpriced:
    reason: str
    resource: str = ""
    resource_type: str = ""


Finding = Charge | Free | Unpriced


@dataclass
class Environment:
    """The stacks of one environment and what is needed to read them together."""

    name: str
    templates: Mapping[str, Mapping[str, Any]]  # stack name -> template
    tenant_stacks: tuple[str, ...]
    anchor: str  # stack that carries environment-wide usage (the platform stack)
    usage: Usage
    prices: PriceTable
    arch_override: str | None = None  # "arm64" / "x86_64": re-price Fargate as another arch
    kms_requests: float = 0.0
    # Lambda invocations and GB-seconds a month by architecture (scheduled and rotation
    # functions), priced once per environment against the account's free tier.
    lambda_requests: float = 0.0
    lambda_gb_seconds: dict[str, float] = field(default_factory=dict)
    zones: dict[str, bool] = field(default_factory=dict)  # referenced zone id -> alias-only
    # Stacks of the recovery region (seed 7.1 standby): they serve no customer traffic until a
    # failover, so usage-driven quantities there are a share of the primary's (usage.yaml
    # standby_activity_fraction), and the primary's usage is not split with them.
    standby_stacks: tuple[str, ...] = ()

    @property
    def hours(self) -> float:
        return float(self.prices.hours_per_month)

    def is_standby(self, stack: str) -> bool:
        return stack in self.standby_stacks

    def count_near(self, resource_type: str, stack: str) -> int:
        """Resources of a type in the same region group as `stack` (primary or standby)."""
        side = self.is_standby(stack)
        return sum(1 for s, _, _ in self.resources([resource_type]) if self.is_standby(s) == side)

    def resources(self, types: Iterable[str] | None = None) -> Iterable[tuple[str, str, dict]]:
        wanted = set(types) if types else None
        for stack, template in self.templates.items():
            for logical_id, resource in dict(template.get("Resources", {})).items():
                if wanted is None or resource.get("Type") in wanted:
                    yield stack, logical_id, resource

    def count(self, resource_type: str) -> int:
        return sum(1 for _ in self.resources([resource_type]))


@dataclass(frozen=True)
class Context:
    env: Environment
    stack: str
    template: Mapping[str, Any]

    @property
    def resources(self) -> dict[str, dict]:
        return dict(self.template.get("Resources", {}))

    @property
    def standby(self) -> bool:
        """This stack is in the recovery region (the seed 7.1 standby)."""
        return self.env.is_standby(self.stack)

    def activity(self) -> float:
        """Share of the primary's traffic-driven usage this stack sees (1 outside the standby)."""
        return self.env.usage.get("standby_activity_fraction") if self.standby else 1.0

    def props(self, logical_id: str) -> dict:
        return dict(self.resources.get(logical_id, {}).get("Properties", {}))

    def resolve(self, value: Any) -> tuple[str, dict] | None:
        """The resource a `Ref` / `Fn::GetAtt` points at in this template."""
        ids = referenced_ids(value)
        for logical_id in ids:
            if logical_id in self.resources:
                return logical_id, self.resources[logical_id]
        return None

    def mentioning(self, logical_id: str, resource_type: str, key: str) -> list[tuple[str, dict]]:
        """Resources of `resource_type` whose property `key` refers to `logical_id`."""
        found = []
        for other_id, resource in self.resources.items():
            if resource.get("Type") == resource_type:
                value = resource.get("Properties", {}).get(key)
                if logical_id in referenced_ids(value):
                    found.append((other_id, resource))
        return found


def referenced_ids(value: Any) -> set[str]:
    """Logical ids named by Ref / Fn::GetAtt anywhere inside `value`."""
    found: set[str] = set()
    if isinstance(value, dict):
        for key, inner in value.items():
            if key == "Ref" and isinstance(inner, str):
                found.add(inner)
            elif key == "Fn::GetAtt":
                target = inner[0] if isinstance(inner, list) else str(inner).split(".")[0]
                found.add(str(target))
            else:
                found |= referenced_ids(inner)
    elif isinstance(value, list):
        for inner in value:
            found |= referenced_ids(inner)
    return found


def number(value: Any) -> float | None:
    """A literal number from a template value ("512", 512), or None for a token."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        return float(value)
    if isinstance(value, str):
        try:
            return float(value)
        except ValueError:
            return None
    return None


def truthy(value: Any) -> bool:
    return value is True or (isinstance(value, str) and value.lower() == "true")


def _fmt(value: float) -> str:
    return f"{value:,.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value):,}"


# --- compute --------------------------------------------------------------------------------


def ecs_task_count(ctx: Context, logical_id: str, props: Mapping[str, Any]) -> tuple[float, str]:
    """Minimum running tasks: the autoscaling minimum when a scalable target exists."""
    for target_id, target in ctx.resources.items():
        if target.get("Type") != "AWS::ApplicationAutoScaling::ScalableTarget":
            continue
        tprops = target.get("Properties", {})
        if tprops.get("ServiceNamespace") == "ecs" and logical_id in referenced_ids(
            tprops.get("ResourceId")
        ):
            minimum = number(tprops.get("MinCapacity"))
            if minimum is not None:
                return minimum, f"autoscaling minimum ({target_id})"
    desired = number(props.get("DesiredCount"))
    return (desired if desired is not None else 1.0), "desired count"


def _spot_share(strategy: list[Mapping[str, Any]], tasks: float) -> float:
    """Tasks on FARGATE_SPOT under a capacity provider strategy (base first, then weights)."""
    if not strategy:
        return 0.0
    spot = 0.0
    remaining = tasks
    for entry in strategy:
        base = number(entry.get("Base")) or 0.0
        take = min(base, remaining)
        remaining -= take
        if entry.get("CapacityProvider") == "FARGATE_SPOT":
            spot += take
    weights = {e.get("CapacityProvider"): number(e.get("Weight")) or 0.0 for e in strategy}
    total = sum(weights.values())
    if total > 0:
        spot += remaining * weights.get("FARGATE_SPOT", 0.0) / total
    return spot


def ecs_service(ctx: Context, logical_id: str, resource: dict) -> list[Finding]:
    props = resource.get("Properties", {})
    strategy = list(props.get("CapacityProviderStrategy") or [])
    providers = {entry.get("CapacityProvider") for entry in strategy}
    if props.get("LaunchType", "FARGATE" if not strategy else None) != "FARGATE" and not (
        providers & {"FARGATE", "FARGATE_SPOT"}
    ):
        return [Unpriced("ECS service on EC2 capacity: its instances are not priced by this model")]
    task = ctx.resolve(props.get("TaskDefinition"))
    if task is None:
        return [Unpriced("task definition not in this template: CPU and memory unknown")]
    tprops = task[1].get("Properties", {})
    cpu_units, memory_mib = number(tprops.get("Cpu")), number(tprops.get("Memory"))
    if cpu_units is None or memory_mib is None:
        return [Unpriced(f"task definition {task[0]}: Cpu/Memory are not literal numbers")]
    platform = dict(tprops.get("RuntimePlatform") or {})
    if str(platform.get("OperatingSystemFamily", "LINUX")).startswith("WINDOWS"):
        return [Unpriced("Windows Fargate tasks (OS licence fee) are not in the price tables")]
    arch = "arm64" if platform.get("CpuArchitecture") == "ARM64" else "x86_64"
    template_arch = arch
    arch = ctx.env.arch_override or arch
    minimum, count_source = ecs_task_count(ctx, logical_id, props)
    above = 0.0 if ctx.standby else ctx.env.usage.get("fargate_tasks_above_minimum")
    tasks = minimum + above
    if ctx.standby:
        count_source += " (standby: no traffic, nothing above it)"
    spot = _spot_share(strategy, tasks)
    on_demand = tasks - spot
    vcpu, gb = cpu_units / 1024, memory_mib / 1024
    size = f"{_fmt(vcpu)} vCPU / {_fmt(gb)} GB {arch.upper()}"
    note = f"{_fmt(tasks)} tasks: {count_source}"
    if arch != template_arch:
        note += f" (re-priced from {template_arch.upper()})"
    findings: list[Finding] = []
    fallback = ("fargate.linux_x86_64.{}",) if arch != "x86_64" else ()
    spot_factor = Decimal(1) - ctx.env.prices.number("fargate.spot_discount", 0.7)
    for share, label, factor, eligible in (
        (on_demand, "", Decimal(1), True),
        (spot, " on Spot", spot_factor, False),
    ):
        if share <= 0:
            continue
        for dim, per_task, unit in (("vcpu_hour", vcpu, "vCPU-hours"), ("gb_hour", gb, "GB-hours")):
            findings.append(
                Charge(
                    APP,
                    f"Fargate{label} {unit} ({_fmt(share)} x {size})",
                    share * per_task * ctx.env.hours,
                    unit,
                    f"fargate.linux_{arch}.{dim}",
                    note,
                    fallback_keys=tuple(key.format(dim) for key in fallback),
                    factor=factor,
                    commitment_eligible=eligible,
                )
            )
    ephemeral = number(dict(tprops.get("EphemeralStorage") or {}).get("SizeInGiB"))
    if ephemeral and ephemeral > 20:
        findings.append(
            Charge(
                APP,
                "Fargate ephemeral storage above 20 GB",
                tasks * (ephemeral - 20) * ctx.env.hours,
                "GB-hours",
                "fargate.ephemeral_gb_hour",
                note,
            )
        )
    return findings


def ecs_cluster(ctx: Context, logical_id: str, resource: dict) -> list[Finding]:
    settings = resource.get("Properties", {}).get("ClusterSettings") or []
    mode = next(
        (str(s.get("Value")) for s in settings if s.get("Name") == "containerInsights"), "disabled"
    )
    if mode not in ("enabled", "enhanced"):
        return [Free("ECS cluster: no charge; Container Insights off")]
    usage = ctx.env.usage
    services = ctx.mentioning(logical_id, "AWS::ECS::Service", "Cluster")
    tasks = sum(ecs_task_count(ctx, sid, s.get("Properties", {}))[0] for sid, s in services)
    log_gb = tasks * usage.get("container_insights_log_gb_per_task")
    note = f"Container Insights ({mode}): {len(services)} services, {_fmt(tasks)} tasks (estimate)"
    findings: list[Finding] = []
    if mode == "enhanced":
        # AWS prices enhanced observability per observation (one metric sample), not per
        # custom metric: samples per minute at cluster, service and task level.
        per_minute = (
            usage.get("container_insights_observations_per_cluster_minute")
            + len(services) * usage.get("container_insights_observations_per_service_minute")
            + tasks * usage.get("container_insights_observations_per_task_minute")
        )
        observations = per_minute * ctx.env.hours * 60
        findings.append(
            Charge(
                MONITORING,
                "Container Insights observations (enhanced)",
                observations / 1e6,
                "1M observations",
                "cloudwatch.container_insights_enhanced_per_million_observations",
                f"{note}; {_fmt(per_minute)} observations a minute (usage.yaml "
                "container_insights_observations_per_*_minute)",
            )
        )
    else:
        metrics = usage.get("container_insights_metrics_per_cluster") + len(services) * usage.get(
            "container_insights_metrics_per_service"
        )
        findings.append(
            Charge(
                MONITORING,
                f"Container Insights metrics ({mode})",
                metrics,
                "metric-months",
                "cloudwatch.metric_month",
                note + "; priced as custom metrics",
            )
        )
    return [
        *findings,
        Charge(
            MONITORING,
            "Container Insights performance logs",
            log_gb,
            "GB ingested",
            "logs.ingest_gb",
            note,
        ),
        Charge(
            MONITORING,
            "Container Insights performance logs stored (1 day)",
            log_gb / DAYS_PER_MONTH,
            "GB-months",
            "logs.storage_gb_month",
            note,
        ),
    ]


def rds_instance(ctx: Context, logical_id: str, resource: dict) -> list[Finding]:
    props = resource.get("Properties", {})
    if props.get("DBClusterIdentifier"):
        return [Unpriced("Aurora cluster instance: Aurora is not in the price tables")]
    cls = props.get("DBInstanceClass")
    engine = str(props.get("Engine", "postgres")).lower()
    if not isinstance(cls, str):
        return [Unpriced("DBInstanceClass is not a literal")]
    prices, usage = ctx.env.prices, ctx.env.usage
    source = props.get("SourceDBInstanceIdentifier")
    replica = _replica_source(ctx, source) if source else None
    multi = truthy(props.get("MultiAZ"))
    az = "Multi-AZ" if multi else "single-AZ"
    if source:
        # A cross-region read replica is billed as an instance of its class in its region.
        az += " read replica"
    findings: list[Finding] = [
        Charge(
            DATABASES,
            f"{cls} {az} instance hours",
            ctx.env.hours
            * (float(prices.number("rds.multi_az_instance_factor", 2)) if multi else 1.0),
            "instance-hours",
            f"rds.{engine}.instance_hour.{cls}",
            "primary + standby" if multi else "",
        )
    ]
    allocated = number(props.get("AllocatedStorage"))
    source_props = replica[1] if replica else {}
    if allocated is None and replica:
        allocated = number(source_props.get("AllocatedStorage"))  # a replica inherits it
    if allocated is None:
        findings.append(Unpriced("AllocatedStorage is not a literal"))
        return findings
    default_type = "io1" if props.get("Iops") else "gp2"
    storage_type = str(
        props.get("StorageType", source_props.get("StorageType", default_type))
    ).lower()
    copies = float(prices.number("rds.multi_az_storage_factor", 2)) if multi else 1.0
    note = f"{_fmt(allocated)} GB x {_fmt(copies)} cop{'ies' if copies != 1 else 'y'}"
    if replica:
        note += f" (the size of its source {replica[0]})"
    if props.get("MaxAllocatedStorage"):
        note += f"; storage autoscaling may grow it to {props['MaxAllocatedStorage']} GB"
    findings.append(
        Charge(
            DATABASES,
            f"{storage_type} storage",
            allocated * copies,
            "GB-months",
            f"rds.storage.{storage_type}.gb_month",
            note,
        )
    )
    if source:
        findings.append(_replication_transfer(ctx, props, allocated))
    traffic = 0.0 if source else usage.get("db_app_traffic_gb_per_instance")
    crossing = traffic * usage.get("db_cross_az_traffic_fraction")
    if crossing:
        # The app's tasks run in every AZ of the app subnets, the primary in one: a query from
        # another AZ is billed out of one AZ and into the other ($0.01/GB each way). The
        # Multi-AZ standby's replication is not billed.
        findings.append(
            Charge(
                DATA_TRANSFER,
                "cross-AZ traffic app <-> database",
                crossing * 2,
                "GB (each way billed)",
                "data_transfer.cross_az_gb",
                f"{_fmt(traffic)} GB a month between app and database (usage.yaml "
                f"db_app_traffic_gb_per_instance), {_fmt(crossing)} GB of it across AZs "
                "(db_cross_az_traffic_fraction), billed leaving one AZ and entering the other",
            )
        )
    iops = number(props.get("Iops"))
    if storage_type == "gp3" and iops and iops > 3000:
        findings.append(Unpriced(f"gp3 IOPS above the included 3,000 ({_fmt(iops)})"))
    retention = number(props.get("BackupRetentionPeriod"))
    # RDS default: 1 day for an instance, none for a read replica (backups stay off until set).
    retention = (0.0 if source else 1.0) if retention is None else retention
    if retention > 0:
        used = allocated * usage.get("db_used_fraction")
        backup = used * (1 + usage.get("db_daily_change_fraction") * retention)
        free = allocated * float(prices.number("rds.backup.free_fraction_of_allocated", 1))
        findings.append(
            Charge(
                BACKUP,
                f"automated backups ({_fmt(retention)} days)",
                max(0.0, backup - free),
                "GB-months",
                "rds.backup.gb_month",
                f"~{_fmt(round(backup, 2))} GB of snapshots, {_fmt(free)} GB free allowance",
            )
        )
    replica_region = props.get("AutomaticBackupReplicationRegion")
    if replica_region and retention > 0:
        # Seed 7.1 DR: the destination region bills the replicated backups with no free
        # allowance, and the snapshot data crosses regions once plus its daily changes.
        days = number(props.get("AutomaticBackupReplicationRetentionPeriod")) or retention
        used = allocated * usage.get("db_used_fraction")
        replicated = used * (1 + usage.get("db_daily_change_fraction") * days)
        findings += [
            Charge(
                BACKUP,
                f"replicated automated backups in {replica_region} ({_fmt(days)} days)",
                replicated,
                "GB-months",
                "rds.backup.gb_month",
                "cross-region copy: no free allowance",
            ),
            Charge(
                BACKUP,
                f"backup replication transfer to {replica_region}",
                used * usage.get("db_daily_change_fraction") * DAYS_PER_MONTH,
                "GB",
                "data_transfer.inter_region_gb",
                "daily changes copied across regions (estimate)",
            ),
        ]
    if truthy(props.get("EnablePerformanceInsights")):
        days = number(props.get("PerformanceInsightsRetentionPeriod")) or 7
        if days <= 7:
            findings.append(Free("Performance Insights, 7-day retention: free"))
        else:
            findings.append(
                Unpriced(f"Performance Insights long-term retention ({_fmt(days)} days)")
            )
    interval = number(props.get("MonitoringInterval")) or 0
    if interval > 0:
        gb = usage.get("enhanced_monitoring_gb_per_instance_at_60s") * 60 / interval
        days = usage.get("enhanced_monitoring_retention_days")
        em_note = f"RDSOSMetrics log at {_fmt(interval)} s (estimate)"
        findings += [
            Charge(
                MONITORING,
                "enhanced monitoring (CloudWatch Logs)",
                gb,
                "GB ingested",
                "logs.ingest_gb",
                em_note,
            ),
            Charge(
                MONITORING,
                "enhanced monitoring stored",
                gb * days / DAYS_PER_MONTH,
                "GB-months",
                "logs.storage_gb_month",
                f"{_fmt(days)}-day retention",
            ),
        ]
    return findings


def _replica_source(ctx: Context, source: Any) -> tuple[str, dict] | None:
    """(identifier, properties) of a read replica's source instance among the environment's
    templates: the identifier is the ARN's last part (`...:db:<identifier>`)."""
    text = json.dumps(source)
    match = re.search(r":db:([A-Za-z0-9-]+)", text)
    if match is None:
        return None
    identifier = match.group(1)
    for stack, _, resource in ctx.env.resources(["AWS::RDS::DBInstance"]):
        props = resource.get("Properties", {})
        if stack != ctx.stack and props.get("DBInstanceIdentifier") == identifier:
            return identifier, dict(props)
    return None


def _replication_transfer(ctx: Context, props: Mapping[str, Any], allocated: float) -> Charge:
    """The WAL a cross-region read replica streams, billed as inter-region data transfer."""
    usage = ctx.env.usage
    used = allocated * usage.get("db_used_fraction")
    daily = used * usage.get("db_daily_change_fraction")
    amplification = usage.get("db_wal_amplification")
    gb = daily * amplification * DAYS_PER_MONTH
    region = props.get("SourceRegion")
    origin = f" from {region}" if isinstance(region, str) else ""
    return Charge(
        DATA_TRANSFER,
        f"cross-region replication (WAL){origin}",
        gb,
        "GB",
        "rds.cross_region_transfer_gb",
        f"{_fmt(round(daily, 3))} GB of data changed a day (db_used_fraction x "
        f"db_daily_change_fraction of {_fmt(allocated)} GB) x {_fmt(amplification)} "
        "(db_wal_amplification: full-page writes, indexes) x 30.42 days (estimate)",
        fallback_keys=("data_transfer.inter_region_gb",),
    )


_VCPU_BY_SIZE = {"micro": 2, "small": 2, "medium": 2, "large": 2, "xlarge": 4}


def _vcpus(instance_class: str) -> int:
    size = instance_class.rsplit(".", 1)[-1]
    if size in _VCPU_BY_SIZE:
        return _VCPU_BY_SIZE[size]
    match = re.fullmatch(r"(\d+)xlarge", size)
    return 4 * int(match.group(1)) if match else 2


def rds_proxy(ctx: Context, logical_id: str, resource: dict) -> list[Finding]:
    vcpus = 0
    for _, group in ctx.mentioning(logical_id, "AWS::RDS::DBProxyTargetGroup", "DBProxyName"):
        for target in group.get("Properties", {}).get("DBInstanceIdentifiers") or []:
            found = ctx.resolve(target)
            cls = found[1].get("Properties", {}).get("DBInstanceClass") if found else None
            vcpus += _vcpus(cls) if isinstance(cls, str) else 2
    vcpus = max(vcpus, 2)
    return [
        Charge(
            DATABASES,
            "RDS Proxy vCPU-hours",
            vcpus * ctx.env.hours,
            "vCPU-hours",
            "rds_proxy.vcpu_hour",
            f"{vcpus} vCPUs of the targets (minimum 2)",
        )
    ]


def load_balancer(ctx: Context, logical_id: str, resource: dict) -> list[Finding]:
    props = resource.get("Properties", {})
    kind = props.get("Type", "application")
    if kind != "application":
        return [Unpriced(f"{kind} load balancer: not in the price tables")]
    findings: list[Finding] = [
        Charge(LOAD_BALANCER, "ALB hours", ctx.env.hours, "ALB-hours", "alb.hour")
    ]
    first_alb = next(
        (
            (stack, lid)
            for stack, lid, r in ctx.env.resources([resource["Type"]])
            if r.get("Properties", {}).get("Type", "application") == "application"
            and not ctx.env.is_standby(stack)
        ),
        None,
    )
    if first_alb == (ctx.stack, logical_id):
        lcu = ctx.env.usage.get("alb_lcu_hours")
        findings.append(
            Charge(
                LOAD_BALANCER,
                "ALB capacity units",
                lcu,
                "LCU-hours",
                "alb.lcu_hour",
                f"average {_fmt(round(lcu / ctx.env.hours, 2))} LCU (usage.yaml alb_lcu_hours)",
            )
        )
    if props.get("Scheme", "internet-facing") == "internet-facing":
        azs = len(props.get("SubnetMappings") or props.get("Subnets") or []) or 2
        findings.append(
            Charge(
                NETWORKING,
                f"ALB public IPv4 addresses ({azs} AZs)",
                azs * ctx.env.hours,
                "address-hours",
                "ec2.public_ipv4_hour",
                "one per load balancer node",
            )
        )
    return findings


def nat_gateway(ctx: Context, logical_id: str, resource: dict) -> list[Finding]:
    total = max(1, ctx.env.count_near("AWS::EC2::NatGateway", ctx.stack))
    gb = ctx.env.usage.get("nat_processed_gb") * ctx.activity() / total
    note = f"1/{total} of usage.yaml nat_processed_gb"
    if ctx.standby:
        note += " x standby_activity_fraction"
    return [
        Charge(NETWORKING, "NAT gateway hours", ctx.env.hours, "gateway-hours", "nat.hour"),
        Charge(NETWORKING, "NAT gateway data processed", gb, "GB", "nat.gb", note),
    ]


def elastic_ip(ctx: Context, logical_id: str, resource: dict) -> list[Finding]:
    return [
        Charge(
            NETWORKING,
            "Elastic IP (public IPv4)",
            ctx.env.hours,
            "address-hours",
            "ec2.public_ipv4_hour",
        )
    ]


def vpc_endpoint(ctx: Context, logical_id: str, resource: dict) -> list[Finding]:
    props = resource.get("Properties", {})
    kind = props.get("VpcEndpointType", "Gateway")
    service = props.get("ServiceName")
    label = service if isinstance(service, str) else "endpoint"
    if kind == "Gateway":
        return [Free(f"gateway endpoint ({label}): free")]
    azs = len(props.get("SubnetIds") or []) or 2
    return [
        Charge(
            NETWORKING,
            f"interface endpoint {label} ({azs} AZs)",
            azs * ctx.env.hours,
            "endpoint-AZ-hours",
            "vpce.interface.az_hour",
        )
    ]


def kms_key(ctx: Context, logical_id: str, resource: dict) -> list[Finding]:
    props = resource.get("Properties", {})
    findings: list[Finding] = [
        Charge(KEYS, "customer managed key", 1, "key-months", "kms.key_month")
    ]
    age = ctx.env.usage.get("kms_key_age_years")
    if truthy(props.get("EnableKeyRotation")) and age > 0:
        period = number(props.get("RotationPeriodInDays")) or 365.0
        rotations = int(age * 365 // period)
        versions = min(rotations, int(ctx.env.prices.number("kms.billed_rotations", 2)))
        if versions:
            findings.append(
                Charge(
                    KEYS,
                    f"rotated key material ({versions} of {rotations} rotations billed)",
                    versions,
                    "version-months",
                    "kms.rotated_version_month",
                    f"key {_fmt(age)} years old (year {_fmt(age + 1)}), rotated every "
                    f"{_fmt(period)} days; only the first two rotations add $1/month",
                )
            )
    return findings


def secret(ctx: Context, logical_id: str, resource: dict) -> list[Finding]:
    replicas = len(resource.get("Properties", {}).get("ReplicaRegions") or [])
    return [
        Charge(
            SECRETS,
            "secret" + (f" + {replicas} replicas" if replicas else ""),
            1 + replicas,
            "secret-months",
            "secretsmanager.secret_month",
        )
    ]


def alarm(ctx: Context, logical_id: str, resource: dict) -> list[Finding]:
    props = resource.get("Properties", {})
    metrics = props.get("Metrics")
    count = sum(1 for m in metrics if "MetricStat" in m) if metrics else 1
    period = number(props.get("Period"))
    if metrics:
        periods = [number(m.get("MetricStat", {}).get("Period")) for m in metrics]
        period = min((p for p in periods if p), default=period)
    high_res = period is not None and period < 60
    key = "cloudwatch.alarm_high_res_metric_month" if high_res else "cloudwatch.alarm_metric_month"
    label = "high-resolution alarm" if high_res else "alarm"
    return [
        Charge(
            MONITORING,
            f"{label} ({max(count, 1)} metric{'s' if count > 1 else ''})",
            max(count, 1),
            "alarm metric-months",
            key,
        )
    ]


def composite_alarm(ctx: Context, logical_id: str, resource: dict) -> list[Finding]:
    return [
        Charge(MONITORING, "composite alarm", 1, "alarm-months", "cloudwatch.composite_alarm_month")
    ]


def dashboard(ctx: Context, logical_id: str, resource: dict) -> list[Finding]:
    return [Charge(MONITORING, "dashboard", 1, "dashboard-months", "cloudwatch.dashboard_month")]


def scaling_policy(ctx: Context, logical_id: str, resource: dict) -> list[Finding]:
    if resource.get("Properties", {}).get("PolicyType") == "TargetTrackingScaling":
        return [
            Charge(
                MONITORING,
                "target-tracking alarms (created by Application Auto Scaling)",
                2,
                "alarm metric-months",
                "cloudwatch.alarm_metric_month",
                "one high and one low alarm per policy",
            )
        ]
    return [Free("step scaling policy: its alarms are template resources")]


def metric_filter(ctx: Context, logical_id: str, resource: dict) -> list[Finding]:
    count = len(resource.get("Properties", {}).get("MetricTransformations") or []) or 1
    return [
        Charge(
            MONITORING,
            "metric filter custom metric",
            count,
            "metric-months",
            "cloudwatch.metric_month",
        )
    ]


def _flow_gb_each(ctx: Context) -> float:
    flow_logs = max(1, ctx.env.count_near("AWS::EC2::FlowLog", ctx.stack))
    return ctx.env.usage.get("flow_log_gb") * ctx.activity() / flow_logs


def _retention_months(ctx: Context, days: float | None) -> tuple[float, str]:
    if days is None:
        months = ctx.env.usage.get("unbounded_retention_months")
        return months, f"never expires: {_fmt(months)} months of logs kept"
    return days / DAYS_PER_MONTH, f"{_fmt(days)}-day retention"


def log_group(ctx: Context, logical_id: str, resource: dict) -> list[Finding]:
    props = resource.get("Properties", {})
    name = props.get("LogGroupName")
    name = name if isinstance(name, str) else logical_id
    usage = ctx.env.usage
    flow_logs = [
        fid
        for fid, flow in ctx.resources.items()
        if flow.get("Type") == "AWS::EC2::FlowLog"
        and logical_id in referenced_ids(flow.get("Properties", {}).get("LogGroupName"))
    ]
    months, retention_note = _retention_months(ctx, number(props.get("RetentionInDays")))
    compression = usage.get("log_storage_compression")

    def storage(gb: float, note: str) -> Charge:
        return Charge(
            MONITORING,
            f"log storage {name}",
            gb * months * compression,
            "GB-months",
            "logs.storage_gb_month",
            note,
        )

    if flow_logs:
        gb = _flow_gb_each(ctx) * len(flow_logs)
        return [storage(gb, f"{retention_note}; flow-log ingestion is priced on the flow log")]
    infrequent = props.get("LogGroupClass") == "INFREQUENT_ACCESS"
    gb, note = _log_gb(ctx, logical_id, name)
    return [
        Charge(
            MONITORING,
            f"log ingestion {name}",
            gb,
            "GB ingested",
            "logs.infrequent_ingest_gb" if infrequent else "logs.ingest_gb",
            note,
        ),
        storage(gb, retention_note),
    ]


def _log_gb(ctx: Context, logical_id: str, name: str) -> tuple[float, str]:
    """GB a month the log group `name` receives (not flow logs: see `log_group`)."""
    usage = ctx.env.usage
    rule = usage.match(usage.log_groups, name)
    if rule and "records" in rule:
        gb, note = _record_log_gb(ctx, logical_id, rule)
    else:
        quantity = rule["usage"] if rule else "unmatched_log_group_gb"
        gb = usage.get(quantity)
        note = f"usage.yaml {quantity}" + ("" if rule else " (no log_groups rule matched)")
    if ctx.standby:  # the recovery region serves no traffic until a failover
        return gb * ctx.activity(), note + " x standby_activity_fraction"
    return gb, note


def _group_gb(ctx: Context, logical_id: str) -> float:
    """GB a month into one log group of `ctx`'s template, flow logs included."""
    props = ctx.props(logical_id)
    flow_logs = [
        fid
        for fid, flow in ctx.resources.items()
        if flow.get("Type") == "AWS::EC2::FlowLog"
        and logical_id in referenced_ids(flow.get("Properties", {}).get("LogGroupName"))
    ]
    if flow_logs:
        return _flow_gb_each(ctx) * len(flow_logs)
    name = props.get("LogGroupName")
    return _log_gb(ctx, logical_id, name if isinstance(name, str) else logical_id)[0]


def _record_log_gb(ctx: Context, logical_id: str, rule: Mapping[str, str]) -> tuple[float, str]:
    """GB of a log of one record per request (WAF): records x bytes, less redacted headers.

    A WAF logging configuration that redacts a header (`RedactedFields: SingleHeader`) writes
    REDACTED instead of its value: usage.yaml `waf_log_redacted_<header>_bytes` is what that
    saves on an average record (0 for a header it does not name).
    """
    usage = ctx.env.usage
    records = usage.get(rule["records"]) * ctx.activity()
    record_bytes = usage.get(rule["record_bytes"])
    redacted: list[str] = []
    for _, config in ctx.mentioning(
        logical_id, "AWS::WAFv2::LoggingConfiguration", "LogDestinationConfigs"
    ):
        for field_spec in config.get("Properties", {}).get("RedactedFields") or []:
            header = dict(field_spec.get("SingleHeader") or {}).get("Name")
            if isinstance(header, str):
                redacted.append(header.lower())
    saved = 0.0
    for header in redacted:
        key = f"waf_log_redacted_{header.replace('-', '_')}_bytes"
        saved += usage.get(key) if key in usage.values else 0.0
    size = max(0.0, record_bytes - saved)
    note = (
        f"{_fmt(records)} records (usage.yaml {rule['records']}) x {_fmt(size)} bytes "
        f"({rule['record_bytes']} {_fmt(record_bytes)}"
    )
    note += f" less {_fmt(saved)} for redacted {', '.join(redacted)})" if redacted else ")"
    return records * size / 1e9, note


def flow_log(ctx: Context, logical_id: str, resource: dict) -> list[Finding]:
    destination = resource.get("Properties", {}).get("LogDestinationType", "cloud-watch-logs")
    gb = _flow_gb_each(ctx)
    key = {"cloud-watch-logs": "logs.vended_ingest_gb", "s3": "logs.vended_s3_gb"}.get(destination)
    if key is None:
        return [Unpriced(f"flow log to {destination}: not in the price tables")]
    return [
        Charge(
            MONITORING,
            f"VPC flow log delivery ({destination})",
            gb,
            "GB",
            key,
            "usage.yaml flow_log_gb (vended logs)",
        )
    ]


# --- the log archive (docs/log-archive.md) ---------------------------------------------------

_COLD_CLASSES = {
    "GLACIER_IR": ("s3.glacier_ir.gb_month", "s3.transition.glacier_ir_per_1k", "Glacier IR"),
    "DEEP_ARCHIVE": (
        "s3.deep_archive.gb_month",
        "s3.transition.deep_archive_per_1k",
        "Glacier Deep Archive",
    ),
}
# S3 does not transition objects under 128 KB (its default since September 2024).
_MIN_TRANSITION_BYTES = 128 * 1024


@dataclass(frozen=True)
class _Subscribed:
    """One log group that a subscription filter sends to a stream, with its GB a month."""

    stack: str
    filter_name: str
    gb: float

    @property
    def kind(self) -> str:
        return self.filter_name.split(".")[0]


def _subscribed(env: Environment, stream_name: str, stream_stack: str) -> list[_Subscribed]:
    """The log groups subscribed to the stream named `stream_name` of `stream_stack`: from the
    stacks of its own region (the standby's archive stream has the same, regional, name)."""
    found = []
    side = env.is_standby(stream_stack)
    for stack, logical_id, resource in env.resources(["AWS::Logs::SubscriptionFilter"]):
        props = resource.get("Properties", {})
        if f"deliverystream/{stream_name}" not in str(props.get("DestinationArn")):
            continue
        if env.is_standby(stack) != side:
            continue
        ctx = Context(env, stack, env.templates[stack])
        group = ctx.resolve(props.get("LogGroupName"))
        if group is None:
            continue
        name = str(props.get("FilterName") or logical_id)
        found.append(_Subscribed(stack, name, _group_gb(ctx, group[0])))
    return found


def _lifecycle_by_prefix(props: Mapping[str, Any]) -> dict[str, Mapping[str, Any]]:
    rules = (props.get("LifecycleConfiguration") or {}).get("Rules", [])
    return {
        str(rule.get("Prefix")): rule
        for rule in rules
        if rule.get("Prefix") and rule.get("Status", "Enabled") == "Enabled"
    }


def delivery_stream(ctx: Context, logical_id: str, resource: dict) -> list[Finding]:
    """A Firehose stream into S3 and everything its subscribed log groups cost: ingestion,
    dynamic partitioning, the objects it writes, and the bucket's storage by class at steady
    state (each kind kept until its lifecycle expiration). The bucket itself is free here."""
    props = resource.get("Properties", {})
    name = props.get("DeliveryStreamName")
    destination = props.get("ExtendedS3DestinationConfiguration")
    if not isinstance(name, str) or not isinstance(destination, dict):
        return [Unpriced("Firehose stream without a name or an S3 destination: source unknown")]
    usage = ctx.env.usage
    groups = _subscribed(ctx.env, name, ctx.stack)
    gb = sum(g.gb for g in groups)
    quiet = usage.get("log_archive_quiet_group_gb")
    objects = sum(
        usage.get(
            "log_archive_objects_per_busy_group"
            if g.gb >= quiet
            else "log_archive_objects_per_quiet_group"
        )
        for g in groups
    )
    source = f"{len(groups)} subscribed log groups, {_fmt(round(gb, 2))} GB a month"
    billed = usage.get("log_archive_billed_fraction")
    findings: list[Finding] = [
        Charge(LOG_ARCHIVE, "Firehose ingestion", gb * billed, "GB", "firehose.ingest_gb",
               f"{source} (usage.yaml log_archive_billed_fraction {_fmt(billed)})"),
        Charge(LOG_ARCHIVE, "S3 PUT requests (archive objects)", objects / 1000,
               "1,000 requests", "s3.put_per_1k",
               f"{_fmt(objects)} objects: usage.yaml log_archive_objects_per_*_group"),
    ]  # fmt: skip
    processors = (destination.get("ProcessingConfiguration") or {}).get("Processors") or []
    types = {p.get("Type") for p in processors}
    if truthy((destination.get("DynamicPartitioningConfiguration") or {}).get("Enabled")):
        findings += [
            Charge(LOG_ARCHIVE, "Firehose dynamic partitioning", gb, "GB processed",
                   "firehose.dynamic_partitioning_gb", source),
            Charge(LOG_ARCHIVE, "Firehose dynamic partitioning objects", objects / 1000,
                   "1,000 objects", "firehose.dynamic_partitioning_per_1k_objects",
                   f"{_fmt(objects)} objects (one per log group per buffer flush)"),
        ]  # fmt: skip
        if "MetadataExtraction" in types:
            hours = gb * usage.get("log_archive_jq_hours_per_gb")
            findings.append(
                Charge(LOG_ARCHIVE, "Firehose JQ processing", hours, "JQ hours",
                       "firehose.jq_hour", "usage.yaml log_archive_jq_hours_per_gb")
            )  # fmt: skip
    if "Decompression" in types:
        findings.append(
            Unpriced("Firehose decompression: per-GB rate not in the price table")
        )  # fmt: skip
    bucket = ctx.resolve(destination.get("BucketARN"))
    if bucket is None:
        return [*findings, Unpriced("archive bucket not in this template: storage unknown")]
    return findings + _archive_storage(ctx, bucket[1].get("Properties", {}), groups, objects)


def _archive_storage(
    ctx: Context, props: Mapping[str, Any], groups: list[_Subscribed], objects: float
) -> list[Finding]:
    """Steady-state GB-months by class: a kind's logs stay in Standard until its transition
    day and in the cold class until its expiration; objects under 128 KB never move."""
    usage = ctx.env.usage
    stored = usage.get("log_archive_stored_fraction")
    rules = _lifecycle_by_prefix(props)
    quiet = usage.get("log_archive_quiet_group_gb")
    standard = 0.0
    cold: dict[str, float] = {}
    transitions: dict[str, float] = {}
    findings: list[Finding] = []
    for group in groups:
        rule = rules.get(f"{group.kind}/")
        expire = number((rule or {}).get("ExpirationInDays"))
        if rule is None or expire is None:
            findings.append(Unpriced(f"archive prefix {group.kind}/: no expiring lifecycle rule"))
            continue
        count = usage.get(
            "log_archive_objects_per_busy_group"
            if group.gb >= quiet
            else "log_archive_objects_per_quiet_group"
        )
        size = group.gb * stored * 1e9 / count if count else 0.0
        months = expire / DAYS_PER_MONTH
        stock = group.gb * stored * months
        moves = [t for t in rule.get("Transitions") or [] if t.get("StorageClass") in _COLD_CLASSES]
        when = number(moves[0].get("TransitionInDays")) if moves else None
        if when is None or when >= expire or size < _MIN_TRANSITION_BYTES:
            standard += stock
            continue
        storage_class = str(moves[0]["StorageClass"])
        standard += stock * when / expire
        cold[storage_class] = cold.get(storage_class, 0.0) + stock * (expire - when) / expire
        transitions[storage_class] = transitions.get(storage_class, 0.0) + count
    note = (
        f"steady state: each kind's GB a month x its lifecycle expiration (usage.yaml "
        f"log_archive_stored_fraction {_fmt(stored)})"
    )
    findings.append(
        Charge(LOG_ARCHIVE, "S3 Standard storage (archive)", standard, "GB-months",
               "s3.standard.gb_month",
               f"{note}; until each kind's transition day, and objects under 128 KB")
    )  # fmt: skip
    for storage_class, gb_months in sorted(cold.items()):
        price, transition, label = _COLD_CLASSES[storage_class]
        findings += [
            Charge(LOG_ARCHIVE, f"S3 {label} storage (archive)", gb_months, "GB-months", price,
                   f"{note}; from each kind's transition day"),
            Charge(LOG_ARCHIVE, f"S3 lifecycle transitions into {label} (archive)",
                   transitions[storage_class] / 1000, "1,000 transitions", transition,
                   f"{_fmt(transitions[storage_class])} objects of 128 KB or more a month"),
        ]  # fmt: skip
    return findings


def _transition_days(props: Mapping[str, Any]) -> dict[str, float]:
    """Storage class -> days after creation, from the bucket's enabled lifecycle rules."""
    days: dict[str, float] = {}
    for rule in (props.get("LifecycleConfiguration") or {}).get("Rules", []):
        if rule.get("Status", "Enabled") != "Enabled":
            continue
        for transition in rule.get("Transitions", []) or []:
            when = number(transition.get("TransitionInDays"))
            kind = transition.get("StorageClass")
            if when is not None and isinstance(kind, str):
                days[kind] = min(days.get(kind, when), when)
    return days


def _s3_storage_and_lifecycle(
    ctx: Context,
    logical_id: str,
    props: Mapping[str, Any],
    rule: Mapping[str, str] | None,
    gb: float,
    note: str,
) -> list[Finding]:
    """Storage by class and the lifecycle fees of getting there (seed 4.3).

    Uploads arrive at a steady rate and the bucket holds `s3_stock_age_days` of them, so the
    share of the GB in each class is the share of that age band: Standard until the first
    transition, Intelligent-Tiering (its frequent tier for 30 days, then its Infrequent Access
    tier for objects not read) until Glacier IR. Each new object pays one transition request
    per class it enters, and Intelligent-Tiering a monthly monitoring fee per object it holds.
    """
    usage = ctx.env.usage
    days = _transition_days(props)
    known = {"INTELLIGENT_TIERING", "GLACIER_IR"}
    findings: list[Finding] = []
    if set(days) - known:
        others = ", ".join(sorted(set(days) - known))
        findings.append(Unpriced(f"lifecycle transition to {others}: not in the price tables"))
    if not days.keys() & known:
        return [
            *findings,
            Charge(OBJECT_STORAGE, f"S3 storage {logical_id}", gb, "GB-months",
                   "s3.standard.gb_month", note),
        ]  # fmt: skip
    age = usage.get("s3_stock_age_days")
    it_day = days.get("INTELLIGENT_TIERING")
    gir_day = days.get("GLACIER_IR")
    first = min(d for d in (it_day, gir_day) if d is not None)
    it_end = min(gir_day if gir_day is not None else age, age)

    def share(start: float | None, end: float) -> float:
        return max(0.0, min(end, age) - start) / age if start is not None and age > 0 else 0.0

    it_share = share(it_day, it_end) if it_day is not None else 0.0
    it_frequent = share(it_day, min(it_end, (it_day or 0) + 30)) if it_day is not None else 0.0
    idle = usage.get("s3_intelligent_tiering_idle_fraction")
    it_infrequent = (it_share - it_frequent) * idle
    it_frequent = it_share - it_infrequent
    gir_share = share(gir_day, age) if gir_day is not None else 0.0
    standard = 1.0 - it_share - gir_share
    band = f"{_fmt(age)} days of uploads (usage.yaml s3_stock_age_days)"
    lines = (
        ("S3 storage", standard, "s3.standard.gb_month", f"first {_fmt(first)} days"),
        ("S3 Intelligent-Tiering frequent tier", it_frequent,
         "s3.intelligent_tiering.gb_month", "30 days after the transition, and objects read"),
        ("S3 Intelligent-Tiering infrequent tier", it_infrequent,
         "s3.intelligent_tiering.infrequent_gb_month",
         f"not read for 30 days: {_fmt(idle * 100)}% (s3_intelligent_tiering_idle_fraction)"),
        ("S3 Glacier IR storage", gir_share, "s3.glacier_ir.gb_month",
         f"after day {_fmt(gir_day or 0)}"),
    )  # fmt: skip
    for label, fraction, key, why in lines:
        if fraction > 0 or key == "s3.standard.gb_month":
            findings.append(
                Charge(OBJECT_STORAGE, f"{label} {logical_id}", gb * fraction, "GB-months", key,
                       f"{note}; {_fmt(round(fraction * 100, 1))}% of {band}: {why}")
            )  # fmt: skip
    if not rule or "objects" not in rule:
        return [
            *findings,
            Unpriced("lifecycle transitions and Intelligent-Tiering monitoring: no object count "
                     "(name one with objects: in the usage.yaml buckets rule)"),
        ]  # fmt: skip
    new_objects = usage.get(rule["objects"])
    small = usage.get("s3_fraction_objects_under_128kb")
    eligible = new_objects * (1 - small)  # S3 does not transition (or monitor) under 128 KB
    size_kb = gb * DAYS_PER_MONTH / age / new_objects * 1e6 if new_objects and age else 0.0
    count_note = (
        f"{_fmt(new_objects)} new objects a month (usage.yaml {rule['objects']}), "
        f"{_fmt(round(small * 100))}% under 128 KB; implied average object "
        f"{_fmt(round(size_kb))} KB"
    )
    for start, label, key in (
        (it_day, "Intelligent-Tiering", "s3.transition.intelligent_tiering_per_1k"),
        (gir_day, "Glacier IR", "s3.transition.glacier_ir_per_1k"),
    ):
        if start is not None and start < age:
            findings.append(
                Charge(OBJECT_STORAGE, f"S3 lifecycle transitions into {label}",
                       eligible / 1000, "1,000 transitions", key,
                       f"{count_note}: each transitions once, on day {_fmt(start)}")
            )  # fmt: skip
    if it_share > 0:
        held = eligible * (it_end - (it_day or 0)) / DAYS_PER_MONTH
        findings.append(
            Charge(OBJECT_STORAGE, "S3 Intelligent-Tiering monitoring", held / 1000,
                   "1,000 objects", "s3.intelligent_tiering.monitoring_per_1k_objects",
                   f"{_fmt(round(held))} objects held in Intelligent-Tiering ({count_note})")
        )  # fmt: skip
    return findings


def s3_bucket(ctx: Context, logical_id: str, resource: dict) -> list[Finding]:
    props = resource.get("Properties", {})
    if ctx.mentioning(
        logical_id, "AWS::KinesisFirehose::DeliveryStream", "ExtendedS3DestinationConfiguration"
    ):
        return [Free("bucket a Firehose stream fills: priced on the stream (log archive)")]
    usage = ctx.env.usage
    rule = usage.match(usage.buckets, logical_id)
    quantity = rule["usage"] if rule else "other_bucket_gb"
    gb = usage.get(quantity)
    note = f"usage.yaml {quantity}" + ("" if rule else " (no buckets rule matched)")
    findings: list[Finding] = _s3_storage_and_lifecycle(ctx, logical_id, props, rule, gb, note)
    if ctx.standby:
        findings = [
            replace(f, note=f"{f.note}; replica copy of the primary's uploads".lstrip("; "))
            if isinstance(f, Charge)
            else f
            for f in findings
        ]
    requests = 0.0
    for kind, key in (("put_requests", "s3.put_per_1k"), ("get_requests", "s3.get_per_1k")):
        if rule and kind in rule:
            count = usage.get(rule[kind])
            label = f"S3 {kind.replace('_', ' ')}"
            if ctx.standby and kind == "put_requests":
                label = "S3 replication PUT requests (one per replicated write)"
            elif ctx.standby:
                count *= ctx.activity()
            requests += count
            if count:
                findings.append(
                    Charge(
                        OBJECT_STORAGE,
                        label,
                        count / 1000,
                        "1,000 requests",
                        key,
                        f"{_fmt(count)} requests",
                    )
                )
    findings += _s3_replication(ctx, props, gb)
    sse = [
        c.get("ServerSideEncryptionByDefault", {}).get("SSEAlgorithm") == "aws:kms"
        and not truthy(c.get("BucketKeyEnabled"))
        for c in (props.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration", [])
    ]
    if any(sse):
        ctx.env.kms_requests += requests  # one KMS call per object request without a bucket key
    return findings


def _s3_replication(ctx: Context, props: Mapping[str, Any], gb: float) -> list[Finding]:
    """Cross-region replication out of this bucket: the new data of a month crosses regions.

    The bucket holds `s3_stock_age_days` of uploads arriving at a steady rate, so a month adds
    gb x 30.42 / s3_stock_age_days. Each replicated object is read with the source key and
    written with the destination's (two KMS requests without bucket keys).
    """
    config = props.get("ReplicationConfiguration") or {}
    rules = [r for r in config.get("Rules") or [] if r.get("Status", "Enabled") == "Enabled"]
    if not rules:
        return []
    usage = ctx.env.usage
    monthly = gb * DAYS_PER_MONTH / usage.get("s3_stock_age_days")
    note = (
        f"{_fmt(round(monthly, 2))} GB of new objects a month ({_fmt(round(gb, 2))} GB held "
        "for s3_stock_age_days), to each destination"
    )
    destinations = len(rules)
    findings: list[Finding] = [
        Charge(
            DATA_TRANSFER,
            "S3 replication transfer to the recovery region",
            monthly * destinations,
            "GB",
            "s3.replication_inter_region_gb",
            note,
            fallback_keys=("data_transfer.inter_region_gb",),
        )
    ]
    timed = [
        r
        for r in rules
        if dict(dict(r.get("Destination") or {}).get("ReplicationTime") or {}).get("Status")
        == "Enabled"
    ]
    if timed:
        findings.append(
            Charge(
                DATA_TRANSFER,
                "S3 Replication Time Control",
                monthly * len(timed),
                "GB",
                "s3.replication_time_control_gb",
                note,
            )
        )
    if "s3_new_objects" in usage.values:
        ctx.env.kms_requests += 2 * usage.get("s3_new_objects")
    return findings


def health_check(ctx: Context, logical_id: str, resource: dict) -> list[Finding]:
    """Route 53 health check: basic price by endpoint kind, plus each optional feature.

    An endpoint given as a domain name (the restaurant's record or a load balancer's DNS name)
    is served by this environment's load balancer, an AWS endpoint in the same account; a
    literal IP address may be anywhere and is priced as a non-AWS endpoint.
    """
    config = dict(resource.get("Properties", {}).get("HealthCheckConfig") or {})
    kind = str(config.get("Type", "HTTP"))
    if kind in ("CALCULATED", "CLOUDWATCH_METRIC", "RECOVERY_CONTROL"):
        return [
            Charge(DNS, f"Route 53 health check ({kind.lower()})", 1, "health check-months",
                   "route53.health_check_aws_month", "priced as a basic AWS-endpoint check")
        ]  # fmt: skip
    literal_ip = isinstance(config.get("IPAddress"), str) and not config.get(
        "FullyQualifiedDomainName"
    )
    endpoint = "non_aws" if literal_ip else "aws"
    label = "non-AWS endpoint" if literal_ip else "AWS endpoint"
    features = []
    if kind.startswith("HTTPS"):
        features.append("HTTPS")
    if kind.endswith("_STR_MATCH"):
        features.append("string matching")
    if number(config.get("RequestInterval")) == 10:
        features.append("fast interval (10 s)")
    if truthy(config.get("MeasureLatency")):
        features.append("latency measurement")
    findings: list[Finding] = [
        Charge(
            DNS,
            f"Route 53 health check ({kind}, {label})",
            1,
            "health check-months",
            f"route53.health_check_{endpoint}_month",
        )
    ]
    if features:
        findings.append(
            Charge(
                DNS,
                f"health check optional features ({', '.join(features)})",
                len(features),
                "feature-months",
                f"route53.health_check_feature_{endpoint}_month",
            )
        )
    return findings


def hosted_zone(ctx: Context, logical_id: str, resource: dict) -> list[Finding]:
    return [Charge(DNS, "hosted zone", 1, "zone-months", "route53.zone_month")]


def _note_zone(ctx: Context, zone: Any, alias: bool) -> None:
    if isinstance(zone, str):  # a literal id: a zone created outside these stacks
        ctx.env.zones[zone] = ctx.env.zones.get(zone, True) and alias


def record_set(ctx: Context, logical_id: str, resource: dict) -> list[Finding]:
    props = resource.get("Properties", {})
    _note_zone(ctx, props.get("HostedZoneId"), "AliasTarget" in props)
    if props.get("Failover"):
        return [
            Free(
                f"{props['Failover']} failover record: records are free; queries are priced on "
                "the zone (alias records of AWS resources: free queries); its health check is "
                "priced on the health check"
            )
        ]
    return [Free("DNS record: records are free; queries are priced on the zone")]


def certificate(ctx: Context, logical_id: str, resource: dict) -> list[Finding]:
    for option in resource.get("Properties", {}).get("DomainValidationOptions") or []:
        _note_zone(ctx, option.get("HostedZoneId"), True)
    return [Free("public ACM certificate: free")]


def serverless_application(ctx: Context, logical_id: str, resource: dict) -> list[Finding]:
    for _, env_resource in ctx.resources.items():
        if env_resource.get("Type") == "AWS::SecretsManager::RotationSchedule" and (
            logical_id in referenced_ids(env_resource.get("Properties", {}))
        ):
            return [
                Free("secret rotation Lambda: a few invocations per rotation, Lambda free tier")
            ]
    return [Unpriced("serverless application: invocations unknown")]


_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_MINUTES = {"minute": 1, "hour": 60, "day": 1440}


def _schedule_per_month(expression: Any, hours: float) -> float | None:
    """Runs a month of an EventBridge `rate(...)` expression; None for cron or a token."""
    match = _RATE.match(str(expression).strip()) if isinstance(expression, str) else None
    if not match:
        return None
    every = int(match.group(1)) * _MINUTES[match.group(2).rstrip("s")]
    return hours * 60 / every if every else None


def _lambda_use(ctx: Context, resource: dict, invocations: float, why: str) -> list[Finding]:
    props = resource.get("Properties", {})
    memory_gb = (number(props.get("MemorySize")) or 128) / 1024
    arch = "arm64" if "arm64" in (props.get("Architectures") or []) else "x86_64"
    seconds = ctx.env.usage.get("lambda_seconds_per_invocation")
    gb_seconds = invocations * seconds * memory_gb
    ctx.env.lambda_requests += invocations
    ctx.env.lambda_gb_seconds[arch] = ctx.env.lambda_gb_seconds.get(arch, 0.0) + gb_seconds
    return [
        Free(
            f"{why}: {_fmt(round(invocations))} invocations, {_fmt(round(gb_seconds))} GB-seconds "
            f"({arch}) a month; priced once per environment against the Lambda free tier"
        )
    ]


def lambda_function(ctx: Context, logical_id: str, resource: dict) -> list[Finding]:
    for _, other in ctx.resources.items():
        kind = str(other.get("Type", ""))
        other_props = other.get("Properties", {})
        if (kind.startswith("Custom::") or kind == "AWS::CloudFormation::CustomResource") and (
            logical_id in referenced_ids(other_props.get("ServiceToken"))
        ):
            return [Free("custom-resource handler: runs at deploy time only")]
        if kind == "AWS::SecretsManager::RotationSchedule" and logical_id in referenced_ids(
            other_props.get("RotationLambdaARN")
        ):
            rules = dict(other_props.get("RotationRules") or {})
            days = number(rules.get("AutomaticallyAfterDays")) or 30
            # Four steps per rotation: createSecret, setSecret, testSecret, finishSecret.
            return _lambda_use(ctx, resource, 4 * DAYS_PER_MONTH / days, "secret rotation")
    runs = 0.0
    for _, other in ctx.resources.items():
        other_props = other.get("Properties", {})
        if other.get("Type") == "AWS::Events::Rule" and any(
            logical_id in referenced_ids(target.get("Arn"))
            for target in other_props.get("Targets") or []
        ):
            per_month = _schedule_per_month(other_props.get("ScheduleExpression"), ctx.env.hours)
            if per_month is None:
                return [
                    Unpriced("Lambda on an event pattern or cron schedule: invocations unknown")
                ]
            runs += per_month
    if runs:
        return _lambda_use(ctx, resource, runs, "scheduled function")
    return [Unpriced("Lambda function: invocations and duration unknown")]


def ssm_parameter(ctx: Context, logical_id: str, resource: dict) -> list[Finding]:
    if resource.get("Properties", {}).get("Tier") == "Advanced":
        return [
            Charge(
                OTHER,
                "advanced SSM parameter",
                1,
                "parameter-months",
                "ssm.advanced_parameter_month",
            )
        ]
    return [Free("standard SSM parameter: free")]


def cloudtrail(ctx: Context, logical_id: str, resource: dict) -> list[Finding]:
    props = resource.get("Properties", {})
    data_events = props.get("AdvancedEventSelectors") or any(
        s.get("DataResources") for s in props.get("EventSelectors") or []
    )
    if data_events:
        return [Unpriced("CloudTrail data events: $0.10 per 100K events, volume unknown")]
    return [Free("CloudTrail: the first copy of management events is free")]


def web_acl(ctx: Context, logical_id: str, resource: dict) -> list[Finding]:
    rules = len(resource.get("Properties", {}).get("Rules") or [])
    requests = ctx.env.usage.get("http_requests") * ctx.activity()
    return [
        Charge(OTHER, "WAF web ACL", 1, "ACL-months", "wafv2.web_acl_month"),
        Charge(OTHER, f"WAF rules ({rules})", rules, "rule-months", "wafv2.rule_month"),
        Charge(
            OTHER,
            "WAF requests inspected",
            requests / 1e6,
            "1M requests",
            "wafv2.per_million_requests",
            "usage.yaml http_requests",
        ),
    ]


def cloudfront(ctx: Context, logical_id: str, resource: dict) -> list[Finding]:
    usage, prices = ctx.env.usage, ctx.env.prices
    gb, requests = usage.get("cloudfront_gb"), usage.get("cloudfront_requests")
    free_gb = float(prices.number("cloudfront.free_gb", 0))
    free_requests = float(prices.number("cloudfront.free_requests", 0))
    return [
        Charge(DATA_TRANSFER, "CloudFront data out", max(0.0, gb - free_gb), "GB",
               "cloudfront.gb", f"usage.yaml cloudfront_gb {_fmt(gb)} GB, {_fmt(free_gb)} GB free"),
        Charge(DATA_TRANSFER, "CloudFront requests", max(0.0, requests - free_requests) / 10000,
               "10,000 requests", "cloudfront.per_10k_requests",
               f"usage.yaml cloudfront_requests {_fmt(requests)}, {_fmt(free_requests)} free"),
    ]  # fmt: skip


def cache_cluster(ctx: Context, logical_id: str, resource: dict) -> list[Finding]:
    props = resource.get("Properties", {})
    node = props.get("CacheNodeType")
    if resource["Type"] == "AWS::ElastiCache::ReplicationGroup":
        groups = number(props.get("NumNodeGroups"))
        replicas = number(props.get("ReplicasPerNodeGroup"))
        nodes = (
            groups * ((replicas or 0) + 1) if groups else number(props.get("NumCacheClusters")) or 1
        )
    else:
        nodes = number(props.get("NumCacheNodes")) or 1
    engine = str(props.get("Engine", "redis")).lower()
    return [
        Charge(OTHER, f"ElastiCache ({engine}) {node} x {_fmt(nodes)}", nodes * ctx.env.hours,
               "node-hours", f"elasticache.{engine}.node_hour.{node}",
               fallback_keys=(f"elasticache.node_hour.{node}",))
    ]  # fmt: skip


def custom_resource(ctx: Context, logical_id: str, resource: dict) -> list[Finding]:
    return [Free("custom resource: runs at deploy time only")]


def task_definition(ctx: Context, logical_id: str, resource: dict) -> list[Finding]:
    if ctx.mentioning(logical_id, "AWS::ECS::Service", "TaskDefinition"):
        return [Free("task definition: priced on the service that runs it")]
    return [Unpriced("task definition no service runs (scheduled/standalone tasks): usage unknown")]


def free(reason: str) -> Callable[[Context, str, dict], list[Finding]]:
    return lambda ctx, logical_id, resource: [Free(reason)]


_NETWORK_FREE = "VPC plumbing: no charge"
_IAM_FREE = "IAM: no charge"
RULES: dict[str, Callable[[Context, str, dict], list[Finding]]] = {
    "AWS::ECS::Service": ecs_service,
    "AWS::ECS::Cluster": ecs_cluster,
    "AWS::ECS::TaskDefinition": task_definition,
    "AWS::RDS::DBInstance": rds_instance,
    "AWS::RDS::DBProxy": rds_proxy,
    "AWS::ElasticLoadBalancingV2::LoadBalancer": load_balancer,
    "AWS::EC2::NatGateway": nat_gateway,
    "AWS::EC2::EIP": elastic_ip,
    "AWS::EC2::VPCEndpoint": vpc_endpoint,
    "AWS::KMS::Key": kms_key,
    "AWS::SecretsManager::Secret": secret,
    "AWS::CloudWatch::Alarm": alarm,
    "AWS::CloudWatch::CompositeAlarm": composite_alarm,
    "AWS::CloudWatch::Dashboard": dashboard,
    "AWS::ApplicationAutoScaling::ScalingPolicy": scaling_policy,
    "AWS::Logs::LogGroup": log_group,
    "AWS::Logs::MetricFilter": metric_filter,
    "AWS::EC2::FlowLog": flow_log,
    "AWS::S3::Bucket": s3_bucket,
    "AWS::KinesisFirehose::DeliveryStream": delivery_stream,
    "AWS::Route53::HostedZone": hosted_zone,
    "AWS::Route53::RecordSet": record_set,
    "AWS::Route53::HealthCheck": health_check,
    "AWS::CertificateManager::Certificate": certificate,
    "AWS::Serverless::Application": serverless_application,
    "AWS::Lambda::Function": lambda_function,
    "AWS::SSM::Parameter": ssm_parameter,
    "AWS::CloudTrail::Trail": cloudtrail,
    "AWS::WAFv2::WebACL": web_acl,
    "AWS::CloudFront::Distribution": cloudfront,
    "AWS::ElastiCache::CacheCluster": cache_cluster,
    "AWS::ElastiCache::ReplicationGroup": cache_cluster,
    "AWS::CloudFormation::CustomResource": custom_resource,
    "AWS::ElastiCache::SubnetGroup": free("cache subnet group: no charge"),
    "AWS::ElastiCache::ParameterGroup": free("cache parameter group: no charge"),
    "AWS::WAFv2::WebACLAssociation": free("WAF association: priced on the web ACL"),
    "AWS::WAFv2::LoggingConfiguration": free("WAF logging: priced on its destination log group"),
    "AWS::Route53::RecordSetGroup": free("DNS records: free; queries are priced on the zone"),
    "AWS::ApplicationAutoScaling::ScalableTarget": free("scalable target: no charge"),
    "AWS::SecretsManager::RotationSchedule": free("rotation schedule: no charge (Lambda priced)"),
    "AWS::SecretsManager::ResourcePolicy": free("secret policy: no charge"),
    "AWS::SecretsManager::SecretTargetAttachment": free("secret attachment: no charge"),
    "AWS::SNS::Topic": free("SNS topic: alarm notices fit the free tier (1M publishes, 1K emails)"),
    "AWS::SNS::Subscription": free("SNS subscription: no charge"),
    "AWS::SNS::TopicPolicy": free("SNS topic policy: no charge"),
    "AWS::KMS::Alias": free("KMS alias: no charge"),
    "AWS::S3::BucketPolicy": free("bucket policy: no charge"),
    "AWS::RDS::DBSubnetGroup": free("DB subnet group: no charge"),
    "AWS::RDS::DBParameterGroup": free("DB parameter group: no charge"),
    "AWS::RDS::DBClusterParameterGroup": free("DB parameter group: no charge"),
    "AWS::RDS::OptionGroup": free("option group: no charge"),
    "AWS::RDS::DBProxyTargetGroup": free("proxy target group: priced on the proxy"),
    "AWS::ElasticLoadBalancingV2::Listener": free("listener: priced in ALB hours and LCUs"),
    "AWS::ElasticLoadBalancingV2::ListenerRule": free("listener rule: priced in LCUs"),
    "AWS::ElasticLoadBalancingV2::ListenerCertificate": free("listener certificate: no charge"),
    "AWS::ElasticLoadBalancingV2::TargetGroup": free("target group: no charge"),
    "AWS::Lambda::Permission": free("Lambda permission: no charge"),
    "AWS::Lambda::EventInvokeConfig": free("Lambda invoke settings (retries): no charge"),
    "AWS::Logs::ResourcePolicy": free("log resource policy: no charge"),
    "AWS::Logs::SubscriptionFilter": free("subscription filter: its destination is priced"),
    "AWS::Logs::LogStream": free("log stream: no charge (its events are priced on the group)"),
    "AWS::Events::Rule": free("EventBridge rule on AWS events: no charge"),
    "AWS::CDK::Metadata": free("CDK metadata: no charge"),
    "AWS::IAM::Role": free(_IAM_FREE),
    "AWS::IAM::Policy": free(_IAM_FREE),
    "AWS::IAM::ManagedPolicy": free(_IAM_FREE),
    "AWS::IAM::InstanceProfile": free(_IAM_FREE),
    "AWS::IAM::ServiceLinkedRole": free(_IAM_FREE),
    "AWS::EC2::VPC": free(_NETWORK_FREE),
    "AWS::EC2::Subnet": free(_NETWORK_FREE),
    "AWS::EC2::RouteTable": free(_NETWORK_FREE),
    "AWS::EC2::Route": free(_NETWORK_FREE),
    "AWS::EC2::SubnetRouteTableAssociation": free(_NETWORK_FREE),
    "AWS::EC2::InternetGateway": free(_NETWORK_FREE),
    "AWS::EC2::VPCGatewayAttachment": free(_NETWORK_FREE),
    "AWS::EC2::NetworkAcl": free(_NETWORK_FREE),
    "AWS::EC2::NetworkAclEntry": free(_NETWORK_FREE),
    "AWS::EC2::SubnetNetworkAclAssociation": free(_NETWORK_FREE),
    "AWS::EC2::SecurityGroup": free(_NETWORK_FREE),
    "AWS::EC2::SecurityGroupIngress": free(_NETWORK_FREE),
    "AWS::EC2::SecurityGroupEgress": free(_NETWORK_FREE),
    "AWS::EC2::VPCCidrBlock": free(_NETWORK_FREE),
}


def rule_for(resource_type: str) -> Callable[[Context, str, dict], list[Finding]] | None:
    if resource_type in RULES:
        return RULES[resource_type]
    if resource_type.startswith("Custom::"):
        return custom_resource
    return None


def stack_findings(env: Environment, stack: str) -> list[Finding]:
    """Every finding of one stack, each stamped with its resource and type."""
    template = env.templates[stack]
    ctx = Context(env, stack, template)
    findings: list[Finding] = []
    for logical_id, resource in dict(template.get("Resources", {})).items():
        resource_type = str(resource.get("Type"))
        rule = rule_for(resource_type)
        produced: list[Finding] = (
            rule(ctx, logical_id, resource)
            if rule
            else [Unpriced(f"no pricing rule for {resource_type}")]
        )
        for finding in produced:
            findings.append(
                type(finding)(
                    **{**finding.__dict__, "resource": logical_id, "resource_type": resource_type}
                )
            )
    return findings


def _lambda_charges(env: Environment) -> list[Finding]:
    """The environment's scheduled and rotation Lambdas, less the account's free tier (applied
    here in full: other Lambdas in the account would share it)."""
    prices = env.prices
    free_requests = float(prices.number("lambda.free_requests", 0))
    free_gb_seconds = float(prices.number("lambda.free_gb_seconds", 0))
    found: list[Finding] = [
        Charge(
            OTHER,
            "Lambda requests (scheduled and rotation functions)",
            max(0.0, env.lambda_requests - free_requests) / 1e6,
            "1M requests",
            "lambda.requests_per_million",
            f"{_fmt(round(env.lambda_requests))} requests, {_fmt(free_requests)} free a month",
        )
    ]
    for arch in sorted(env.lambda_gb_seconds):
        used = env.lambda_gb_seconds[arch]
        billable = max(0.0, used - free_gb_seconds)
        free_gb_seconds = max(0.0, free_gb_seconds - used)
        found.append(
            Charge(
                OTHER,
                f"Lambda compute ({arch})",
                billable,
                "GB-seconds",
                f"lambda.{arch}.gb_second",
                f"{_fmt(round(used))} GB-seconds (usage.yaml lambda_seconds_per_invocation), "
                "after the free 400,000 GB-seconds",
            )
        )
    return found


def _dns_queries(usage: Usage, key: str, to: str, *, fallback: bool = True) -> Charge:
    """The month's DNS queries (usage.yaml `dns_queries`) at price `key`; `to`: which records
    they reach, for the note. With `fallback`, the standard query price stands in for `key`."""
    queries = usage.get("dns_queries")
    return Charge(
        DNS,
        "DNS queries",
        queries / 1e6,
        "1M queries",
        key,
        f"{_fmt(queries)} queries{to}",
        fallback_keys=("route53.query_per_million",) if fallback else (),
    )


def environment_findings(env: Environment) -> list[Finding]:
    """Environment-wide usage (egress, app metrics, API calls, DNS): on the anchor stack.

    Call after every stack's findings, because S3 rules add KMS requests and DNS records name
    the zones they use.
    """
    usage, prices = env.usage, env.prices
    found: list[Finding] = []
    egress = usage.get("egress_gb")
    free_gb = float(prices.number("data_transfer.free_gb", 0))
    found.append(
        Charge(
            DATA_TRANSFER,
            "data transfer out to the internet",
            max(0.0, egress - free_gb),
            "GB",
            "data_transfer.out_gb",
            f"{_fmt(egress)} GB, first {_fmt(free_gb)} GB free",
        )
    )
    found.append(
        Charge(
            MONITORING,
            "app custom metrics",
            usage.get("app_custom_metrics"),
            "metric-months",
            "cloudwatch.metric_month",
            "usage.yaml app_custom_metrics",
        )
    )
    secrets = env.count("AWS::SecretsManager::Secret")
    if secrets:
        calls = usage.get("secrets_api_calls")
        found.append(
            Charge(
                SECRETS,
                "Secrets Manager API calls",
                calls / 10000,
                "10,000 calls",
                "secretsmanager.api_per_10k",
                f"{_fmt(calls)} calls",
            )
        )
        env.kms_requests += calls
    if env.count("AWS::KMS::Key"):
        free_requests = float(prices.number("kms.free_requests", 0))
        found.append(
            Charge(
                KEYS,
                "KMS requests",
                max(0.0, env.kms_requests - free_requests) / 10000,
                "10,000 requests",
                "kms.requests_per_10k",
                f"{_fmt(env.kms_requests)} requests (secret reads, S3 without bucket keys), "
                f"{_fmt(free_requests)} free",
            )
        )
    if env.lambda_requests:
        found += _lambda_charges(env)
    created = env.count("AWS::Route53::HostedZone")
    for index, (zone, alias_only) in enumerate(sorted(env.zones.items())):
        found.append(
            Charge(
                DNS,
                f"hosted zone {zone} (referenced, created outside these stacks)",
                1,
                "zone-months",
                "route53.zone_month",
            )
        )
        if index == 0 and not created:
            key = "route53.alias_query_per_million" if alias_only else "route53.query_per_million"
            found.append(_dns_queries(usage, key, " to alias records" if alias_only else ""))
    if created and not env.zones:
        found.append(_dns_queries(usage, "route53.query_per_million", "", fallback=False))
    return [
        type(f)(**{**f.__dict__, "resource": f.resource or "(usage)", "resource_type": "usage"})
        for f in found
    ]
