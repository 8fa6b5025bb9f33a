"""The configuration schema: environments and the restaurants (tenants) they host.

Every rule that protects a deployment lives here and runs once, when the files are loaded, so
that a bad value stops `cdk synth` before anything is written. Field descriptions are the
configuration reference (the README's table is generated from them).
"""

from __future__ import annotations

import re
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

from config import rules

# One slug ends up in a stack name (chefs-kiss-<env>-tenant-<slug>, 128 max), an RDS instance
# identifier (chefs-kiss-<env>-<slug>, 63 max, no "--", no trailing "-"), an IAM role name
# (chefs-kiss-<env>-tenant-<slug>-access, 64 max) and a DNS label (<slug>.<domain>, 63 max).
# With an environment name of at most 12 characters, 24 keeps every one of them in bounds.
SLUG_MAX = 24
ENV_NAME_MAX = 12
# Always matched with fullmatch: `$` would also match before a final newline ("bella\n").
SLUG_PATTERN = re.compile(r"[a-z](?:[a-z0-9]|-(?!-))*[a-z0-9]")
ENV_NAME_PATTERN = re.compile(r"[a-z][a-z0-9]*")

# The most restaurants one environment may hold, checked before anything is synthesized: the
# count docs/scale.md measured the platform for (subnets, listener rules, dashboards). Beyond it
# hard limits follow: IAM allows at most 5,000 roles per account (2.6 per restaurant, so about
# 1,900 restaurants), and each restaurant is two CloudFormation stacks.
MAX_RESTAURANTS = 1000

Tier = Literal["poc", "production"]
Profile = Literal["poc", "production"]
Size = Literal["small", "medium", "large"]
CpuArchitecture = Literal["arm64", "x86_64"]

# Seed 4.2: small / medium / large tenants run on t4g.micro / t4g.small / t4g.medium.
SIZE_TO_INSTANCE_CLASS: dict[str, str] = {
    "small": "db.t4g.micro",
    "medium": "db.t4g.small",
    "large": "db.t4g.medium",
}
# Seed 2.2 / 3.2: a PoC tenant is a db.t4g.micro, a production tenant a db.t4g.small.
DEFAULT_SIZE_BY_TIER: dict[str, str] = {"poc": "small", "production": "medium"}
DEFAULT_BACKUP_DAYS_BY_TIER: dict[str, int] = {"poc": 1, "production": 7}
# Issue 15: a PoC-tier restaurant in a production-profile environment holds real restaurant
# data, so it keeps at least this many days of backups (free up to the allocated storage).
PRODUCTION_ENVIRONMENT_MIN_BACKUP_DAYS = 7

# RDS for PostgreSQL on gp3: 20 GiB to 64 TiB.
STORAGE_MIN_GB = 20
STORAGE_MAX_GB = 65536


# nginx-unprivileged: runs as user 101, listens on 8080, writes only to /tmp (issue 15).
DEFAULT_APP_IMAGE = "public.ecr.aws/nginx/nginx-unprivileged:stable-alpine"


class FieldError(ValueError):
    """A rule broken below the model that checks it: `field` is relative to that model, `value`
    is what the file says. The loader prints `<file>: <field>: <message>; got <value>`."""

    def __init__(self, field: str, message: str, value: Any = None) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message
        self.value = value


def validate_slug(value: str) -> str:
    if len(value) < 2 or len(value) > SLUG_MAX:
        raise ValueError(f"must be 2 to {SLUG_MAX} characters long (got {len(value)})")
    if not SLUG_PATTERN.fullmatch(value):
        raise ValueError(
            "allowed: lowercase letters, digits and single hyphens, starting with a letter "
            "and ending with a letter or digit (e.g. 'bella-napoli')"
        )
    return value


def validate_region(value: str) -> str:
    return rules.check_region(value)


def _as_tuple(value: Any) -> Any:
    """YAML lists arrive as lists; the models keep tuples (frozen, hashable)."""
    return tuple(value) if isinstance(value, list) else value


def _no_bool(value: Any) -> Any:
    """Literal[1, 2] accepts True even in strict mode (True == 1): refuse booleans."""
    if isinstance(value, bool):
        raise ValueError("expected a whole number, not true/false")
    return value


