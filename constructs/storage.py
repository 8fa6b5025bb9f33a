"""S3 buckets: tenant uploads (KMS, versioned, TLS-only, lifecycle) and the access-log bucket.
Must never import stacks/, ops/ or config/: settings arrive as constructor arguments.
"""

from __future__ import annotations

from dataclasses import dataclass

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_s3 as s3

from constructs import Construct
from constructs.compliance import acknowledge, acknowledge_all, in_packs, nag_reference

TENANT_PREFIX = "tenants"
REPLICATION_RULES = in_packs("S3BucketReplicationEnabled")
_REPLICATION_REASON = (
    "Cross-region replication would double storage and add transfer cost for data that is "
    "versioned, retained on stack deletion and recoverable in-region; the disaster-recovery "
    "runbook (seed 7.1) covers a second region when a customer needs it."
)


@dataclass(frozen=True)
class UploadsReplication:
    """Seed 7.1: replicate every upload to the standby bucket of the recovery region.

    The destination key is named by its alias (S3's `ReplicaKmsKeyID` takes a key or alias ARN):
    the standby platform's key is created in another region and another stack, so its key id
    cannot be known here without a cross-region lookup.
    """

    destination_bucket_name: str
    destination_region: str
    destination_key_alias: str  # "alias/...", a customer managed key of the destination region


_STANDBY_REASON = (
    "This bucket is the destination of the primary region's uploads replication (seed 7.1 "
    "disaster recovery); replicating it onwards would only copy the copy. After a failover, "
    "failback re-creates replication in the other direction (docs/disaster-recovery.md)."
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
        replication: UploadsReplication | None = None,
        replica_destination: bool = False,
    ) -> None:
        """`replication`: copy every object to a bucket of the recovery region (seed 7.1);
        `replica_destination`: this bucket is that copy (the standby platform's)."""
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
        self.replication_role: iam.Role | None = None
        if replication is not None:
            self._replicate(replication, key, bucket_name)
        else:
            reason = _STANDBY_REASON if replica_destination else _REPLICATION_REASON
            acknowledge_all(self.bucket, REPLICATION_RULES, reason)

    def _replicate(self, replication: UploadsReplication, key: kms.IKey, bucket_name: str) -> None:
        """S3 Cross-Region Replication of every object version, delete markers included, to the
        standby bucket, re-encrypted there with the recovery region's own key.

        Stays long: the role's one policy is the whole replication permission a reviewer reads.
        """
        stack = cdk.Stack.of(self)
        # By name, not by reference: the bucket depends on this role's policy (below), so the
        # policy cannot depend on the bucket.
        source = f"arn:{cdk.Aws.PARTITION}:s3:::{bucket_name}"
        source_objects = f"{source}/*"
        destination = f"arn:{cdk.Aws.PARTITION}:s3:::{replication.destination_bucket_name}"
        alias_name = replication.destination_key_alias.removeprefix("alias/")
        replica_key_alias_arn = stack.format_arn(
            service="kms",
            region=replication.destination_region,
            resource="alias",
            resource_name=alias_name,
        )
        destination_keys = stack.format_arn(
            service="kms",
            region=replication.destination_region,
            resource="key",
            resource_name="*",
        )
        self.replication_role = iam.Role(
            self,
            "ReplicationRole",
            assumed_by=iam.ServicePrincipal("s3.amazonaws.com"),
            description="S3 replication of the uploads bucket to the recovery region (seed 7.1)",
        )
        policy = iam.ManagedPolicy(
            self,
            "ReplicationPolicy",
            description="Replicate the uploads bucket to the standby bucket of the recovery region",
            roles=[self.replication_role],
            statements=[
                iam.PolicyStatement(
                    sid="ReadReplicationConfiguration",
                    actions=["s3:GetReplicationConfiguration", "s3:ListBucket"],
                    resources=[source],
                ),
                iam.PolicyStatement(
                    sid="ReadSourceVersions",
                    actions=[
                        "s3:GetObjectVersionForReplication",
                        "s3:GetObjectVersionAcl",
                        "s3:GetObjectVersionTagging",
                    ],
                    resources=[source_objects],
                ),
                iam.PolicyStatement(
                    sid="WriteReplicas",
                    actions=["s3:ReplicateObject", "s3:ReplicateDelete", "s3:ReplicateTags"],
                    resources=[f"{destination}/*"],
                ),
                iam.PolicyStatement(
                    sid="DecryptSourceObjects",
                    actions=["kms:Decrypt"],
                    resources=[key.key_arn],
                    conditions={
                        "StringEquals": {
                            "kms:ViaService": f"s3.{cdk.Aws.REGION}.{cdk.Aws.URL_SUFFIX}"
                        },
                        "StringLike": {"kms:EncryptionContext:aws:s3:arn": [source_objects]},
                    },
                ),
                iam.PolicyStatement(
                    sid="EncryptReplicasWithTheStandbyKey",
                    actions=["kms:Encrypt", "kms:GenerateDataKey"],
                    resources=[destination_keys],
                    conditions={
                        "StringEquals": {
                            "kms:ViaService": (
                                f"s3.{replication.destination_region}.{cdk.Aws.URL_SUFFIX}"
                            )
                        },
                        "StringLike": {"kms:EncryptionContext:aws:s3:arn": [f"{destination}/*"]},
                        "ForAnyValue:StringEquals": {
                            "kms:ResourceAliases": [replication.destination_key_alias]
                        },
                    },
                ),
            ],
        )
        for resource, what in (
            (source_objects, "every object version of this bucket, which it replicates"),
            (f"{destination}/*", "the standby bucket's objects, which it writes"),
            (
                destination_keys,
                "keys of the recovery region, narrowed by the kms:ResourceAliases condition to the "
                "one key with the standby platform's alias (its key id is created in another "
                "region and stack, so it cannot be named here)",
            ),
        ):
            acknowledge(
                policy,
                f"AwsSolutions-IAM5[Resource::{nag_reference(self, resource)}]",
                f"S3 replication (seed 7.1 disaster recovery) needs {what}; the role is assumed "
                "only by the S3 service for this bucket's replication rule.",
            )
        cfn_bucket = self.bucket.node.default_child
        assert isinstance(cfn_bucket, s3.CfnBucket)
        cfn_bucket.replication_configuration = s3.CfnBucket.ReplicationConfigurationProperty(
            role=self.replication_role.role_arn,
            rules=[
                s3.CfnBucket.ReplicationRuleProperty(
                    id="standby-region",
                    status="Enabled",
                    priority=1,
                    filter=s3.CfnBucket.ReplicationRuleFilterProperty(prefix=""),
                    delete_marker_replication=s3.CfnBucket.DeleteMarkerReplicationProperty(
                        status="Enabled"
                    ),
                    source_selection_criteria=s3.CfnBucket.SourceSelectionCriteriaProperty(
                        sse_kms_encrypted_objects=s3.CfnBucket.SseKmsEncryptedObjectsProperty(
                            status="Enabled"
                        )
                    ),
                    destination=s3.CfnBucket.ReplicationDestinationProperty(
                        bucket=destination,
                        encryption_configuration=s3.CfnBucket.EncryptionConfigurationProperty(
                            replica_kms_key_id=replica_key_alias_arn
                        ),
                    ),
                )
            ],
        )
        # The role must be able to act before S3 accepts the rule.
        cfn_bucket.node.add_dependency(policy)
