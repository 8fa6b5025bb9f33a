"""The post-deploy probe: a Lambda function that walks the app's data path for every restaurant.
Must never import stacks/, ops/ or config/: settings arrive as constructor arguments.

It runs where the app runs (the app subnets, the app's security group, so the tenant databases
admit it like an app task) and as the app runs: its own role may do nothing but assume the app task
role, and from that session it assumes each restaurant's access role, exactly the app's chain.
`python -m ops smoke --probe` invokes it by name; the restaurants to probe come in the payload, so
the platform stack does not change when a restaurant is added. Code: `runtime/tenant_probe.py`;
the asset also carries the RDS CA bundle (constructs/rds_ca_bundle.py) it verifies TLS with.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs

from constructs import Construct, rds_ca_bundle
from constructs.compliance import acknowledge, acknowledge_all, in_packs
from constructs.python_lambda import bundled_code

PROBE_TIMEOUT = cdk.Duration.minutes(5)


class TenantProbe(Construct):
    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        function_name: str,
        role_name: str,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        security_group: ec2.ISecurityGroup,
        app_task_role_arn: str,
        settings: dict[str, str],
        log_key: kms.IKey,
        log_retention: logs.RetentionDays,
    ) -> None:
        """Stays long: one Lambda's role, policy, log group and function, in order."""
        super().__init__(scope, construct_id)
        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            description="Chef's Kiss post-deploy probe: may only assume the app task role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(
                    "service-role/AWSLambdaVPCAccessExecutionRole"
                )
            ],
        )
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            description="The probe acts only as the app: it assumes the app task role",
            statements=[
                iam.PolicyStatement(
                    sid="BecomeTheApp",
                    actions=["sts:AssumeRole"],
                    resources=[app_task_role_arn],
                )
            ],
            roles=[self.role],
        )
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/aws/lambda/{function_name}",
            retention=log_retention,
            encryption_key=log_key,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        self.function = lambda_.Function(
            self,
            "Function",
            function_name=function_name,
            description="Chef's Kiss post-deploy probe of the tenant data path (ops smoke --probe)",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler="runtime.tenant_probe.handler",
            code=bundled_code(
                modules=["tenant_probe", "app_connection"],
                packages=["pg8000"],
                files={rds_ca_bundle.FILE_NAME: rds_ca_bundle.pem()},
            ),
            role=self.role,
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[security_group],
            timeout=PROBE_TIMEOUT,
            memory_size=256,
            # One probe at a time: it is run by the deploy workflow, never by traffic.
            reserved_concurrent_executions=1,
            environment=settings,
            log_group=self.log_group,
        )
        self.function.node.add_dependency(self.policy)
        acknowledge(
            self.role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSLambdaVPCAccessExecutionRole]",
            "A function in a VPC needs to create and delete its network interfaces and write its "
            "logs; this AWS-managed service-role policy grants only that, and the role's own "
            "policy allows nothing but assuming the app task role.",
        )
        acknowledge_all(
            self.function,
            in_packs("LambdaDLQ", ("HIPAA.Security", "NIST.800.53.R5")),
            "Invoked synchronously by `ops smoke --probe` after a deploy, which reads the result "
            "and fails the job on any error; there is no asynchronous event to keep in a queue.",
        )
