"""What the provider schemas cannot say: interruptions and the conditional replacement cases.

The cfn-lint schemas (ops/schemas.py) say which properties are create-only (always replace) and
which are *conditionally* create-only (may replace). They say nothing about interruptions. This
module holds the documented facts, each with its source, so that a reviewer can check them:

- "CFN docs": the AWS::RDS::DBInstance reference in the CloudFormation User Guide ("Update
  requires: ..." per property) and the property descriptions shipped in the schema itself
  (DBSnapshotIdentifier, PerformanceInsightsKMSKeyId, SourceDBInstanceIdentifier, ApplyImmediately).
- "RDS guide": the Amazon RDS User Guide, "Settings for DB instances" (the "Downtime notes" column
  of Modifying an Amazon RDS DB instance) and "Modifying a DB instance to be a Multi-AZ deployment".

Only AWS::RDS::DBInstance is modelled in depth (it holds the restaurants' data); other types get
the schema facts plus a short list of known interruption properties.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any

NO_CHANGE = "none"
NO_INTERRUPTION = "no-interruption"
INTERRUPTION = "interruption"
REPLACEMENT = "replacement"
IMPACT_ORDER = (NO_CHANGE, NO_INTERRUPTION, INTERRUPTION, REPLACEMENT)


def worst(*impacts: str) -> str:
    return max(impacts, key=IMPACT_ORDER.index, default=NO_CHANGE)


# Resources that hold data or make data readable; deleting or replacing one loses something.
STATEFUL_TYPES: dict[str, str] = {
    "AWS::RDS::DBInstance": "database",
    "AWS::RDS::DBCluster": "database cluster",
    "AWS::KMS::Key": "encryption key (data and snapshots encrypted with it)",
    "AWS::S3::Bucket": "object storage",
    "AWS::SecretsManager::Secret": "credentials",
    "AWS::Logs::LogGroup": "logs",
    "AWS::DynamoDB::Table": "table",
    "AWS::EFS::FileSystem": "file system",
    "AWS::ECR::Repository": "container images",
}


# The property that gives a resource its own physical name. CFN docs (e.g. DBInstanceIdentifier):
# "If you specify a name, you cannot perform updates that require replacement of this resource":
# the new resource is created before the old one is deleted, and the name is still taken.
PHYSICAL_NAME_PROPERTIES: dict[str, str] = {
    "AWS::RDS::DBInstance": "DBInstanceIdentifier",
    "AWS::RDS::DBCluster": "DBClusterIdentifier",
    "AWS::RDS::DBParameterGroup": "DBParameterGroupName",
    "AWS::RDS::DBSubnetGroup": "DBSubnetGroupName",
    "AWS::SecretsManager::Secret": "Name",
    "AWS::KMS::Alias": "AliasName",
    "AWS::Logs::LogGroup": "LogGroupName",
    "AWS::S3::Bucket": "BucketName",
    "AWS::IAM::Role": "RoleName",
    "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
    "AWS::EC2::SecurityGroup": "GroupName",
    "AWS::SNS::Topic": "TopicName",
    "AWS::Lambda::Function": "FunctionName",
    "AWS::DynamoDB::Table": "TableName",
    "AWS::ECS::Cluster": "ClusterName",
    "AWS::CloudWatch::Alarm": "AlarmName",
    "AWS::CloudWatch::Dashboard": "DashboardName",
}


@dataclass(frozen=True)
class Verdict:
    impact: str
    reason: str
    blocker: str | None = None  # the update cannot succeed at all (e.g. shrinking RDS storage)


# Properties whose update CloudFormation documents as "Update requires: Some interruptions".
_RDS_CLASS_NOTE = (
    "RDS guide: the instance restarts on the new class; single-AZ: an outage for the whole "
    "modification (several minutes); Multi-AZ: the standby is modified first, then a failover "
    "(typically 1-2 minutes)"
)
INTERRUPTION_PROPERTIES: dict[str, dict[str, str]] = {
    "AWS::RDS::DBInstance": {
        "DBInstanceClass": "CFN docs: Some interruptions. " + _RDS_CLASS_NOTE,
        "EngineVersion": "CFN docs: Some interruptions (engine upgrade restarts the instance)",
        "StorageType": "CFN docs: Some interruptions (storage conversion; restart for some types)",
        "CACertificateIdentifier": "CFN docs: Some interruptions (restart to load the certificate)",
        "DBParameterGroupName": "CFN docs: Some interruptions (a new parameter group takes effect "
        "after a reboot, which CloudFormation performs when ApplyImmediately is true)",
        "AvailabilityZone": "CFN docs: Some interruptions (single-AZ instance moves AZ)",
        "LicenseModel": "CFN docs: Some interruptions",
        "Port": "RDS guide: changing the port restarts the instance at once; every client must "
        "follow (security groups, connection strings)",
        "DBSecurityGroups": "CFN docs: Some interruptions",
        "ProcessorFeatures": "CFN docs: Some interruptions",
        "UseDefaultProcessorFeatures": "CFN docs: Some interruptions",
        "CertificateRotationRestart": "CFN docs: Some interruptions",
    },
    "AWS::EC2::Instance": {
        "InstanceType": "CFN docs: Some interruptions (EBS-backed instance stops and starts)",
        "UserData": "CFN docs: Some interruptions (instance stops and starts)",
        "EbsOptimized": "CFN docs: Some interruptions",
    },
    "AWS::ElastiCache::CacheCluster": {
        "CacheNodeType": "CFN docs: Some interruptions",
    },
}


def _int(value: Any, default: int) -> int | None:
    if value is None:
        return default
    try:
        return int(value)
    except (TypeError, ValueError):
        return None  # an intrinsic: unknown until deploy


def _key_ref(value: Any) -> Any:
    """{'Ref': K} and {'Fn::GetAtt': [K, 'Arn']} name the same key: compare by logical id."""
    if isinstance(value, dict):
        if "Ref" in value:
            return ("key", value["Ref"])
        getatt = value.get("Fn::GetAtt")
        if isinstance(getatt, list) and getatt and getatt[-1] in ("Arn", "KeyId"):
            return ("key", getatt[0])
    return value


RuleFunc = Callable[[Any, Any, Mapping[str, Any], Mapping[str, Any]], Verdict]


def _rds_backup_retention(
    before: Any, after: Any, _b: Mapping[str, Any], _a: Mapping[str, Any]
) -> Verdict:
    old, new = _int(before, 1), _int(after, 1)
    if old is None or new is None:
        return Verdict(
            INTERRUPTION,
            "BackupRetentionPeriod is computed at deploy; assuming the 0 <-> non-zero restart",
        )
    if old > 0 and new > 0:
        return Verdict(
            NO_INTERRUPTION,
            f"RDS guide: {old} -> {new} days, both non-zero: applied without an outage",
        )
    return Verdict(
        INTERRUPTION,
        f"RDS guide: {old} -> {new} days switches automated backups "
        "on/off: the instance restarts (brief outage)",
    )


def _rds_multi_az(before: Any, after: Any, _b: Mapping[str, Any], _a: Mapping[str, Any]) -> Verdict:
    if str(after).lower() == "true":
        return Verdict(
            NO_INTERRUPTION,
            "CFN docs: No interruption. RDS guide: converting to "
            "Multi-AZ takes a snapshot and restores a standby in another AZ with no "
            "downtime, but I/O latency rises until the standby is in sync",
        )
    return Verdict(NO_INTERRUPTION, "CFN docs: No interruption (the standby is removed)")


def _rds_allocated_storage(
    before: Any, after: Any, _b: Mapping[str, Any], _a: Mapping[str, Any]
) -> Verdict:
    old, new = _int(before, 0), _int(after, 0)
    if old is not None and new is not None and old and new < old:
        return Verdict(
            INTERRUPTION,
            f"RDS cannot shrink storage ({old} -> {new} GiB)",
            blocker=f"AllocatedStorage {old} -> {new} GiB: RDS cannot reduce storage; the update "
            "fails and the stack rolls back",
        )
    return Verdict(
        NO_INTERRUPTION,
        "CFN docs: No interruption (storage grows online; further "
        "changes wait 6 hours after a storage modification)",
    )


def _rds_snapshot(before: Any, after: Any, _b: Mapping[str, Any], _a: Mapping[str, Any]) -> Verdict:
    if not before and after:
        what = "added to an existing instance: CloudFormation restores a NEW instance from it"
    elif before and not after:
        what = "removed: CloudFormation creates a new, EMPTY instance"
    else:
        what = "changed: CloudFormation restores a new instance from the other snapshot"
    return Verdict(
        REPLACEMENT,
        f"CFN docs (DBSnapshotIdentifier): {what} and deletes the "
        "current one; the snapshot id must stay set, unchanged, on every later deploy",
    )


def _rds_pi_key(before: Any, after: Any, _b: Mapping[str, Any], _a: Mapping[str, Any]) -> Verdict:
    if not before:
        return Verdict(
            NO_INTERRUPTION,
            "CFN docs: setting a Performance Insights key on an instance without one is an update",
        )
    if not after:
        return Verdict(
            NO_INTERRUPTION,
            "CFN docs: removing PerformanceInsightsKMSKeyId does not replace the instance",
        )
    if _key_ref(before) == _key_ref(after):
        return Verdict(NO_INTERRUPTION, "CFN docs: another identifier format of the same key")
    return Verdict(
        REPLACEMENT,
        "CFN docs: once Performance Insights is enabled with a KMS key, "
        "a different key replaces the instance",
    )


def _rds_engine(before: Any, after: Any, _b: Mapping[str, Any], _a: Mapping[str, Any]) -> Verdict:
    if isinstance(before, str) and isinstance(after, str) and after == f"{before}-cdb":
        return Verdict(INTERRUPTION, "CFN docs: Oracle non-CDB to CDB conversion interrupts")
    return Verdict(REPLACEMENT, "CFN docs: a different engine creates a new instance")


def _rds_source_instance(
    before: Any, after: Any, _b: Mapping[str, Any], _a: Mapping[str, Any]
) -> Verdict:
    if before and not after:
        return Verdict(
            INTERRUPTION,
            "CFN docs: removing SourceDBInstanceIdentifier promotes the read replica (it restarts)",
        )
    return Verdict(REPLACEMENT, "CFN docs: a different replication source replaces the replica")


def _in_place(reason: str) -> RuleFunc:
    def rule(_x: Any, _y: Any, _b: Mapping[str, Any], _a: Mapping[str, Any]) -> Verdict:
        return Verdict(NO_INTERRUPTION, reason)

    return rule


def _replaces(reason: str) -> RuleFunc:
    def rule(_x: Any, _y: Any, _b: Mapping[str, Any], _a: Mapping[str, Any]) -> Verdict:
        return Verdict(REPLACEMENT, reason)

    return rule


# PostgreSQL parameters of context "postmaster" (PostgreSQL docs, pg_settings.context): a change
# waits for a restart. RDS marks them "static"; CFN docs (ApplyImmediately): with the default
# true, CloudFormation reboots the instances using the group when a static parameter changes.
STATIC_POSTGRES_PARAMETERS = frozenset(
    {
        "autovacuum_max_workers",
        "archive_mode",
        "huge_pages",
        "max_connections",
        "max_files_per_process",
        "max_locks_per_transaction",
        "max_logical_replication_workers",
        "max_pred_locks_per_transaction",
        "max_prepared_transactions",
        "max_replication_slots",
        "max_wal_senders",
        "max_worker_processes",
        "old_snapshot_threshold",
        "pg_stat_statements.max",
        "rds.logical_replication",
        "shared_buffers",
        "shared_preload_libraries",
        "superuser_reserved_connections",
        "track_activity_query_size",
        "track_commit_timestamp",
        "wal_buffers",
        "wal_level",
        "wal_log_hints",
        "cron.database_name",
    }
)


def _parameter_group_parameters(
    before: Any, after: Any, _b: Mapping[str, Any], _a: Mapping[str, Any]
) -> Verdict:
    old = before if isinstance(before, dict) else {}
    new = after if isinstance(after, dict) else {}
    changed = sorted(k for k in set(old) | set(new) if str(old.get(k)) != str(new.get(k)))
    static = [k for k in changed if k in STATIC_POSTGRES_PARAMETERS]
    if static:
        return Verdict(
            INTERRUPTION,
            f"static parameter(s) {', '.join(static)}: applied by a reboot of every instance "
            "using the group (CFN docs, ApplyImmediately default true; PostgreSQL docs: context "
            "postmaster); when the instance class changes in the same deploy, its restart "
            "applies them",
        )
    return Verdict(
        NO_INTERRUPTION,
        f"dynamic parameter(s) {', '.join(changed) or '(none)'}: applied online (not in the "
        "postmaster-context list)",
    )


# Rules by type and top-level property. They resolve the schema's conditional cases and override
# the default "mutable = no interruption" where the documentation says more.
RULES: dict[str, dict[str, RuleFunc]] = {
    "AWS::RDS::DBInstance": {
        "BackupRetentionPeriod": _rds_backup_retention,
        "MultiAZ": _rds_multi_az,
        "AllocatedStorage": _rds_allocated_storage,
        "DBSnapshotIdentifier": _rds_snapshot,
        "DBClusterSnapshotIdentifier": _rds_snapshot,
        "PerformanceInsightsKMSKeyId": _rds_pi_key,
        "Engine": _rds_engine,
        "SourceDBInstanceIdentifier": _rds_source_instance,
        "AutoMinorVersionUpgrade": _in_place(
            "CFN docs: No interruption (create-only for RDS Custom only)"
        ),
        "PreferredMaintenanceWindow": _in_place("CFN docs: No interruption"),
        "DeletionProtection": _in_place("CFN docs: No interruption"),
        "MaxAllocatedStorage": _in_place("CFN docs: No interruption"),
        "RestoreTime": _replaces("CFN docs: point-in-time restore settings create a new instance"),
        "UseLatestRestorableTime": _replaces(
            "CFN docs: point-in-time restore settings create a new instance"
        ),
        "SourceDBInstanceAutomatedBackupsArn": _replaces("CFN docs: restore source"),
        "SourceDbiResourceId": _replaces("CFN docs: restore source"),
        "SourceDBClusterIdentifier": _replaces("CFN docs: restore source"),
    },
    "AWS::RDS::DBParameterGroup": {"Parameters": _parameter_group_parameters},
}


def known_property_classes() -> dict[str, dict[str, list[str]]]:
    """Every property the planner judges beyond the schemas, by type and class (for docs)."""
    result: dict[str, dict[str, list[str]]] = {}
    for type_name, props in INTERRUPTION_PROPERTIES.items():
        result.setdefault(type_name, {}).setdefault(INTERRUPTION, []).extend(sorted(props))
    for type_name, rules in RULES.items():
        result.setdefault(type_name, {}).setdefault("rule-based", []).extend(sorted(rules))
    return result


def apply_immediately(properties: Mapping[str, Any]) -> bool:
    """CFN docs (ApplyImmediately): default true, i.e. changes are made during the deploy."""
    return str(properties.get("ApplyImmediately", True)).lower() != "false"
