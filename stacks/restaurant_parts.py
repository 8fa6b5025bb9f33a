"""What a restaurant's stacks build alike, below both: the tenant stack (the primary region)
and the standby stack (the recovery region) compose the same constructs through these, so neither
stack imports the other and neither holds a copy.

Each function takes the stack to build in; construct ids are the stacks' own (`Database`,
`Access`, `ConnectionParameter`, `Monitoring`), so logical ids stay where they were.
"""

from __future__ import annotations

import aws_cdk as cdk
import jsii
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_rds as rds
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ssm as ssm

from config.schema import EnvironmentConfig, Restaurant
from constructs import Construct
from constructs.monitoring import TenantMonitoring, imported_topics
from constructs.network import DB_PORT
from constructs.tenant_access import TenantAccessRole
from constructs.tenant_database import (
    APP_SCHEMA,
    APP_USERNAME,
    DATABASE_NAME,
    DatabaseSettings,
    ReplicaSource,
    TenantDatabase,
    parameter_group_name,
)
from stacks import naming
from stacks.log_retention import retention
from stacks.platform_stack import PlatformInterface


class RestaurantStack(cdk.Stack):
    """One restaurant's stack on a platform: the tenant stack (primary region) or its standby
    (recovery region). Both take the same props; each composes its constructs in `_build`,
    the database and access role of both with the methods below."""

    database: TenantDatabase

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: EnvironmentConfig,
        restaurant: Restaurant,
        platform: PlatformInterface,
        **kwargs: object,
    ) -> None:
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self._build(environment, restaurant, platform)

    def _build(
        self, environment: EnvironmentConfig, restaurant: Restaurant, platform: PlatformInterface
    ) -> None:
        raise NotImplementedError

    def _database_on(
        self,
        environment: EnvironmentConfig,
        restaurant: Restaurant,
        platform: PlatformInterface,
        settings: DatabaseSettings,
        *,
        replica: ReplicaSource | None = None,
    ) -> TenantDatabase:
        """The restaurant's database (id `Database`) on `platform`'s network, with the parameter
        group of its class found by name (id `Parameters`): no export, and a resize switches groups
        in place (the class change reboots and applies max_connections). `replica`: the standby's
        cross-region read replica of the primary."""
        parameter_group = rds.ParameterGroup.from_parameter_group_name(
            self,
            "Parameters",
            parameter_group_name(naming.name_prefix(environment.name), restaurant.instance_class),
        )
        return TenantDatabase(
            self,
            "Database",
            settings=settings,
            vpc=platform.vpc,
            subnet_group=platform.db_subnet_group,
            app_security_group=platform.app_security_group,
            rotation_subnets=platform.app_subnets,
            parameter_group=parameter_group,
            replica=replica,
        )

    def _access_role(
        self,
        env: str,
        slug: str,
        platform: PlatformInterface,
        *,
        role_name: str,
        app_role_names: list[str],
        master_secret: secretsmanager.ISecret | None,
    ) -> TenantAccessRole:
        """The role the app assumes for this restaurant (id `Access`) in this stack's region: its
        database user, its connection parameter and its prefix in the platform's uploads bucket."""
        return TenantAccessRole(
            self,
            "Access",
            role_name=role_name,
            slug=slug,
            app_task_role=platform.app_task_role,
            app_role_names=app_role_names,
            database_instance=self.database.instance,
            database_user=APP_USERNAME,
            connection_parameter_name=naming.tenant_connection_parameter_name(env, slug),
            master_secret=master_secret,
            uploads_bucket=s3.Bucket.from_bucket_name(
                self, "UploadsBucket", platform.uploads_bucket_name
            ),
            uploads_key=platform.uploads_key,
        )


# Seed 7.1: the two records of `<slug>.<domain>` once the restaurant has a standby.
FAILOVER_SET_IDENTIFIERS = {"PRIMARY": "primary", "SECONDARY": "standby"}


def failover_record(
    stack: cdk.Stack,
    platform: PlatformInterface,
    slug: str,
    side: route53.Failover,
    *,
    health_check: route53.IHealthCheck | None = None,
) -> route53.ARecord:
    """`<slug>.<domain>` (id `DnsName`) as one side of the restaurant's failover pair: the
    PRIMARY in the tenant stack (with its health check), the SECONDARY in the standby stack,
    each an alias of its own region's load balancer."""
    assert platform.hosted_zone is not None
    return route53.ARecord(
        stack,
        "DnsName",
        zone=platform.hosted_zone,
        record_name=slug,
        target=failover_target(platform.load_balancer),
        failover=side,
        set_identifier=FAILOVER_SET_IDENTIFIERS[side.value],
        health_check=health_check,
    )


