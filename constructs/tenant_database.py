"""One restaurant's PostgreSQL database: instance, key, secret, rotation, logs, security group.
Must never import stacks/, ops/ or config/: settings arrive as constructor arguments.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
import jsii
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager

from constructs import Construct
from constructs.compliance import acknowledge, acknowledge_all, acknowledge_each, in_packs
from constructs.key_policies import allow_log_groups
from constructs.monitoring import max_connections
from constructs.network import DB_PORT, closed_security_group
from constructs.tenant_database_bootstrap import DatabaseBootstrap
from runtime.db_bootstrap import Target

POSTGRES_VERSION = rds.PostgresEngineVersion.VER_18
POSTGRES_MAJOR = "18"
DATABASE_NAME = "chefs_kiss"
MASTER_USERNAME = "chefs_admin"  # held only by rotation, bootstrap and administrators
# The application's own database user (IAM authentication, no password) and the schema it owns.
APP_USERNAME = "chefs_app"
APP_SCHEMA = "app"
ROTATION_DAYS = 30
EXCLUDE_CHARACTERS = " %+~`#$&*()|[]{}:;<>?!'/@\"\\"
PROXY_PORT = 5432  # RDS Proxy for PostgreSQL always listens on 5432


@dataclass(frozen=True)
class DatabaseSettings:
    """What varies between restaurants; everything else is fixed by this construct."""

    instance_identifier: str
    secret_name: str
    key_alias: str
    instance_class: str  # e.g. "db.t4g.small"
    multi_az: bool
    allocated_storage_gb: int
    max_allocated_storage_gb: int | None
    backup_retention_days: int
    deletion_protection: bool
    enhanced_monitoring: bool
    performance_insights: bool
    log_retention: logs.RetentionDays
    # Named, so the key policy can let the logs service use the key for this group alone.
    bootstrap_log_group_name: str
    tier: str
    # Create the instance from this RDS snapshot (id or ARN); see Restaurant.restore_from_snapshot.
    restore_from_snapshot: str | None = None
    rds_proxy: bool = False
    # Seed 7.1: (region, KMS key ARN there, retention days) of replicated automated backups.
    backup_replication: tuple[str, str, int] | None = None


@dataclass(frozen=True)
class ReplicaSource:
    """Seed 7.1: this database is an encrypted cross-region read replica of `source_arn`.

    CloudFormation needs the source's full ARN and `SourceRegion` for an encrypted replica in
    another region (it signs the pre-signed URL itself); CDK's read replica cannot name a source
    in another region (aws-cdk issues 12838, 28998), hence the L1 properties. `promoted`: the
    replica was promoted (`disaster_recovery.failed_over`): the template drops
    `SourceDBInstanceIdentifier`, which CloudFormation applies as an in-place promotion, and keeps
    every create-only property (`SourceRegion`, `KmsKeyId`, `StorageEncrypted`...) as it was.
    """

    source_arn: str
    source_region: str
    promoted: bool = False


def parameter_group_name(name_prefix: str, instance_class: str) -> str:
    """`chefs-kiss-prod-postgres18-db-t4g-small`: tenant stacks find their group by this name."""
    return f"{name_prefix}-postgres{POSTGRES_MAJOR}-{instance_class.replace('.', '-')}"


class DatabaseParameterGroups(Construct):
    """One parameter group per instance class, shared by every tenant database of the
    environment (RDS allows 50 groups per region by default: one per tenant would stop at 50).

    TLS is required (`rds.force_ssl`), connections are logged, and `max_connections` is set
    explicitly per class so the connections alarm divides by the real limit (monitoring.py).
    """

    def __init__(
        self, scope: Construct, construct_id: str, *, name_prefix: str, instance_classes: list[str]
    ) -> None:
        super().__init__(scope, construct_id)
        self.groups: dict[str, rds.ParameterGroup] = {}
        for instance_class in instance_classes:
            name = parameter_group_name(name_prefix, instance_class)
            self.groups[instance_class] = rds.ParameterGroup(
                self,
                instance_class.replace("db.", "").replace(".", "-"),
                engine=rds.DatabaseInstanceEngine.postgres(version=POSTGRES_VERSION),
                name=name,
                description=f"{name_prefix} tenant databases on {instance_class}: TLS required",
                parameters={
                    "rds.force_ssl": "1",
                    "max_connections": str(max_connections(instance_class)),
                    "log_connections": "1",
                    "log_disconnections": "1",
                    "log_min_duration_statement": "1000",
                },
                removal_policy=cdk.RemovalPolicy.RETAIN,
            )
            # ParameterGroup renders its resource only when bound; tenants use it by name.
            self.groups[instance_class].bind_to_instance()


@jsii.implements(ec2.IConnectable)
class _DatabasePort:
    """The database's security group with a literal default port.

    `DatabaseInstance.connections` carries the endpoint port as a token, which makes some
    compliance-pack rules fail to evaluate the rules it creates; the rotation function connects
    through this object instead, so its ingress rule names port 5433 literally.
    """

    def __init__(self, security_group: ec2.ISecurityGroup) -> None:
        self._connections = ec2.Connections(
            security_groups=[security_group], default_port=ec2.Port.tcp(DB_PORT)
        )

    @property
    def connections(self) -> ec2.Connections:
        return self._connections


class TenantDatabase(Construct):
    """RDS PostgreSQL for one restaurant, in the isolated data subnets.

    Stateful children (`Key`, `Instance`, the secret) keep fixed construct ids: their logical ids
    are pinned by tests, since a new logical id means a new, empty database.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        settings: DatabaseSettings,
        vpc: ec2.IVpc,
        subnet_group: rds.ISubnetGroup,
        app_security_group: ec2.ISecurityGroup,
        rotation_subnets: ec2.SubnetSelection,
        parameter_group: rds.IParameterGroup,
        replica: ReplicaSource | None = None,
    ) -> None:
        """`replica`: a cross-region read replica instead of a new database (seed 7.1). It has no
        master secret, rotation or bootstrap: users, `chefs_app` included, arrive by physical
        replication, and the master password is the source's."""
        super().__init__(scope, construct_id)

        self._key(settings)
        self._security_group(settings, vpc, app_security_group)
        self._log_groups(settings)
        self.parameter_group = parameter_group
        self.replica = replica
        self.secret: secretsmanager.ISecret | None = None
        self.proxy: rds.DatabaseProxy | None = None
        if replica is not None:
            self._replica_instance(settings, vpc, subnet_group, replica)
            self._acknowledge_replica(settings, replica)
            return
        self._instance(settings, vpc, subnet_group)
        self._rotation(vpc, rotation_subnets)
        self._bootstrap(settings, vpc, rotation_subnets)
        self._replicate_backups(settings)
        self._proxy(settings, vpc, app_security_group, rotation_subnets)
        self._acknowledge(settings)

    def _key(self, settings: DatabaseSettings) -> None:
        """The tenant's own KMS key (data, secret, logs)."""
        # One key per restaurant: its data, secret and logs can be crypto-shredded on their own,
        # and no grant can ever reach another restaurant's data through a shared key.
        self.key = kms.Key(
            self,
            "Key",
            alias=settings.key_alias,
            description=f"Tenant data key for {settings.instance_identifier}",
            enable_key_rotation=True,
            # Final snapshots are encrypted with this key: it must outlive the database.
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        allow_log_groups(
            self.key,
            log_group_names=[
                f"/aws/rds/instance/{settings.instance_identifier}/*",
                settings.bootstrap_log_group_name,
            ],
            sid="CloudWatchLogsOfThisDatabase",
        )

    def _security_group(
        self, settings: DatabaseSettings, vpc: ec2.IVpc, app_security_group: ec2.ISecurityGroup
    ) -> None:
        """The database's security group: its port from the app tasks only."""
        self.security_group = closed_security_group(
            self, vpc, f"{settings.instance_identifier} - database port from the app only"
        )
        self.security_group.add_ingress_rule(
            app_security_group, ec2.Port.tcp(DB_PORT), "PostgreSQL from the app tasks"
        )

    def _log_groups(self, settings: DatabaseSettings) -> None:
        """The PostgreSQL and upgrade log groups, created before the instance exports to them."""
        self.log_groups = [
            logs.LogGroup(
                self,
                f"{kind.title()}Logs",
                log_group_name=f"/aws/rds/instance/{settings.instance_identifier}/{kind}",
                retention=settings.log_retention,
                encryption_key=self.key,
                removal_policy=cdk.RemovalPolicy.RETAIN,
            )
            for kind in ("postgresql", "upgrade")
        ]

    def _instance(
        self, settings: DatabaseSettings, vpc: ec2.IVpc, subnet_group: rds.ISubnetGroup
    ) -> None:
        """The RDS instance (id `Instance`, fixed), new or restored from a snapshot; its secret."""
        # Restore: same construct id, so the logical id never depends on the field; ops plan
        # blocks adding/changing/removing the snapshot on an existing instance (a replacement).
        origin: dict[str, object] = {
            "database_name": DATABASE_NAME,
            "credentials": rds.Credentials.from_generated_secret(
                MASTER_USERNAME,
                secret_name=settings.secret_name,
                encryption_key=self.key,
                exclude_characters=EXCLUDE_CHARACTERS,
            ),
            "storage_encrypted": True,
            "storage_encryption_key": self.key,
        }
        instance_type: type[rds.DatabaseInstance] | type[rds.DatabaseInstanceFromSnapshot]
        instance_type = rds.DatabaseInstance
        if settings.restore_from_snapshot:
            instance_type = rds.DatabaseInstanceFromSnapshot
            origin = self._restore_origin(settings)
        # Typed as DatabaseInstance for its users (monitoring, proxy): the snapshot variant has the
        # same surface (both are DatabaseInstanceBase with a secret).
        self.instance: rds.DatabaseInstance = instance_type(  # type: ignore[assignment]
            self,
            "Instance",
            engine=rds.DatabaseInstanceEngine.postgres(version=POSTGRES_VERSION),
            backup_retention=cdk.Duration.days(settings.backup_retention_days),
            delete_automated_backups=False,
            removal_policy=cdk.RemovalPolicy.SNAPSHOT,
            allow_major_version_upgrade=False,
            **self._instance_props(settings, vpc, subnet_group),  # type: ignore[arg-type]
            **origin,  # type: ignore[arg-type]
        )
        for log_group in self.log_groups:
            self.instance.node.add_dependency(log_group)
        assert self.instance.secret is not None
        self.secret = self.instance.secret

    def _instance_props(
        self, settings: DatabaseSettings, vpc: ec2.IVpc, subnet_group: rds.ISubnetGroup
    ) -> dict[str, object]:
        """What the primary and its cross-region replica set alike: identity, size, network,
        parameters, logs, monitoring and IAM authentication (a replica needs its own)."""
        return {
            "instance_identifier": settings.instance_identifier,
            "instance_type": ec2.InstanceType(settings.instance_class.removeprefix("db.")),
            "port": DB_PORT,
            "vpc": vpc,
            "subnet_group": subnet_group,
            "security_groups": [self.security_group],
            "publicly_accessible": False,
            "multi_az": settings.multi_az,
            "storage_type": rds.StorageType.GP3,
            "allocated_storage": settings.allocated_storage_gb,
            "max_allocated_storage": settings.max_allocated_storage_gb,
            "parameter_group": self.parameter_group,
            "copy_tags_to_snapshot": True,
            "deletion_protection": settings.deletion_protection,
            "auto_minor_version_upgrade": True,
            "cloudwatch_logs_exports": ["postgresql", "upgrade"],
            "monitoring_interval": (
                cdk.Duration.seconds(60) if settings.enhanced_monitoring else None
            ),
            "enable_performance_insights": settings.performance_insights,
            "performance_insight_encryption_key": (
                self.key if settings.performance_insights else None
            ),
            "performance_insight_retention": (
                rds.PerformanceInsightRetention.DEFAULT if settings.performance_insights else None
            ),
            "iam_authentication": True,
        }

    def _replica_instance(
        self,
        settings: DatabaseSettings,
        vpc: ec2.IVpc,
        subnet_group: rds.ISubnetGroup,
        replica: ReplicaSource,
    ) -> None:
        """The cross-region read replica (id `Instance`, fixed), encrypted with this region's key.

        Stays long: the L1 properties CDK cannot express follow the instance.
        """
        source = rds.DatabaseInstance.from_database_instance_attributes(
            self,
            "Source",
            instance_identifier=settings.instance_identifier,
            instance_endpoint_address="unresolved.invalid",  # never read: the ARN is set below
            port=DB_PORT,
            security_groups=[],
        )
        replica_instance = rds.DatabaseInstanceReadReplica(
            self,
            "Instance",
            source_database_instance=source,
            storage_encrypted=True,
            storage_encryption_key=self.key,
            # The replica holds the only copy in this region (and, once promoted, the live data):
            # CloudFormation never deletes it; turning disaster recovery off is a runbook step.
            removal_policy=cdk.RemovalPolicy.RETAIN,
            **self._instance_props(settings, vpc, subnet_group),  # type: ignore[arg-type]
        )
        cfn_instance = replica_instance.node.default_child
        assert isinstance(cfn_instance, rds.CfnDBInstance)
        # Create-only: the replica keeps SourceRegion and KmsKeyId for its whole life. An
        # encrypted replica takes its encryption from KmsKeyId; the schema forbids
        # StorageEncrypted beside SourceDBInstanceIdentifier, and it stays absent once promoted
        # (create-only: adding it later would replace the instance).
        cfn_instance.source_region = replica.source_region
        cfn_instance.storage_encrypted = None
        if replica.promoted:
            # Removing the source promotes the replica in place (RDS handler); a promoted
            # database keeps the restaurant's backups (0 -> N days: in place).
            cfn_instance.source_db_instance_identifier = None
            cfn_instance.backup_retention_period = settings.backup_retention_days
        else:
            cfn_instance.source_db_instance_identifier = replica.source_arn
        for log_group in self.log_groups:
            replica_instance.node.add_dependency(log_group)
        # The surface its users need (endpoint, resource id, metrics) is the same.
        self.instance = replica_instance  # type: ignore[assignment]

    def _rotation(self, vpc: ec2.IVpc, subnets: ec2.SubnetSelection) -> None:
        """Rotation of the master secret."""
        # Single-user rotation (seed 7.2). The function runs in the app subnets, which reach
        # Secrets Manager through the NAT gateway, and reaches the database on its port.
        assert self.secret is not None
        self.rotation = secretsmanager.SecretRotation(
            self,
            "Rotation",
            application=secretsmanager.SecretRotationApplication.POSTGRES_ROTATION_SINGLE_USER,
            secret=self.secret,
            target=_DatabasePort(self.security_group),
            vpc=vpc,
            vpc_subnets=subnets,
            automatically_after=cdk.Duration.days(ROTATION_DAYS),
            exclude_characters=EXCLUDE_CHARACTERS,
        )

    def _bootstrap(
        self, settings: DatabaseSettings, vpc: ec2.IVpc, subnets: ec2.SubnetSelection
    ) -> None:
        """The app's database user, converged on every deploy."""
        # The application's own user (IAM authentication), created and converged on every
        # deploy by a custom resource; the app never sees the master secret.
        assert self.secret is not None
        self.bootstrap = DatabaseBootstrap(
            self,
            "Bootstrap",
            instance=self.instance,
            master_user=MASTER_USERNAME,
            master_secret=self.secret,
            database_security_group=self.security_group,
            vpc=vpc,
            subnets=subnets,
            target=Target(user=APP_USERNAME, schema=APP_SCHEMA, database=DATABASE_NAME),
            log_key=self.key,
            log_group_name=settings.bootstrap_log_group_name,
            log_retention=settings.log_retention,
        )

    def _replicate_backups(self, settings: DatabaseSettings) -> None:
        """Optional: cross-Region replication of automated backups."""
        if settings.backup_replication is not None:
            # No L2 property yet; all three update in place (provider schema).
            region, key_arn, days = settings.backup_replication
            cfn_instance = self.instance.node.default_child
            assert isinstance(cfn_instance, rds.CfnDBInstance)
            cfn_instance.automatic_backup_replication_region = region
            cfn_instance.automatic_backup_replication_kms_key_id = key_arn
            cfn_instance.automatic_backup_replication_retention_period = days

    def _proxy(
        self,
        settings: DatabaseSettings,
        vpc: ec2.IVpc,
        app_security_group: ec2.ISecurityGroup,
        subnets: ec2.SubnetSelection,
    ) -> None:
        """Optional: the RDS Proxy and its security group."""
        # Seed 7.3 option: connection pooling through RDS Proxy ($21.90/month per tenant on
        # a 2-vCPU class). It sits in the app subnets, requires TLS, and is the only other client
        # the database admits.
        if settings.rds_proxy:
            assert self.secret is not None
            proxy_security_group = closed_security_group(
                self,
                vpc,
                f"{settings.instance_identifier} proxy - PostgreSQL from the app only",
                "ProxySecurityGroup",
            )
            proxy_security_group.add_ingress_rule(
                app_security_group, ec2.Port.tcp(PROXY_PORT), "PostgreSQL from the app tasks"
            )
            proxy_security_group.add_egress_rule(
                self.security_group, ec2.Port.tcp(DB_PORT), "To the tenant database"
            )
            self.security_group.add_ingress_rule(
                proxy_security_group, ec2.Port.tcp(DB_PORT), "PostgreSQL from the RDS proxy"
            )
            self.proxy = rds.DatabaseProxy(
                self,
                "Proxy",
                proxy_target=rds.ProxyTarget.from_instance(self.instance),
                secrets=[self.secret],
                vpc=vpc,
                vpc_subnets=subnets,
                security_groups=[proxy_security_group],
                require_tls=True,
                db_proxy_name=settings.instance_identifier,
                idle_client_timeout=cdk.Duration.minutes(30),
                max_connections_percent=90,
            )
            # DatabaseProxy also admits itself on the instance's port *token* (next to the literal
            # 5433 rule above); the compliance packs cannot evaluate a token port and report it.
            for child in self.security_group.node.children:
                if "IndirectPort" in child.node.id:
                    acknowledge_all(
                        child,
                        (*in_packs("EC2RestrictedCommonPorts"), *in_packs("EC2RestrictedSSH")),
                        "False positive: this rule, added by DatabaseProxy, admits only the "
                        "proxy's "
                        "security group on the database endpoint port, a token that resolves to "
                        "5433 at deploy time; the packs cannot evaluate a token port.",
                    )

    def _restore_origin(self, settings: DatabaseSettings) -> dict[str, object]:
        """Restore from a snapshot: the data, master user and storage encryption (with the key of
        the snapshot) come from it; a new password is generated into the usual secret name."""
        secret = rds.DatabaseSecret(
            self,
            "RestoredSecret",
            username=MASTER_USERNAME,
            secret_name=settings.secret_name,
            encryption_key=self.key,
            exclude_characters=EXCLUDE_CHARACTERS,
        )
        return {
            "snapshot_identifier": settings.restore_from_snapshot,
            "credentials": rds.SnapshotCredentials.from_secret(secret),
        }

    def _acknowledge_replica(self, settings: DatabaseSettings, replica: ReplicaSource) -> None:
        """The findings a standby replica has by design, each with its reason."""
        acknowledge_all(
            self.instance,
            [
                "AwsSolutions-RDS2",
                "HIPAA.Security-RDSStorageEncrypted",
                "NIST.800.53.R5-RDSStorageEncrypted",
                "PCI.DSS.321-RDSStorageEncrypted",
            ],
            "Encrypted cross-region read replica: KmsKeyId names this region's tenant key, from "
            "which RDS encrypts the replica; CloudFormation forbids StorageEncrypted together "
            "with SourceDBInstanceIdentifier, and the property is create-only, so it stays absent "
            "after promotion.",
        )
        acknowledge(
            self.instance,
            "AwsSolutions-RDS11",
            f"The replica listens on port {DB_PORT}, set explicitly (Port), not PostgreSQL's "
            "default 5432; the rule compares the port with the engine's default, and a read "
            "replica carries no Engine property (it inherits the source's), so it cannot tell.",
        )
        if not replica.promoted:
            acknowledge_all(
                self.instance,
                [
                    "AwsSolutions-RDS3",
                    "HIPAA.Security-RDSMultiAZSupport",
                    "NIST.800.53.R5-RDSMultiAZSupport",
                ],
                "Cross-region standby replica (seed 7.1): the primary's Multi-AZ instance is the "
                "in-region redundancy and this replica is the regional copy; promotion "
                "(disaster_recovery.failed_over) turns Multi-AZ on in place.",
            )
        if not settings.deletion_protection:
            acknowledge_all(
                self.instance,
                [
                    "AwsSolutions-RDS10",
                    "HIPAA.Security-RDSInstanceDeletionProtectionEnabled",
                    "NIST.800.53.R5-RDSInstanceDeletionProtectionEnabled",
                ],
                "Offboarding: the restaurant's config sets deletion_protection: false on purpose; "
                "the standby replica follows its primary, and its Retain policy keeps it.",
            )
        acknowledge_all(
            self.instance,
            ["HIPAA.Security-RDSInBackupPlan", "NIST.800.53.R5-RDSInBackupPlan"],
            "A cross-region standby of a database whose backups are RDS automated backups with "
            "point-in-time recovery in the primary region (seed 7.1); an AWS Backup plan would "
            "duplicate the same snapshots at extra storage cost.",
        )
        if settings.enhanced_monitoring:
            self._acknowledge_monitoring_role()

    def _acknowledge_monitoring_role(self) -> None:
        """The role CDK makes for enhanced monitoring (primary and replica alike)."""
        role = self.instance.node.try_find_child("MonitoringRole")
        if role is not None:
            acknowledge(
                role,
                "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
                "AmazonRDSEnhancedMonitoringRole]",
                "RDS enhanced monitoring requires this AWS-managed service-role policy; it "
                "grants only the rds-monitoring-role CloudWatch Logs writes and is assumed by "
                "the monitoring.rds.amazonaws.com service alone.",
            )

    def _acknowledge(self, settings: DatabaseSettings) -> None:
        # The instance's acknowledgments, in this order, recorded in one call (acknowledge_each).
        on_instance: list[tuple[str, str]] = []

        def instance_finding(rule_ids: list[str], reason: str) -> None:
            on_instance.extend((rule_id, reason) for rule_id in rule_ids)

        if settings.restore_from_snapshot:
            instance_finding(
                [
                    "AwsSolutions-RDS2",
                    "HIPAA.Security-RDSStorageEncrypted",
                    "NIST.800.53.R5-RDSStorageEncrypted",
                    "PCI.DSS.321-RDSStorageEncrypted",
                ],
                "Restored from a snapshot: CloudFormation inherits storage encryption and its KMS "
                "key from the snapshot and forbids setting them; this project's databases are "
                "encrypted with their tenant key, so their snapshots restore encrypted.",
            )
        if not settings.deletion_protection:
            instance_finding(
                [
                    "AwsSolutions-RDS10",
                    "HIPAA.Security-RDSInstanceDeletionProtectionEnabled",
                    "NIST.800.53.R5-RDSInstanceDeletionProtectionEnabled",
                ],
                "Offboarding: the restaurant's config sets deletion_protection: false on purpose "
                "so that removing it can delete the instance; the Snapshot deletion policy still "
                "keeps a final snapshot, encrypted with the retained tenant key.",
            )
        # Only a PoC restaurant may be single-AZ: the schema refuses a production one, and a
        # production database forced single-AZ still fails synth (tested).
        if not settings.multi_az and settings.tier == "poc":
            instance_finding(
                [
                    "AwsSolutions-RDS3",
                    "HIPAA.Security-RDSMultiAZSupport",
                    "NIST.800.53.R5-RDSMultiAZSupport",
                ],
                "PoC tier (seed 2.1): single-AZ by design for pilot restaurants that accept "
                "downtime; promotion to the production tier turns Multi-AZ on in place.",
            )
        instance_finding(
            ["HIPAA.Security-RDSInBackupPlan", "NIST.800.53.R5-RDSInBackupPlan"],
            "Backups are RDS automated backups with point-in-time recovery (1 to 35 days by tier, "
            "seed 7.1) plus a final snapshot on deletion or replacement; an AWS Backup plan would "
            "duplicate the same snapshots at extra storage cost.",
        )
        if not settings.enhanced_monitoring and settings.tier == "poc":
            instance_finding(
                [
                    "HIPAA.Security-RDSEnhancedMonitoringEnabled",
                    "NIST.800.53.R5-RDSEnhancedMonitoringEnabled",
                ],
                "PoC tier (seed 2.1: basic monitoring, free tier only): enhanced monitoring is "
                "billed as CloudWatch Logs and is turned on by promotion to the production tier.",
            )
        acknowledge_each(self.instance, on_instance)
        if settings.enhanced_monitoring:
            self._acknowledge_monitoring_role()
