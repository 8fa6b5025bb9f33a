"""Names the stacks derive from the environment name and the slugs, checked at load time.

The slug and environment-name rules keep every derived name in bounds today; these checks make
that a tested fact rather than arithmetic in a comment, and catch collisions: two restaurants or
two environments whose names would land on the same physical name (CloudFormation refuses the
second stack, or worse, a DNS record is taken over).
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Iterator

from config import rules
from config.schema import EnvironmentConfig
from stacks import naming

# (namespace, documented rule, max length, pattern). Namespaces are where names must be unique
# in one account and Region.
NAME_RULES: dict[str, tuple[str, int, re.Pattern[str]]] = {
    # CloudFormation User Guide, "Stack name": letters, digits and hyphens, starting with a
    # letter, at most 128 characters.
    "CloudFormation stack": (
        "AWS CloudFormation stack names",
        128,
        re.compile(r"[A-Za-z][A-Za-z0-9-]*"),
    ),
    # IAM User Guide, "IAM object quotas": role names up to 64 characters of [\w+=,.@-].
    "IAM role": ("IAM role names", 64, re.compile(r"[\w+=,.@-]+")),
    # IAM API Reference, CreatePolicy PolicyName: up to 128 characters of [\w+=,.@-].
    "IAM managed policy": ("IAM policy names", 128, re.compile(r"[\w+=,.@-]+")),
    # Secrets Manager API Reference, CreateSecret Name: up to 512 characters of
    # letters, digits and /_+=.@-.
    "Secrets Manager secret": (
        "Secrets Manager secret names",
        512,
        re.compile(r"[A-Za-z0-9/_+=.@-]+"),
    ),
    # KMS API Reference, CreateAlias AliasName: "alias/" then letters, digits, /_-; at most 256;
    # never the reserved "alias/aws/" prefix.
    "KMS alias": ("KMS alias names", 256, re.compile(r"alias/(?!aws/)[A-Za-z0-9/_-]+")),
    # S3 User Guide, "General purpose bucket naming rules": 3 to 63 lowercase letters, digits,
    # dots and hyphens, beginning and ending with a letter or digit.
    "S3 bucket": ("S3 bucket names", 63, re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")),
    # Systems Manager API Reference, PutParameter Name: a-z, A-Z, 0-9, _.-/, at most 1,011
    # characters for the whole name (parameter hierarchies up to 15 levels).
    "SSM parameter": ("SSM parameter names", 1011, re.compile(r"/?[A-Za-z0-9_./-]+")),
    # CloudWatch Logs API Reference, CreateLogGroup logGroupName: 1 to 512 of [.-_/#A-Za-z0-9].
    "CloudWatch log group": ("log group names", 512, re.compile(r"[.\-_/#A-Za-z0-9]+")),
    # Lambda API Reference, CreateFunction FunctionName: up to 64 of letters, digits, - and _.
    "Lambda function": ("Lambda function names", 64, re.compile(r"[A-Za-z0-9_-]+")),
    # Firehose API Reference, CreateDeliveryStream DeliveryStreamName: 1 to 64 of [a-zA-Z0-9_.-].
    "Firehose stream": ("Firehose stream names", 64, re.compile(r"[a-zA-Z0-9_.-]+")),
}


def physical_names(environment: EnvironmentConfig) -> Iterator[tuple[str, str, str]]:
    """(namespace, name, what) for every physical name the environment's stacks set."""
    env = environment.name
    yield "CloudFormation stack", naming.platform_stack_name(env), "the platform stack"
    yield "IAM role", naming.app_task_role_name(env), "the app task role"
    yield "IAM managed policy", f"{naming.name_prefix(env)}-assume-tenant-access", "the app policy"
    yield "Secrets Manager secret", f"{naming.name_prefix(env)}/app/secrets", "the app secrets"
    yield "IAM role", naming.app_probe_role_name(env), "the post-deploy probe's role"
    yield "Lambda function", naming.app_probe_function_name(env), "the post-deploy probe"
    if environment.account:
        bucket = naming.uploads_bucket_name(env, environment.account, environment.region)
        yield "S3 bucket", bucket, "the uploads bucket"
        archive = naming.log_archive_bucket_name(env, environment.account, environment.region)
        yield "S3 bucket", archive, "the log archive bucket"
    yield "Firehose stream", naming.log_archive_stream_name(env), "the log archive stream"
    yield "IAM role", naming.log_archive_subscription_role_name(env), "the log archive's role"
    if environment.disaster_recovery is not None:
        # The recovery region's stacks; IAM names are global, so its roles carry `-dr`.
        what = "the standby platform (disaster_recovery)"
        yield "CloudFormation stack", naming.dr_platform_stack_name(env), what
        yield "IAM role", naming.app_task_role_name(env, standby=True), what
        yield "IAM role", naming.app_probe_role_name(env, standby=True), what
        role = naming.log_archive_subscription_role_name(env, standby=True)
        yield "IAM role", role, what
    standby = {r.slug for r in environment.standby_restaurants()}
    for index, restaurant in enumerate(environment.restaurants):
        slug = restaurant.slug
        what = f"restaurants[{index}] ({slug})"
        if slug in standby:
            yield "CloudFormation stack", naming.standby_stack_name(env, slug), what
            role = naming.tenant_role_name(env, slug, standby=True)
            yield "IAM role", role, what
            yield "IAM managed policy", f"{role}-policy", what
        yield "CloudFormation stack", naming.tenant_stack_name(env, slug), what
        yield "RDS DB instance", naming.db_instance_identifier(env, slug), what
        yield "IAM role", naming.tenant_role_name(env, slug), what
        yield "IAM managed policy", f"{naming.tenant_role_name(env, slug)}-policy", what
        yield "Secrets Manager secret", naming.tenant_secret_name(env, slug), what
        yield "KMS alias", naming.tenant_key_alias(env, slug), what
        yield "SSM parameter", naming.tenant_connection_parameter_name(env, slug), what
        yield "CloudWatch log group", naming.db_bootstrap_log_group_name(env, slug), what


