"""Names that users, the application and the ops tools rely on. Changing one is a migration."""

from __future__ import annotations

PROJECT = "chefs-kiss"


def name_prefix(env: str) -> str:
    return f"{PROJECT}-{env}"


def platform_stack_name(env: str) -> str:
    return f"{PROJECT}-{env}-platform"


def tenant_stack_name(env: str, slug: str) -> str:
    return f"{PROJECT}-{env}-tenant-{slug}"


def db_instance_identifier(env: str, slug: str) -> str:
    return f"{PROJECT}-{env}-{slug}"


def tenant_secret_name(env: str, slug: str) -> str:
    return f"{PROJECT}/{env}/tenants/{slug}/db"


def tenant_role_name(env: str, slug: str) -> str:
    return f"{PROJECT}-{env}-tenant-{slug}-access"


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


def app_task_role_name(env: str) -> str:
    return f"{PROJECT}-{env}-app-task"


def app_probe_role_name(env: str) -> str:
    """The post-deploy probe's own role: it may only assume the app task role."""
    return f"{PROJECT}-{env}-app-probe"


def app_probe_function_name(env: str) -> str:
    """The post-deploy probe (Lambda) that `ops smoke --probe` invokes."""
    return f"{PROJECT}-{env}-app-probe"


# The same conventions as templates the app fills in with a restaurant's slug.
def tenant_secret_name_template(env: str) -> str:
    return tenant_secret_name(env, "{slug}")


def tenant_role_name_template(env: str) -> str:
    return tenant_role_name(env, "{slug}")


def tenant_connection_parameter_name_template(env: str) -> str:
    return tenant_connection_parameter_name(env, "{slug}")
