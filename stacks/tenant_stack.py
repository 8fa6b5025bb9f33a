"""One restaurant: its database, secret, access role and DNS name. Onboarding adds one of these."""

from __future__ import annotations

import aws_cdk as cdk
import jsii
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_rds as rds
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_ssm as ssm

from config.schema import EnvironmentConfig, Restaurant
from constructs import Construct
from constructs.compliance import acknowledge_generated_policies
from constructs.log_archive import subscribe_to_archive
from constructs.monitoring import TenantMonitoring, imported_topics
from constructs.network import DB_PORT
from constructs.tenant_access import TenantAccessRole
from constructs.tenant_database import (
    APP_SCHEMA,
    APP_USERNAME,
    DATABASE_NAME,
    DatabaseSettings,
    TenantDatabase,
    parameter_group_name,
)
from stacks import naming
from stacks.archive import archive_target
from stacks.log_retention import retention
from stacks.platform_stack import PlatformInterface


class TenantStack(cdk.Stack):
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
        """One restaurant: database, access role, connection parameter, alarms, DNS name."""
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        env = environment.name
        slug = restaurant.slug

        self.database = self._database(environment, restaurant, platform)
        recovery = environment.disaster_recovery is not None
        self.access = self._access(env, slug, platform, recovery_region_roles=recovery)
        self.connection_parameter = self._connection_parameter(env, slug)
        self.monitoring = self._monitoring(env, restaurant)
        self.failover_health_check: route53.HealthCheck | None = None
        self._archive_logs(env, slug)
        if platform.hosted_zone is not None:
            self.dns_record = self._dns_record(environment, restaurant, platform)
        if self.database.proxy is not None:
            cdk.CfnOutput(self, "ProxyEndpoint", value=self.database.proxy.endpoint)
        acknowledge_generated_policies(self)
        self._outputs(env, slug)

    def _database(
        self, environment: EnvironmentConfig, restaurant: Restaurant, platform: PlatformInterface
    ) -> TenantDatabase:
        env = environment.name
        # The platform's group for this class, found by name: no export, and a resize
        # switches groups in place (the class change reboots and applies max_connections).
        parameter_group = rds.ParameterGroup.from_parameter_group_name(
            self,
            "Parameters",
            parameter_group_name(naming.name_prefix(env), restaurant.instance_class),
        )
        return TenantDatabase(
            self,
            "Database",
            settings=database_settings(environment, restaurant),
            vpc=platform.vpc,
            subnet_group=platform.db_subnet_group,
            app_security_group=platform.app_security_group,
            rotation_subnets=platform.app_subnets,
            parameter_group=parameter_group,
        )

    def _access(
        self,
        env: str,
        slug: str,
        platform: PlatformInterface,
        *,
        recovery_region_roles: bool = False,
    ) -> TenantAccessRole:
        # Denied the master secret by name: the task role, the probe, every access role; with a
        # standby, the recovery region's too (IAM is global: they could call this region).
        sides = (False, True) if recovery_region_roles else (False,)
        app_role_names = [
            name(env, standby=standby)
            for name in (naming.app_task_role_name, naming.app_probe_role_name)
            for standby in sides
        ] + [naming.tenant_role_name(env, "*", standby=standby) for standby in sides]
        return TenantAccessRole(
            self,
            "Access",
            role_name=naming.tenant_role_name(env, slug),
            slug=slug,
            app_task_role=platform.app_task_role,
            app_role_names=app_role_names,
            database_instance=self.database.instance,
            database_user=APP_USERNAME,
            connection_parameter_name=naming.tenant_connection_parameter_name(env, slug),
            master_secret=self.database.secret,
            uploads_bucket=s3.Bucket.from_bucket_name(
                self, "UploadsBucket", platform.uploads_bucket_name
            ),
            uploads_key=platform.uploads_key,
        )

    def _archive_logs(self, env: str, slug: str) -> None:
        """The restaurant's log groups to the platform's archive under `access/tenant-<slug>/`
        (their CloudWatch retention is the access kind's): three filters, no role, no change
        to the platform stack."""
        target = archive_target(self, env)
        groups = [*self.database.log_groups, self.database.bootstrap.log_group]
        names = ["postgresql", "upgrade", "db-bootstrap"]
        # Beside the log groups, not inside them: the instance depends on its log groups'
        # constructs, and must not come to depend on the filters too.
        scope = Construct(self, "LogArchive")
        for log, group in zip(names, groups, strict=True):
            subscribe_to_archive(
                scope,
                log,
                log_group=group,
                target=target,
                kind="access",
                owner=naming.log_archive_owner(slug),
                log=log,
            )

    def _monitoring(self, env: str, restaurant: Restaurant) -> TenantMonitoring:
        return restaurant_monitoring(self, env, restaurant, self.database.instance)

    def _dns_record(
        self, environment: EnvironmentConfig, restaurant: Restaurant, platform: PlatformInterface
    ) -> route53.ARecord:
        """`<slug>.<domain>`, an alias of the platform's load balancer; with a standby, the
        PRIMARY of a failover pair (the SECONDARY is in the standby stack).

        The record keeps its construct id (`DnsName`): CloudFormation updates SetIdentifier,
        Failover and HealthCheckId in place. A new logical id would create the failover record
        while the simple one still exists, which Route 53 refuses (docs/disaster-recovery.md).
        """
        assert platform.hosted_zone is not None
        slug = restaurant.slug
        target = route53.RecordTarget.from_alias(
            route53_targets.LoadBalancerTarget(platform.load_balancer)
        )
        covered = slug in {r.slug for r in environment.standby_restaurants()}
        if not covered or platform.failover_health_check is None:
            return route53.ARecord(
                self, "DnsName", zone=platform.hosted_zone, record_name=slug, target=target
            )
        recovery = environment.disaster_recovery
        assert recovery is not None
        # One switch per restaurant: healthy while the platform's check is; a threshold above
        # the number of children makes Route 53 treat it as always unhealthy, so a failed-over
        # restaurant stays on its standby even when the primary region is healthy again.
        failed_over = slug in recovery.failed_over
        self.failover_health_check = route53.HealthCheck(
            self,
            "DnsFailoverHealthCheck",
            type=route53.HealthCheckType.CALCULATED,
            child_health_checks=[platform.failover_health_check],
            health_threshold=2 if failed_over else 1,
        )
        record = route53.ARecord(
            self,
            "DnsName",
            zone=platform.hosted_zone,
            record_name=slug,
            target=failover_target(platform.load_balancer),
            failover=route53.Failover.PRIMARY,
            set_identifier=FAILOVER_SET_IDENTIFIERS["PRIMARY"],
            health_check=self.failover_health_check,
        )
        cdk.CfnOutput(
            self,
            "FailoverHealthCheckId",
            value=self.failover_health_check.health_check_id,
            description="Calculated health check of this restaurant's PRIMARY record: "
            "HealthThreshold 2 (> its one child) keeps DNS on the standby",
        )
        return record

    def _outputs(self, env: str, slug: str) -> None:
        cdk.CfnOutput(
            self, "DatabaseEndpoint", value=self.database.instance.db_instance_endpoint_address
        )
        cdk.CfnOutput(self, "DatabaseSecretName", value=naming.tenant_secret_name(env, slug))
        cdk.CfnOutput(self, "AccessRoleArn", value=self.access.role.role_arn)

    def _connection_parameter(self, env: str, slug: str) -> ssm.StringParameter:
        """The application contract for this restaurant (README): how the app connects."""
        return connection_parameter(
            self, env=env, slug=slug, database=self.database, access=self.access
        )


# Seed 7.1: the two records of `<slug>.<domain>` once the restaurant has a standby.
FAILOVER_SET_IDENTIFIERS = {"PRIMARY": "primary", "SECONDARY": "standby"}


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
