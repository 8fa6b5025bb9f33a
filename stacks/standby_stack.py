"""One restaurant's standby in the recovery region (seed 7.1): an encrypted cross-region read
replica of its database, its connection parameter and access role there, a replica-lag alarm at
the RPO, and the SECONDARY record of `<slug>.<domain>`.

Cross-region values are deterministic names, never references: the replica's source is the
primary's ARN built from its identifier (`naming.db_instance_arn`), so synthesis stays offline and
no stack exports anything to another region (docs/disaster-recovery.md).
"""

from __future__ import annotations

import dataclasses

import aws_cdk as cdk
from aws_cdk import aws_route53 as route53

from config.schema import EnvironmentConfig, Restaurant
from constructs.compliance import acknowledge_generated_policies
from constructs.monitoring import REPLICA_LAG_RPO_SECONDS, TenantMonitoring
from constructs.tenant_access import TenantAccessRole
from constructs.tenant_database import (
    ReplicaSource,
    TenantDatabase,
)
from stacks import naming
from stacks import restaurant_parts as parts
from stacks.platform_stack import PlatformInterface


class StandbyStack(parts.RestaurantStack):
    """`chefs-kiss-<env>-dr-tenant-<slug>`, in the recovery region, on the standby platform.

    With the restaurant in `disaster_recovery.failed_over`, the replica is rendered promoted
    (no `SourceDBInstanceIdentifier`: an in-place promotion), Multi-AZ and with the restaurant's
    backups, and the replica-lag alarm is gone: it is the restaurant's database now.
    """

    def _build(
        self, environment: EnvironmentConfig, restaurant: Restaurant, platform: PlatformInterface
    ) -> None:
        recovery = environment.disaster_recovery
        if recovery is None or restaurant not in environment.standby_restaurants():
            raise ValueError(
                f"{environment.name}: restaurant {restaurant.slug!r} has no standby "
                "(disaster_recovery off, or the restaurant not covered)"
            )
        env = environment.name
        slug = restaurant.slug
        self.promoted = slug in recovery.failed_over

        self.database = self._database(environment, restaurant, platform)
        self.access = self._access(env, slug, platform)
        self.connection_parameter = parts.connection_parameter(
            self, env=env, slug=slug, database=self.database, access=self.access
        )
        self.monitoring = self._monitoring(env, restaurant)
        self.dns_record: route53.ARecord | None = None
        if platform.hosted_zone is not None:
            self.dns_record = self._dns_record(slug, platform)
        acknowledge_generated_policies(self)
        self._outputs(env, slug)

    def _database(
        self, environment: EnvironmentConfig, restaurant: Restaurant, platform: PlatformInterface
    ) -> TenantDatabase:
        env = environment.name
        identifier = naming.db_instance_identifier(env, restaurant.slug)
        settings = dataclasses.replace(
            parts.database_settings(environment, restaurant),
            # A replica is the regional copy (single-AZ); promoted, it is the restaurant's
            # database and gets the tier's availability (MultiAZ changes in place).
            multi_az=restaurant.resolved_multi_az if self.promoted else False,
            restore_from_snapshot=None,
            rds_proxy=False,
            backup_replication=None,
        )
        # The standby platform's group for this class (same name in this region).
        return self._database_on(
            environment,
            restaurant,
            platform,
            settings,
            replica=ReplicaSource(
                source_arn=naming.db_instance_arn(
                    partition=cdk.Aws.PARTITION,
                    region=environment.region,
                    account=cdk.Aws.ACCOUNT_ID,
                    identifier=identifier,
                ),
                source_region=environment.region,
                promoted=self.promoted,
            ),
        )

    def _access(self, env: str, slug: str, platform: PlatformInterface) -> TenantAccessRole:
        """The recovery region's access role: its own name (IAM is global), the replica's own
        `DbiResourceId`, the parameter of this region and the prefix in the standby bucket."""
        return self._access_role(
            env,
            slug,
            platform,
            role_name=naming.tenant_role_name(env, slug, standby=True),
            app_role_names=[],
            master_secret=None,
        )

    def _monitoring(self, env: str, restaurant: Restaurant) -> TenantMonitoring:
        """The tenant's alarms on the replica (the standby platform's topics: the same names in
        this region), plus the replica lag at the RPO while it is one."""
        return parts.restaurant_monitoring(
            self,
            env,
            restaurant,
            self.database.instance,
            replica_lag_rpo_seconds=None if self.promoted else REPLICA_LAG_RPO_SECONDS,
        )

    def _dns_record(self, slug: str, platform: PlatformInterface) -> route53.ARecord:
        """The SECONDARY of `<slug>.<domain>`: the standby load balancer, answered when the
        PRIMARY's health check fails (or is held unhealthy for a failed-over restaurant)."""
        assert platform.hosted_zone is not None
        return parts.failover_record(self, platform, slug, route53.Failover.SECONDARY)

    def _outputs(self, env: str, slug: str) -> None:
        cdk.CfnOutput(self, "ReplicaIdentifier", value=naming.db_instance_identifier(env, slug))
        cdk.CfnOutput(
            self, "ReplicaEndpoint", value=self.database.instance.db_instance_endpoint_address
        )
        cdk.CfnOutput(self, "AccessRoleArn", value=self.access.role.role_arn)
        cdk.CfnOutput(
            self,
            "ConnectionParameterName",
            value=naming.tenant_connection_parameter_name(env, slug),
        )
        alarm = self.monitoring.replica_lag_alarm
        if alarm is not None:
            cdk.CfnOutput(self, "ReplicaLagAlarmName", value=alarm.alarm_name)