class _Strict(BaseModel):
    # strict: no coercion, so `true` is not the number 1 and "30" is not 30 (issue 12).
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class DomainConfig(_Strict):
    """The public DNS zone the environment serves from; each restaurant gets `<slug>.<name>`."""

    name: str = Field(description="Apex domain of the environment, e.g. `app.chefskiss.example`.")
    hosted_zone_id: str = Field(
        description="Route 53 hosted zone id of `name` (no lookup is made at synth time)."
    )

    @field_validator("name")
    @classmethod
    def _domain_name(cls, value: str) -> str:
        """A lowercase DNS name of at most 64 characters (ACM's limit for a certificate's
        first name, which is this domain)."""
        reason = rules.check_dns_name(value, max_length=rules.ACM_DOMAIN_MAX)
        if reason:
            raise ValueError(
                f"{reason}; allowed: a lowercase DNS name of at most {rules.ACM_DOMAIN_MAX} "
                "characters such as 'app.example.com'"
            )
        return value

    @field_validator("hosted_zone_id")
    @classmethod
    def _zone_id(cls, value: str) -> str:
        if not rules.HOSTED_ZONE_ID.fullmatch(value):
            raise ValueError("allowed: a Route 53 zone id such as 'Z0123456789ABCDEFGHIJ'")
        return value


class AppConfig(_Strict):
    """The shared application service (seed 1.1: one Fargate service for every restaurant)."""

    image: str = Field(
        default=DEFAULT_APP_IMAGE,
        description="Container image of the app: `[registry/]repository[:tag]`, optionally "
        "pinned by digest (`...@sha256:<64 hex>`), at most 255 characters. The default is a "
        "public multi-arch image that serves HTTP on port 8080 as a non-root user with a "
        "read-only root filesystem, so a first deploy works before the real app exists. Pin it "
        "by digest in production.",
    )
    cpu_architecture: CpuArchitecture = Field(
        default="arm64",
        description="Fargate CPU architecture; ARM64 (Graviton) is about 20% cheaper.",
    )
    cpu: Literal[256, 512, 1024, 2048, 4096] = Field(
        default=512, description="Task CPU units (512 = 0.5 vCPU, the seed's size)."
    )
    memory_mib: int = Field(
        default=1024,
        ge=512,
        le=30720,
        description="Task memory in MiB (1024 = the seed's 1 GB); a value Fargate allows for "
        "`cpu` (256: 512-2048; 512: 1024-4096; 1024: 2048-8192; 2048: 4096-16384; "
        "4096: 8192-30720; in steps of 1024).",
    )
    container_port: int = Field(
        default=8080,
        ge=1,
        le=65535,
        description="Port the app listens on. Use 1024 or above: the app runs as a non-root "
        "user without Linux capabilities (no CAP_NET_BIND_SERVICE).",
    )
    health_check_path: str = Field(
        default="/",
        description="HTTP path the load balancer probes: `/` then up to 1023 printable "
        "characters, no spaces.",
    )

    @field_validator("cpu", mode="before")
    @classmethod
    def _cpu_not_bool(cls, value: Any) -> Any:
        return _no_bool(value)

    @field_validator("image")
    @classmethod
    def _image(cls, value: str) -> str:
        """A container image reference ECS can pull (tag and/or sha256 digest)."""
        reason = rules.check_image(value)
        if reason:
            raise ValueError(reason)
        return value

    @field_validator("health_check_path")
    @classmethod
    def _health_check_path(cls, value: str) -> str:
        if not rules.HEALTH_CHECK_PATH.fullmatch(value):
            raise ValueError(
                "allowed: a path starting with '/', at most 1024 printable characters without "
                "spaces (ELB HealthCheckPath), e.g. '/health'"
            )
        return value

    # At most MAX_RESTAURANTS: the table extrapolated to 10,000 tenants asks for 800+ tasks,
    # beyond the default Fargate vCPU quota of an account.
    capacity_tenants: int | None = Field(
        default=None,
        ge=1,
        le=MAX_RESTAURANTS,
        description="Tenant count the task counts are sized for (seed 3.2-3.7 table). Default: the "
        "restaurant count rounded up to the next table row (1, 5, 10, 25, 50, 100, then hundreds), "
        "so adding a restaurant within a row leaves the platform stack unchanged.",
    )
    min_tasks: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="Override the minimum task count (default: from the profile and tenant count).",
    )
    max_tasks: int | None = Field(
        default=None,
        ge=1,
        le=1000,
        description="Override the maximum task count (default: from the profile and tenant count).",
    )

    @model_validator(mode="after")
    def _task_bounds(self) -> AppConfig:
        if self.min_tasks and self.max_tasks and self.min_tasks > self.max_tasks:
            raise FieldError(
                "max_tasks",
                f"must not be below min_tasks ({self.min_tasks})",
                self.max_tasks,
            )
        allowed = rules.FARGATE_MEMORY[self.cpu]
        if self.memory_mib not in allowed:
            raise FieldError(
                "memory_mib",
                f"Fargate does not offer this memory with cpu {self.cpu}; allowed: "
                f"{allowed[0]} to {allowed[-1]} MiB"
                + (f" in steps of {allowed[1] - allowed[0]}" if len(allowed) > 3 else "")
                + (f" ({', '.join(map(str, allowed))})" if len(allowed) <= 3 else ""),
                self.memory_mib,
            )
        return self


