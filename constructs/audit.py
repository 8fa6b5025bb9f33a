"""Optional CloudTrail trail (seed 7.2: "CloudTrail logging of all API calls for audit").
Must never import stacks/, ops/ or config/: settings arrive as constructor arguments.
"""

from __future__ import annotations

import aws_cdk as cdk
from aws_cdk import aws_cloudtrail as cloudtrail
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3

from constructs import Construct
from constructs.compliance import acknowledge_all
from constructs.key_policies import allow_cloudtrail
from constructs.storage import REPLICATION_RULES


class AuditTrail(Construct):
    """A multi-region trail with log file validation, KMS encryption and a CloudWatch copy.

    Off by default (config `security.cloudtrail`): an AWS Organizations trail usually covers the
    account already, and a second trail of management events is billed.
    """

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        name_prefix: str,
        key: kms.IKey,
        access_logs: s3.IBucket,
        retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        trail_name = f"{name_prefix}-audit"
        allow_cloudtrail(key, trail_name=trail_name)
        self.bucket = s3.Bucket(
            self,
            "Bucket",
            encryption=s3.BucketEncryption.KMS,
            encryption_key=key,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="s3-access/trail/",
            removal_policy=cdk.RemovalPolicy.RETAIN,
            lifecycle_rules=[
                s3.LifecycleRule(
                    id="audit-retention",
                    expiration=cdk.Duration.days(365),
                    noncurrent_version_expiration=cdk.Duration.days(30),
                    abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
                )
            ],
        )
        acknowledge_all(
            self.bucket,
            REPLICATION_RULES,
            "Audit logs are also delivered to CloudWatch Logs; cross-region replication of the "
            "trail bucket is part of the organization-level trail where one exists.",
        )
        self.log_group = logs.LogGroup(
            self,
            "Logs",
            log_group_name=f"/{name_prefix}/cloudtrail",
            retention=retention,
            encryption_key=key,
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.trail = cloudtrail.Trail(
            self,
            "Trail",
            trail_name=trail_name,
            bucket=self.bucket,
            encryption_key=key,
            enable_file_validation=True,
            is_multi_region_trail=True,
            include_global_service_events=True,
            send_to_cloud_watch_logs=True,
            cloud_watch_log_group=self.log_group,
        )
