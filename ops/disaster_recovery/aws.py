"""The AWS calls behind `python -m ops failover`: RDS, CloudWatch, CloudFormation, ECS,
Application Auto Scaling, Route 53 and the probe's Lambda function, through boto3.

Nothing here decides: ops/disaster_recovery/failover.py orders the steps and judges the answers.
Every call goes through `AwsClients`, which the tests point at a moto server on 127.0.0.1 (or at a
closed port, to stand for a region that does not answer).

Where names come from:

- the database identifier is the same in both regions (`naming.db_instance_identifier`), the
  replica's expected source is `naming.db_instance_arn` of the primary region;
- what has no fixed name is read from the CloudFormation stacks: the app services' ECS service
  (the `AWS::ECS::Service` of `naming.platform_stack_name` / `naming.dr_platform_stack_name`; its
  ARN names the cluster) and the standby probe function (output `ProbeFunctionName` of the
  standby platform, else the probe's fixed name);
- the health check that DNS acts on is read from Route 53 itself: the `HealthCheckId` of the
  PRIMARY failover record of `<slug>.<domain>` in the environment's hosted zone. Route 53 is
  global, so this works while the primary region (and its CloudFormation) is down; the tenant
  stack's output `FailoverHealthCheckId` is the fallback.

The stacks (branch dr-stacks) make that check CALCULATED, with the primary load balancer's
HTTPS check as its one child: `HealthThreshold` 1 follows the primary, a threshold above the
number of children is always unhealthy, and the template renders it so for the restaurants in
`disaster_recovery.failed_over`. Forcing DNS to the standby is therefore `HealthThreshold =
children + 1`, the value the next deploy agrees with; an endpoint check is forced with
`Inverted`.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from config.profiles import service_capacity
from config.rules import partition_of
from config.schema import EnvironmentConfig
from ops.disaster_recovery.database import ReplicaStatus
from stacks import naming

# Route 53 considers an endpoint healthy when more than 18% of its checkers report it healthy
# (Route 53 Developer Guide, "How Amazon Route 53 determines whether a health check is healthy").
HEALTHY_CHECKER_SHARE = 0.18
HEALTH_CHECK_OUTPUT = "FailoverHealthCheckId"  # of the tenant stack (primary region)
PROBE_FUNCTION_OUTPUT = "ProbeFunctionName"  # of the standby platform
# Route 53's control plane (the API that changes health checks and records) is in us-east-1 for
# the commercial partition; its data plane (health checkers, DNS answers) is global.
ROUTE53_CONTROL_REGION = {
    "aws": "us-east-1",
    "aws-cn": "cn-northwest-1",
    "aws-us-gov": "us-gov-west-1",
}
_NOT_FOUND = ("DBInstanceNotFound", "DBInstanceNotFoundFault")


class AwsClients:
    """boto3 clients per (service, region), made once (sessions are not thread-safe, clients are).

    `endpoints` maps a region (or "*") to an endpoint URL: how tests reach moto; short timeouts
    and two attempts (six for Route 53), so a region that does not answer is reported in
    seconds, not minutes; `attempts` sets the same number for every service."""

    def __init__(
        self,
        *,
        session: Any = None,
        endpoints: Mapping[str, str] | None = None,
        attempts: int | None = None,
    ) -> None:
        import boto3

        self._session = session or boto3.session.Session()
        self._endpoints = dict(endpoints or {})
        self._attempts = attempts
        self._clients: dict[tuple[str, str], Any] = {}
        self._lock = threading.Lock()

    def _max_attempts(self, service: str) -> int:
        if self._attempts is not None:
            return self._attempts
        # Route 53's API allows 5 requests a second per account: a failover of many
        # restaurants is throttled, and retried rather than failed.
        return 6 if service == "route53" else 2

    def __call__(self, service: str, region: str) -> Any:
        from botocore.config import Config

        with self._lock:
            key = (service, region)
            if key not in self._clients:
                endpoint = self._endpoints.get(region, self._endpoints.get("*"))
                self._clients[key] = self._session.client(
                    service,
                    region_name=region,
                    endpoint_url=endpoint,
                    config=Config(
                        connect_timeout=5,
                        read_timeout=30,
                        # Route 53's API allows 5 requests a second per account: a failover
                        # of many restaurants is throttled, and retried rather than failed.
                        retries={"max_attempts": self._max_attempts(service), "mode": "standard"},
                    ),
                )
            return self._clients[key]


def error_code(exc: BaseException) -> str:
    response = getattr(exc, "response", None)
    if isinstance(response, dict):
        return str(response.get("Error", {}).get("Code", ""))
    return ""


def describe_error(exc: BaseException) -> str:
    code = error_code(exc)
    return f"{code}: {exc}" if code else f"{type(exc).__name__}: {exc}"


@dataclass(frozen=True)
class PrimaryDatabase:
    """The primary database as its own region reports it."""

    reachable: bool
    available: bool
    detail: str


@dataclass(frozen=True)
class HealthCheckState:
    """A Route 53 health check as Route 53 judges it, then `Inverted`.

    An endpoint check is healthy when more than 18% of its checkers report success; a
    CALCULATED one when at least `threshold` of its children are healthy."""

    id: str
    inverted: bool
    checkers: int  # endpoint: reporting checkers; calculated: children
    healthy_checkers: int
    calculated: bool = False
    threshold: int = 0
    children: tuple[str, ...] = ()

    @property
    def endpoint_healthy(self) -> bool:
        if self.calculated:
            return self.healthy_checkers >= self.threshold
        return self.checkers > 0 and self.healthy_checkers / self.checkers > HEALTHY_CHECKER_SHARE

    @property
    def considered_healthy(self) -> bool:
        """What failover routing acts on: unhealthy means the SECONDARY record answers."""
        return self.endpoint_healthy != self.inverted

    def describe(self) -> str:
        inverted = ", inverted" if self.inverted else ""
        verdict = "healthy" if self.considered_healthy else "unhealthy"
        if self.calculated:
            return (
                f"{self.id}: calculated, {self.healthy_checkers}/{self.checkers} children "
                f"healthy, threshold {self.threshold}{inverted} -> {verdict}"
            )
        return (
            f"{self.id}: {self.healthy_checkers}/{self.checkers} checkers see the endpoint "
            f"healthy{inverted} -> {verdict}"
        )


@dataclass(frozen=True)
class ServiceRef:
    region: str
    cluster: str
    service: str  # the service's ARN (the physical id CloudFormation reports)

    @property
    def name(self) -> str:
        return self.service.rsplit("/", 1)[-1]

    @property
    def scalable_resource_id(self) -> str:
        return f"service/{self.cluster}/{self.name}"


def service_from_arn(region: str, arn: str) -> ServiceRef:
    """`arn:aws:ecs:<region>:<account>:service/<cluster>/<service>` (the new ARN format)."""
    parts = arn.split(":", 5)[-1].split("/")
    if len(parts) != 3 or parts[0] != "service":
        raise ValueError(f"{arn!r} is not an ECS service ARN of the form service/<cluster>/<name>")
    return ServiceRef(region=region, cluster=parts[1], service=arn)


@dataclass
class Stack:
    name: str
    region: str
    outputs: dict[str, str] = field(default_factory=dict)
    resources: dict[str, list[str]] = field(default_factory=dict)  # type -> physical ids

    def one(self, resource_type: str) -> str | None:
        found = self.resources.get(resource_type, [])
        return found[0] if len(found) == 1 else None


class AwsWorld:
    """Everything `ops failover --execute` asks of AWS for one environment."""

    def __init__(
        self,
        environment: EnvironmentConfig,
        clients: Callable[[str, str], Any],
        *,
        now: Callable[[], datetime] = lambda: datetime.now(UTC),
        failback: bool = False,
    ) -> None:
        if environment.disaster_recovery is None:
            raise ValueError(f"environment {environment.name!r} has no disaster_recovery section")
        self.environment = environment
        self.primary_region = environment.region
        self.recovery_region = environment.disaster_recovery.region
        # Where the replica to promote lives and where its source writes: a failback reverses
        # them (a new replica in the primary region of the promoted standby).
        self.failback = failback
        self.replica_region = self.primary_region if failback else self.recovery_region
        self.writer_region = self.recovery_region if failback else self.primary_region
        self.partition = partition_of(environment.region)
        self.route53_region = ROUTE53_CONTROL_REGION.get(self.partition, "us-east-1")
        self.clients = clients
        self.now = now
        self._stacks: dict[tuple[str, str], Stack] = {}
        self._children: dict[str, HealthCheckState] = {}
        self._lock = threading.Lock()

    # --- names ---------------------------------------------------------------------------------

    def identifier(self, slug: str) -> str:
        return naming.db_instance_identifier(self.environment.name, slug)

    def expected_source(self, slug: str) -> str:
        """The writer's ARN (the primary's; the promoted standby's in a failback); `<account>`
        when the config does not name the account."""
        return naming.db_instance_arn(
            partition=self.partition,
            region=self.writer_region,
            account=self.environment.account or "<account>",
            identifier=self.identifier(slug),
        )

    def is_expected_source(self, slug: str, source: str) -> bool:
        expected = self.expected_source(slug)
        if self.environment.account:
            return source == expected
        head, _, tail = expected.partition("<account>")
        return source.startswith(head) and source.endswith(tail)

    # --- CloudFormation ------------------------------------------------------------------------

    def stack(self, name: str, region: str) -> Stack:
        """Outputs and resources of a deployed stack (read once per run)."""
        with self._lock:
            cached = self._stacks.get((name, region))
        if cached is not None:
            return cached
        cloudformation = self.clients("cloudformation", region)
        described = cloudformation.describe_stacks(StackName=name)["Stacks"][0]
        stack = Stack(
            name=name,
            region=region,
            outputs={o["OutputKey"]: o["OutputValue"] for o in described.get("Outputs", [])},
        )
        for page in cloudformation.get_paginator("list_stack_resources").paginate(StackName=name):
            for resource in page["StackResourceSummaries"]:
                if resource.get("PhysicalResourceId"):
                    stack.resources.setdefault(resource["ResourceType"], []).append(
                        resource["PhysicalResourceId"]
                    )
        with self._lock:
            self._stacks[(name, region)] = stack
        return stack

    def app_service(self, *, standby: bool) -> ServiceRef:
        env = self.environment.name
        name, region = (
            (naming.dr_platform_stack_name(env), self.recovery_region)
            if standby
            else (naming.platform_stack_name(env), self.primary_region)
        )
        stack = self.stack(name, region)
        arn = stack.one("AWS::ECS::Service")
        if arn is None:
            found = len(stack.resources.get("AWS::ECS::Service", []))
            raise LookupError(f"{name} ({region}): expected one AWS::ECS::Service, found {found}")
        return service_from_arn(region, arn)

    def health_check_id(self, slug: str) -> tuple[str | None, str]:
        """The health check of `<slug>.<domain>`'s PRIMARY failover record, and where it was
        found: the record itself (Route 53, global), else the tenant stack's output."""
        domain = self.environment.domain
        if domain is None:
            return None, "the environment has no domain: no DNS record to move"
        name = f"{slug}.{domain.name}."
        route53 = self.clients("route53", self.route53_region)
        answer = route53.list_resource_record_sets(
            HostedZoneId=domain.hosted_zone_id, StartRecordName=name, MaxItems="10"
        )
        for record in answer.get("ResourceRecordSets", []):
            if record["Name"].rstrip(".") != name.rstrip("."):
                continue
            if record.get("Failover") == "PRIMARY" and record.get("HealthCheckId"):
                return str(record["HealthCheckId"]), f"PRIMARY record {name}"
        stack_name = naming.tenant_stack_name(self.environment.name, slug)
        try:
            stack = self.stack(stack_name, self.primary_region)
        except Exception as exc:
            return None, (
                f"no PRIMARY failover record {name} with a health check in "
                f"{domain.hosted_zone_id}, and {stack_name}: {describe_error(exc)}"
            )
        if stack.outputs.get(HEALTH_CHECK_OUTPUT):
            return stack.outputs[HEALTH_CHECK_OUTPUT], f"{stack_name} output {HEALTH_CHECK_OUTPUT}"
        return None, f"no PRIMARY failover record {name}, no output {HEALTH_CHECK_OUTPUT}"

    def probe_function_name(self) -> tuple[str, str]:
        if self.failback:  # the primary platform's probe has its fixed name
            return naming.app_probe_function_name(self.environment.name), "fixed name"
        name = naming.dr_platform_stack_name(self.environment.name)
        try:
            stack = self.stack(name, self.recovery_region)
        except Exception as exc:  # the probe is still worth a try under its fixed name
            fixed = naming.app_probe_function_name(self.environment.name)
            return fixed, f"fixed name ({name} unreadable: {describe_error(exc)})"
        if stack.outputs.get(PROBE_FUNCTION_OUTPUT):
            return stack.outputs[PROBE_FUNCTION_OUTPUT], f"{name} output {PROBE_FUNCTION_OUTPUT}"
        return naming.app_probe_function_name(self.environment.name), "fixed name"

    # --- RDS -----------------------------------------------------------------------------------

    def _describe(self, region: str, slug: str) -> dict[str, Any] | None:
        rds = self.clients("rds", region)
        try:
            answer = rds.describe_db_instances(DBInstanceIdentifier=self.identifier(slug))
        except Exception as exc:
            if error_code(exc) in _NOT_FOUND:
                return None
            raise
        instances = answer.get("DBInstances", [])
        return instances[0] if instances else None

    def replica_lag(self, slug: str, *, since: datetime | None = None) -> float | None:
        """The newest `ReplicaLag` (seconds) of the last five minutes (or since `since`), None
        without data."""
        cloudwatch = self.clients("cloudwatch", self.replica_region)
        end = self.now()
        answer = cloudwatch.get_metric_statistics(
            Namespace="AWS/RDS",
            MetricName="ReplicaLag",
            Dimensions=[{"Name": "DBInstanceIdentifier", "Value": self.identifier(slug)}],
            StartTime=since or end - timedelta(minutes=5),
            EndTime=end + timedelta(minutes=1),
            Period=60,
            Statistics=["Maximum"],
        )
        points = sorted(answer.get("Datapoints", []), key=lambda p: p["Timestamp"])
        if since is not None:
            points = [p for p in points if p["Timestamp"] >= since]
        return float(points[-1]["Maximum"]) if points else None

    def primary_database(self, slug: str) -> PrimaryDatabase:
        try:
            instance = self._describe(self.primary_region, slug)
        except Exception as exc:  # the region's API does not answer: that is the outage
            return PrimaryDatabase(
                False, False, f"{self.primary_region} RDS API: {describe_error(exc)}"
            )
        if instance is None:
            return PrimaryDatabase(
                True, False, f"{self.identifier(slug)} not found in {self.primary_region}"
            )
        status = instance.get("DBInstanceStatus", "?")
        return PrimaryDatabase(
            True, status == "available", f"status {status} in {self.primary_region}"
        )

    def desired_count(self, ref: ServiceRef) -> tuple[int, int]:
        ecs = self.clients("ecs", ref.region)
        services = ecs.describe_services(cluster=ref.cluster, services=[ref.service])["services"]
        if not services:
            raise LookupError(f"ECS service {ref.service} not found")
        return int(services[0]["desiredCount"]), int(services[0].get("runningCount", 0))

    def scale(self, ref: ServiceRef, count: int) -> str:
        """Desired count `count`, and the scalable target's minimum raised to it, so that target
        tracking does not scale the standby back in before the next deploy writes its settings."""
        return self._desired_count(ref, count, lower_minimum=False)

    def stop(self, ref: ServiceRef) -> str:
        """Desired count 0, the scalable target's minimum lowered to 0 first (else autoscaling
        would start the tasks again): how a switchover stops the writes of one side."""
        return self._desired_count(ref, 0, lower_minimum=True)

    def _desired_count(self, ref: ServiceRef, count: int, *, lower_minimum: bool) -> str:
        """Desired count `count` after moving the scalable target's minimum to it: up to it
        (scale) or down to it (stop); the maximum never below it. Says what it moved."""
        notes = []
        autoscaling = self.clients("application-autoscaling", ref.region)
        targets = autoscaling.describe_scalable_targets(
            ServiceNamespace="ecs", ResourceIds=[ref.scalable_resource_id]
        )["ScalableTargets"]
        for target in targets:
            minimum = target["MinCapacity"]
            if minimum > count if lower_minimum else minimum < count:
                autoscaling.register_scalable_target(
                    ServiceNamespace="ecs",
                    ResourceId=ref.scalable_resource_id,
                    ScalableDimension=target["ScalableDimension"],
                    MinCapacity=count,
                    MaxCapacity=max(count, target["MaxCapacity"]),
                )
                notes.append(f"autoscaling minimum {minimum} -> {count}")
        ecs = self.clients("ecs", ref.region)
        ecs.update_service(cluster=ref.cluster, service=ref.service, desiredCount=count)
        return "; ".join(notes)

    def config_task_count(self, *, whole_environment: bool) -> tuple[int, str]:
        capacity = service_capacity(self.environment)
        if whole_environment:
            return capacity.maximum, f"the {self.environment.profile} profile's maximum from config"
        return capacity.minimum, f"the {self.environment.profile} profile's minimum from config"

    # --- Route 53 (control plane in ROUTE53_CONTROL_REGION) -------------------------------------

    def health_check(self, health_check_id: str, *, depth: int = 0) -> HealthCheckState:
        route53 = self.clients("route53", self.route53_region)
        config = route53.get_health_check(HealthCheckId=health_check_id)["HealthCheck"][
            "HealthCheckConfig"
        ]
        inverted = bool(config.get("Inverted"))
        if config.get("Type") == "CALCULATED":
            # GetHealthCheckStatus does not answer for a calculated check: judge its children.
            children = tuple(config.get("ChildHealthChecks") or ())
            healthy = sum(
                self._child_state(child, depth + 1).considered_healthy
                for child in children
                if depth < 2
            )
            return HealthCheckState(
                id=health_check_id,
                inverted=inverted,
                checkers=len(children),
                healthy_checkers=healthy,
                calculated=True,
                threshold=int(config.get("HealthThreshold") or 0),
                children=children,
            )
        observations = route53.get_health_check_status(HealthCheckId=health_check_id)[
            "HealthCheckObservations"
        ]
        healthy = sum(
            1
            for o in observations
            if str(o.get("StatusReport", {}).get("Status", "")).startswith("Success")
        )
        return HealthCheckState(
            id=health_check_id,
            inverted=inverted,
            checkers=len(observations),
            healthy_checkers=healthy,
        )

    def restore_following(self, state: HealthCheckState) -> str:
        """A failback: the check follows the primary again (threshold 1, what the template
        renders for a restaurant not in `failed_over`; `Inverted` off for an endpoint check)."""
        route53 = self.clients("route53", self.route53_region)
        if state.calculated:
            route53.update_health_check(
                HealthCheckId=state.id, HealthThreshold=1, ChildHealthChecks=list(state.children)
            )
            return f"HealthThreshold {state.threshold} -> 1"
        route53.update_health_check(HealthCheckId=state.id, Inverted=False)
        return "Inverted off"

    def _child_state(self, child: str, depth: int) -> HealthCheckState:
        """Every restaurant's check has the same child (the primary load balancer's): read it
        once per run, not once per restaurant (Route 53 allows 5 API requests a second)."""
        with self._lock:
            cached = self._children.get(child)
        if cached is None:
            cached = self.health_check(child, depth=depth)
            with self._lock:
                self._children[child] = cached
        return cached

    def force_unhealthy(self, state: HealthCheckState) -> str:
        """Make Route 53 answer the SECONDARY record: a calculated check's threshold above its
        children (what the template renders for a failed-over restaurant), else `Inverted`."""
        route53 = self.clients("route53", self.route53_region)
        if state.calculated:
            threshold = len(state.children) + 1
            route53.update_health_check(
                HealthCheckId=state.id,
                HealthThreshold=threshold,
                ChildHealthChecks=list(state.children),  # kept as they are
            )
            return f"HealthThreshold {state.threshold} -> {threshold}"
        route53.update_health_check(HealthCheckId=state.id, Inverted=True)
        return "Inverted"


