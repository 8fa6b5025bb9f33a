"""One restaurant: its database, secret, access role and DNS name. Onboarding adds one of these."""

from __future__ import annotations

import aws_cdk as cdk
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
        self.access = self._access(env, slug, platform)
        self.connection_parameter = self._connection_parameter(env, slug)
        self.monitoring = self._monitoring(env, restaurant)
        self._archive_logs(env, slug)
        if platform.hosted_zone is not None:
            self.dns_record = self._dns_record(slug, platform)
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
            settings=_database_settings(environment, restaurant),
            vpc=platform.vpc,
            subnet_group=platform.db_subnet_group,
            app_security_group=platform.app_security_group,
            rotation_subnets=platform.app_subnets,
            parameter_group=parameter_group,
        )

    def _access(self, env: str, slug: str, platform: PlatformInterface) -> TenantAccessRole:
        return TenantAccessRole(
            self,
            "Access",
            role_name=naming.tenant_role_name(env, slug),
            slug=slug,
            app_task_role=platform.app_task_role,
            # Denied the master secret by name: the task role, the probe, every access role.
            app_role_names=[
                naming.app_task_role_name(env),
                naming.app_probe_role_name(env),
                naming.tenant_role_name(env, "*"),
            ],
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
        return TenantMonitoring(
            self,
            "Monitoring",
            name_prefix=naming.name_prefix(env),
            instance=self.database.instance,
            instance_identifier=naming.db_instance_identifier(env, restaurant.slug),
            instance_class=restaurant.instance_class,
            allocated_storage_gb=restaurant.allocated_storage_gb,
            topics=imported_topics(self, naming.name_prefix(env)),
            # PoC restaurants: critical levels only (seed 2.1, free-tier monitoring).
            severities=(
                ("warning", "critical") if restaurant.tier == "production" else ("critical",)
            ),
        )

    def _dns_record(self, slug: str, platform: PlatformInterface) -> route53.ARecord:
        """`<slug>.<domain>`, an alias of the platform's load balancer."""
        assert platform.hosted_zone is not None
        return route53.ARecord(
            self,
            "DnsName",
            zone=platform.hosted_zone,
            record_name=slug,
            target=route53.RecordTarget.from_alias(
                route53_targets.LoadBalancerTarget(platform.load_balancer)
            ),
        )

    def _outputs(self, env: str, slug: str) -> None:
        cdk.CfnOutput(
            self, "DatabaseEndpoint", value=self.database.instance.db_instance_endpoint_address
        )
        cdk.CfnOutput(self, "DatabaseSecretName", value=naming.tenant_secret_name(env, slug))
        cdk.CfnOutput(self, "AccessRoleArn", value=self.access.role.role_arn)

    def _connection_parameter(self, env: str, slug: str) -> ssm.StringParameter:
        """The application contract for this restaurant (README): how the app connects."""
        contract = {
            "host": self.database.instance.db_instance_endpoint_address,
            "port": DB_PORT,
            "database": DATABASE_NAME,
            "user": APP_USERNAME,
            "auth": "iam",
            "sslmode": "verify-full",
            "role_arn": self.access.role.role_arn,
            "region": self.region,
        }
        return ssm.StringParameter(
            self,
            "ConnectionParameter",
            parameter_name=naming.tenant_connection_parameter_name(env, slug),
            string_value=self.to_json_string(contract),
            description=(
                f"How the app connects to {slug}'s database: assume role_arn, sign an IAM "
                f"token for user {APP_USERNAME}, TLS verify-full (schema {APP_SCHEMA})"
            ),
            tier=ssm.ParameterTier.STANDARD,
        )


def _database_settings(environment: EnvironmentConfig, restaurant: Restaurant) -> DatabaseSettings:
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
