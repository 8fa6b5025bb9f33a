"""What the provider schemas cannot say: interruptions and the conditional replacement cases.

The cfn-lint schemas (schemas.py) say which properties are create-only (always replace) and
which are *conditionally* create-only (may replace). They say nothing about interruptions. This
module holds the documented facts, each with its source, so that a reviewer can check them:

- "CFN docs": the AWS::RDS::DBInstance reference in the CloudFormation User Guide ("Update
  requires: ..." per property) and the property descriptions shipped in the schema itself
  (DBSnapshotIdentifier, PerformanceInsightsKMSKeyId, SourceDBInstanceIdentifier, ApplyImmediately).
- "RDS handler": the AWS::RDS::DBInstance resource provider that CloudFormation runs,
  github.com/aws-cloudformation/aws-cloudformation-resource-providers-rds (read at 5a410e8,
  2025-07-29), `ImmutabilityHelper.isChangeMutable`: the update handler returns NotUpdatable for
  a conditionally create-only change it cannot apply, and CloudFormation then *replaces* the
  resource (CloudFormation CLI resource-schema docs, conditionalCreateOnlyProperties: "the
  resource will be replaced if it cannot be updated").
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


# The property that gives a resource its own physical name is derived from the provider schemas
# (schemas.py, `name_property`): CFN docs (e.g. DBInstanceIdentifier): "If you specify a
# name, you cannot perform updates that require replacement of this resource": the new resource
# is created before the old one is deleted, and the name is still taken.
def physical_name_property(type_name: str) -> str | None:
    from ops.planning.schemas import resource_schema

    return resource_schema(type_name).name_property


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
        "StorageType": "CFN docs: Some interruptions (storage conversion; restart for some types)",
        "CACertificateIdentifier": "CFN docs: Some interruptions (restart to load the certificate)",
        "DBParameterGroupName": "CFN docs: Some interruptions (a new parameter group takes effect "
        "after a reboot, which CloudFormation performs when ApplyImmediately is true)",
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


def _empty(value: Any) -> bool:
    return value is None or value == ""


def _rds_snapshot(before: Any, after: Any, _b: Mapping[str, Any], _a: Mapping[str, Any]) -> Verdict:
    """RDS handler isDBSnapshotIdentifierMutable: unchanged, or unset in the new template."""
    if _empty(after):
        return Verdict(
            NO_INTERRUPTION,
            "RDS handler (isDBSnapshotIdentifierMutable, since PR #351, 2022-11): removing the "
            "snapshot id from a restored instance is an update, not a restore; the data stays",
        )
    what = (
        "added to an existing instance: CloudFormation restores a NEW instance from it"
        if _empty(before)
        else "changed: CloudFormation restores a new instance from the other snapshot"
    )
    return Verdict(
        REPLACEMENT,
        f"CFN docs (DBSnapshotIdentifier) and RDS handler: {what} and deletes the current one; "
        "the snapshot id must stay set, unchanged, on every later deploy (or be removed)",
    )


def _rds_pi_key(before: Any, after: Any, _b: Mapping[str, Any], _a: Mapping[str, Any]) -> Verdict:
    """RDS handler isPerformanceInsightsKMSKeyIdMutable: previous unset, or exactly equal."""
    if _empty(before):
        return Verdict(
            NO_INTERRUPTION,
            "RDS handler: setting a Performance Insights key on an instance without one is an "
            "update",
        )
    return Verdict(
        REPLACEMENT,
        "RDS handler (isPerformanceInsightsKMSKeyIdMutable): once a Performance Insights key "
        "is set, any other value, another identifier format of the same key or removing it "
        "replaces the instance",
    )


def _rds_availability_zone(
    before: Any, after: Any, _b: Mapping[str, Any], head: Mapping[str, Any]
) -> Verdict:
    """RDS handler isAvailabilityZoneChangeMutable: unchanged, or unset on a Multi-AZ target."""
    multi_az = str(head.get("MultiAZ", "false")).lower() == "true"
    if _empty(after) and multi_az:
        return Verdict(
            NO_INTERRUPTION,
            "RDS handler (isAvailabilityZoneChangeMutable): dropping the AZ of an instance that "
            "is Multi-AZ after the deploy is an update",
        )
    what = "set" if _empty(before) else "removed" if _empty(after) else "changed"
    return Verdict(
        REPLACEMENT,
        f"RDS handler (isAvailabilityZoneChangeMutable): AvailabilityZone {what} on a single-AZ "
        "instance is not updatable: CloudFormation creates a new instance in that AZ",
    )


def _restore_source(name: str, *, removed_is_update: bool = True) -> RuleFunc:
    """RDS handler is<name>Mutable: unchanged or unset in the new template (restore inputs)."""

    def rule(before: Any, after: Any, _b: Mapping[str, Any], _a: Mapping[str, Any]) -> Verdict:
        if removed_is_update and (_empty(after) or str(after).lower() == "false"):
            return Verdict(
                NO_INTERRUPTION,
                f"RDS handler (is{name}Mutable): unsetting a restore input is an update",
            )
        return Verdict(
            REPLACEMENT,
            f"RDS handler (is{name}Mutable): a new or different restore input creates a new "
            "instance restored from it",
        )

    return rule


def _rds_source_instance(
    before: Any, after: Any, _b: Mapping[str, Any], _a: Mapping[str, Any]
) -> Verdict:
    if before and not after:
        return Verdict(
            INTERRUPTION,
            "CFN docs and RDS handler (isSourceDBInstanceIdentifierMutable): removing "
            "SourceDBInstanceIdentifier promotes the read replica (it restarts)",
        )
    return Verdict(REPLACEMENT, "CFN docs: a different replication source replaces the replica")


def _rds_storage_encrypted(
    before: Any, after: Any, _b: Mapping[str, Any], _a: Mapping[str, Any]
) -> Verdict:
    old, new = str(before).lower() == "true", str(after).lower() == "true"
    if old == new:
        return Verdict(
            REPLACEMENT,
            f"create-only (provider schema): {before!r} -> {after!r} is the same effective value, "
            "but CloudFormation compares the template values and replaces the instance",
        )
    if after is None:
        return Verdict(
            REPLACEMENT,
            "create-only (provider schema): StorageEncrypted removed (an instance restored from a "
            "snapshot inherits the snapshot's encryption); CloudFormation creates a new instance",
        )
    direction = "turned off" if old else "turned on"
    return Verdict(
        REPLACEMENT,
        f"create-only (provider schema); RDS guide (Limitations of encrypted DB instances): "
        f"encryption cannot be {direction} on an existing instance, so CloudFormation creates "
        "a new one",
    )


def _version(value: Any) -> tuple[int, ...] | None:
    parts = str(value).split(".")
    if value is None or not all(p.isdigit() for p in parts):
        return None
    return tuple(int(p) for p in parts)


def major_version(engine: str, version: tuple[int, ...]) -> tuple[int, ...]:
    """RDS guide: PostgreSQL 10+ majors are the first number (16.4 -> 16), older ones and
    MySQL/MariaDB/others the first two (9.6, 8.0, 8.4)."""
    if engine.startswith("postgres") and version[0] >= 10:
        return version[:1]
    return version[:2]


def _rds_engine_version(
    before: Any, after: Any, _b: Mapping[str, Any], head: Mapping[str, Any]
) -> Verdict:
    old, new = _version(before), _version(after)
    if old is None or new is None:
        return Verdict(
            INTERRUPTION,
            "CFN docs: Some interruptions (engine upgrade restarts the instance); the version "
            "is not a literal here, so upgrade/downgrade cannot be judged",
        )
    engine = str(head.get("Engine", ""))
    old_major, new_major = major_version(engine, old), major_version(engine, new)
    common = min(len(old), len(new))  # "16" and "16.4": the same major, not a downgrade
    if new[:common] < old[:common]:
        return Verdict(
            INTERRUPTION,
            f"engine downgrade {before} -> {after}",
            blocker=f"EngineVersion {before} -> {after}: RDS cannot downgrade an engine "
            "(ModifyDBInstance accepts only upgrade targets); the update fails and rolls back",
        )
    if new_major != old_major:
        if str(head.get("AllowMajorVersionUpgrade", "false")).lower() != "true":
            return Verdict(
                INTERRUPTION,
                f"major upgrade {before} -> {after} without AllowMajorVersionUpgrade",
                blocker=f"EngineVersion {before} -> {after} is a major upgrade and "
                "AllowMajorVersionUpgrade is not true: CFN docs (AllowMajorVersionUpgrade: "
                "'Major version upgrades must be allowed when specifying a value for the "
                "EngineVersion parameter that is a different major version'); the update fails",
            )
        return Verdict(
            INTERRUPTION,
            f"CFN docs: Some interruptions. RDS guide: a major upgrade {before} -> {after} takes "
            "the instance offline for the whole upgrade (pg_upgrade); the parameter group's "
            "family must match the new major version",
        )
    return Verdict(
        INTERRUPTION,
        f"CFN docs: Some interruptions (minor upgrade {before} -> {after} restarts the instance)",
    )


def _rds_engine(before: Any, after: Any, _b: Mapping[str, Any], _a: Mapping[str, Any]) -> Verdict:
    if isinstance(before, str) and isinstance(after, str) and after == f"{before}-cdb":
        return Verdict(INTERRUPTION, "CFN docs: Oracle non-CDB to CDB conversion interrupts")
    return Verdict(REPLACEMENT, "CFN docs: a different engine creates a new instance")


def _in_place(reason: str) -> RuleFunc:
    def rule(_x: Any, _y: Any, _b: Mapping[str, Any], _a: Mapping[str, Any]) -> Verdict:
        return Verdict(NO_INTERRUPTION, reason)

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


# Route 53 records: the CFN docs (AWS::Route53::RecordSet) say Failover, SetIdentifier and
# HealthCheckId update with "No interruption", and the provider schema agrees (only the hosted
# zone is create-only). But a record is identified by name, type and set identifier: Route 53
# cannot UPSERT a record into one of another identity. Turning a simple record into a failover
# record is a DELETE of the old and a CREATE of the new (LocalStack's model of the handler,
# localstack/localstack PR 13627: "you cannot update a value that has a different SetIdentifier,
# it has to be deleted and recreated"); Route 53 applies one change batch atomically, but
# whether CloudFormation sends both in one batch is not documented, so the plan assumes the
# worst: a short window in which the name does not resolve and resolvers cache NXDOMAIN for the
# zone's negative TTL (the SOA's last field). Route 53 also refuses a failover record beside a
# simple record of the same name and type ("You can't create non-failover resource record sets
# that have the same values for the Name and Type elements as failover resource record sets"),
# so the SECONDARY (standby stack) can only be created after the PRIMARY conversion.
_RECORD_IDENTITY = (
    "CFN docs: No interruption, but the record's identity (name, type, set identifier) "
    "changes: Route 53 cannot UPSERT across identities, so the simple record is deleted and the "
    "{role} record created; unless CloudFormation sends both in one (atomic) change batch, "
    "resolvers asking in between get NXDOMAIN and cache it for the zone's negative TTL: deploy "
    "in a quiet window and `dig` the name afterwards"
)


def _record_set_identifier(
    before: Any, after: Any, _b: Mapping[str, Any], head: Mapping[str, Any]
) -> Verdict:
    if _empty(before) and not _empty(head.get("Failover")):
        return Verdict(
            INTERRUPTION, "with Failover: the record becomes a failover record (see there)"
        )
    if _empty(before) or _empty(after) or before != after:
        role = str(head.get("Failover") or "routing-policy").upper()
        return Verdict(INTERRUPTION, _RECORD_IDENTITY.format(role=role))
    return Verdict(NO_INTERRUPTION, "CFN docs: No interruption")


def _record_failover(
    before: Any, after: Any, base: Mapping[str, Any], head: Mapping[str, Any]
) -> Verdict:
    if _empty(before) and not _empty(after):
        return Verdict(
            INTERRUPTION,
            f"simple record -> {after} failover record: "
            + _RECORD_IDENTITY.format(role=str(after))
            + "; afterwards Route 53 answers with it while its health check is healthy"
            + (", else with the SECONDARY" if str(after) == "PRIMARY" else ""),
        )
    if not _empty(before) and _empty(after):
        return Verdict(
            INTERRUPTION,
            f"{before} failover record -> simple record: "
            + _RECORD_IDENTITY.format(role="simple")
            + "; remove its partner record first (Route 53 refuses a simple record beside a "
            "failover one)",
        )
    if base.get("SetIdentifier") == head.get("SetIdentifier"):
        return Verdict(
            NO_INTERRUPTION,
            f"CFN docs: No interruption: failover role {before} -> {after} is an UPSERT of the "
            "same record; answers switch to the new PRIMARY as resolvers' caches expire (TTL)",
        )
    return Verdict(INTERRUPTION, _RECORD_IDENTITY.format(role=str(after)))


def _record_health_check(
    before: Any, after: Any, _b: Mapping[str, Any], head: Mapping[str, Any]
) -> Verdict:
    if _empty(after):
        return Verdict(
            NO_INTERRUPTION,
            "CFN docs: No interruption; the record is answered regardless of health from now on",
        )
    what = (
        " (a PRIMARY: unhealthy fails over to the SECONDARY)"
        if head.get("Failover") == "PRIMARY"
        else ""
    )
    return Verdict(
        NO_INTERRUPTION,
        "CFN docs: No interruption; Route 53 answers with the record only while this health "
        f"check is healthy{what}",
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
        "AvailabilityZone": _rds_availability_zone,
        "EngineVersion": _rds_engine_version,
        "StorageEncrypted": _rds_storage_encrypted,
        "RestoreTime": _restore_source("RestoreTime"),
        "UseLatestRestorableTime": _restore_source("UseLatestRestorableTime"),
        "SourceDBInstanceAutomatedBackupsArn": _restore_source(
            "SourceDBInstanceAutomatedBackupsArn"
        ),
        "SourceDbiResourceId": _restore_source("SourceDbiResourceId"),
        "SourceDBClusterIdentifier": _restore_source("SourceDBClusterIdentifier"),
    },
    "AWS::RDS::DBParameterGroup": {"Parameters": _parameter_group_parameters},
    "AWS::Route53::RecordSet": {
        "SetIdentifier": _record_set_identifier,
        "Failover": _record_failover,
        "HealthCheckId": _record_health_check,
    },
}


# DeletionPolicy / UpdateReplacePolicy strength. CFN docs (DeletionPolicy attribute): without the
# attribute a resource is deleted, "Exception: The default policy is Snapshot for
# AWS::RDS::DBCluster resources and for AWS::RDS::DBInstance resources that don't specify the
# DBClusterIdentifier property". The UpdateReplacePolicy page documents no such exception, so an
# absent UpdateReplacePolicy counts as Delete (the cautious reading).
POLICY_STRENGTH = {"Delete": 0, "Snapshot": 1, "RetainExceptOnCreate": 2, "Retain": 2}


def effective_policy(
    attribute: str, value: Any, type_name: str, properties: Mapping[str, Any]
) -> str:
    if isinstance(value, str) and value in POLICY_STRENGTH:
        return value
    if (
        attribute == "DeletionPolicy"
        and type_name in ("AWS::RDS::DBCluster", "AWS::RDS::DBInstance")
        and (type_name == "AWS::RDS::DBCluster" or "DBClusterIdentifier" not in properties)
    ):
        return "Snapshot"
    return "Delete"


def weakened_policy(
    attribute: str,
    before: Any,
    after: Any,
    type_name: str,
    base_props: Mapping[str, Any],
    head_props: Mapping[str, Any],
) -> str | None:
    """'Retain -> Delete' when a stateful resource's policy now keeps less, else None."""
    if type_name not in STATEFUL_TYPES:
        return None
    old = effective_policy(attribute, before, type_name, base_props)
    new = effective_policy(attribute, after, type_name, head_props)
    if POLICY_STRENGTH[new] < POLICY_STRENGTH[old]:
        return f"{old} -> {new}"
    return None


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
