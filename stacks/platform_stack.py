"""The shared platform of one environment: network, app service, load balancer, storage, keys."""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_route53 as route53
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ssm as ssm

from config.profiles import profile_for, service_capacity, task_bounds
from config.schema import LOG_KINDS, SIZE_TO_INSTANCE_CLASS, EnvironmentConfig
from constructs import Construct
from constructs.app_service import AppService, Capacity, TaskSettings, app_secret_name
from constructs.audit import AuditTrail
from constructs.cdn import StaticAssetsCdn
from constructs.compliance import (
    acknowledge,
    acknowledge_all,
    acknowledge_generated_policies,
    nag_reference,
)
from constructs.firewall import LoadBalancerFirewall
from constructs.key_policies import allow_log_groups
from constructs.log_archive import ArchiveRetention, LogArchive, subscribe_to_archive
from constructs.monitoring import AlertTopics, PlatformMonitoring
from constructs.network import PlatformNetwork
from constructs.session_cache import CACHE_PORT, SessionCache
from constructs.storage import AccessLogBucket, UploadsBucket, UploadsReplication
from constructs.tenant_database import DatabaseParameterGroups
from constructs.tenant_probe import TenantProbe
from stacks import naming
from stacks.archive import ARCHIVE_STORAGE_CLASSES, archive_target
from stacks.log_retention import retention


@dataclass(frozen=True)
class PlatformInterface:
    """What tenant stacks import from the platform: small and stable on purpose.

    Each attribute a tenant stack uses becomes one CloudFormation export (strong references,
    cdk.json); exported values cannot change while any tenant imports them.
    """

    vpc: ec2.IVpc
    app_subnets: ec2.SubnetSelection
    db_subnet_group: rds.ISubnetGroup
    app_security_group: ec2.ISecurityGroup
    app_task_role: iam.IRole
    uploads_bucket_name: str
    uploads_key: kms.IKey
    load_balancer: elbv2.IApplicationLoadBalancer
    hosted_zone: route53.IHostedZone | None
    # Seed 7.1: the Route 53 health check of this platform's load balancer (with a standby).
    failover_health_check: route53.IHealthCheck | None = None


