"""S3 buckets: tenant uploads (KMS, versioned, TLS-only, lifecycle) and the access-log bucket.
Must never import stacks/, ops/ or config/: settings arrive as constructor arguments.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from constructs import Construct
from constructs.compliance import acknowledge, acknowledge_all, in_packs

TENANT_PREFIX = "tenants"
REPLICATION_RULES = in_packs("S3BucketReplicationEnabled")
_REPLICATION_REASON = (
    "Cross-region replication would double storage and add transfer cost for data that is "
    "versioned, retained on stack deletion and recoverable in-region; the disaster-recovery "
    "runbook (seed 7.1) covers a second region when a customer needs it."
)


def tenant_prefix(slug: str) -> str:
    """Every object of restaurant `slug` lives under this key prefix (seed 1.1)."""
    return f"{TENANT_PREFIX}/{slug}/"


class AccessLogBucket(Construct):
    """Destination of S3 server access logs and ALB access logs.

    Both log deliveries support only SSE-S3 on the destination bucket, so this bucket is
    S3-managed encrypted; it is private, TLS-only, versioned and expires logs (seed 4.4).
    """

    def __init__(self, scope: Construct, construct_id: str, *, retention_days: int) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.S3_MANAGED,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            removal_policy=cdk.RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="expire-access-logs",
                    expiration=cdk.Duration.days(retention_days),
                    noncurrent_version_expiration=cdk.Duration.days(1),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                )
            ],
        )
        acknowledge_all(
            self.bucket,
            [
                "HIPAA.Security-S3DefaultEncryptionKMS",
                "NIST.800.53.R5-S3DefaultEncryptionKMS",
                "PCI.DSS.321-S3DefaultEncryptionKMS",
            ],
            "S3 server access logging and ALB access logging deliver only to buckets encrypted "
            "with SSE-S3 (AES-256); SSE-KMS on this bucket would stop log delivery.",
        )
        acknowledge_all(self.bucket, REPLICATION_RULES, _REPLICATION_REASON)
        acknowledge(
            self.bucket,
            "AwsSolutions-S1",
            "This bucket is the access-log destination of the uploads bucket and the load "
            "balancer; logging its own access into itself would create an endless loop.",
        )


class UploadsBucket(Construct):
    """The shared uploads bucket: tenant data under `tenants/<slug>/`, encrypted with a KMS key.

    S3 Bucket Keys stay off on purpose: without them the KMS encryption context is the object
    ARN, so each tenant's access role can be limited to its own prefix on the key as well.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket_name: str,
        key: kms.IKey,
        access_logs: s3.IBucket,
        intelligent_tiering_after_days: int = 30,
        glacier_ir_after_days: int = 90,
        noncurrent_expiration_days: int = 30,
    ) -> None:
        super().__init__(scope, construct_id)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=bucket_name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            bucket_key_enabled=False,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="s3-access/uploads/",
            removal_policy=cdk.RemovalPolicy.RETAIN,
            lifecycle_rules=[
                # Seed 4.3: Standard, then Intelligent-Tiering, then Glacier Instant Retrieval.
                s3.LifecycleRule(
                    id="tiering",
                    transitions=[
                        s3.Transition(
                            storage_class=s3.StorageClass.INTELLIGENT_TIERING,
                            transition_after=cdk.Duration.days(intelligent_tiering_after_days),
                        ),
                        s3.Transition(
                            storage_class=s3.StorageClass.GLACIER_INSTANT_RETRIEVAL,
                            transition_after=cdk.Duration.days(glacier_ir_after_days),
                        ),
                    ],
                    noncurrent_version_expiration=cdk.Duration.days(noncurrent_expiration_days),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(7),
                )
            ],
        )
        acknowledge_all(self.bucket, REPLICATION_RULES, _REPLICATION_REASON)
