"""The role the app assumes to act for one restaurant: its database user, its connection
parameter and its S3 prefix only. The master secret is never within its reach.
Must never import stacks/, ops/ or config/: settings arrive as constructor arguments.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_rds as rds
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager

from constructs import Construct
from constructs.compliance import acknowledge, nag_reference
from constructs.storage import tenant_prefix


def regional_endpoint(service: str) -> str:
    """`<service>.<region>.<url suffix>` as the stack resolves it: the value AWS puts into
    `kms:ViaService` (never the region-less `<service>.amazonaws.com`, which matches nothing)."""
    return f"{service}.{cdk.Aws.REGION}.{cdk.Aws.URL_SUFFIX}"


class TenantAccessRole(Construct):
    """A per-restaurant role, assumed by the app task role when it serves that restaurant.

    Isolation comes from the role, not from the app's good behaviour: the role may connect to this
    restaurant's database only as the application user (IAM authentication, `rds-db:connect` on
    that one `dbuser`), read only this restaurant's connection parameter, and touch only
    `tenants/<slug>/` in the uploads bucket. The platform stack never changes when a restaurant is
    added: its task role holds one fixed statement allowing it to assume `<prefix>-tenant-*-access`
    roles.

    The master secret gets a resource policy that denies the app's roles (the task role and every
    restaurant's access role, by name) any Secrets Manager action on it: a deny-list, not an
    allow-list, so CloudFormation, the rotation function, RDS Proxy and the bootstrap function
    (each with its own role) are never locked out, while a future over-broad grant to the app
    still cannot reach the master credentials.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        role_name: str,
        slug: str,
        app_task_role: iam.IRole,
        app_role_names: list[str],
        database_instance: rds.IDatabaseInstance,
        database_user: str,
        connection_parameter_name: str,
        master_secret: secretsmanager.ISecret | None,
        uploads_bucket: s3.IBucket,
        uploads_key: kms.IKey,
    ) -> None:
        """Stays long: the whole policy is one list, read as the one document a reviewer audits."""
        super().__init__(scope, construct_id)
        stack = cdk.Stack.of(self)
        prefix = tenant_prefix(slug)
        self.role = iam.Role(
            self,
            "Role",
            role_name=role_name,
            description=f"Chef's Kiss app acting for restaurant {slug}",
            assumed_by=iam.ArnPrincipal(app_task_role.role_arn).with_session_tags(),
            max_session_duration=None,
        )
        objects = uploads_bucket.arn_for_objects(f"{prefix}*")
        # IAM database authentication: exactly the application user of this restaurant's instance.
        self.database_user_arn = stack.format_arn(
            service="rds-db",
            resource="dbuser",
            resource_name=f"{database_instance.instance_resource_id}/{database_user}",
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        self.connection_parameter_arn = stack.format_arn(
            service="ssm",
            resource="parameter",
            resource_name=connection_parameter_name.lstrip("/"),
        )
        statements = [
            iam.PolicyStatement(
                sid="ConnectAsOwnAppUser",
                actions=["rds-db:connect"],
                resources=[self.database_user_arn],
            ),
            iam.PolicyStatement(
                sid="ReadOwnConnectionParameter",
                actions=["ssm:GetParameter"],
                resources=[self.connection_parameter_arn],
            ),
            iam.PolicyStatement(
                sid="OwnUploads",
                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject", "s3:GetObjectVersion"],
                resources=[objects],
            ),
            iam.PolicyStatement(
                sid="ListOwnPrefix",
                actions=["s3:ListBucket"],
                resources=[uploads_bucket.bucket_arn],
                conditions={"StringLike": {"s3:prefix": [f"{prefix}*"]}},
            ),
            iam.PolicyStatement(
                sid="UploadsKeyForOwnPrefix",
                actions=["kms:Decrypt", "kms:GenerateDataKey"],
                resources=[uploads_key.key_arn],
                conditions={
                    # S3 with Bucket Keys off puts the object ARN into the encryption context.
                    "StringLike": {"kms:EncryptionContext:aws:s3:arn": [objects]},
                    "StringEquals": {"kms:ViaService": regional_endpoint("s3")},
                },
            ),
        ]
        # Customer-managed rather than inline: versioned, and audited as one document per tenant.
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            managed_policy_name=f"{role_name}-policy",
            # Description is create-only: changing it would replace this custom-named policy, which
            # CloudFormation cannot do (ops plan blocks it). It predates IAM database auth; the
            # statements (updatable in place) are what the policy grants.
            description=f"Restaurant {slug}: own secret, own key, own uploads prefix",
            statements=statements,
            roles=[self.role],
        )
        acknowledge(
            self.policy,
            f"AwsSolutions-IAM5[Resource::{nag_reference(self, objects)}]",
            f"The wildcard is the restaurant's own key prefix '{prefix}' in the shared uploads "
            "bucket (seed 1.1: tenant-prefixed keys); objects are created at run time, so they "
            "cannot be listed one by one. No other restaurant's prefix matches.",
        )

        if master_secret is None:
            return  # a standby replica has no master secret of its own (seed 7.1)
        app_principals = [
            stack.format_arn(service="iam", region="", resource="role", resource_name=name)
            for name in app_role_names
        ]
        master_secret.add_to_resource_policy(
            iam.PolicyStatement(
                sid="NeverTheApp",
                effect=iam.Effect.DENY,
                principals=[iam.AnyPrincipal()],
                actions=["secretsmanager:*"],
                resources=["*"],
                conditions={"ArnLike": {"aws:PrincipalArn": app_principals}},
            )
        )
