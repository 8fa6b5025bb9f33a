"""One restaurant: its database, secret, access role and DNS name. Onboarding adds one of these."""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_route53_targets as route53_targets
from aws_cdk import aws_ssm as ssm

from config.schema import EnvironmentConfig, Restaurant
from constructs import Construct
from constructs.compliance import acknowledge_generated_policies
from constructs.log_archive import subscribe_to_archive
from constructs.monitoring import TenantMonitoring
from constructs.tenant_access import TenantAccessRole
from constructs.tenant_database import (
    TenantDatabase,
)
from stacks import naming
from stacks import restaurant_parts as parts
from stacks.archive import archive_target
from stacks.platform_stack import PlatformInterface


class TenantStack(parts.RestaurantStack):
    """`chefs-kiss-<env>-tenant-<slug>`: one restaurant in the environment's region."""

    def _build(
        self, environment: EnvironmentConfig, restaurant: Restaurant, platform: PlatformInterface
    ) -> None:
        """One restaurant: database, access role, connection parameter, alarms, DNS name."""
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
        settings = parts.database_settings(environment, restaurant)
        return self._database_on(environment, restaurant, platform, settings)

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
        return self._access_role(
            env,
            slug,
            platform,
            role_name=naming.tenant_role_name(env, slug),
            app_role_names=app_role_names,
            master_secret=self.database.secret,
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
        return parts.restaurant_monitoring(self, env, restaurant, self.database.instance)

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
        record = parts.failover_record(
            self,
            platform,
            slug,
            route53.Failover.PRIMARY,
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
        return parts.connection_parameter(
            self, env=env, slug=slug, database=self.database, access=self.access
        )
