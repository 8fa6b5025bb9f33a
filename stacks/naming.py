"""Names that users, the application and the ops tools rely on. Changing one is a migration."""

from __future__ import annotations

from dataclasses import dataclass

PROJECT = "chefs-kiss"


def name_prefix(env: str) -> str:
    return f"{PROJECT}-{env}"


def platform_stack_name(env: str) -> str:
    return f"{PROJECT}-{env}-platform"


def tenant_stack_name(env: str, slug: str) -> str:
    return f"{PROJECT}-{env}-tenant-{slug}"


def dr_platform_stack_name(env: str) -> str:
    """The standby platform in the environment's recovery region (seed 7.1)."""
    return f"{PROJECT}-{env}-dr-platform"


def standby_stack_name(env: str, slug: str) -> str:
    """One restaurant's standby (read replica, access role, parameter) in the recovery region."""
    return f"{PROJECT}-{env}-dr-tenant-{slug}"


def dr_prefix(env: str) -> str:
    """Prefix of the recovery region's global names (IAM is global: they must not collide)."""
    return f"{PROJECT}-{env}-dr"


def db_instance_identifier(env: str, slug: str) -> str:
    return f"{PROJECT}-{env}-{slug}"


def tenant_secret_name(env: str, slug: str) -> str:
    return f"{PROJECT}/{env}/tenants/{slug}/db"


def tenant_role_name(env: str, slug: str, *, standby: bool = False) -> str:
    """The per-restaurant access role; the recovery region's has its own (IAM names are global)."""
    return f"{dr_prefix(env) if standby else name_prefix(env)}-tenant-{slug}-access"


def tenant_connection_parameter_name(env: str, slug: str) -> str:
    """The SSM parameter that says how the app connects to this restaurant's database (JSON)."""
    return f"/{PROJECT}-{env}/tenants/{slug}/connection"


def db_bootstrap_log_group_name(env: str, slug: str) -> str:
    """The run log of the tenant's database bootstrap function: outside the platform key's
    `/chefs-kiss-<env>/*`, so only the tenant's own key may encrypt it."""
    return f"/{PROJECT}/{env}/tenants/{slug}/db-bootstrap"


def tenant_key_alias(env: str, slug: str) -> str:
    return f"alias/{PROJECT}/{env}/tenants/{slug}"


def uploads_bucket_name(env: str, account: str, region: str) -> str:
    """Globally unique by account and region; tenant stacks derive it instead of importing it."""
    return f"{PROJECT}-{env}-uploads-{account}-{region}"


def app_task_role_name(env: str, *, standby: bool = False) -> str:
    return f"{dr_prefix(env) if standby else name_prefix(env)}-app-task"


def app_probe_role_name(env: str, *, standby: bool = False) -> str:
    """The post-deploy probe's own role: it may only assume the app task role."""
    return f"{dr_prefix(env) if standby else name_prefix(env)}-app-probe"


def app_probe_function_name(env: str) -> str:
    """The post-deploy probe (Lambda) that `ops smoke --probe` invokes."""
    return f"{PROJECT}-{env}-app-probe"


# The same conventions as templates the app fills in with a restaurant's slug.
def tenant_secret_name_template(env: str) -> str:
    return tenant_secret_name(env, "{slug}")


def tenant_role_name_template(env: str, *, standby: bool = False) -> str:
    return tenant_role_name(env, "{slug}", standby=standby)


def tenant_connection_parameter_name_template(env: str) -> str:
    return tenant_connection_parameter_name(env, "{slug}")


def db_instance_arn(*, partition: str, region: str, account: str, identifier: str) -> str:
    """An RDS instance's ARN from its identifier: how the standby names its replica's source
    without a cross-region reference (the account may be a token, e.g. `Aws.ACCOUNT_ID`)."""
    return f"arn:{partition}:rds:{region}:{account}:db:{identifier}"


# The log archive (docs/log-archive.md): the platform creates these by name, and each tenant
# stack's subscription filters name them, so no tenant changes the platform stack.
def log_archive_stream_name(env: str) -> str:
    """The environment's Firehose stream that carries subscribed log groups to the archive."""
    return f"{PROJECT}-{env}-log-archive"


def log_archive_subscription_role_name(env: str, *, standby: bool = False) -> str:
    """The role CloudWatch Logs assumes to put a subscribed group's events on that stream; the
    standby platform's archive has its own (IAM names are global)."""
    return f"{dr_prefix(env) if standby else name_prefix(env)}-log-archive-subscription"


def log_archive_bucket_name(env: str, account: str, region: str) -> str:
    """The archive bucket: globally unique by account and region, like the uploads bucket."""
    return f"{PROJECT}-{env}-log-archive-{account}-{region}"


def log_archive_owner(slug: str | None = None) -> str:
    """The owner part of archive keys `<kind>/<owner>/<log>/...`: `platform`, or
    `tenant-<slug>` for a restaurant's logs (so `*/tenant-<slug>/` finds all of them)."""
    return "platform" if slug is None else f"tenant-{slug}"


# Parsing a stack name back into what it is: the deploy tools order stacks by kind (platform,
# standby platform, restaurant, standby) and must never guess from a substring. Environment names
# are letters and digits only (config/schema.py), so the first word after the project is the
# environment and the rest says the kind; slugs may contain hyphens.
PLATFORM = "platform"
DR_PLATFORM = "dr-platform"
TENANT = "tenant"
STANDBY = "standby"
OTHER = "other"  # `chefs-kiss-<env>-<something else>`: an environment's stack of another kind


@dataclass(frozen=True)
class StackName:
    """A stack name of this project, parsed: `environment`, `kind`, and `slug` for restaurants."""

    name: str
    environment: str
    kind: str  # PLATFORM, DR_PLATFORM, TENANT, STANDBY or OTHER
    slug: str | None = None


def parse_stack_name(name: str) -> StackName | None:
    """`chefs-kiss-prod-tenant-casa-verde` -> StackName(.., "prod", TENANT, "casa-verde").

    The inverse of the stack-name functions above; a name of the form `chefs-kiss-<env>-<rest>`
    that none of them produces is kind OTHER; anything else (another project's stack) is None."""
    rest = name.removeprefix(f"{PROJECT}-")
    environment, _, kind = rest.partition("-")
    if rest == name or not environment.isalnum() or not kind:
        return None
    if name == platform_stack_name(environment):
        return StackName(name, environment, PLATFORM)
    if name == dr_platform_stack_name(environment):
        return StackName(name, environment, DR_PLATFORM)
    for prefix, parsed_kind in (
        (tenant_stack_name(environment, ""), TENANT),
        (standby_stack_name(environment, ""), STANDBY),
    ):
        slug = name.removeprefix(prefix)
        if slug != name and slug:
            return StackName(name, environment, parsed_kind, slug)
    return StackName(name, environment, OTHER)
