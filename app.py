#!/usr/bin/env python3
"""The Chef's Kiss CDK app: one platform stack per environment, one tenant stack per restaurant.

npx cdk synth                                   # every environment in config/environments
npx cdk deploy chefs-kiss-dev-tenant-taco-loco  # one named stack
npx cdk synth -c environments=dev               # only some environments (comma-separated)
npx cdk synth -c config_dir=path/to/environments  # another set of environment files
"""

from __future__ import annotations

import json
import sys
from collections.abc import Iterable, Sequence
from pathlib import Path

import aws_cdk as cdk

from config import ConfigError, EnvironmentConfig, load_environments
from constructs.compliance import DEFAULT_NAG_PACKS, register_nag_packs
from stacks import naming
from stacks.platform_stack import PlatformStack
from stacks.tenant_stack import TenantStack

PROJECT_DIR = Path(__file__).resolve().parent


def project_context() -> dict[str, object]:
    """The feature flags of cdk.json, so that tests build exactly what `cdk synth` builds."""
    data = json.loads((PROJECT_DIR / "cdk.json").read_text(encoding="utf-8"))
    return dict(data.get("context", {}))


def add_environment(app: cdk.App, environment: EnvironmentConfig) -> PlatformStack:
    """Compose the stacks of one environment into `app`."""
    stack_env = None
    if environment.account or environment.region:
        stack_env = cdk.Environment(account=environment.account, region=environment.region)
    production = environment.profile == "production"
    common_tags = {"Project": naming.PROJECT, "Environment": environment.name}

    platform = PlatformStack(
        app,
        naming.platform_stack_name(environment.name),
        stack_name=naming.platform_stack_name(environment.name),
        environment=environment,
        env=stack_env,
        termination_protection=production,
        description=f"Chef's Kiss {environment.name}: shared platform "
        f"({environment.profile} profile)",
    )
    for key, value in common_tags.items():
        cdk.Tags.of(platform).add(key, value)

    for restaurant in environment.restaurants:
        name = naming.tenant_stack_name(environment.name, restaurant.slug)
        tenant = TenantStack(
            app,
            name,
            stack_name=name,
            environment=environment,
            restaurant=restaurant,
            platform=platform.interface,
            env=stack_env,
            # Offboarding (deletion_protection: false) lifts both protections in one deploy.
            termination_protection=restaurant.tier == "production"
            and restaurant.resolved_deletion_protection,
            description=f"Chef's Kiss {environment.name}: restaurant {restaurant.slug} "
            f"({restaurant.tier} tier)",
        )
        tenant.add_stack_dependency(platform)
        tags = {**common_tags, "TenantId": restaurant.slug, "Tier": restaurant.tier}
        for key, value in tags.items():
            # CDK tags DBProxyTargetGroup, which CloudFormation does not accept tags on.
            cdk.Tags.of(tenant).add(
                key, value, exclude_resource_types=["AWS::RDS::DBProxyTargetGroup"]
            )
    return platform


def build_app(
    *,
    environments: Iterable[EnvironmentConfig] | None = None,
    config_dir: Path | None = None,
    only: Sequence[str] | None = None,
    nag_packs: Sequence[str] = DEFAULT_NAG_PACKS,
    app: cdk.App | None = None,
) -> cdk.App:
    """Build the whole app. Tests pass `environments` (generated) or `config_dir`."""
    # The CLI passes cdk.json's context too, and its -c values win over these.
    app = app or cdk.App(context=project_context())
    if environments is None:
        if only is None:
            selected = app.node.try_get_context("environments")
            only = [n for n in str(selected).split(",") if n] if selected else None
        # `-c config_dir=DIR` points the app at another set of environment files.
        directory = config_dir or app.node.try_get_context("config_dir")
        kwargs = {"directory": Path(str(directory))} if directory else {}
        environments = load_environments(names=only, **kwargs)
    for environment in environments:
        add_environment(app, environment)
    register_nag_packs(app, nag_packs)
    return app


def main() -> int:
    try:
        app = build_app()
    except ConfigError as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        return 2
    assembly = app.synth()
    remove_stale_templates(Path(assembly.directory))
    return 0


def remove_stale_templates(outdir: Path) -> list[str]:
    """Delete stack templates, asset and metadata files this synthesis did not write.

    The CLI reuses `cdk.out`: after `cdk synth -c environments=dev`, the other environments'
    templates from an earlier run would still lie beside the new manifest, and tools that read
    files (cfn-lint over `cdk.out/*.template.json`, a person) would take them as current."""
    manifest = json.loads((outdir / "manifest.json").read_text(encoding="utf-8"))
    current = {
        str(where.get(key))
        for artifact in manifest.get("artifacts", {}).values()
        for where in (artifact, artifact.get("properties", {}))
        for key in ("templateFile", "file", "additionalMetadataFile")
    }
    removed = []
    stale = [outdir.glob(f"*.{kind}.json") for kind in ("template", "assets", "metadata")]
    for path in sorted(p for paths in stale for p in paths):
        if path.name not in current:
            path.unlink()
            removed.append(path.name)
    return removed


if __name__ == "__main__":
    sys.exit(main())
