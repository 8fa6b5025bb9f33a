"""Key-policy statements for AWS services, each scoped to this account's own resources.
Must never import stacks/, ops/, config/ or another construct module (others build on it).

A service principal in a key policy (`logs.<region>.amazonaws.com`, `cloudwatch.amazonaws.com`,
`cloudtrail.amazonaws.com`) acts for every customer of that service. Without a condition, any
log group, alarm or trail, in any account, that names this key could use it (the confused-deputy
problem). Each statement here carries the condition AWS documents for that service, built with
the stack's partition, region and account (tokens, never literals), and limited to the names this
project gives its resources.
"""

from __future__ import annotations

from collections.abc import Sequence

import aws_cdk as cdk
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms

# What a service needs to encrypt and read its own data with the key (CDK's grant_encrypt_decrypt).
ENCRYPT_DECRYPT = ("kms:Decrypt", "kms:Encrypt", "kms:GenerateDataKey*", "kms:ReEncrypt*")


def _add(key: kms.IKey, statement: iam.PolicyStatement) -> None:
    result = key.add_to_resource_policy(statement)
    if not result.statement_added:
        raise ValueError(f"{key.node.path}: an imported key's policy cannot be changed here")


def allow_log_groups(key: kms.IKey, *, log_group_names: Sequence[str], sid: str) -> None:
    """CloudWatch Logs may use `key` only for these log groups of this account and region.

    CloudWatch Logs passes the log group's ARN as the encryption context `aws:logs:arn`
    (CloudWatch Logs user guide, "Encrypt log data using AWS KMS", step 2).
    """
    stack = cdk.Stack.of(key)
    arns = [
        stack.format_arn(
            service="logs",
            resource="log-group",
            resource_name=name,
            arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
        )
        for name in log_group_names
    ]
    _add(
        key,
        iam.PolicyStatement(
            sid=sid,
            principals=[iam.ServicePrincipal(f"logs.{stack.region}.amazonaws.com")],
            actions=list(ENCRYPT_DECRYPT),
            resources=["*"],
            conditions={"ArnLike": {"kms:EncryptionContext:aws:logs:arn": arns}},
        ),
    )


def allow_alarm_notifications(key: kms.IKey, *, alarm_name_pattern: str) -> None:
    """CloudWatch alarms of this account named `alarm_name_pattern` may publish to the topics
    encrypted with `key` (SNS developer guide, "compatibility with AWS services")."""
    stack = cdk.Stack.of(key)
    _add(
        key,
        iam.PolicyStatement(
            sid="CloudWatchAlarmsOfThisEnvironment",
            principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
            actions=["kms:Decrypt", "kms:GenerateDataKey*"],
            resources=["*"],
            conditions={
                "StringEquals": {"aws:SourceAccount": stack.account},
                "ArnLike": {
                    "aws:SourceArn": stack.format_arn(
                        service="cloudwatch",
                        resource="alarm",
                        resource_name=alarm_name_pattern,
                        arn_format=cdk.ArnFormat.COLON_RESOURCE_NAME,
                    )
                },
            },
        ),
    )


def allow_cloudtrail(key: kms.IKey, *, trail_name: str) -> None:
    """Only this account's trail `trail_name` may encrypt log files with `key` (CloudTrail user
    guide, "Configure AWS KMS key policies for CloudTrail")."""
    stack = cdk.Stack.of(key)
    trail_arn = stack.format_arn(service="cloudtrail", resource="trail", resource_name=trail_name)
    this_accounts_trails = stack.format_arn(
        service="cloudtrail", region="*", resource="trail", resource_name="*"
    )
    principal = iam.ServicePrincipal("cloudtrail.amazonaws.com")
    _add(
        key,
        iam.PolicyStatement(
            sid="CloudTrailEncryptsThisTrail",
            principals=[principal],
            actions=["kms:GenerateDataKey*"],
            resources=["*"],
            conditions={
                "StringEquals": {"aws:SourceArn": trail_arn},
                "StringLike": {"kms:EncryptionContext:aws:cloudtrail:arn": this_accounts_trails},
            },
        ),
    )
    _add(
        key,
        iam.PolicyStatement(
            sid="CloudTrailDescribesKeyForThisTrail",
            principals=[principal],
            actions=["kms:DescribeKey"],
            resources=["*"],
            conditions={"StringEquals": {"aws:SourceArn": trail_arn}},
        ),
    )