class RdsReplicaBackend:
    """`ReplicaBackend` (ops/disaster_recovery/database.py) over RDS in the recovery region."""

    def __init__(self, world: AwsWorld) -> None:
        self.world = world

    def status(self, slug: str) -> ReplicaStatus:
        world = self.world
        try:
            instance = world._describe(world.replica_region, slug)
        except Exception as exc:
            return ReplicaStatus(slug, False, False, False, None, f"RDS: {describe_error(exc)}")
        if instance is None:
            return ReplicaStatus(
                slug,
                False,
                False,
                False,
                None,
                f"{world.identifier(slug)} not found in {world.replica_region}",
            )
        state = instance.get("DBInstanceStatus", "?")
        source = instance.get("ReadReplicaSourceDBInstanceIdentifier")
        if source and not world.is_expected_source(slug, source):
            return ReplicaStatus(
                slug,
                True,
                True,
                False,
                None,
                f"a replica of {source}, expected {world.expected_source(slug)}",
            )
        if state != "available":
            return ReplicaStatus(
                slug,
                True,
                bool(source),
                False,
                None,
                f"status {state} (a promotion in progress? run again once it is available)",
            )
        lag = world.replica_lag(slug) if source else None
        return ReplicaStatus(slug, True, bool(source), True, lag, f"status {state}")

    def promote(self, slug: str) -> None:
        world = self.world
        restaurant = world.environment.restaurant(slug)
        rds = world.clients("rds", world.replica_region)
        try:
            rds.promote_read_replica(
                DBInstanceIdentifier=world.identifier(slug),
                # the promoted database is the restaurant's primary now: back it up as one
                BackupRetentionPeriod=restaurant.resolved_backup_retention_days,
            )
        except Exception as exc:
            if error_code(exc) == "InvalidDBInstanceState" and not self.status(slug).is_replica:
                return  # promoted meanwhile (a second operator, or a re-run)
            raise

    def writable(self, slug: str) -> bool:
        instance = self.world._describe(self.world.replica_region, slug)
        return bool(
            instance
            and instance.get("DBInstanceStatus") == "available"
            and not instance.get("ReadReplicaSourceDBInstanceIdentifier")
        )
