"""The configuration schema: environments and the restaurants (tenants) they host.

Every rule that protects a deployment lives here and runs once, when the files are loaded, so
that a bad value stops `cdk synth` before anything is written. Field descriptions are the
configuration reference (the README's table is generated from them).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, field_validator, model_validator

# One slug ends up in a stack name (chefs-kiss-<env>-tenant-<slug>, 128 max), an RDS instance
# identifier (chefs-kiss-<env>-<slug>, 63 max, no "--", no trailing "-"), an IAM role name
# (chefs-kiss-<env>-tenant-<slug>-access, 64 max) and a DNS label (<slug>.<domain>, 63 max).
# With an environment name of at most 12 characters, 24 keeps every one of them in bounds.
SLUG_MAX = 24
ENV_NAME_MAX = 12
SLUG_PATTERN = re.compile(r"^[a-z](?:[a-z0-9]|-(?!-))*[a-z0-9]$")
ENV_NAME_PATTERN = re.compile(r"^[a-z][a-z0-9]*$")
REGION_PATTERN = re.compile(r"[a-z]{2}(-gov)?-[a-z]+-\d")

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

# RDS DB snapshot identifiers (manual, or "rds:"-prefixed automated ones), or their ARNs.
SNAPSHOT_PATTERN = re.compile(
    r"(arn:aws[a-z-]*:rds:[a-z0-9-]+:\d{12}:snapshot:)?(rds:)?[A-Za-z][A-Za-z0-9-]{0,254}"
)

# nginx-unprivileged: runs as user 101, listens on 8080, writes only to /tmp (issue 15).
DEFAULT_APP_IMAGE = "public.ecr.aws/nginx/nginx-unprivileged:stable-alpine"


def validate_slug(value: str) -> str:
    if len(value) < 2 or len(value) > SLUG_MAX:
        raise ValueError(f"must be 2 to {SLUG_MAX} characters long (got {len(value)})")
    if not SLUG_PATTERN.match(value):
        raise ValueError(
            "allowed: lowercase letters, digits and single hyphens, starting with a letter "
            "and ending with a letter or digit (e.g. 'bella-napoli')"
        )
    return value


def validate_region(value: str) -> str:
    if not REGION_PATTERN.fullmatch(value):
        raise ValueError("allowed: an AWS region name such as 'us-east-1'")
    return value


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class DomainConfig(_Strict):
    """The public DNS zone the environment serves from; each restaurant gets `<slug>.<name>`."""

    name: str = Field(description="Apex domain of the environment, e.g. `app.chefskiss.example`.")
    hosted_zone_id: str = Field(
        description="Route 53 hosted zone id of `name` (no lookup is made at synth time)."
    )

    @field_validator("name")
    @classmethod
    def _domain_name(cls, value: str) -> str:
        labels = value.split(".")
        if (
            len(value) > 200
            or len(labels) < 2
            or not all(
                re.fullmatch(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?", label) for label in labels
            )
        ):
            raise ValueError("allowed: a lowercase DNS name such as 'app.example.com'")
        return value

    @field_validator("hosted_zone_id")
    @classmethod
    def _zone_id(cls, value: str) -> str:
        if not re.fullmatch(r"Z[A-Z0-9]{1,31}", value):
            raise ValueError("allowed: a Route 53 zone id such as 'Z0123456789ABCDEFGHIJ'")
        return value


class AppConfig(_Strict):
    """The shared application service (seed 1.1: one Fargate service for every restaurant)."""

    image: str = Field(
        default=DEFAULT_APP_IMAGE,
        description="Container image of the app. The default is a public multi-arch image that "
        "serves HTTP on port 8080 as a non-root user with a read-only root filesystem, so a "
        "first deploy works before the real app exists. Pin it by digest in production.",
    )
    cpu_architecture: CpuArchitecture = Field(
        default="arm64",
        description="Fargate CPU architecture; ARM64 (Graviton) is about 20% cheaper.",
    )
    cpu: Literal[256, 512, 1024, 2048, 4096] = Field(
        default=512, description="Task CPU units (512 = 0.5 vCPU, the seed's size)."
    )
    memory_mib: int = Field(
        default=1024, ge=512, le=30720, description="Task memory in MiB (1024 = the seed's 1 GB)."
    )
    container_port: int = Field(
        default=8080,
        ge=1,
        le=65535,
        description="Port the app listens on. Use 1024 or above: the app runs as a non-root "
        "user without Linux capabilities (no CAP_NET_BIND_SERVICE).",
    )
    health_check_path: str = Field(
        default="/", pattern=r"^/.*", description="HTTP path the load balancer probes."
    )
    capacity_tenants: int | None = Field(
        default=None,
        ge=1,
        le=10000,
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
            raise ValueError(
                f"min_tasks ({self.min_tasks}) must not exceed max_tasks ({self.max_tasks})"
            )
        return self


class AlertsConfig(_Strict):
    """Who hears about alarms (seed 9.2): one SNS topic per severity."""

    warning_emails: tuple[str, ...] = Field(
        default=(), description="Addresses subscribed to warning alarms."
    )
    critical_emails: tuple[str, ...] = Field(
        default=(), description="Addresses subscribed to critical alarms."
    )

    @field_validator("warning_emails", "critical_emails")
    @classmethod
    def _emails(cls, values: tuple[str, ...]) -> tuple[str, ...]:
        for value in values:
            if not re.fullmatch(r"[^@\s]+@[^@\s]+\.[^@\s]+", value):
                raise ValueError(f"{value!r} is not an email address")
        return values


# CloudWatch Logs accepts only these retention periods, in days.
LOG_RETENTION_DAYS = (
    1,
    3,
    5,
    7,
    14,
    30,
    60,
    90,
    120,
    150,
    180,
    365,
    400,
    545,
    731,
    1096,
    1827,
    2192,
    2557,
    2922,
    3288,
    3653,
)


class LogRetentionConfig(_Strict):
    """Seed 4.4: keep logs only as long as they are useful."""

    app_days: int = Field(default=7, description="Application logs (troubleshooting).")
    access_days: int = Field(
        default=30, description="Access logs: ALB, S3, WAF and PostgreSQL logs (security auditing)."
    )
    audit_days: int = Field(default=90, description="Audit logs: VPC flow logs, CloudTrail.")

    @field_validator("app_days", "access_days", "audit_days")
    @classmethod
    def _cloudwatch_period(cls, value: int) -> int:
        if value not in LOG_RETENTION_DAYS:
            raise ValueError(f"allowed: one of CloudWatch's periods {LOG_RETENTION_DAYS}")
        return value


class NetworkConfig(_Strict):
    """The platform VPC. Subnet sizes are fixed (create-only); only the NAT count is a choice."""

    nat_gateways: Literal[1, 2] | None = Field(
        default=None,
        description="NAT gateways for the app subnets' egress. Default: 1 for PoC, 2 for "
        "production (one per AZ). 1 in production saves about $36.50/month but an AZ outage "
        "then also cuts the other AZ's egress (image pulls, secret rotation).",
    )


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

    @model_validator(mode="after")
    def _key_in_region(self) -> BackupReplicationConfig:
        match = re.fullmatch(
            r"arn:aws[a-z-]*:kms:([a-z0-9-]+):\d{12}:key/[A-Za-z0-9-]+", self.kms_key_arn
        )
        if not match:
            raise ValueError(
                "kms_key_arn: allowed: a KMS key ARN such as "
                "'arn:aws:kms:us-west-2:123456789012:key/1234abcd-...'"
            )
        if match.group(1) != self.region:
            raise ValueError(
                f"kms_key_arn: the key must live in the destination region {self.region!r}; "
                f"got a key in {match.group(1)!r}"
            )
        return self


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
        if value is not None and not SNAPSHOT_PATTERN.fullmatch(value):
            raise ValueError(
                "allowed: an RDS DB snapshot identifier (letters, digits, hyphens; 'rds:' prefix "
                "for automated ones) or its ARN arn:aws:rds:<region>:<account>:snapshot:<id>"
            )
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
        if self.max_allocated_storage_gb is not None and not (
            self.allocated_storage_gb < self.max_allocated_storage_gb <= STORAGE_MAX_GB
        ):
            raise ValueError(
                f"max_allocated_storage_gb must be above allocated_storage_gb "
                f"({self.allocated_storage_gb}) and at most {STORAGE_MAX_GB}"
            )
        if self.tier == "production":
            if self.multi_az is False:
                raise ValueError("multi_az: production restaurants must be Multi-AZ (seed 3.1)")
            if self.backup_retention_days is not None and self.backup_retention_days < 7:
                raise ValueError(
                    "backup_retention_days: production restaurants keep at least 7 days (seed 3.1)"
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
    restaurants: tuple[Restaurant, ...] = Field(
        default=(), description="The tenants; adding one adds one tenant stack."
    )

    @field_validator("name")
    @classmethod
    def _name(cls, value: str) -> str:
        if not 2 <= len(value) <= ENV_NAME_MAX or not ENV_NAME_PATTERN.match(value):
            raise ValueError(
                f"allowed: 2 to {ENV_NAME_MAX} lowercase letters and digits, starting with a letter"
            )
        return value

    @field_validator("account")
    @classmethod
    def _account(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"\d{12}", value):
            raise ValueError("allowed: a 12-digit AWS account id, as a quoted string")
        return value

    @field_validator("region")
    @classmethod
    def _region(cls, value: str) -> str:
        return validate_region(value)

    @field_validator("restaurants")
    @classmethod
    def _unique_slugs(cls, values: tuple[Restaurant, ...]) -> tuple[Restaurant, ...]:
        seen: set[str] = set()
        for restaurant in values:
            if restaurant.slug in seen:
                raise ValueError(
                    f"duplicate slug {restaurant.slug!r}: each restaurant needs its own"
                )
            seen.add(restaurant.slug)
        return values

    @model_validator(mode="after")
    def _replication_leaves_the_region(self) -> EnvironmentConfig:
        for index, restaurant in enumerate(self.restaurants):
            replication = restaurant.backup_replication
            if replication is not None and replication.region == self.region:
                raise ValueError(
                    f"restaurants[{index}].backup_replication.region: must differ from the "
                    f"environment's region {self.region!r} (it is the disaster-recovery copy)"
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
            raise ValueError(
                "performance.cloudfront: needs a domain and region 'us-east-1' (CloudFront "
                "certificates live in us-east-1; a cross-region certificate is not supported yet)"
            )
        return self

    @model_validator(mode="after")
    def _production_needs_https(self) -> EnvironmentConfig:
        if (
            self.profile == "production"
            and self.app.min_tasks is not None
            and self.app.min_tasks < 2
        ):
            raise ValueError(
                "app.min_tasks: the production profile runs at least 2 tasks (seed 3.1); "
                f"got {self.app.min_tasks}"
            )
        if self.profile == "production" and self.domain is None:
            raise ValueError(
                "domain: the production profile serves HTTPS only and needs a domain "
                "(name and hosted_zone_id)"
            )
        return self

    def restaurant(self, slug: str) -> Restaurant:
        for restaurant in self.restaurants:
            if restaurant.slug == slug:
                return restaurant
        known = ", ".join(r.slug for r in self.restaurants) or "none"
        raise KeyError(f"no restaurant {slug!r} in environment {self.name!r} (known: {known})")
