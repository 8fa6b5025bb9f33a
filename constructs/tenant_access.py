"""The role the app assumes to act for one restaurant: its secret, its key, its S3 prefix only."""

from __future__ import annotations

from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_secretsmanager as secretsmanager

from constructs import Construct
from constructs.compliance import acknowledge, nag_reference
from constructs.storage import tenant_prefix


class TenantAccessRole(Construct):
    """A per-restaurant role, assumed by the app task role when it serves that restaurant.

    Isolation comes from the role, not from the app's good behaviour: the role can read only this
    restaurant's database secret (and its key), and touch only `tenants/<slug>/` in the uploads
    bucket. The platform stack never changes when a restaurant is added: its task role holds one
    fixed statement allowing it to assume `<prefix>-tenant-*-access` roles.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        role_name: str,
        slug: str,
        app_task_role: iam.IRole,
        secret: secretsmanager.ISecret,
        tenant_key: kms.IKey,
        uploads_bucket: s3.IBucket,
        uploads_key: kms.IKey,
    ) -> None:
        super().__init__(scope, construct_id)
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
        statements = [
            iam.PolicyStatement(
                sid="ReadOwnDatabaseSecret",
                actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                resources=[secret.secret_arn],
            ),
            iam.PolicyStatement(
                sid="DecryptOwnSecret",
                actions=["kms:Decrypt"],
                resources=[tenant_key.key_arn],
                conditions={"StringEquals": {"kms:ViaService": "secretsmanager.amazonaws.com"}},
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
                conditions={"StringLike": {"kms:EncryptionContext:aws:s3:arn": [objects]}},
            ),
        ]
        # Customer-managed rather than inline: versioned, and audited as one document per tenant.
        self.policy = iam.ManagedPolicy(
            self,
            "Policy",
            managed_policy_name=f"{role_name}-policy",
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
