"""What AWS accepts, as checks the schema runs when a file loads.

Each rule names the documentation it rests on. Every pattern is matched against the whole value
(`re.fullmatch`): `$` also matches before a final newline, so `re.match(r"^...$")` would let
`"bella\n"` through to CloudFormation.
"""

from __future__ import annotations

import difflib
import re

# ------------------------------------------------------------------------ CloudWatch Logs retention
# CloudWatch Logs API Reference, PutRetentionPolicy retentionInDays: only these periods, in days.
# Each maps to its aws_cdk.aws_logs.RetentionDays member name (stacks/log_retention.py turns it into
# the member; the schema refuses any other number when a file loads).
LOG_RETENTION_PERIODS: dict[int, str] = {
    1: "ONE_DAY",
    3: "THREE_DAYS",
    5: "FIVE_DAYS",
    7: "ONE_WEEK",
    14: "TWO_WEEKS",
    30: "ONE_MONTH",
    60: "TWO_MONTHS",
    90: "THREE_MONTHS",
    120: "FOUR_MONTHS",
    150: "FIVE_MONTHS",
    180: "SIX_MONTHS",
    365: "ONE_YEAR",
    400: "THIRTEEN_MONTHS",
    545: "EIGHTEEN_MONTHS",
    731: "TWO_YEARS",
    1096: "THREE_YEARS",
    1827: "FIVE_YEARS",
    2192: "SIX_YEARS",
    2557: "SEVEN_YEARS",
    2922: "EIGHT_YEARS",
    3288: "NINE_YEARS",
    3653: "TEN_YEARS",
}
LOG_RETENTION_DAYS = tuple(LOG_RETENTION_PERIODS)

# --------------------------------------------------------------------------- regions, partitions
# AWS General Reference, "AWS Regions and Availability Zones"
# (https://docs.aws.amazon.com/global-infrastructure/latest/regions/aws-regions.html): the
# Regions of the commercial (aws), China (aws-cn) and GovCloud (aws-us-gov) partitions. The list
# equals aws-cdk-lib's region facts (aws_cdk.region_info) for those partitions; a test keeps
# them equal, so a CDK upgrade that knows a new Region fails that test until it is added here.
# The isolated partitions (aws-iso*, aws-eusc) are refused on purpose: this app is not built or
# tested for them.
REGION_PARTITIONS: dict[str, str] = {
    "af-south-1": "aws",
    "ap-east-1": "aws",
    "ap-east-2": "aws",
    "ap-northeast-1": "aws",
    "ap-northeast-2": "aws",
    "ap-northeast-3": "aws",
    "ap-south-1": "aws",
    "ap-south-2": "aws",
    "ap-southeast-1": "aws",
    "ap-southeast-2": "aws",
    "ap-southeast-3": "aws",
    "ap-southeast-4": "aws",
    "ap-southeast-5": "aws",
    "ap-southeast-6": "aws",
    "ap-southeast-7": "aws",
    "ca-central-1": "aws",
    "ca-west-1": "aws",
    "cn-north-1": "aws-cn",
    "cn-northwest-1": "aws-cn",
    "eu-central-1": "aws",
    "eu-central-2": "aws",
    "eu-north-1": "aws",
    "eu-south-1": "aws",
    "eu-south-2": "aws",
    "eu-west-1": "aws",
    "eu-west-2": "aws",
    "eu-west-3": "aws",
    "il-central-1": "aws",
    "me-central-1": "aws",
    "me-south-1": "aws",
    "mx-central-1": "aws",
    "sa-east-1": "aws",
    "us-east-1": "aws",
    "us-east-2": "aws",
    "us-gov-east-1": "aws-us-gov",
    "us-gov-west-1": "aws-us-gov",
    "us-west-1": "aws",
    "us-west-2": "aws",
}

# IAM User Guide, "IAM identifiers" / AWS General Reference "Amazon Resource Names (ARNs)":
# arn:partition:service:region:account-id:resource.
ARN_PATTERN = re.compile(
    r"arn:(?P<partition>[a-z-]+):(?P<service>[a-z0-9-]+):(?P<region>[a-z0-9-]*):"
    r"(?P<account>\d{12}|):(?P<resource>.+)"
)

# AWS Account Management Reference: an account id is 12 digits.
ACCOUNT_PATTERN = re.compile(r"\d{12}")


def check_region(value: str) -> str:
    """A Region of a supported partition; the error lists the near misses."""
    if value not in REGION_PARTITIONS:
        close = difflib.get_close_matches(value, REGION_PARTITIONS, n=3, cutoff=0.7)
        hint = f" (did you mean {' or '.join(close)}?)" if close else ""
        raise ValueError(
            f"not a known AWS region name{hint}; allowed: a Region of the aws, aws-cn or "
            "aws-us-gov partition such as 'us-east-1'"
        )
    return value


def partition_of(region: str) -> str:
    return REGION_PARTITIONS[region]