def _problem(namespace: str, name: str) -> str | None:
    if namespace == "RDS DB instance":
        # RDS API Reference, CreateDBInstance DBInstanceIdentifier (config/rules.py).
        reason = rules.check_rds_identifier(name, 63)
        return f"RDS DB instance identifier {name!r} {reason}" if reason else None
    title, limit, pattern = NAME_RULES[namespace]
    if len(name) > limit:
        return f"{namespace} name {name!r} is {len(name)} characters; {title} allow {limit}"
    if not pattern.fullmatch(name) or ".." in name:
        return f"{namespace} name {name!r} does not follow the rules for {title}"
    return None


def derived_name_problems(environment: EnvironmentConfig) -> Iterator[tuple[str, str, object]]:
    """(field, message, value) for each derived name a service would refuse or that collides."""
    seen: dict[tuple[str, str], str] = {}
    for namespace, name, what in physical_names(environment):
        field = what.split(" ")[0] + ".slug" if what.startswith("restaurants[") else "name"
        value = what.split("(")[-1].rstrip(")") if what.startswith("restaurants[") else name
        problem = _problem(namespace, name)
        if problem:
            yield field, problem, value
        key = (namespace, name.lower())  # RDS identifiers and S3 names are case-insensitive
        if key in seen:
            yield field, f"{namespace} name {name!r} is also used by {seen[key]}", value
        seen[key] = what
    for name in environment.dns_names():
        if check := rules.check_dns_name(name):
            yield "domain.name", f"the DNS name {name!r} {check}", name


def collisions_between(environments: Iterable[EnvironmentConfig]) -> Iterator[tuple[str, str]]:
    """(environment name, message) for names two environments would both create."""
    names: dict[tuple[str, str], tuple[str, str]] = {}
    zones: dict[str, tuple[str, str]] = {}
    for environment in environments:
        for namespace, name, what in physical_names(environment):
            key = (namespace, name.lower())
            if key in names and names[key][0] != environment.name:
                other, other_what = names[key]
                yield (
                    environment.name,
                    (
                        f"{what}: {namespace} name {name!r} is also used by environment "
                        f"{other!r} ({other_what})"
                    ),
                )
            names.setdefault(key, (environment.name, what))
        for dns_name, purpose in environment.dns_names().items():
            key = ("DNS", dns_name)
            if key in names and names[key][0] != environment.name:
                other, other_purpose = names[key]
                yield (
                    environment.name,
                    (
                        f"domain: the DNS name {dns_name!r} ({purpose}) is also created by "
                        f"environment {other!r} ({other_purpose}); give each environment its own "
                        "domain"
                    ),
                )
            names.setdefault(key, (environment.name, purpose))
        domain = environment.domain
        if domain is not None:
            # A hosted zone serves one apex: two domains in one zone share a parent domain.
            if domain.hosted_zone_id in zones:
                other, other_name = zones[domain.hosted_zone_id]
                parent = ".".join(domain.name.split(".")[-2:])
                if not other_name.endswith("." + parent) and other_name != parent:
                    yield (
                        environment.name,
                        (
                            f"domain.hosted_zone_id: zone {domain.hosted_zone_id!r} is also the "
                            f"zone of environment {other!r} for {other_name!r}, which is not "
                            f"under the same parent domain as {domain.name!r}"
                        ),
                    )
            zones.setdefault(domain.hosted_zone_id, (environment.name, domain.name))