class AlertsConfig(_Strict):
    """Who hears about alarms (seed 9.2): one SNS topic per severity."""

    warning_emails: tuple[str, ...] = Field(
        default=(), description="Addresses subscribed to warning alarms, each listed once."
    )
    critical_emails: tuple[str, ...] = Field(
        default=(),
        description="Addresses subscribed to critical alarms; the production profile needs at "
        "least one.",
    )

    @field_validator("warning_emails", "critical_emails", mode="before")
    @classmethod
    def _list(cls, value: Any) -> Any:
        return _as_tuple(value)

    @field_validator("warning_emails", "critical_emails")
    @classmethod
    def _emails(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        """E-mail addresses SNS can subscribe, each once."""
        seen: dict[str, int] = {}
        for index, value in enumerate(values):
            reason = rules.check_email(value)
            if reason:
                raise FieldError(f"[{index}]", reason, value)
            key = value.lower()
            if key in seen:
                raise FieldError(
                    f"[{index}]", f"duplicate of [{seen[key]}]: list each address once", value
                )
            seen[key] = index
        return values


# The log kinds of seed 4.4; each has a CloudWatch retention and an archive retention.
LOG_KINDS = ("app", "access", "audit")
ArchiveStorageClass = Literal["glacier-instant-retrieval", "deep-archive"]
# S3 User Guide, "Understanding and managing Amazon S3 storage classes": an object deleted
# before its class's minimum storage duration is billed for the rest of it.
ARCHIVE_MIN_STORAGE_DAYS: dict[str, int] = {"glacier-instant-retrieval": 90, "deep-archive": 180}
ARCHIVE_MAX_DAYS = 3653  # ten years, CloudWatch's own longest retention
ARCHIVE_DEFAULT_DAYS = 365  # "long-term storage" (seed 4.4): a year unless configured


class LogArchiveConfig(_Strict):
    """Seed 4.4: every log group's events are also archived to S3 (docs/log-archive.md); each
    kind moves to the cold storage class when its CloudWatch retention ends."""

    app_days: int | None = Field(
        default=None,
        description="Days archived application logs are kept, from when written: 1 to 3653, "
        "and at least `logs.app_days` plus the storage class's minimum storage duration. "
        "Default: 365, or that minimum when it is longer.",
    )
    access_days: int | None = Field(
        default=None,
        description="Days archived access logs (WAF, PostgreSQL) are kept; the same rules and "
        "default with `logs.access_days`.",
    )
    audit_days: int | None = Field(
        default=None,
        description="Days archived audit logs (VPC flow logs, CloudTrail) are kept; the same "
        "rules and default with `logs.audit_days`.",
    )
    storage_class: ArchiveStorageClass = Field(
        default="glacier-instant-retrieval",
        description="Where archived logs go when their CloudWatch retention ends: "
        "`glacier-instant-retrieval` ($0.004/GB-month, read in milliseconds, 90-day minimum) or "
        "`deep-archive` ($0.00099/GB-month, restored in up to 12 hours (48 in bulk) before "
        "reading, 180-day minimum).",
    )

    @field_validator("app_days", "access_days", "audit_days")
    @classmethod
    def _archive_days(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= ARCHIVE_MAX_DAYS:
            raise ValueError(f"allowed: 1 to {ARCHIVE_MAX_DAYS} days")
        return value


class LogRetentionConfig(_Strict):
    """Seed 4.4: keep logs only as long as they are useful."""

    app_days: int = Field(default=7, description="Application logs (troubleshooting).")
    access_days: int = Field(
        default=30, description="Access logs: ALB, S3, WAF and PostgreSQL logs (security auditing)."
    )
    audit_days: int = Field(default=90, description="Audit logs: VPC flow logs, CloudTrail.")
    archive: LogArchiveConfig = Field(
        default_factory=LogArchiveConfig,
        description="The S3 archive of every log group (seed 4.4: past the retention above).",
    )

    @field_validator("app_days", "access_days", "audit_days")
    @classmethod
    def _cloudwatch_period(cls, value: int) -> int:
        if value not in rules.LOG_RETENTION_DAYS:
            raise ValueError(f"allowed: one of CloudWatch's periods {rules.LOG_RETENTION_DAYS}")
        return value

    @model_validator(mode="after")
    def _archive_outlives_cloudwatch(self) -> LogRetentionConfig:
        """An archived object moves to the cold class when the kind's CloudWatch retention ends
        and must then stay its class's minimum storage duration (else S3 bills it anyway)."""
        storage_class = self.archive.storage_class
        minimum = ARCHIVE_MIN_STORAGE_DAYS[storage_class]
        for kind in LOG_KINDS:
            cloudwatch = self.cold_after_days(kind)
            days = getattr(self.archive, f"{kind}_days")
            if days is not None and days < cloudwatch + minimum:
                raise FieldError(
                    f"archive.{kind}_days",
                    f"allowed: at least {cloudwatch + minimum} days ({kind}_days {cloudwatch}, "
                    f"when archived {kind} logs move to {storage_class}, plus its {minimum}-day "
                    "minimum storage duration)",
                    days,
                )
        return self

    def archive_days(self, kind: str) -> int:
        """How long the archive keeps logs of `kind` (app, access, audit): as configured, else
        a year, or the least the cold class allows after a longer CloudWatch retention."""
        days = getattr(self.archive, f"{kind}_days")
        if days is not None:
            return int(days)
        minimum = ARCHIVE_MIN_STORAGE_DAYS[self.archive.storage_class]
        return max(ARCHIVE_DEFAULT_DAYS, self.cold_after_days(kind) + minimum)

    def cold_after_days(self, kind: str) -> int:
        """When archived logs of `kind` move to the cold class: their CloudWatch retention."""
        return int(getattr(self, f"{kind}_days"))


class NetworkConfig(_Strict):
    """The platform VPC. Subnet sizes are fixed (create-only); only the NAT count is a choice."""

    nat_gateways: Literal[1, 2] | None = Field(
        default=None,
        description="NAT gateways for the app subnets' egress. Default: 1 for PoC, 2 for "
        "production (one per AZ). 1 in production saves about $36.50/month but an AZ outage "
        "then also cuts the other AZ's egress (image pulls, secret rotation).",
    )
    availability_zones: tuple[str, ...] | None = Field(
        default=None,
        description="Pin the VPC's two Availability Zones by name, e.g. `[us-east-1a, "
        "us-east-1b]` (names map to different zones in each account). Default: the Region's "
        "first two zones, resolved by CloudFormation at deploy time (`Fn::GetAZs`), so synth "
        "never looks them up, with or without `account`. Create-only: changing it replaces "
        "every subnet.",
    )

    @field_validator("nat_gateways", mode="before")
    @classmethod
    def _nat_not_bool(cls, value: Any) -> Any:
        return _no_bool(value)

    @field_validator("availability_zones", mode="before")
    @classmethod
    def _list(cls, value: Any) -> Any:
        return _as_tuple(value)

    @field_validator("availability_zones")
    @classmethod
    def _two_zones(cls, value: tuple[str, ...] | None) -> tuple[str, ...] | None:
        if value is not None and (len(value) != 2 or value[0] == value[1]):
            raise ValueError("allowed: exactly two different Availability Zone names")
        return value


class SecurityConfig(_Strict):
    """Optional controls of seed 7.2 whose defaults depend on the profile or the account."""

    waf: bool | None = Field(
        default=None,
        description="AWS WAF web ACL on the load balancer. Default: on for production, off for "
        "PoC (about $9/month plus $0.60 per million requests).",
    )
    cloudtrail: bool = Field(
        default=False,
        description="Create a multi-region CloudTrail trail for this environment. Off by default: "
        "most accounts already have an organization trail, and a second trail is billed per event.",
    )


class PerformanceConfig(_Strict):
    """Seed 7.3 options for the shared platform, each off by default."""

    cloudfront: bool = Field(
        default=False,
        description="CloudFront in front of the load balancer for static assets at "
        "`static.<domain>` (needs a domain, and the us-east-1 region for its certificate).",
    )
    session_cache: bool = Field(
        default=False,
        description="ElastiCache (Valkey) replication group for sessions: two cache.t4g.micro "
        "nodes, about $19/month.",
    )


class BackupReplicationConfig(_Strict):
    """Seed 7.1 disaster recovery: RDS replicates the automated backups (snapshots and
    transaction logs) to a second region, so the database can be restored there to a point in
    time. The KMS key must exist in that region and let RDS use it."""

    region: str = Field(description="Destination region, different from the environment's.")
    kms_key_arn: str = Field(
        description="ARN of a KMS key in the destination region that encrypts the replica."
    )
    retention_days: int | None = Field(
        default=None,
        description="Retention of the replicated backups, 1 to 35 days. Default: the "
        "restaurant's backup retention.",
    )

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        return validate_region(value)

    @field_validator("retention_days")
    @classmethod
    def _days(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= 35:
            raise ValueError("allowed: 1 to 35 days")
        return value

    @field_validator("kms_key_arn")
    @classmethod
    def _key_arn(cls, value: str) -> str:
        rules.check_kms_key_arn(value)
        return value

    @model_validator(mode="after")
    def _key_in_region(self) -> BackupReplicationConfig:
        # RDS User Guide, "Replicating automated backups to another AWS Region": the KMS key
        # is one of the destination Region.
        _, key_region, _ = rules.check_kms_key_arn(self.kms_key_arn)
        if key_region != self.region:
            raise FieldError(
                "kms_key_arn",
                f"the key must live in the destination region {self.region!r}, not {key_region!r}",
                self.kms_key_arn,
            )
        return self


DisasterRecoveryMode = Literal["pilot-light", "warm-standby"]


class DisasterRecoveryConfig(_Strict):
    """Seed 7.1 warm standby: a second region with a standby platform and a cross-region read
    replica of each covered restaurant's database; `python -m ops failover` promotes them."""

    region: str = Field(
        description="The recovery region: in the environment's partition, not its own region."
    )
    mode: DisasterRecoveryMode = Field(
        default="warm-standby",
        description="`pilot-light`: the standby app service runs 0 tasks until a failover "
        "scales it; `warm-standby`: it runs the profile's minimum, ready to serve.",
    )
    failed_over: tuple[str, ...] = Field(
        default=(),
        description="Restaurants whose standby was promoted and now serves from the recovery "
        "region. Written by `python -m ops failover --write`; not edited by hand.",
    )

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        return validate_region(value)

    @field_validator("failed_over", mode="before")
    @classmethod
    def _list(cls, value: Any) -> Any:
        return _as_tuple(value)


class Restaurant(_Strict):
    """One tenant: a restaurant with its own PostgreSQL database."""

    slug: Annotated[
        str,
        Field(
            description=f"Stable id of the restaurant, never changed: 2 to {SLUG_MAX} lowercase "
            "letters, digits and single hyphens, starting with a letter and ending with a letter "
            "or digit. It names the tenant stack, database, secret, role and DNS name."
        ),
    ]
    tier: Tier = Field(description="`poc` (single-AZ, 1-day backups) or `production` (Multi-AZ).")
    size: Size | None = Field(
        default=None,
        description="Database size (seed 4.2): small = db.t4g.micro, medium = db.t4g.small, "
        "large = db.t4g.medium. Default: small for PoC, medium for production.",
    )
    allocated_storage_gb: int = Field(
        default=20, description=f"gp3 storage in GiB ({STORAGE_MIN_GB} to {STORAGE_MAX_GB})."
    )
    max_allocated_storage_gb: int | None = Field(
        default=None, description="Enable storage autoscaling up to this many GiB."
    )
    multi_az: bool | None = Field(
        default=None,
        description="Standby in a second AZ. Default: true for production (required), "
        "false for PoC.",
    )
    backup_retention_days: int | None = Field(
        default=None,
        description="Automated backup retention, 1 to 35 days. Default: 1 (PoC), 7 (production); "
        "production needs at least 7.",
    )
    deletion_protection: bool | None = Field(
        default=None,
        description="Default: true for every tier (data safety first). Set false only to "
        "offboard the restaurant: the next deploy allows deleting it, with a final snapshot.",
    )
    backup_replication: BackupReplicationConfig | None = Field(
        default=None,
        description="Seed 7.1 option: replicate automated backups to a second region for "
        "disaster recovery (cross-region storage and transfer are billed).",
    )
    disaster_recovery: bool | None = Field(
        default=None,
        description="Covered by the environment's `disaster_recovery` (a read replica and "
        "standby stack in the recovery region). Default: true for the production tier, false "
        "for PoC.",
    )
    rds_proxy: bool = Field(
        default=False,
        description="Seed 7.3 option: connection pooling through an RDS Proxy for this "
        "restaurant ($21.90/month: billed per database vCPU, 2-vCPU minimum; the seed says $11).",
    )
    display_name: str | None = Field(default=None, max_length=100, description="Human name.")
    restore_from_snapshot: str | None = Field(
        default=None,
        description="Create the database from this RDS DB snapshot (identifier, or ARN for a "
        "shared one): a new restaurant or a new generation of one (docs/lifecycle.md). Keep it "
        "set, unchanged, for the life of that database: adding, changing or removing it on an "
        "existing database replaces it with a new one (`ops plan` blocks that).",
    )

    @field_validator("slug")
    @classmethod
    def _slug(cls, value: str) -> str:
        return validate_slug(value)

    @field_validator("restore_from_snapshot")
    @classmethod
    def _snapshot(cls, value: str | None) -> str | None:
        if value is not None:
            rules.check_snapshot_reference(value)
        return value

    @field_validator("display_name")
    @classmethod
    def _display_name(cls, value: str | None) -> str | None:
        if value is not None and (not value.strip() or not value.isprintable()):
            raise ValueError("allowed: 1 to 100 printable characters (no line breaks)")
        return value

    @field_validator("allocated_storage_gb")
    @classmethod
    def _storage(cls, value: int) -> int:
        if not STORAGE_MIN_GB <= value <= STORAGE_MAX_GB:
            raise ValueError(
                f"allowed: {STORAGE_MIN_GB} to {STORAGE_MAX_GB} GiB (RDS PostgreSQL gp3 limits)"
            )
        return value

    @field_validator("backup_retention_days")
    @classmethod
    def _backups(cls, value: int | None) -> int | None:
        if value is not None and not 1 <= value <= 35:
            raise ValueError("allowed: 1 to 35 days (0 would disable point-in-time recovery)")
        return value

    @model_validator(mode="after")
    def _tier_rules(self) -> Restaurant:
        maximum = self.max_allocated_storage_gb
        if maximum is not None:
            # RDS User Guide, "Managing capacity automatically with Amazon RDS storage
            # autoscaling": the maximum storage threshold must be at least 10% above the
            # allocated storage ("Invalid max storage size" otherwise), at most the gp3 limit.
            lowest = -(-self.allocated_storage_gb * 11 // 10)  # ceil(1.1 x allocated)
            if not lowest <= maximum <= STORAGE_MAX_GB:
                raise FieldError(
                    "max_allocated_storage_gb",
                    f"allowed: {lowest} to {STORAGE_MAX_GB} GiB (at least 10% above "
                    f"allocated_storage_gb {self.allocated_storage_gb}, RDS storage autoscaling)",
                    maximum,
                )
        if self.tier == "production":
            if self.multi_az is False:
                raise FieldError(
                    "multi_az", "production restaurants must be Multi-AZ (seed 3.1)", False
                )
            if self.backup_retention_days is not None and self.backup_retention_days < 7:
                raise FieldError(
                    "backup_retention_days",
                    "production restaurants keep at least 7 days (seed 3.1)",
                    self.backup_retention_days,
                )
        return self

    # Resolved values: what the stacks build.
    @property
    def resolved_size(self) -> str:
        return self.size or DEFAULT_SIZE_BY_TIER[self.tier]

    @property
    def instance_class(self) -> str:
        return SIZE_TO_INSTANCE_CLASS[self.resolved_size]

    @property
    def resolved_multi_az(self) -> bool:
        return self.multi_az if self.multi_az is not None else self.tier == "production"

    # Set by the environment: PRODUCTION_ENVIRONMENT_MIN_BACKUP_DAYS in a production profile.
    _minimum_backup_days: int = PrivateAttr(default=1)

    @property
    def resolved_backup_retention_days(self) -> int:
        days = self.backup_retention_days or DEFAULT_BACKUP_DAYS_BY_TIER[self.tier]
        return max(days, self._minimum_backup_days)

    @property
    def covered_by_disaster_recovery(self) -> bool:
        """Whether the environment's disaster recovery covers it (default: production tier)."""
        if self.disaster_recovery is not None:
            return self.disaster_recovery
        return self.tier == "production"

    @property
    def resolved_deletion_protection(self) -> bool:
        return self.deletion_protection is not False


class EnvironmentConfig(_Strict):
    """One deployment environment (the seed's dev / staging / production workspaces)."""

    name: str = Field(description="Environment name; must equal the file name without `.yaml`.")
    profile: Profile = Field(
        description="`poc` (seed section 2) or `production` (seed section 3) platform settings."
    )
    account: str | None = Field(
        default=None,
        description="12-digit AWS account id. Omit for environment-agnostic stacks.",
    )
    region: str = Field(
        description="AWS region, e.g. `us-east-1`. Required: ALB access logging needs the "
        "region's log-delivery account, so the stacks are account-agnostic but not "
        "region-agnostic.",
    )
    domain: DomainConfig | None = Field(
        default=None, description="Public domain; required for the production profile (HTTPS)."
    )
    app: AppConfig = Field(default_factory=AppConfig, description="The shared app service.")
    alerts: AlertsConfig = Field(default_factory=AlertsConfig, description="Alarm recipients.")
    logs: LogRetentionConfig = Field(
        default_factory=LogRetentionConfig, description="Log retention (seed 4.4)."
    )
    network: NetworkConfig = Field(
        default_factory=NetworkConfig, description="VPC settings (NAT gateways)."
    )
    security: SecurityConfig = Field(
        default_factory=SecurityConfig, description="Optional security controls (seed 7.2)."
    )
    performance: PerformanceConfig = Field(
        default_factory=PerformanceConfig, description="Optional performance features (seed 7.3)."
    )
    disaster_recovery: DisasterRecoveryConfig | None = Field(
        default=None,
        description="Seed 7.1: a warm standby in a second region for the covered restaurants.",
    )
    restaurants: tuple[Restaurant, ...] = Field(
        default=(), description="The tenants; adding one adds one tenant stack."
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not 2 <= len(value) <= ENV_NAME_MAX or not ENV_NAME_PATTERN.fullmatch(value):
            raise ValueError(
                f"allowed: 2 to {ENV_NAME_MAX} lowercase letters and digits, starting with a letter"
            )
        return value

    @field_validator("account")
    @classmethod
    def _account(cls, value: str | None) -> str | None:
        if value is not None and not rules.ACCOUNT_PATTERN.fullmatch(value):
            raise ValueError("allowed: a 12-digit AWS account id, as a quoted string")
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        return validate_region(value)

    @field_validator("restaurants", mode="before")
    @classmethod
    def _restaurant_list(cls, value: Any) -> Any:
        if isinstance(value, list | tuple) and len(value) > MAX_RESTAURANTS:
            raise ValueError(
                f"{len(value)} restaurants; allowed: at most {MAX_RESTAURANTS} per environment "
                "(docs/scale.md: the platform is measured for that many; split the rest into "
                "another environment)"
            )
        return _as_tuple(value)

    @field_validator("restaurants")
    @classmethod
    def _unique_slugs(cls, values: tuple[Restaurant, ...]) -> tuple[Restaurant, ...]:
        seen: dict[str, int] = {}
        for index, restaurant in enumerate(values):
            if restaurant.slug in seen:
                raise FieldError(
                    f"[{index}].slug",
                    f"duplicate of restaurants[{seen[restaurant.slug]}]: each restaurant needs "
                    "its own slug",
                    restaurant.slug,
                )
            seen[restaurant.slug] = index
        return values

    @model_validator(mode="after")
    def _regions_and_partitions(self) -> EnvironmentConfig:
        partition = rules.partition_of(self.region)
        for index, restaurant in enumerate(self.restaurants):
            where = f"restaurants[{index}]"
            replication = restaurant.backup_replication
            if replication is not None:
                if replication.region == self.region:
                    raise FieldError(
                        f"{where}.backup_replication.region",
                        f"must differ from the environment's region {self.region!r} (it is the "
                        "disaster-recovery copy)",
                        replication.region,
                    )
                if rules.partition_of(replication.region) != partition:
                    raise FieldError(
                        f"{where}.backup_replication.region",
                        f"must be in the environment's partition {partition!r} (RDS replicates "
                        "backups only within a partition)",
                        replication.region,
                    )
            snapshot = restaurant.restore_from_snapshot
            if snapshot is not None and snapshot.startswith("arn:"):
                # RDS User Guide, "Restoring to a DB instance": a snapshot restores in its own
                # Region; copy it first (CopyDBSnapshot) to restore elsewhere.
                arn_partition, arn_region, _ = rules.check_snapshot_reference(snapshot)
                if arn_partition != partition or arn_region != self.region:
                    raise FieldError(
                        f"{where}.restore_from_snapshot",
                        f"the snapshot is in {arn_region!r} ({arn_partition}); RDS restores only "
                        f"in the snapshot's own Region: copy it to {self.region!r} first",
                        snapshot,
                    )
        zones = self.network.availability_zones
        for index, zone in enumerate(zones or ()):
            # EC2 User Guide, "Availability Zones": a zone name is the Region code and a letter.
            if not re.fullmatch(re.escape(self.region) + "[a-z]", zone):
                raise FieldError(
                    f"network.availability_zones[{index}]",
                    f"allowed: an Availability Zone of {self.region!r} such as '{self.region}a'",
                    zone,
                )
        return self

    @model_validator(mode="after")
    def _disaster_recovery(self) -> EnvironmentConfig:
        recovery = self.disaster_recovery
        if recovery is None:
            return self
        if recovery.region == self.region:
            raise FieldError(
                "disaster_recovery.region",
                f"must differ from the environment's region {self.region!r} (the standby must "
                "survive the loss of that region)",
                recovery.region,
            )
        partition = rules.partition_of(self.region)
        if rules.partition_of(recovery.region) != partition:
            raise FieldError(
                "disaster_recovery.region",
                f"must be in the environment's partition {partition!r} (RDS cross-region read "
                "replicas and IAM roles do not cross partitions)",
                recovery.region,
            )
        covered = {r.slug for r in self.standby_restaurants()}
        for index, slug in enumerate(recovery.failed_over):
            if slug not in covered:
                allowed = ", ".join(sorted(covered)) or "none"
                raise FieldError(
                    f"disaster_recovery.failed_over[{index}]",
                    f"{slug!r} is not a restaurant covered by disaster recovery (covered: "
                    f"{allowed})",
                    slug,
                )
        return self

    @model_validator(mode="after")
    def _production_keeps_a_week_of_backups(self) -> EnvironmentConfig:
        if self.profile != "production":
            return self
        restaurants = []
        for index, restaurant in enumerate(self.restaurants):
            days = restaurant.backup_retention_days
            if days is not None and days < PRODUCTION_ENVIRONMENT_MIN_BACKUP_DAYS:
                raise ValueError(
                    f"restaurants[{index}].backup_retention_days: {days} is too short in a "
                    f"production-profile environment; allowed: "
                    f"{PRODUCTION_ENVIRONMENT_MIN_BACKUP_DAYS} to 35 days, for every tier "
                    "(real restaurant data; backups up to the allocated storage are free)"
                )
            # A copy: the same Restaurant object may also sit in another environment.
            copy = restaurant.model_copy()
            copy._minimum_backup_days = PRODUCTION_ENVIRONMENT_MIN_BACKUP_DAYS
            restaurants.append(copy)
        object.__setattr__(self, "restaurants", tuple(restaurants))
        return self

    @model_validator(mode="after")
    def _cloudfront_needs_a_certificate(self) -> EnvironmentConfig:
        if self.performance.cloudfront and (self.domain is None or self.region != "us-east-1"):
            raise FieldError(
                "performance.cloudfront",
                "needs a domain and region 'us-east-1' (CloudFront certificates live in "
                "us-east-1; a cross-region certificate is not supported yet)",
                True,
            )
        reserved = self.platform_record_labels()
        for index, restaurant in enumerate(self.restaurants):
            if restaurant.slug in reserved:
                raise FieldError(
                    f"restaurants[{index}].slug",
                    f"{restaurant.slug}.{self.domain.name if self.domain else ''} is a DNS name "
                    f"the platform uses ({reserved[restaurant.slug]}); choose another slug",
                    restaurant.slug,
                )
        return self

    @model_validator(mode="after")
    def _production_needs_https(self) -> EnvironmentConfig:
        if (
            self.profile == "production"
            and self.app.min_tasks is not None
            and self.app.min_tasks < 2
        ):
            raise FieldError(
                "app.min_tasks",
                "the production profile runs at least 2 tasks (seed 3.1)",
                self.app.min_tasks,
            )
        if self.profile == "production" and self.domain is None:
            raise FieldError(
                "domain",
                "the production profile serves HTTPS only and needs a domain "
                "(name and hosted_zone_id)",
                None,
            )
        if self.profile == "production" and not self.alerts.critical_emails:
            raise FieldError(
                "alerts.critical_emails",
                "the production profile needs at least one critical alert recipient (seed 9.2: "
                "someone must hear that a database is down)",
                [],
            )
        return self

    def platform_record_labels(self) -> dict[str, str]:
        """DNS labels under the domain that the platform stack itself creates."""
        if self.performance.cloudfront and self.domain is not None:
            # constructs/cdn.py: static.<domain> (CloudFront) and origin.<domain> (the ALB).
            return {"static": "CloudFront static assets", "origin": "CloudFront origin"}
        return {}

    def dns_names(self) -> dict[str, str]:
        """Every DNS record name this environment creates -> what it is for."""
        if self.domain is None:
            return {}
        names = {self.domain.name: "the environment's domain (certificate)"}
        for label, purpose in self.platform_record_labels().items():
            names[f"{label}.{self.domain.name}"] = purpose
        for restaurant in self.restaurants:
            names[f"{restaurant.slug}.{self.domain.name}"] = f"restaurant {restaurant.slug!r}"
        return names

    def standby_restaurants(self) -> tuple[Restaurant, ...]:
        """The restaurants with a standby in the recovery region (none without one)."""
        if self.disaster_recovery is None:
            return ()
        return tuple(r for r in self.restaurants if r.covered_by_disaster_recovery)

    def restaurant(self, slug: str) -> Restaurant:
        for restaurant in self.restaurants:
            if restaurant.slug == slug:
                return restaurant
        known = ", ".join(r.slug for r in self.restaurants) or "none"
        raise KeyError(f"no restaurant {slug!r} in environment {self.name!r} (known: {known})")