# --------------------------------------------------------------------------- RDS identifiers
# RDS API Reference, CreateDBInstance DBInstanceIdentifier: 1 to 63 letters, digits or hyphens,
# first a letter, no two consecutive hyphens, not ending with a hyphen.
# RestoreDBInstanceFromDBSnapshot DBSnapshotIdentifier: the same rules with 1 to 255
# characters; automated snapshots carry an "rds:" prefix; a shared snapshot must be given by ARN.
RDS_IDENTIFIER = re.compile(r"[A-Za-z](?:[A-Za-z0-9]|-(?!-))*")


def check_rds_identifier(value: str, max_length: int) -> str | None:
    """None when `value` is a valid RDS identifier of at most `max_length`, else the reason."""
    if not 1 <= len(value) <= max_length:
        return f"must be 1 to {max_length} characters (got {len(value)})"
    if not RDS_IDENTIFIER.fullmatch(value):
        return "must start with a letter and contain only letters, digits and single hyphens"
    if value.endswith("-"):
        return "must not end with a hyphen"
    return None


SNAPSHOT_ID_MAX = 255


def check_snapshot_reference(value: str) -> tuple[str | None, str | None, str | None]:
    """(partition, region, account) of an ARN, or Nones for a plain identifier; raises."""
    allowed = (
        "allowed: an RDS DB snapshot identifier (1 to 255 letters, digits and single hyphens, "
        "starting with a letter, not ending with a hyphen; 'rds:' prefix for automated ones) "
        "or its ARN arn:aws:rds:<region>:<account>:snapshot:<id>"
    )
    partition = region = account = None
    identifier = value
    if value.startswith("arn:"):
        match = ARN_PATTERN.fullmatch(value)
        if not match or match["service"] != "rds" or not match["resource"].startswith("snapshot:"):
            raise ValueError(f"not an RDS DB snapshot ARN; {allowed}")
        partition, region, account = _arn_place(match, allowed)
        identifier = match["resource"].removeprefix("snapshot:")
    identifier = identifier.removeprefix("rds:")
    reason = check_rds_identifier(identifier, SNAPSHOT_ID_MAX)
    if reason:
        raise ValueError(f"the snapshot identifier {reason}; {allowed}")
    return partition, region, account


# KMS Developer Guide, "Key identifiers (KeyId)": a key ARN is
# arn:<partition>:kms:<region>:<account>:key/<key id>; the key id is a UUID, or mrk-<32 hex> for
# a multi-Region key.
KMS_KEY_RESOURCE = re.compile(
    r"key/(?:[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}|mrk-[0-9a-f]{32})"
)


def check_kms_key_arn(value: str) -> tuple[str, str, str]:
    """(partition, region, account) of a KMS key ARN; raises with what is allowed."""
    allowed = (
        "allowed: a KMS key ARN such as "
        "'arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab'"
    )
    match = ARN_PATTERN.fullmatch(value)
    if not match or match["service"] != "kms" or not KMS_KEY_RESOURCE.fullmatch(match["resource"]):
        raise ValueError(allowed)
    return _arn_place(match, allowed)


def _arn_place(match: re.Match[str], allowed: str) -> tuple[str, str, str]:
    """(partition, region, account) of a parsed ARN: a known Region of its partition, and an
    account; raises with what is `allowed`."""
    partition, region, account = match["partition"], match["region"], match["account"]
    if region not in REGION_PARTITIONS or not account:
        raise ValueError(f"the ARN names no known Region and account; {allowed}")
    if REGION_PARTITIONS[region] != partition:
        raise ValueError(
            f"the ARN's partition {partition!r} is not the partition of its Region {region!r} "
            f"({REGION_PARTITIONS[region]!r}); {allowed}"
        )
    return partition, region, account


# --------------------------------------------------------------------------- DNS and ACM
# Route 53 Developer Guide, "DNS domain name format": labels of 1 to 63 octets, names up to 255
# octets (253 characters in text form). The app creates lowercase letters, digits and hyphens
# only (no IDNs: write punycode), which every DNS service and ACM accept.
# ACM API Reference, RequestCertificate DomainName: the first domain name (the certificate's
# common name, RFC 5280) "cannot exceed 64 octets, including periods"; the platform certificate's
# first name is the environment's domain (its SAN is *.<domain>).
DNS_LABEL = re.compile(r"[a-z0-9](?:[a-z0-9-]{0,61}[a-z0-9])?")
DNS_NAME_MAX = 253
ACM_DOMAIN_MAX = 64


def check_dns_name(value: str, *, max_length: int = DNS_NAME_MAX) -> str | None:
    """None for a valid lowercase DNS name of at least two labels, else the reason."""
    if len(value) > max_length:
        return f"is {len(value)} characters long; at most {max_length} are allowed"
    labels = value.split(".")
    if len(labels) < 2:
        return "needs at least two labels, such as 'app.example.com'"
    for label in labels:
        if not DNS_LABEL.fullmatch(label):
            return (
                f"label {label!r} is not a DNS label: 1 to 63 lowercase letters, digits and "
                "hyphens, not starting or ending with a hyphen"
            )
    if labels[-1].isdigit():
        return "the top-level label must not be all digits"
    return None


