"""The log archive (seed 4.4): log groups -> subscription filters -> Firehose -> S3 -> Glacier.
Must never import stacks/, ops/ or config/: settings arrive as constructor arguments.

One Firehose stream per environment receives every subscribed log group's events (CloudWatch
Logs sends them gzip-compressed), decompresses them, and writes them under a key that names the
log's kind, owner and log, taken from the subscription filter's own name with dynamic
partitioning: `<kind>/<owner>/<log>/yyyy/MM/dd/`, e.g. `access/tenant-bella/postgresql/...`. So
a restaurant's logs are found under `*/tenant-<slug>/`, and the bucket's lifecycle rules (one per
kind prefix) keep each kind as long as configured. Why Firehose and not `CreateExportTask`, and
what each costs: docs/log-archive.md.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

import aws_cdk as cdk
import jsii
from aws_cdk import aws_cloudwatch as cloudwatch
from aws_cdk import aws_cloudwatch_actions as cloudwatch_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kinesisfirehose as firehose
from aws_cdk import aws_kms as kms
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_sns as sns

from constructs import Construct
from constructs.compliance import acknowledge, acknowledge_all, nag_reference
from constructs.storage import REPLICATION_RULES

ERROR_PREFIX = "errors/"
# Firehose's largest buffer (15 minutes, 128 MiB): the fewest, largest objects. Dynamic
# partitioning buffers each partition (log) on its own, so each log writes at most one object a
# quarter hour.
BUFFER_SECONDS = 900
BUFFER_MIB = 128
DELIVERY_LOG_STREAM = "S3Delivery"
# Oldest record not yet in S3, in seconds, per alarm severity: the buffer (15 minutes, up to
# 1.5x with dynamic partitioning) and Firehose's retries stay well under an hour; past it,
# delivery is failing, and after six hours it has been failing for a long time.
STALE_DELIVERY_SECONDS = {"warning": 3600, "critical": 6 * 3600}
_PART = re.compile(r"[a-z0-9][a-z0-9-]*")


def archive_filter_name(kind: str, owner: str, log: str) -> str:
    """The subscription filter's name, which Firehose reads back as the archive key's parts.

    Dots separate the parts (jq's `split(".")` is a plain string split), so no part has one.
    """
    for part in (kind, owner, log):
        if not _PART.fullmatch(part):
            raise ValueError(f"archive key part {part!r}: allowed lowercase letters, digits, '-'")
    return f"{kind}.{owner}.{log}"


def archive_prefix(kind: str, owner: str, log: str | None = None) -> str:
    """The S3 key prefix of one owner's logs of one kind (and one log, if given)."""
    return f"{kind}/{owner}/" + (f"{log}/" if log else "")


# The jq 1.6 query Firehose runs on each decompressed record to find its partition keys.
PARTITION_QUERIES = {
    "kind": '.subscriptionFilters[0] | split(".")[0]',
    "owner": '.subscriptionFilters[0] | split(".")[1]',
    "log": '.subscriptionFilters[0] | split(".")[2]',
}
DATA_PREFIX = (
    "!{partitionKeyFromQuery:kind}/!{partitionKeyFromQuery:owner}/"
    "!{partitionKeyFromQuery:log}/!{timestamp:yyyy/MM/dd}/"
)
ERROR_OUTPUT_PREFIX = ERROR_PREFIX + "!{firehose:error-output-type}/!{timestamp:yyyy/MM/dd}/"


@dataclass(frozen=True)
class ArchiveRetention:
    """One log kind in the archive: cold class from `cold_after_days`, deleted at `days`."""

    kind: str
    cold_after_days: int
    days: int


@dataclass(frozen=True)
class ArchiveTarget:
    """Where a subscription filter sends events: the stream and the role CloudWatch Logs uses,
    both by ARN built from their fixed names, so a tenant stack needs no export (nor a grant on
    the platform's role: its one policy already names the stream)."""

    stream_arn: str
    role_arn: str

    @classmethod
    def by_name(cls, scope: Construct, *, stream_name: str, role_name: str) -> ArchiveTarget:
        return cls(
            stream_arn=stream_arn_by_name(scope, stream_name),
            role_arn=cdk.Stack.of(scope).format_arn(
                service="iam", region="", resource="role", resource_name=role_name
            ),
        )


def stream_arn_by_name(scope: Construct, stream_name: str) -> str:
    """A Firehose stream's ARN in `scope`'s account and region, from its name."""
    return cdk.Stack.of(scope).format_arn(
        service="firehose", resource="deliverystream", resource_name=stream_name
    )


@jsii.implements(logs.ILogSubscriptionDestination)
class _StreamByArn:
    """A subscription destination given by ARN. CDK's `FirehoseDestination` would grant the
    role from here, i.e. add a policy per tenant to the platform's role (DESIGN: cross-stack
    grants); the platform's role is granted once, when it is made."""

    def __init__(self, target: ArchiveTarget) -> None:
        self._target = target

    def bind(
        self, scope: Construct, source_log_group: object
    ) -> logs.LogSubscriptionDestinationConfig:
        del source_log_group  # any group: the role and the stream are the same for all
        role = iam.Role.from_role_arn(scope, "ArchiveRole", self._target.role_arn, mutable=False)
        return logs.LogSubscriptionDestinationConfig(arn=self._target.stream_arn, role=role)


def subscribe_to_archive(
    scope: Construct,
    construct_id: str,
    *,
    log_group: logs.ILogGroup,
    target: ArchiveTarget,
    kind: str,
    owner: str,
    log: str,
) -> logs.SubscriptionFilter:
    """Every event of `log_group` to the archive, under `<kind>/<owner>/<log>/` (one of the two
    subscription filters a log group may have)."""
    return logs.SubscriptionFilter(
        scope,
        construct_id,
        log_group=log_group,
        destination=_StreamByArn(target),
        filter_pattern=logs.FilterPattern.all_events(),
        filter_name=archive_filter_name(kind, owner, log),
    )


def _processor(kind: str, **parameters: str) -> firehose.CfnDeliveryStream.ProcessorProperty:
    return firehose.CfnDeliveryStream.ProcessorProperty(
        type=kind,
        parameters=[
            firehose.CfnDeliveryStream.ProcessorParameterProperty(
                parameter_name=name, parameter_value=value
            )
            for name, value in parameters.items()
        ],
    )


class LogArchive(Construct):
    """The environment's archive: its KMS key, bucket, Firehose stream and the role CloudWatch
    Logs assumes to feed it. Log groups join with `subscribe_to_archive`, in any stack."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        bucket_name: str,
        stream_name: str,
        subscription_role_name: str,
        key_alias: str,
        retention: Sequence[ArchiveRetention],
        storage_class: s3.StorageClass,
        access_logs: s3.IBucket,
        delivery_log_group_name: str,
        log_key: kms.IKey,
        log_retention: logs.RetentionDays,
    ) -> None:
        super().__init__(scope, construct_id)
        self.key = kms.Key(
            self,
            "Key",
            alias=key_alias,
            description="Chef's Kiss log archive (S3 objects)",
            enable_key_rotation=True,
            # Archived objects stay readable only while the key exists.
            removal_policy=cdk.RemovalPolicy.RETAIN,
        )
        self.bucket = self._bucket(bucket_name, retention, storage_class, access_logs)
        self.delivery_log_group = logs.LogGroup(
            self,
            "DeliveryLogs",
            log_group_name=delivery_log_group_name,
            retention=log_retention,
            encryption_key=log_key,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        self.stream_name = stream_name
        self.stream = self._stream(stream_name)
        self.subscription_role = self._subscription_role(subscription_role_name)

    def _bucket(
        self,
        bucket_name: str,
        retention: Sequence[ArchiveRetention],
        storage_class: s3.StorageClass,
        access_logs: s3.IBucket,
    ) -> s3.Bucket:
        rules = [
            s3.LifecycleRule(
                id=f"{item.kind}-logs",
                prefix=f"{item.kind}/",
                transitions=[
                    s3.Transition(
                        storage_class=storage_class,
                        transition_after=cdk.Duration.days(item.cold_after_days),
                    )
                ],
                expiration=cdk.Duration.days(item.days),
                # A deleted or replaced object stays recoverable for 30 days.
                noncurrent_version_expiration=cdk.Duration.days(30),
                abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
            )
            for item in retention
        ]
        # Records Firehose could not partition or write: kept as long as the longest kind.
        rules.append(
            s3.LifecycleRule(
                id="delivery-errors",
                prefix=ERROR_PREFIX,
                expiration=cdk.Duration.days(max(item.days for item in retention)),
                noncurrent_version_expiration=cdk.Duration.days(30),
                abort_incomplete_multipart_upload_after=cdk.Duration.days(1),
            )
        )
        rules.append(s3.LifecycleRule(id="delete-markers", expired_object_delete_marker=True))
        bucket = s3.Bucket(
            self,
            "Bucket",
            bucket_name=bucket_name,
            encryption=s3.BucketEncryption.KMS,
            encryption_key=self.key,
            # Firehose writes many small objects: a bucket key saves one KMS call per object.
            # The encryption context is then the bucket's ARN (the delivery role's condition).
            bucket_key_enabled=True,
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            enforce_ssl=True,
            versioned=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            server_access_logs_bucket=access_logs,
            server_access_logs_prefix="s3-access/log-archive/",
            removal_policy=cdk.RemovalPolicy.RETAIN,
            lifecycle_rules=rules,
        )
        acknowledge_all(
            bucket,
            REPLICATION_RULES,
            "The archive is a second copy of logs that CloudWatch Logs holds in the same region "
            "for their retention; a cross-region copy of the archive would double its storage "
            "for logs, not data, and the disaster-recovery region keeps its own logs.",
        )
        return bucket

    def _stream(self, stream_name: str) -> firehose.CfnDeliveryStream:
        """The Firehose stream, as L1: the L2 `S3Bucket` destination grants its role read,
        write and delete on the bucket and every KMS action on the key; the archive's writer
        gets only what the Firehose developer guide lists for an S3 destination ("Grant
        Firehose access to an Amazon S3 destination"), and never delete."""
        stack = cdk.Stack.of(self)
        log_stream = logs.LogStream(
            self,
            "DeliveryLogStream",
            log_group=self.delivery_log_group,
            log_stream_name=DELIVERY_LOG_STREAM,
            removal_policy=cdk.RemovalPolicy.DESTROY,
        )
        self.delivery_role = role = iam.Role(
            self,
            "DeliveryRole",
            # CloudWatch Logs user guide, "Step 1: Create a Firehose delivery stream": Firehose
            # assumes its role with this account's id as the external id.
            assumed_by=iam.ServicePrincipal(
                "firehose.amazonaws.com",
                conditions={"StringEquals": {"sts:ExternalId": cdk.Aws.ACCOUNT_ID}},
            ),
            description="Firehose writes the log archive's objects (and never deletes them)",
        )
        objects = self.bucket.arn_for_objects("*")
        policy = iam.ManagedPolicy(
            self,
            "DeliveryPolicy",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    sid="FindTheArchiveBucket",
                    actions=[
                        "s3:GetBucketLocation",
                        "s3:ListBucket",
                        "s3:ListBucketMultipartUploads",
                    ],
                    resources=[self.bucket.bucket_arn],
                ),
                iam.PolicyStatement(
                    sid="WriteArchiveObjects",
                    actions=["s3:AbortMultipartUpload", "s3:GetObject", "s3:PutObject"],
                    resources=[objects],
                ),
                # S3 encrypts with the bucket's default key when Firehose writes; with the
                # bucket key the context is the bucket ARN (the object ARN without it).
                iam.PolicyStatement(
                    sid="EncryptArchiveObjects",
                    actions=["kms:GenerateDataKey", "kms:Decrypt"],
                    resources=[self.key.key_arn],
                    conditions={
                        "StringEquals": {"kms:ViaService": f"s3.{stack.region}.amazonaws.com"},
                        "StringLike": {
                            "kms:EncryptionContext:aws:s3:arn": [self.bucket.bucket_arn, objects]
                        },
                    },
                ),
                iam.PolicyStatement(
                    sid="LogDeliveryErrors",
                    actions=["logs:PutLogEvents"],
                    resources=[
                        stack.format_arn(
                            service="logs",
                            resource="log-group",
                            resource_name=(
                                f"{self.delivery_log_group.log_group_name}"
                                f":log-stream:{DELIVERY_LOG_STREAM}"
                            ),
                            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                        )
                    ],
                ),
            ],
        )
        acknowledge(
            policy,
            f"AwsSolutions-IAM5[Resource::{nag_reference(self, objects)}]",
            "Firehose names each archive object itself (kind/owner/log/date prefix and a "
            "generated key), so the writer needs the archive bucket's objects; it may put, "
            "read back and abort uploads there, never delete, and nothing in any other bucket.",
        )
        query = ", ".join(f"{key}: ({jq})" for key, jq in PARTITION_QUERIES.items())
        stream = firehose.CfnDeliveryStream(
            self,
            "Stream",
            delivery_stream_name=stream_name,
            delivery_stream_type="DirectPut",
            # Records wait at most 15 minutes in Firehose's buffer; AWS's key encrypts them there.
            delivery_stream_encryption_configuration_input=firehose.CfnDeliveryStream.DeliveryStreamEncryptionConfigurationInputProperty(
                key_type="AWS_OWNED_CMK"
            ),
            extended_s3_destination_configuration=firehose.CfnDeliveryStream.ExtendedS3DestinationConfigurationProperty(
                bucket_arn=self.bucket.bucket_arn,
                role_arn=role.role_arn,
                buffering_hints=firehose.CfnDeliveryStream.BufferingHintsProperty(
                    interval_in_seconds=BUFFER_SECONDS, size_in_m_bs=BUFFER_MIB
                ),
                compression_format="GZIP",
                prefix=DATA_PREFIX,
                error_output_prefix=ERROR_OUTPUT_PREFIX,
                dynamic_partitioning_configuration=firehose.CfnDeliveryStream.DynamicPartitioningConfigurationProperty(
                    enabled=True
                ),
                processing_configuration=firehose.CfnDeliveryStream.ProcessingConfigurationProperty(
                    enabled=True,
                    processors=[
                        _processor("Decompression", CompressionFormat="GZIP"),
                        _processor(
                            "MetadataExtraction",
                            MetadataExtractionQuery="{" + query + "}",
                            JsonParsingEngine="JQ-1.6",
                        ),
                        _processor("AppendDelimiterToRecord"),
                    ],
                ),
                cloud_watch_logging_options=firehose.CfnDeliveryStream.CloudWatchLoggingOptionsProperty(
                    enabled=True,
                    log_group_name=self.delivery_log_group.log_group_name,
                    log_stream_name=log_stream.log_stream_name,
                ),
            ),
        )
        # Firehose checks its role's access when the stream is created.
        stream.node.add_dependency(policy)
        # The ARN by name, as every tenant's subscription filter names it.
        self.stream_arn = stream_arn_by_name(self, stream_name)
        return stream

    def alarm_on_stale_delivery(
        self, *, name_prefix: str, severity: str, topic: sns.ITopic
    ) -> cloudwatch.Alarm:
        """Logs that stop reaching S3 (a broken key policy, a deleted bucket) are otherwise
        lost in silence when CloudWatch's retention ends: alarm when the oldest record waiting
        in Firehose is older than the severity's threshold. No records, no data: no alarm."""
        threshold = STALE_DELIVERY_SECONDS[severity]
        alarm = cloudwatch.Alarm(
            self,
            f"StaleDelivery{severity.title()}",
            alarm_name=f"{name_prefix}-log-archive-delivery-{severity}",
            alarm_description=(
                f"Log archive: records wait in Firehose for over {threshold // 3600} hour(s) "
                "(see its delivery log and docs/log-archive.md)"
            ),
            metric=cloudwatch.Metric(
                namespace="AWS/Firehose",
                metric_name="DeliveryToS3.DataFreshness",
                dimensions_map={"DeliveryStreamName": self.stream_name},
                statistic="Maximum",
                period=cdk.Duration.minutes(5),
            ),
            threshold=threshold,
            evaluation_periods=1,
            comparison_operator=cloudwatch.ComparisonOperator.GREATER_THAN_THRESHOLD,
            treat_missing_data=cloudwatch.TreatMissingData.NOT_BREACHING,
        )
        alarm.add_alarm_action(cloudwatch_actions.SnsAction(topic))
        alarm.add_ok_action(cloudwatch_actions.SnsAction(topic))
        return alarm

    def _subscription_role(self, role_name: str) -> iam.Role:
        """The one role every subscription filter of the environment names, in any stack."""
        stack = cdk.Stack.of(self)
        role = iam.Role(
            self,
            "SubscriptionRole",
            role_name=role_name,
            # CloudWatch Logs user guide, "Subscription filters with Amazon Data Firehose":
            # the service, for log groups of this account and region only.
            assumed_by=iam.ServicePrincipal(
                "logs.amazonaws.com",
                conditions={
                    "StringLike": {
                        "aws:SourceArn": stack.format_arn(
                            service="logs", resource="*", arn_format=cdk.ArnFormat.NO_RESOURCE_NAME
                        )
                    }
                },
            ),
            description="CloudWatch Logs puts subscribed log events on the log archive stream",
        )
        policy = iam.ManagedPolicy(
            self,
            "SubscriptionPolicy",
            roles=[role],
            statements=[
                iam.PolicyStatement(
                    sid="PutOnTheArchiveStream",
                    actions=["firehose:PutRecord", "firehose:PutRecordBatch"],
                    resources=[self.stream_arn],
                )
            ],
        )
        # CloudWatch Logs tests the destination with this role when a filter is created.
        self.subscription_policy = policy
        return role
