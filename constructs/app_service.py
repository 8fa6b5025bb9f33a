"""The shared application: ECS cluster, Fargate service and the internet-facing load balancer.
Must never import stacks/, ops/ or config/: settings arrive as constructor arguments.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import aws_cdk as cdk
from aws_cdk import aws_certificatemanager as acm
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_ecs as ecs
from aws_cdk import aws_elasticloadbalancingv2 as elbv2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager
from aws_cdk import aws_ssm as ssm

from constructs import Construct
from constructs.compliance import (
    RESERVED_CONCURRENCY_REASON,
    acknowledge,
    acknowledge_all,
    in_packs,
    nag_reference,
)
from constructs.network import closed_security_group

# The session-signing key is replaced this often; the replaced value stays valid as
# `previous_session_secret` for one more period, so a session survives at least 30 days.
SESSION_SECRET_ROTATION_DAYS = 30
ROTATION_CODE = Path(__file__).resolve().parent.parent / "runtime" / "session_secret_rotation"

# The app runs as this numeric user and group whatever the image says (101 is the `nginx` user of
# the nginx-unprivileged placeholder; a numeric id needs no /etc/passwd entry in the image).
APP_USER = "101:101"
# The only paths the app may write: each is an empty per-task volume (Fargate's ephemeral
# storage; Fargate has no tmpfs). nginx-unprivileged keeps its PID file and temp files in /tmp.
WRITABLE_PATHS: tuple[str, ...] = ("/tmp",)


def app_secret_name(name_prefix: str) -> str:
    """The app's secret (session signing key); a replica in the recovery region has the same
    name there (Secrets Manager replica regions)."""
    return f"{name_prefix}/app/secrets"


@dataclass(frozen=True)
class TaskSettings:
    image: str
    cpu: int
    memory_mib: int
    cpu_architecture: str  # "arm64" or "x86_64"
    container_port: int
    health_check_path: str
    user: str = APP_USER
    writable_paths: tuple[str, ...] = WRITABLE_PATHS


@dataclass(frozen=True)
class Capacity:
    desired: int
    minimum: int
    maximum: int
    autoscaling: bool


class AppService(Construct):
    """Fargate service behind an ALB; HTTPS with redirect when a certificate is given.

    The container learns its deployment (environment, bucket, naming templates) from SSM
    parameters and its secrets from Secrets Manager, both injected by ECS at start: nothing is in
    plain task environment variables (AwsSolutions-ECS2).
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        vpc: ec2.IVpc,
        app_subnets: ec2.SubnetSelection,
        task: TaskSettings,
        capacity: Capacity,
        task_role: iam.IRole,
        log_key: kms.IKey,
        log_retention: logs.RetentionDays,
        access_logs: s3.IBucket,
        settings: Mapping[str, str],
        certificate: acm.ICertificate | None,
        container_insights: bool,
        deletion_protection: bool,
        app_secret_replicas: Sequence[tuple[str, str]] = (),
        replicated_app_secret: secretsmanager.ISecret | None = None,
    ) -> None:
        """`app_secret_replicas`: (region, KMS key ARN or alias ARN there) to which Secrets
        Manager replicates the app secret (seed 7.1); `replicated_app_secret`: such a replica,
        used instead of a secret of its own (the standby platform): it is rotated where it is
        replicated from, so no rotation function runs here."""
        super().__init__(scope, construct_id)

        self._cluster(vpc, name_prefix=name_prefix, container_insights=container_insights)
        self._settings(
            name_prefix,
            settings,
            log_key=log_key,
            log_retention=log_retention,
            replicas=app_secret_replicas,
            replicated=replicated_app_secret,
        )
        self._task_definition(name_prefix, task, task_role)
        self._security_groups(vpc, task, public_https=certificate is not None)

        self.load_balancer = elbv2.ApplicationLoadBalancer(
            self,
            "LoadBalancer",
            vpc=vpc,
            internet_facing=True,
            vpc_subnets=ec2.SubnetSelection(subnet_type=ec2.SubnetType.PUBLIC),
            security_group=self.load_balancer_security_group,
            drop_invalid_header_fields=True,
            deletion_protection=deletion_protection,
        )
        self.load_balancer.log_access_logs(access_logs, prefix="alb")

        self.service = ecs.FargateService(
            self,
            "Service",
            cluster=self.cluster,
            task_definition=self.task_definition,
            service_name=f"{name_prefix}-app",
            desired_count=capacity.desired,
            min_healthy_percent=100,
            max_healthy_percent=200,
            security_groups=[self.security_group],
            vpc_subnets=app_subnets,
            assign_public_ip=False,
            circuit_breaker=ecs.DeploymentCircuitBreaker(enable=True, rollback=True),
            health_check_grace_period=cdk.Duration.seconds(60),
        )
        self.secret_rotation: lambda_.Function | None = None
        self.rotation_log_group: logs.LogGroup | None = None  # a replicated secret rotates there
        if replicated_app_secret is None:
            self.secret_rotation = self._rotate_app_secret(
                name_prefix=name_prefix, log_key=log_key, log_retention=log_retention
            )
            self._let_rotation_encrypt_replicas(app_secret_replicas)
        self.target_group = elbv2.ApplicationTargetGroup(
            self,
            "TargetGroup",
            vpc=vpc,
            port=task.container_port,
            protocol=elbv2.ApplicationProtocol.HTTP,
            target_type=elbv2.TargetType.IP,
            targets=[self.service],
            deregistration_delay=cdk.Duration.seconds(30),
            health_check=elbv2.HealthCheck(
                path=task.health_check_path,
                healthy_http_codes="200-399",
                interval=cdk.Duration.seconds(15),
                timeout=cdk.Duration.seconds(5),
                healthy_threshold_count=2,
                unhealthy_threshold_count=3,
            ),
        )
        self._listeners(certificate)
        self._autoscaling(capacity)

    def _cluster(self, vpc: ec2.IVpc, *, name_prefix: str, container_insights: bool) -> None:
        """The ECS cluster (Container Insights per profile)."""
        self.cluster = ecs.Cluster(
            self,
            "Cluster",
            vpc=vpc,
            cluster_name=f"{name_prefix}-cluster",
            container_insights_v2=(
                ecs.ContainerInsights.ENHANCED
                if container_insights
                else ecs.ContainerInsights.DISABLED
            ),
        )
        if not container_insights:
            acknowledge(
                self.cluster,
                "AwsSolutions-ECS4",
                "PoC profile (seed 2.1: basic monitoring, CloudWatch free tier only): Container "
                "Insights is billed per metric and is turned on by the production profile.",
            )

    def _settings(
        self,
        name_prefix: str,
        settings: Mapping[str, str],
        *,
        log_key: kms.IKey,
        log_retention: logs.RetentionDays,
        replicas: Sequence[tuple[str, str]],
        replicated: secretsmanager.ISecret | None,
    ) -> None:
        """The app's log group, its SSM setting parameters and its generated secret."""
        self.log_group = logs.LogGroup(
            self,
            "AppLogs",
            log_group_name=f"/{name_prefix}/app",
            retention=log_retention,
            encryption_key=log_key,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )

        # Deployment coordinates the application codes against (README: "App contract").
        self.parameters: dict[str, ssm.StringParameter] = {}
        for env_name, value in sorted(settings.items()):
            self.parameters[env_name] = ssm.StringParameter(
                self,
                f"Setting{env_name.title().replace('_', '')}",
                parameter_name=f"/{name_prefix}/app/{env_name.lower()}",
                string_value=value,
                description=f"Chef's Kiss app setting {env_name}",
            )
        if replicated is not None:
            self.app_secret: secretsmanager.ISecret = replicated
            return
        secret = secretsmanager.Secret(
            self,
            "AppSecrets",
            secret_name=app_secret_name(name_prefix),
            description="Application secrets (session signing key); injected as APP_SECRETS",
            encryption_key=log_key,
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template='{"purpose": "session-signing"}',
                generate_string_key="session_secret",
                password_length=64,
                exclude_punctuation=True,
            ),
        )
        if replicas:
            # No L2 property takes a key by alias ARN; the key lives in another region.
            cfn_secret = secret.node.default_child
            assert isinstance(cfn_secret, secretsmanager.CfnSecret)
            cfn_secret.replica_regions = [
                secretsmanager.CfnSecret.ReplicaRegionProperty(region=region, kms_key_id=key_id)
                for region, key_id in replicas
            ]
        self.app_secret = secret

    def _task_definition(self, name_prefix: str, task: TaskSettings, task_role: iam.IRole) -> None:
        """The task definition: the app container and the one-shot volume-permissions step.

        Stays long: the two containers share volumes and mounts that only make sense together.
        """
        architecture = (
            ecs.CpuArchitecture.ARM64
            if task.cpu_architecture == "arm64"
            else ecs.CpuArchitecture.X86_64
        )
        self.task_definition = ecs.FargateTaskDefinition(
            self,
            "TaskDefinition",
            family=f"{name_prefix}-app",
            cpu=task.cpu,
            memory_limit_mib=task.memory_mib,
            task_role=task_role,
            runtime_platform=ecs.RuntimePlatform(
                cpu_architecture=architecture,
                operating_system_family=ecs.OperatingSystemFamily.LINUX,
            ),
        )
        secrets = {
            name: ecs.Secret.from_ssm_parameter(parameter)
            for name, parameter in self.parameters.items()
        }
        secrets["APP_SECRETS"] = ecs.Secret.from_secrets_manager(self.app_secret)
        image = ecs.ContainerImage.from_registry(task.image)
        log_driver = ecs.LogDriver.aws_logs(stream_prefix="app", log_group=self.log_group)
        volumes = {path: f"writable{path.replace('/', '-')}" for path in task.writable_paths}
        for name in volumes.values():
            self.task_definition.add_volume(name=name)  # empty, per task, deleted with it
        self.container = self.task_definition.add_container(
            "app",
            image=image,
            essential=True,
            # Issue 15: never root, no writable image layer, no Linux capabilities.
            user=task.user,
            readonly_root_filesystem=True,
            linux_parameters=self._no_capabilities("AppLinux"),
            port_mappings=[ecs.PortMapping(container_port=task.container_port)],
            logging=log_driver,
            secrets=secrets,
            health_check=ecs.HealthCheck(
                command=[
                    "CMD-SHELL",
                    f"wget -q -O /dev/null http://localhost:{task.container_port}"
                    f"{task.health_check_path} || exit 1",
                ],
                interval=cdk.Duration.seconds(30),
                timeout=cdk.Duration.seconds(5),
                retries=3,
                start_period=cdk.Duration.seconds(60),
            ),
        )

        # Fargate creates each volume owned by root, not writable by others; this one-shot step
        # opens it to the app's user (mode 1777, like /tmp) and exits. It is the only process
        # that runs as root: no capabilities, read-only root filesystem, no port, no secrets.
        self.volume_permissions = self.task_definition.add_container(
            "volume-permissions",
            image=image,
            essential=False,
            user="0",
            entry_point=["/bin/sh", "-c"],
            command=[f"chmod 1777 {' '.join(volumes)}"],
            readonly_root_filesystem=True,
            linux_parameters=self._no_capabilities("VolumePermissionsLinux"),
            logging=log_driver,
        )
        for container in (self.volume_permissions, self.container):
            container.add_mount_points(
                *[
                    ecs.MountPoint(container_path=path, source_volume=name, read_only=False)
                    for path, name in volumes.items()
                ]
            )
        self.container.add_container_dependencies(
            ecs.ContainerDependency(
                container=self.volume_permissions,
                condition=ecs.ContainerDependencyCondition.SUCCESS,
            )
        )

    def _security_groups(self, vpc: ec2.IVpc, task: TaskSettings, *, public_https: bool) -> None:
        """The load balancer's group (the only public entry) and the app tasks' group."""
        self.load_balancer_security_group = closed_security_group(
            self,
            vpc,
            "Internet-facing load balancer - the only public entry point",
            "LoadBalancerSecurityGroup",
        )
        public_ports = [443, 80] if public_https else [80]
        for port in public_ports:
            self.load_balancer_security_group.add_ingress_rule(
                ec2.Peer.any_ipv4(), ec2.Port.tcp(port), f"Public HTTP{'S' if port == 443 else ''}"
            )
        acknowledge(
            self.load_balancer_security_group,
            "AwsSolutions-EC23",
            "The internet-facing load balancer is the platform's public entry point (seed 1.1); "
            "it must accept HTTP(S) from any address. Port 80 only redirects to HTTPS when a "
            "domain is configured. Nothing else in the VPC admits traffic from the internet.",
        )
        self.security_group = ec2.SecurityGroup(
            self,
            "AppSecurityGroup",
            vpc=vpc,
            description="Chefs Kiss app tasks - tenant databases admit this group only",
            allow_all_outbound=True,
        )
        self.security_group.add_ingress_rule(
            self.load_balancer_security_group,
            ec2.Port.tcp(task.container_port),
            "Traffic from the load balancer",
        )
        self.load_balancer_security_group.add_egress_rule(
            self.security_group, ec2.Port.tcp(task.container_port), "To the app tasks"
        )

    def _listeners(self, certificate: acm.ICertificate | None) -> None:
        """HTTPS with a port-80 redirect when there is a certificate, else plain HTTP (PoC)."""
        if certificate is not None:
            self.listener = self.load_balancer.add_listener(
                "Https",
                port=443,
                protocol=elbv2.ApplicationProtocol.HTTPS,
                certificates=[elbv2.ListenerCertificate.from_certificate_manager(certificate)],
                ssl_policy=elbv2.SslPolicy.TLS13_RES,
                default_target_groups=[self.target_group],
                open=False,
            )
            redirect = self.load_balancer.add_listener(
                "HttpRedirect",
                port=80,
                protocol=elbv2.ApplicationProtocol.HTTP,
                default_action=elbv2.ListenerAction.redirect(
                    protocol="HTTPS", port="443", permanent=True
                ),
                open=False,
            )
            acknowledge_all(
                redirect,
                in_packs("ELBv2ACMCertificateRequired"),
                "This port-80 listener only answers with a permanent redirect to HTTPS; it "
                "forwards nothing. The HTTPS listener uses the ACM certificate.",
            )
        else:
            self.listener = self.load_balancer.add_listener(
                "Http",
                port=80,
                protocol=elbv2.ApplicationProtocol.HTTP,
                default_target_groups=[self.target_group],
                open=False,
            )
            acknowledge_all(
                self.listener,
                (
                    *in_packs("ALBHttpToHttpsRedirection"),
                    *in_packs("ELBv2ACMCertificateRequired"),
                ),
                "PoC profile without a domain (seed 2.1, development-grade security): there is no "
                "certificate to terminate TLS, so the listener serves plain HTTP. The production "
                "profile refuses to load without a domain and redirects HTTP to HTTPS.",
            )

    def _autoscaling(self, capacity: Capacity) -> None:
        """Target tracking on CPU and memory when the profile scales the service."""
        self.scaling: ecs.ScalableTaskCount | None = None
        if capacity.autoscaling:
            self.scaling = self.service.auto_scale_task_count(
                min_capacity=capacity.minimum, max_capacity=capacity.maximum
            )
            # Target tracking keeps utilisation under the seed 9.2 warning levels (70% / 75%).
            self.scaling.scale_on_cpu_utilization(
                "CpuTarget",
                target_utilization_percent=60,
                scale_in_cooldown=cdk.Duration.minutes(5),
                scale_out_cooldown=cdk.Duration.minutes(1),
            )
            self.scaling.scale_on_memory_utilization(
                "MemoryTarget",
                target_utilization_percent=65,
                scale_in_cooldown=cdk.Duration.minutes(5),
                scale_out_cooldown=cdk.Duration.minutes(1),
            )

    def _rotate_app_secret(
        self, *, name_prefix: str, log_key: kms.IKey, log_retention: logs.RetentionDays
    ) -> lambda_.Function:
        """Rotate the session-signing key every 30 days, keeping the replaced value as previous
        (runtime/session_secret_rotation), then roll the service so new tasks read it.

        Stays long: log group, function, its grants, the rotation schedule and its findings.
        """
        log_group = logs.LogGroup(
            self,
            "SecretRotationLogs",
            log_group_name=f"/{name_prefix}/session-secret-rotation",
            retention=log_retention,
            encryption_key=log_key,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        self.rotation_log_group = log_group
        role = iam.Role(
            self,
            "SecretRotationRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Rotates the app's session-signing secret and restarts the app service",
        )
        function = lambda_.Function(
            self,
            "SecretRotation",
            function_name=f"{name_prefix}-session-secret-rotation",
            description="Secrets Manager rotation of the app session-signing key",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler="index.handler",
            code=lambda_.Code.from_asset(str(ROTATION_CODE), exclude=["__pycache__", "*.pyc"]),
            role=role,
            timeout=cdk.Duration.seconds(60),
            memory_size=128,
            log_group=log_group,
            environment={
                "ECS_CLUSTER": self.cluster.cluster_name,
                "ECS_SERVICE": self.service.service_name,
            },
        )
        log_group.grant_write(role)
        # The rotation schedule grants the secret's own actions (and the key, via Secrets
        # Manager); the function also restarts the service so new tasks read the new value.
        role.add_to_policy(
            iam.PolicyStatement(
                sid="StartTasksWithTheNewValue",
                actions=["ecs:UpdateService"],
                resources=[self.service.service_arn],
            )
        )
        self.app_secret.add_rotation_schedule(
            "Rotation",
            rotation_lambda=function,
            automatically_after=cdk.Duration.days(SESSION_SECRET_ROTATION_DAYS),
            # The first rotation waits for the schedule: not in the middle of a deploy.
            rotate_immediately_on_update=False,
        )
        self._only_this_secret_may_invoke(function)
        acknowledge(
            role.node.find_child("DefaultPolicy"),
            "AwsSolutions-IAM5[Resource::*]",
            "secretsmanager:GetRandomPassword, which CDK's rotation schedule grants every "
            "rotation function, acts on no resource (IAM accepts only '*' for it): it returns "
            "random characters and can read or change nothing.",
        )
        acknowledge_all(
            function,
            in_packs("LambdaInsideVPC"),
            "The function calls only the Secrets Manager and ECS APIs (IAM-authenticated, TLS) "
            "for one secret and one service; it reaches nothing inside the VPC, and running "
            "it there would add network-interface permissions on every resource.",
        )
        acknowledge_all(
            function,
            in_packs("LambdaConcurrency", ("HIPAA.Security", "NIST.800.53.R5")),
            RESERVED_CONCURRENCY_REASON.format(caller="Secrets Manager (every 30 days)"),
        )
        acknowledge_all(
            function,
            in_packs("LambdaDLQ", ("HIPAA.Security", "NIST.800.53.R5")),
            "Secrets Manager drives the four steps and retries a failed rotation itself; the "
            "failure stays on the secret (its rotation status) and in this function's log "
            "group, and the event only names the secret, so a dead-letter queue keeps nothing.",
        )
        return function

    def _only_this_secret_may_invoke(self, function: lambda_.Function) -> None:
        """The rotation schedule lets `secretsmanager.amazonaws.com` invoke the function with no
        condition, so any account's secret could name it (the confused deputy; checkov
        CKV_AWS_364, Control Tower ct-lambda-pr-2). Secrets Manager invokes with this account
        and the secret's ARN as source (Secrets Manager User Guide, "Prevent the confused
        deputy problem"): the permission now requires both."""
        permissions = [
            child
            for child in function.node.children
            if isinstance(child, lambda_.CfnPermission)
            and child.principal == "secretsmanager.amazonaws.com"
        ]
        if len(permissions) != 1:
            raise RuntimeError(
                f"expected one Secrets Manager invoke permission on {function.node.path}, "
                f"found {len(permissions)}: aws-cdk-lib's rotation schedule changed"
            )
        permissions[0].source_account = cdk.Aws.ACCOUNT_ID
        permissions[0].source_arn = self.app_secret.secret_arn

    def _let_rotation_encrypt_replicas(self, replicas: Sequence[tuple[str, str]]) -> None:
        """Secrets Manager calls KMS for a replica with the permissions of whoever wrote the
        new version (forward access sessions): the rotation function must be able to encrypt
        with each replica region's key, named here by its alias (issue 20, docs)."""
        if not replicas or self.secret_rotation is None:
            return
        role = self.secret_rotation.role
        assert role is not None
        stack = cdk.Stack.of(self)
        for region, key_id in replicas:
            alias = "alias/" + key_id.split(":alias/", 1)[1] if ":alias/" in key_id else None
            if alias is None:
                keys = [key_id]
                conditions: dict[str, object] = {}
            else:
                keys = [
                    stack.format_arn(
                        service="kms", region=region, resource="key", resource_name="*"
                    )
                ]
                conditions = {"ForAnyValue:StringEquals": {"kms:ResourceAliases": [alias]}}
            role.add_to_principal_policy(
                iam.PolicyStatement(
                    sid=f"EncryptReplicaIn{region.title().replace('-', '')}",
                    actions=["kms:Encrypt", "kms:GenerateDataKey"],
                    resources=keys,
                    conditions={
                        **conditions,
                        "StringEquals": {
                            "kms:ViaService": f"secretsmanager.{region}.{cdk.Aws.URL_SUFFIX}"
                        },
                    },
                )
            )
            if alias is not None:
                acknowledge(
                    role.node.find_child("DefaultPolicy"),
                    f"AwsSolutions-IAM5[Resource::{nag_reference(self, keys[0])}]",
                    "The replica key of the recovery region (seed 7.1) is created in another "
                    "region and stack, so it is named by its alias: the kms:ResourceAliases "
                    "condition admits that one key, and only through Secrets Manager there.",
                )

    def _no_capabilities(self, construct_id: str) -> ecs.LinuxParameters:
        parameters = ecs.LinuxParameters(self, construct_id, init_process_enabled=True)
        parameters.drop_capabilities(ecs.Capability.ALL)
        return parameters