# Route 53 API Reference, HostedZone Id: "Z" followed by up to 31 upper-case letters and digits
# (CloudFormation AWS::Route53::RecordSet HostedZoneId: at most 32 characters).
HOSTED_ZONE_ID = re.compile(r"Z[A-Z0-9]{1,31}")

# --------------------------------------------------------------------------- e-mail (SNS)
# SNS API Reference, Subscribe: the "email" protocol takes an e-mail address. The address syntax
# is RFC 5321/5322's dot-atom form (no quoted local parts, no IP literals), at most 254 characters
# (RFC 5321 path limit) with a local part of at most 64; the domain is a DNS name as above.
EMAIL_LOCAL = re.compile(r"[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+(?:\.[A-Za-z0-9!#$%&'*+/=?^_`{|}~-]+)*")


def check_email(value: str) -> str | None:
    if len(value) > 254:
        return f"is {len(value)} characters long; at most 254 are allowed"
    local, at, domain = value.rpartition("@")
    if not at or not local or len(local) > 64 or not EMAIL_LOCAL.fullmatch(local):
        return "is not an e-mail address such as 'oncall@example.com'"
    if check_dns_name(domain.lower()) is not None:
        return "is not an e-mail address such as 'oncall@example.com' (its domain is not valid)"
    return None


# --------------------------------------------------------------------------- container images
# ECS API Reference, ContainerDefinition image: "Up to 255 letters (uppercase and lowercase),
# numbers, hyphens, underscores, colons, periods, forward slashes, and number signs"; images are
# "repository-url/image:tag" or "repository-url/image@digest". The reference grammar is the
# distribution project's (github.com/distribution/reference, reference.go), which Docker and ECS
# parse: [registry[:port]/]path-component(/path-component)*[:tag][@algorithm:hex].
_DOMAIN_COMPONENT = r"(?:[a-zA-Z0-9]|[a-zA-Z0-9][a-zA-Z0-9-]*[a-zA-Z0-9])"
_DOMAIN = rf"(?:{_DOMAIN_COMPONENT}(?:\.{_DOMAIN_COMPONENT})*(?::[0-9]+)?)"
_PATH_COMPONENT = r"[a-z0-9]+(?:(?:[._]|__|-+)[a-z0-9]+)*"
_TAG = r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}"
# Digests pinned by content: sha256 (64 hex) or sha512 (128 hex), lowercase as registries print.
_DIGEST = r"(?:sha256:[a-f0-9]{64}|sha512:[a-f0-9]{128})"
IMAGE_REFERENCE = re.compile(
    rf"(?:{_DOMAIN}/)?{_PATH_COMPONENT}(?:/{_PATH_COMPONENT})*(?::{_TAG})?(?:@{_DIGEST})?"
)
IMAGE_MAX = 255


def check_image(value: str) -> str | None:
    if not value:
        return "is empty"
    if len(value) > IMAGE_MAX:
        return f"is {len(value)} characters long; ECS allows at most {IMAGE_MAX}"
    if not IMAGE_REFERENCE.fullmatch(value):
        return (
            "is not a container image reference; allowed: [registry/]repository[:tag] or "
            "[registry/]repository[:tag]@sha256:<64 hex digits>, repository in lowercase, "
            "e.g. 'public.ecr.aws/nginx/nginx:stable-alpine'"
        )
    return None


# --------------------------------------------------------------------------- Fargate task size
# ECS Developer Guide, "Amazon ECS task definition parameters for Fargate", Task size: the CPU
# values this app offers and the memory (MiB) each allows on Linux.
FARGATE_MEMORY: dict[int, tuple[int, ...]] = {
    256: (512, 1024, 2048),
    512: tuple(range(1024, 4096 + 1, 1024)),
    1024: tuple(range(2048, 8192 + 1, 1024)),
    2048: tuple(range(4096, 16384 + 1, 1024)),
    4096: tuple(range(8192, 30720 + 1, 1024)),
}

# --------------------------------------------------------------------------- ALB health checks
# ELB API Reference, CreateTargetGroup HealthCheckPath: 1 to 1024 characters, starting with "/".
# Printable ASCII without spaces, since the path is sent verbatim in an HTTP request line.
HEALTH_CHECK_PATH = re.compile(r"/[!-~]{0,1023}")


def short(value: object, limit: int = 60) -> str:
    """A value as a message shows it: repr of scalars, truncated; containers by size only."""
    if isinstance(value, dict):
        return f"a mapping of {len(value)} key(s)"
    if isinstance(value, list | tuple | set | frozenset):
        return f"a list of {len(value)} item(s)"
    text = repr(value)
    if len(text) > limit:
        size = f"{len(value)} characters" if isinstance(value, str | bytes) else "long value"
        return f"{text[:limit]}... ({size})"
    return text