@jsii.implements(route53_targets.IAliasRecordTargetProps)
class _EvaluateTargetHealth:
    @property
    def evaluate_target_health(self) -> bool:
        return True

    @property
    def hosted_zone_id(self) -> str | None:
        return None  # the load balancer's own (canonical) zone


def failover_target(load_balancer: elbv2.IApplicationLoadBalancer) -> route53.RecordTarget:
    """A failover alias of `load_balancer`: Route 53 requires EvaluateTargetHealth on failover
    alias records, so a load balancer without healthy targets counts as unhealthy."""
    return route53.RecordTarget.from_alias(
        route53_targets.LoadBalancerTarget(load_balancer, _EvaluateTargetHealth())
    )


def connection_parameter(
    stack: cdk.Stack,
    *,
    env: str,
    slug: str,
    database: TenantDatabase,
    access: TenantAccessRole,
) -> ssm.StringParameter:
    """The restaurant's connection parameter (the application contract) in `stack`'s region:
    the tenant stack's for the primary database, the standby stack's for its replica."""
    contract = {
        "host": database.instance.db_instance_endpoint_address,
        "port": DB_PORT,
        "database": DATABASE_NAME,
        "user": APP_USERNAME,
        "auth": "iam",
        "sslmode": "verify-full",
        "role_arn": access.role.role_arn,
        "region": stack.region,
    }
    return ssm.StringParameter(
        stack,
        "ConnectionParameter",
        parameter_name=naming.tenant_connection_parameter_name(env, slug),
        string_value=stack.to_json_string(contract),
        description=(
            f"How the app connects to {slug}'s database: assume role_arn, sign an IAM "
            f"token for user {APP_USERNAME}, TLS verify-full (schema {APP_SCHEMA})"
        ),
        tier=ssm.ParameterTier.STANDARD,
    )


def restaurant_monitoring(
    stack: cdk.Stack,
    env: str,
    restaurant: Restaurant,
    instance: rds.DatabaseInstance,
    *,
    replica_lag_rpo_seconds: int | None = None,
) -> TenantMonitoring:
    """The restaurant's alarms on its database (id `Monitoring`), to the topics of the stack's
    region by name; a standby's replica also alarms on its lag at the RPO."""
    return TenantMonitoring(
        stack,
        "Monitoring",
        name_prefix=naming.name_prefix(env),
        instance=instance,
        instance_identifier=naming.db_instance_identifier(env, restaurant.slug),
        instance_class=restaurant.instance_class,
        allocated_storage_gb=restaurant.allocated_storage_gb,
        topics=imported_topics(stack, naming.name_prefix(env)),
        # PoC restaurants: critical levels only (seed 2.1, free-tier monitoring).
        severities=("warning", "critical") if restaurant.tier == "production" else ("critical",),
        replica_lag_rpo_seconds=replica_lag_rpo_seconds,
    )


def database_settings(environment: EnvironmentConfig, restaurant: Restaurant) -> DatabaseSettings:
    """The restaurant's database settings, resolved from its config and the environment's."""
    env = environment.name
    slug = restaurant.slug
    production = restaurant.tier == "production"
    replication = restaurant.backup_replication
    return DatabaseSettings(
        instance_identifier=naming.db_instance_identifier(env, slug),
        bootstrap_log_group_name=naming.db_bootstrap_log_group_name(env, slug),
        secret_name=naming.tenant_secret_name(env, slug),
        key_alias=naming.tenant_key_alias(env, slug),
        instance_class=restaurant.instance_class,
        multi_az=restaurant.resolved_multi_az,
        allocated_storage_gb=restaurant.allocated_storage_gb,
        max_allocated_storage_gb=restaurant.max_allocated_storage_gb,
        backup_retention_days=restaurant.resolved_backup_retention_days,
        deletion_protection=restaurant.resolved_deletion_protection,
        enhanced_monitoring=production,
        performance_insights=production,
        log_retention=retention(environment.logs.access_days),
        tier=restaurant.tier,
        restore_from_snapshot=restaurant.restore_from_snapshot,
        rds_proxy=restaurant.rds_proxy,
        backup_replication=(
            (
                replication.region,
                replication.kms_key_arn,
                replication.retention_days or restaurant.resolved_backup_retention_days,
            )
            if replication
            else None
        ),
    )