class PlatformStack(cdk.Stack):
    """The shared platform; with `standby=True`, the same platform as the standby of the
    environment's recovery region (seed 7.1, `disaster_recovery`): its IAM names carry `-dr`
    (IAM is global), its app secret is the replica of the primary's, its uploads bucket is the
    primary's replication destination, and its app service runs 0 tasks (pilot light) or the
    profile's minimum (warm standby) until a failover scales it."""

    @property
    def availability_zones(self) -> list[str]:
        """The VPC's two zones, never a context lookup (issue 12).

        CDK looks the zones up (AWS credentials, cdk.context.json) when a stack has a concrete
        account and Region. Instead: the zones pinned in `network.availability_zones`, or the
        Region's first two as CloudFormation resolves them at deploy time (`Fn::GetAZs`), which
        is exactly what an account-agnostic stack synthesizes, so adding `account:` changes no
        subnet.
        """
        pinned = getattr(self, "_pinned_zones", None)
        if pinned:
            return list(pinned)
        return [cdk.Fn.select(index, cdk.Fn.get_azs()) for index in range(2)]

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        environment: EnvironmentConfig,
        standby: bool = False,
        **kwargs: object,
    ) -> None:
        """The wiring diagram: one line per part and per connection, in synthesis order.

        Each builder below creates its resources in this stack's scope with the ids they always
        had (logical ids come from construct paths; a new scope would replace resources).
        """
        super().__init__(scope, construct_id, **kwargs)  # type: ignore[arg-type]
        self._pinned_zones = environment.network.availability_zones
        self._config = environment
        self._prefix = naming.name_prefix(environment.name)
        self._profile = profile_for(environment)
        self._production = environment.profile == "production"
        self._standby = standby
        if standby and environment.disaster_recovery is None:
            raise ValueError(f"{environment.name}: a standby platform needs disaster_recovery")
        # IAM names are global: the recovery region's carry `-dr`; regional names stay the same.
        self._iam_prefix = naming.dr_prefix(environment.name) if standby else self._prefix

        self.key = self._platform_key()
        self.network = self._network()
        self.database_parameters = self._database_parameters()
        self.access_logs = AccessLogBucket(
            self, "AccessLogs", retention_days=environment.logs.access_days
        )
        self.uploads = self._uploads()
        self.task_role = self._app_task_role()
        self.hosted_zone, certificate = self._domain()
        settings = self._app_settings()
        self.app = self._app_service(settings, certificate)
        self.probe = self._probe(settings)
        self._let_probe_assume_task_role()
        # Optional parts, each added in one place.
        self.firewall = self._firewall()
        self._acknowledge_load_balancer_deletion_protection()
        self.cdn_firewall: LoadBalancerFirewall | None = None
        self.cdn = self._cdn(certificate)
        self.audit = self._audit_trail()
        self.session_cache = self._session_cache()
        # Every log group above also goes to the archive (seed 4.4).
        self.log_archive = self._log_archive()
        self._archive_platform_logs()
        # Alerts and monitoring watch what exists by now.
        self.alerts = self._alert_topics()
        self._alarm_on_stale_log_archive()
        self.monitoring = self._monitoring()

        self.failover_health_check = self._failover_health_check()
        self.interface = self._platform_interface()

        self._acknowledge_network()
        acknowledge_generated_policies(self)
        self._outputs()

    def _platform_key(self) -> kms.Key:
        """Platform key: logs, uploads, app secrets. Tenant data has keys of its own."""
        env = self._config.name
        key = kms.Key(
            self,
            "PlatformKey",
            alias=_platform_key_alias(env),
            description=f"Chef's Kiss {env}: platform logs, uploads and app secrets",
            enable_key_rotation=True,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        # The logs service may use it for this environment's log groups only (issue 15).
        allow_log_groups(
            key,
            log_group_names=[
                f"/{self._prefix}/*",
                f"aws-waf-logs-{self._prefix}-*",
                # Lambda's own naming for the probe's group (its function name is fixed).
                f"/aws/lambda/{naming.app_probe_function_name(env)}",
            ],
            sid="CloudWatchLogsOfThisEnvironment",
        )
        return key

    def _network(self) -> PlatformNetwork:
        environment = self._config
        network = PlatformNetwork(
            self,
            "Network",
            name_prefix=self._prefix,
            nat_gateways=environment.network.nat_gateways or self._profile.nat_gateways,
            flow_log_retention=retention(environment.logs.audit_days),
            log_key=self.key,
        )
        if self._pinned_zones:
            vpc = network.vpc
            for subnet in [*vpc.public_subnets, *vpc.private_subnets, *vpc.isolated_subnets]:
                acknowledge(
                    subnet,
                    "CloudFormation-Validate::W3010",
                    "The operator pinned these Availability Zones on purpose in "
                    "network.availability_zones, so that synth never looks zones up (no AWS "
                    "call with an account id) and the subnets stay in the zones chosen.",
                )
        return network

    def _database_parameters(self) -> DatabaseParameterGroups:
        """Shared by every tenant database (one group per class, not per tenant: RDS quota 50)."""
        return DatabaseParameterGroups(
            self,
            "DatabaseParameters",
            name_prefix=self._prefix,
            instance_classes=sorted(set(SIZE_TO_INSTANCE_CLASS.values())),
        )

    def _uploads(self) -> UploadsBucket:
        """The uploads bucket; with disaster recovery the primary's replicates to the standby's."""
        env = self._config.name
        recovery = self._config.disaster_recovery
        replication = None
        if recovery is not None and not self._standby:
            replication = UploadsReplication(
                destination_bucket_name=naming.uploads_bucket_name(
                    env, self.account, recovery.region
                ),
                destination_region=recovery.region,
                destination_key_alias=_platform_key_alias(env),
            )
        return UploadsBucket(
            self,
            "Uploads",
            bucket_name=naming.uploads_bucket_name(env, self.account, self.region),
            key=self.key,
            access_logs=self.access_logs.bucket,
            replication=replication,
            replica_destination=self._standby,
        )

    def _app_task_role(self) -> iam.Role:
        """The app's task role, which may only assume this environment's per-restaurant roles."""
        env = self._config.name
        task_role = iam.Role(
            self,
            "AppTaskRole",
            role_name=naming.app_task_role_name(env, standby=self._standby),
            assumed_by=iam.ServicePrincipal("ecs-tasks.amazonaws.com"),
            description="Chef's Kiss app tasks; acts for a restaurant only through its access role",
        )
        tenant_roles = self.format_arn(
            service="iam",
            region="",
            resource="role",
            resource_name=naming.tenant_role_name(env, "*", standby=self._standby),
        )
        assume_policy = iam.ManagedPolicy(
            self,
            "AssumeTenantAccessRoles",
            managed_policy_name=f"{self._iam_prefix}-assume-tenant-access",
            statements=[
                iam.PolicyStatement(
                    sid="ActForOneRestaurantAtATime",
                    actions=["sts:AssumeRole", "sts:TagSession"],
                    resources=[tenant_roles],
                )
            ],
            roles=[task_role],
        )
        acknowledge(
            assume_policy,
            f"AwsSolutions-IAM5[Resource::{nag_reference(self, tenant_roles)}]",
            "The app may assume only this environment's per-restaurant access roles, matched by "
            "name; each of those roles is limited to its own restaurant's database user, "
            "connection parameter and S3 prefix. One fixed statement keeps the platform stack "
            "unchanged as restaurants are added (no per-tenant grants on this role, far under "
            "the IAM policy size limit).",
        )
        return task_role

    def _domain(self) -> tuple[route53.IHostedZone | None, acm.ICertificate | None]:
        """The hosted zone and its DNS-validated certificate, when the environment has a domain."""
        domain = self._config.domain
        if domain is None:
            return None, None
        zone = route53.HostedZone.from_hosted_zone_attributes(
            self, "Zone", hosted_zone_id=domain.hosted_zone_id, zone_name=domain.name
        )
        certificate = acm.Certificate(
            self,
            "Certificate",
            domain_name=domain.name,
            subject_alternative_names=[f"*.{domain.name}"],
            validation=acm.CertificateValidation.from_dns(zone),
        )
        return zone, certificate

    def _app_settings(self) -> dict[str, str]:
        """The app's plain settings (container environment); the probe reads some of them too."""
        environment = self._config
        env = environment.name
        return {
            "CHEFS_KISS_ENVIRONMENT": env,
            "UPLOADS_BUCKET": self.uploads.bucket.bucket_name,
            "TENANT_UPLOADS_PREFIX_TEMPLATE": "tenants/{slug}/",
            # Where the app finds how to connect to a restaurant's database; the master secret's
            # name is not the app's business (it may not read it).
            "TENANT_CONNECTION_PARAMETER_TEMPLATE": (
                naming.tenant_connection_parameter_name_template(env)
            ),
            "TENANT_ROLE_ARN_TEMPLATE": self.format_arn(
                service="iam",
                region="",
                resource="role",
                resource_name=naming.tenant_role_name_template(env, standby=self._standby),
            ),
            "PUBLIC_DOMAIN": environment.domain.name if environment.domain else "",
        }

    def _app_service(
        self, settings: dict[str, str], certificate: acm.ICertificate | None
    ) -> AppService:
        environment = self._config
        capacity = self._capacity()
        app = environment.app
        return AppService(
            self,
            "App",
            name_prefix=self._prefix,
            vpc=self.network.vpc,
            app_subnets=ec2.SubnetSelection(subnets=self.network.app_subnets.subnets),
            task=TaskSettings(
                image=app.image,
                cpu=app.cpu,
                memory_mib=app.memory_mib,
                cpu_architecture=app.cpu_architecture,
                container_port=app.container_port,
                health_check_path=app.health_check_path,
            ),
            capacity=capacity,
            task_role=self.task_role,
            log_key=self.key,
            log_retention=retention(environment.logs.app_days),
            access_logs=self.access_logs.bucket,
            settings={k: v for k, v in settings.items() if v},
            certificate=certificate,
            container_insights=self._profile.container_insights,
            deletion_protection=self._production,
            **self._app_secret_options(),  # type: ignore[arg-type]
        )

    def _capacity(self) -> Capacity:
        """The primary's task counts from the seed table; a standby's by its mode."""
        capacity = service_capacity(self._config)
        recovery = self._config.disaster_recovery
        # Serving any failed-over restaurant, the standby runs what the primary runs, so the
        # next deploy keeps the count `ops failover` scaled it to (and autoscaling's minimum).
        if not self._standby or recovery is None or recovery.failed_over:
            return Capacity(
                desired=capacity.desired,
                minimum=capacity.minimum,
                maximum=capacity.maximum,
                autoscaling=self._profile.autoscaling,
            )
        # Pilot light: no task until a failover scales the service; warm standby: the profile's
        # floor (the seed table's smallest row: 2 tasks in production, one per zone; 1 in PoC).
        floor = task_bounds(1)[0] if self._config.profile == "production" else 1
        running = 0 if recovery.mode == "pilot-light" else floor
        return Capacity(
            desired=running,
            minimum=running,
            maximum=capacity.maximum,
            autoscaling=self._profile.autoscaling,
        )

    def _app_secret_options(self) -> dict[str, object]:
        """The app secret: replicated to the recovery region, or (standby) that replica."""
        recovery = self._config.disaster_recovery
        if recovery is None:
            return {}
        env = self._config.name
        if self._standby:
            replica = secretsmanager.Secret.from_secret_attributes(
                self,
                "ReplicatedAppSecret",
                secret_partial_arn=self.format_arn(
                    service="secretsmanager",
                    resource="secret",
                    resource_name=app_secret_name(self._prefix),
                    arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                ),
                encryption_key=self.key,
            )
            return {"replicated_app_secret": replica}
        # By alias: the standby key lives in another region and stack (Secrets Manager takes a
        # key ARN, key id or alias for a replica).
        alias_arn = self.format_arn(
            service="kms",
            region=recovery.region,
            resource="alias",
            resource_name=_platform_key_alias(env).removeprefix("alias/"),
        )
        return {"app_secret_replicas": [(recovery.region, alias_arn)]}

    def _probe(self, settings: dict[str, str]) -> TenantProbe:
        """The post-deploy probe: in the app subnets, with the app's security group, as the app."""
        env = self._config.name
        return TenantProbe(
            self,
            "Probe",
            function_name=naming.app_probe_function_name(env),
            role_name=naming.app_probe_role_name(env, standby=self._standby),
            vpc=self.network.vpc,
            subnets=ec2.SubnetSelection(subnets=self.network.app_subnets.subnets),
            security_group=self.app.security_group,
            app_task_role_arn=self.task_role.role_arn,
            settings={
                "CHEFS_KISS_ENVIRONMENT": env,
                "APP_TASK_ROLE_ARN": self.task_role.role_arn,
                "TENANT_ROLE_ARN_TEMPLATE": settings["TENANT_ROLE_ARN_TEMPLATE"],
                "TENANT_CONNECTION_PARAMETER_TEMPLATE": (
                    naming.tenant_connection_parameter_name_template(env)
                ),
                "TENANT_DB_SECRET_NAME_TEMPLATE": naming.tenant_secret_name_template(env),
                "UPLOADS_BUCKET": self.uploads.bucket.bucket_name,
                "TENANT_UPLOADS_PREFIX_TEMPLATE": settings["TENANT_UPLOADS_PREFIX_TEMPLATE"],
            },
            log_key=self.key,
            log_retention=retention(self._config.logs.app_days),
        )

    def _let_probe_assume_task_role(self) -> None:
        """The probe's one way in: the task role trusts it, so it walks the app's own chain."""
        self.task_role.assume_role_policy.add_statements(  # type: ignore[union-attr]
            iam.PolicyStatement(
                sid="PostDeployProbe",
                actions=["sts:AssumeRole"],
                principals=[iam.ArnPrincipal(self.probe.role.role_arn)],
            )
        )

    def _platform_interface(self) -> PlatformInterface:
        return PlatformInterface(
            vpc=self.network.vpc,
            app_subnets=ec2.SubnetSelection(subnets=self.network.app_subnets.subnets),
            db_subnet_group=self.network.db_subnet_group,
            app_security_group=self.app.security_group,
            app_task_role=self.task_role,
            # By name, not by reference: the name is a convention, so no export is needed.
            uploads_bucket_name=naming.uploads_bucket_name(
                self._config.name, self.account, self.region
            ),
            uploads_key=self.key,
            load_balancer=self.app.load_balancer,
            hosted_zone=self.hosted_zone,
            failover_health_check=self.failover_health_check,
        )

    def _firewall(self) -> LoadBalancerFirewall | None:
        """Optional: WAF on the load balancer (default: on in the production profile only)."""
        waf = self._config.security.waf
        if waf if waf is not None else self._production:
            return LoadBalancerFirewall(
                self,
                "Firewall",
                name_prefix=self._prefix,
                load_balancer_arn=self.app.load_balancer.load_balancer_arn,
                log_retention=retention(self._config.logs.access_days),
                log_key=self.key,
            )
        acknowledge_all(
            self.app.load_balancer,
            ["NIST.800.53.R5-ALBWAFEnabled", "PCI.DSS.321-ALBWAFEnabled"],
            "WAF is off in this environment (PoC profile default, seed 2.1: minimal cost); "
            "the production profile attaches a web ACL with AWS managed rule groups.",
        )
        return None

    def _acknowledge_load_balancer_deletion_protection(self) -> None:
        if self._production:
            return
        acknowledge_all(
            self.app.load_balancer,
            [
                "HIPAA.Security-ELBDeletionProtectionEnabled",
                "NIST.800.53.R5-ELBDeletionProtectionEnabled",
            ],
            "PoC profile (seed 2.1): the load balancer holds no data and is recreated by a "
            "deploy; deletion protection is on in the production profile.",
        )

    def _cdn(self, certificate: acm.ICertificate | None) -> StaticAssetsCdn | None:
        """Optional: CloudFront for static assets, with a CLOUDFRONT-scope WAF when WAF is on."""
        environment = self._config
        if not environment.performance.cloudfront or self._standby:
            # CloudFront is global and its origin the primary's load balancer (README).
            return None
        assert environment.domain and self.hosted_zone and certificate  # schema-validated
        cdn_firewall = None
        if self.firewall is not None:
            cdn_firewall = self.cdn_firewall = LoadBalancerFirewall(
                self,
                "CdnFirewall",
                name_prefix=self._prefix,
                load_balancer_arn=None,
                log_retention=retention(environment.logs.access_days),
                log_key=self.key,
                scope_name="CLOUDFRONT",
                suffix="cdn",
            )
        return StaticAssetsCdn(
            self,
            "Cdn",
            domain=environment.domain.name,
            zone=self.hosted_zone,
            certificate=certificate,
            load_balancer=self.app.load_balancer,
            access_logs=self.access_logs.bucket,
            web_acl_arn=cdn_firewall.web_acl.attr_arn if cdn_firewall else None,
        )

    def _audit_trail(self) -> AuditTrail | None:
        """Optional: the CloudTrail trail (security.cloudtrail)."""
        if not self._config.security.cloudtrail or self._standby:
            # The primary's trail is multi-region: it already records the recovery region.
            return None
        return AuditTrail(
            self,
            "Audit",
            name_prefix=self._prefix,
            key=self.key,
            access_logs=self.access_logs.bucket,
            retention=retention(self._config.logs.audit_days),
        )

    def _session_cache(self) -> SessionCache | None:
        """Optional: the Valkey session cache, its endpoint parameter and the app's two secrets."""
        if not self._config.performance.session_cache:
            return None
        cache = SessionCache(
            self,
            "SessionCache",
            name_prefix=self._prefix,
            vpc=self.network.vpc,
            subnets=ec2.SubnetSelection(subnet_group_name="data"),
            app_security_group=self.app.security_group,
            key=self.key,
            replicas=1 if self._production else 0,
        )
        self.network.allow_from_app_subnets(CACHE_PORT, "SessionCache")
        endpoint = ssm.StringParameter(
            self,
            "SessionCacheEndpoint",
            parameter_name=f"/{self._prefix}/app/session_cache_endpoint",
            string_value=f"{cache.endpoint}:{CACHE_PORT}",
            description="Chef's Kiss app setting SESSION_CACHE_ENDPOINT",
        )
        self.app.container.add_secret(
            "SESSION_CACHE_ENDPOINT", ecs.Secret.from_ssm_parameter(endpoint)
        )
        self.app.container.add_secret(
            "SESSION_CACHE_AUTH_TOKEN", ecs.Secret.from_secrets_manager(cache.auth_token)
        )
        return cache

    def _log_archive(self) -> LogArchive:
        """The environment's log archive; tenant stacks subscribe their groups by name."""
        env = self._config.name
        logs_config = self._config.logs
        return LogArchive(
            self,
            "LogArchive",
            bucket_name=naming.log_archive_bucket_name(env, self.account, self.region),
            stream_name=naming.log_archive_stream_name(env),
            subscription_role_name=naming.log_archive_subscription_role_name(
                env, standby=self._standby
            ),
            key_alias=f"alias/{naming.PROJECT}/{env}/log-archive",
            retention=[
                ArchiveRetention(
                    kind=kind,
                    cold_after_days=logs_config.cold_after_days(kind),
                    days=logs_config.archive_days(kind),
                )
                for kind in LOG_KINDS
            ],
            storage_class=ARCHIVE_STORAGE_CLASSES[logs_config.archive.storage_class],
            access_logs=self.access_logs.bucket,
            # Under the platform key's `/<prefix>/*`; never archived itself (no loop).
            delivery_log_group_name=f"/{self._prefix}/log-archive-delivery",
            log_key=self.key,
            log_retention=retention(logs_config.app_days),
        )

    def _archive_platform_logs(self) -> None:
        """One subscription filter per platform log group, with the kind of its retention."""
        target = archive_target(self, self._config.name, standby=self._standby)
        groups: list[tuple[str, str, logs.LogGroup]] = [("app", "app", self.app.log_group)]
        if self.app.rotation_log_group is not None:  # the standby's secret is a replica
            groups.append(("app", "session-secret-rotation", self.app.rotation_log_group))
        groups += [
            ("app", "app-probe", self.probe.log_group),
            ("audit", "vpc-flow-logs", self.network.flow_log_group),
        ]
        if self.firewall is not None:
            groups.append(("access", "waf-alb", self.firewall.log_group))
        if self.cdn_firewall is not None:
            groups.append(("access", "waf-cdn", self.cdn_firewall.log_group))
        if self.audit is not None:
            groups.append(("audit", "cloudtrail", self.audit.log_group))
        scope = Construct(self, "LogArchiveSubscriptions")  # beside the groups (tenant_stack)
        for kind, log, group in groups:
            subscription = subscribe_to_archive(
                scope,
                log,
                log_group=group,
                target=target,
                kind=kind,
                owner=naming.log_archive_owner(),
                log=log,
            )
            # CloudWatch Logs tests the destination when the filter is created.
            subscription.node.add_dependency(self.log_archive)

    def _alarm_on_stale_log_archive(self) -> None:
        """Per severity the profile keeps, like the other alarms (PoC: critical only)."""
        for severity in self._profile.alarm_severities:
            self.log_archive.alarm_on_stale_delivery(
                name_prefix=self._prefix, severity=severity, topic=self.alerts.topics[severity]
            )

    def _alert_topics(self) -> AlertTopics:
        alerts = self._config.alerts
        return AlertTopics(
            self,
            "Alerts",
            name_prefix=self._prefix,
            key=self.key,
            emails={"warning": alerts.warning_emails, "critical": alerts.critical_emails},
        )

    def _monitoring(self) -> PlatformMonitoring:
        return PlatformMonitoring(
            self,
            "Monitoring",
            name_prefix=self._prefix,
            service=self.app.service,
            load_balancer=self.app.load_balancer,
            target_group=self.app.target_group,
            topics=self.alerts.topics,
            severities=self._profile.alarm_severities,
            # Dashboard names are global to the account.
            dashboard_name=(
                f"{naming.dr_prefix(self._config.name)}-platform" if self._standby else None
            ),
        )

    def _failover_health_check(self) -> route53.HealthCheck | None:
        """Seed 7.1: one Route 53 health check of the primary's load balancer, the child of every
        covered restaurant's failover check (tenant stacks). Per environment, not per
        restaurant: the app's health path is shared, so per-restaurant checks of the same load
        balancer would see the same thing at N times the price (docs/disaster-recovery.md)."""
        environment = self._config
        if self._standby or environment.disaster_recovery is None or environment.domain is None:
            return None
        return route53.HealthCheck(
            self,
            "FailoverHealthCheck",
            type=route53.HealthCheckType.HTTPS,
            fqdn=self.app.load_balancer.load_balancer_dns_name,
            port=443,
            resource_path=environment.app.health_check_path,
            enable_sni=True,
            request_interval=cdk.Duration.seconds(30),
            failure_threshold=3,
        )

    def _outputs(self) -> None:
        cdk.CfnOutput(
            self, "LoadBalancerDnsName", value=self.app.load_balancer.load_balancer_dns_name
        )
        cdk.CfnOutput(self, "AppServiceName", value=self.app.service.service_name)
        if self.failover_health_check is not None:
            cdk.CfnOutput(
                self,
                "FailoverHealthCheckId",
                value=self.failover_health_check.health_check_id,
                description="Route 53 health check of this load balancer (disaster recovery)",
            )
        if self._standby:
            # What `ops failover` scales and probes in the recovery region.
            cdk.CfnOutput(self, "ClusterName", value=self.app.cluster.cluster_name)
            cdk.CfnOutput(self, "ProbeFunctionName", value=self.probe.function.function_name)
            cdk.CfnOutput(
                self,
                "LoadBalancerHostedZoneId",
                value=self.app.load_balancer.load_balancer_canonical_hosted_zone_id,
            )

    def _acknowledge_network(self) -> None:
        for subnet in self.network.vpc.public_subnets:
            route = subnet.node.try_find_child("DefaultRoute")
            if route is not None:
                acknowledge_all(
                    route,
                    [
                        "HIPAA.Security-VPCNoUnrestrictedRouteToIGW",
                        "NIST.800.53.R5-VPCNoUnrestrictedRouteToIGW",
                        "PCI.DSS.321-VPCNoUnrestrictedRouteToIGW",
                    ],
                    "Public subnets hold only the internet-facing load balancer and the NAT "
                    "gateways, which need this route; app tasks and databases sit in subnets "
                    "without it (the data subnets have no route out at all).",
                )


def _platform_key_alias(env: str) -> str:
    """The platform key's alias, the same name in both regions (aliases are regional): the
    primary names the standby's key by it for its secret replica and uploads replicas."""
    return f"alias/{naming.PROJECT}/{env}/platform"
