#!/usr/bin/env python3
"""The Chef's Kiss CDK app: one platform stack per environment, one tenant stack per restaurant;
with `disaster_recovery`, a standby platform and one standby stack per covered restaurant in the
recovery region (docs/disaster-recovery.md).

npx cdk synth                                   # every environment in config/environments
npx cdk deploy chefs-kiss-dev-tenant-taco-loco  # one named stack
npx cdk synth -c environments=dev               # only some environments (comma-separated)
npx cdk synth -c config_dir=path/to/environments  # another set of environment files
"""

from __future__ import annotations

import json
import os
import shutil
import sys
import tempfile
from collections.abc import Collection, Iterable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from config import ConfigError, EnvironmentConfig, load_environments
from stacks import naming
from synthesis.kernel import SettingError, as_cdk_synth, check_validate_threads, use_direct_kernel

# Before anything imports aws_cdk (which starts the jsii kernel): the kernel without its relay.
use_direct_kernel()

# aws_cdk starts a Node.js runtime (seconds): imported only once the config has validated, so a
# config error is reported at once and nothing of CDK runs (or writes) before it.
if TYPE_CHECKING:
    import aws_cdk as cdk

    from stacks.platform_stack import PlatformStack
    from synthesis.shards import Shard

PROJECT_DIR = Path(__file__).resolve().parent


def project_context() -> dict[str, object]:
    """The feature flags of cdk.json, so that tests build exactly what `cdk synth` builds."""
    data = json.loads((PROJECT_DIR / "cdk.json").read_text(encoding="utf-8"))
    return dict(data.get("context", {}))


def add_environment(
    app: cdk.App, environment: EnvironmentConfig, *, only: Collection[str] | None = None
) -> PlatformStack:
    """Compose the stacks of one environment into `app`: its platforms, and the tenant and
    standby stacks of every restaurant, or of the slugs in `only` (a shard of the app,
    synthesis/shards.py)."""
    import aws_cdk as cdk

    from stacks.platform_stack import PlatformStack
    from stacks.tenant_stack import TenantStack

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
    standby_platform = _add_standby_platform(app, environment, common_tags)

    tenants: dict[str, TenantStack] = {}
    for restaurant in environment.restaurants:
        if only is not None and restaurant.slug not in only:
            continue
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
        tenant_tags = cdk.Tags.of(tenant)  # one kernel object for the four tags
        for key, value in tags.items():
            # CDK tags DBProxyTargetGroup, which CloudFormation does not accept tags on.
            tenant_tags.add(key, value, exclude_resource_types=["AWS::RDS::DBProxyTargetGroup"])
        tenants[restaurant.slug] = tenant
    if standby_platform is not None:
        # Deploy order (seed 7.1): primary platform, standby platform, tenants, standbys.
        standby_platform.add_stack_dependency(platform)
        for tenant in tenants.values():
            tenant.add_stack_dependency(standby_platform)
        _add_standbys(app, environment, standby_platform, tenants, common_tags)
    return platform


def _add_standby_platform(
    app: cdk.App, environment: EnvironmentConfig, common_tags: dict[str, str]
) -> PlatformStack | None:
    """The standby platform in the recovery region, when the environment has one."""
    import aws_cdk as cdk

    from stacks.dr_platform_stack import StandbyPlatformStack

    recovery = environment.disaster_recovery
    if recovery is None:
        return None
    name = naming.dr_platform_stack_name(environment.name)
    stack = StandbyPlatformStack(
        app,
        name,
        stack_name=name,
        environment=environment,
        # A concrete region (never a lookup: the zones are Fn::GetAZs or pinned, like the primary).
        env=cdk.Environment(account=environment.account, region=recovery.region),
        termination_protection=environment.profile == "production",
        description=f"Chef's Kiss {environment.name}: standby platform in {recovery.region} "
        f"({recovery.mode}, disaster recovery of {environment.region})",
    )
    for key, value in {**common_tags, "DisasterRecovery": "standby"}.items():
        cdk.Tags.of(stack).add(key, value)
    return stack


def _add_standbys(
    app: cdk.App,
    environment: EnvironmentConfig,
    standby_platform: PlatformStack,
    tenants: Mapping[str, cdk.Stack],
    common_tags: dict[str, str],
) -> None:
    """One standby stack per covered restaurant, after its tenant stack and the standby
    platform (its replica needs the primary database; its record, the PRIMARY one)."""
    import aws_cdk as cdk

    from stacks.standby_stack import StandbyStack

    recovery = environment.disaster_recovery
    assert recovery is not None
    for restaurant in environment.standby_restaurants():
        if restaurant.slug not in tenants:  # another shard's restaurant
            continue
        name = naming.standby_stack_name(environment.name, restaurant.slug)
        standby = StandbyStack(
            app,
            name,
            stack_name=name,
            environment=environment,
            restaurant=restaurant,
            platform=standby_platform.interface,
            env=cdk.Environment(account=environment.account, region=recovery.region),
            termination_protection=restaurant.tier == "production"
            and restaurant.resolved_deletion_protection,
            description=f"Chef's Kiss {environment.name}: standby of restaurant "
            f"{restaurant.slug} in {recovery.region} (read replica of {environment.region})",
        )
        standby.add_stack_dependency(tenants[restaurant.slug])
        standby.add_stack_dependency(standby_platform)
        tags = {
            **common_tags,
            "TenantId": restaurant.slug,
            "Tier": restaurant.tier,
            "DisasterRecovery": "standby",
        }
        for key, value in tags.items():
            cdk.Tags.of(standby).add(key, value)


def build_app(
    *,
    environments: Iterable[EnvironmentConfig] | None = None,
    config_dir: Path | None = None,
    only: Sequence[str] | None = None,
    nag_packs: Sequence[str] | None = None,
    app: cdk.App | None = None,
    shard: Shard | None = None,
) -> cdk.App:
    """Build the whole app. Tests pass `environments` (generated) or `config_dir`.

    `nag_packs`: the packs to register; None means constructs.compliance.DEFAULT_NAG_PACKS.
    `shard`: only its restaurants' stacks, beside every platform (synthesis/shards.py).
    """
    import aws_cdk as cdk

    from constructs.compliance import DEFAULT_NAG_PACKS, check_nag_packs, register_nag_packs

    if nag_packs is None:
        nag_packs = DEFAULT_NAG_PACKS
    check_nag_packs(nag_packs)  # before building anything
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
    environments = list(environments)
    chosen = shard.slugs(environments) if shard else {}
    for environment in environments:
        add_environment(app, environment, only=chosen.get(environment.name) if shard else None)
    register_nag_packs(app, nag_packs)
    return app


MAX_ERROR_CHARS = 20_000  # a nag report of many findings stays readable; a runaway one is cut


def _replace_assembly(staging: Path, outdir: Path) -> None:
    """Put the new assembly in `outdir` only now that it is complete.

    The CDK CLI keeps its lock files (`synth.lock`, `read.*.lock`) in `outdir` while the app
    runs, so the directory itself stays and its other entries are swapped: the old ones are
    moved aside first and put back if a move fails.
    """
    outdir.mkdir(parents=True, exist_ok=True)
    aside = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.old-", dir=outdir.parent))
    moved: list[str] = []
    placed: list[str] = []
    try:
        for entry in list(outdir.iterdir()):
            if not entry.name.endswith(".lock"):
                os.replace(entry, aside / entry.name)
                moved.append(entry.name)
        for entry in list(staging.iterdir()):
            os.replace(entry, outdir / entry.name)
            placed.append(entry.name)
    except OSError:
        for name in placed:  # the previous assembly comes back as it was
            shutil.rmtree(outdir / name) if (outdir / name).is_dir() else (outdir / name).unlink()
        for name in moved:
            os.replace(aside / name, outdir / name)
        raise
    finally:
        shutil.rmtree(aside, ignore_errors=True)
        shutil.rmtree(staging, ignore_errors=True)


def _capped(text: str, limit: int = MAX_ERROR_CHARS) -> str:
    return text if len(text) <= limit else text[:limit] + f"\n... ({len(text)} characters)"


def _load_from_cli_context() -> list[EnvironmentConfig] | None:
    """The environments `-c environments=` / `-c config_dir=` select, validated before CDK
    starts; None if the context cannot be read here (build_app then loads them)."""
    context: dict[str, Any] = {}
    try:
        context.update(json.loads(os.environ.get("CDK_CONTEXT_JSON") or "{}"))
        overflow = os.environ.get("CONTEXT_OVERFLOW_LOCATION_ENV")  # the CLI's large contexts
        if overflow:
            context.update(json.loads(Path(overflow).read_text(encoding="utf-8")))
    except (OSError, ValueError):
        return None  # build_app reads the context as CDK parses it
    selected = context.get("environments")
    names = [n for n in str(selected).split(",") if n] if selected else None
    directory = context.get("config_dir")
    kwargs = {"directory": Path(str(directory))} if directory else {}
    return load_environments(names=names, **kwargs)


def main() -> int:
    """Validate, build and synthesize; on any failure the previous cdk.out stays as it was.

    Under the CDK CLI the assembly goes to CDK_OUTDIR (cdk.out). It is synthesized into a
    sibling temporary directory and moved into place only when synthesis has succeeded, so a
    config error, a construct error or a cdk-nag finding never leaves a partial assembly.
    """
    from synthesis.shards import WorkersSettingError, shard_count, synthesize_in_shards

    target = os.environ.get("CDK_OUTDIR")
    staging: Path | None = None
    try:
        check_validate_threads()
        environments = _load_from_cli_context()
        if not target:  # `python app.py` alone: synthesized in place
            assembly = build_app(environments=environments).synth()
            remove_stale_templates(Path(assembly.directory))  # what a wider synthesis left
            return 0
        outdir = Path(target).absolute()
        outdir.parent.mkdir(parents=True, exist_ok=True)
        staging = Path(tempfile.mkdtemp(prefix=f".{outdir.name}.new-", dir=outdir.parent))
        shards = shard_count(environments) if environments is not None else 1
        if environments is not None and shards > 1:  # a large app (synthesis/shards.py)
            synthesize_in_shards(environments, staging, count=shards)
        else:
            import aws_cdk as cdk

            app = cdk.App(context=project_context(), outdir=str(staging))
            build_app(environments=environments, app=app).synth()
        _replace_assembly(staging, outdir)
        staging = None
    except (ConfigError, WorkersSettingError, SettingError) as exc:
        print(f"configuration error:\n{exc}", file=sys.stderr)
        return 2
    except Exception as exc:  # a construct check or cdk-nag (of any shard): a message
        print(f"synthesis failed: {_capped(str(exc))}", file=sys.stderr)
        return 1
    finally:
        if staging is not None:
            shutil.rmtree(staging, ignore_errors=True)
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
    as_cdk_synth()  # synthesis/kernel.py: type checks skipped, validation threads started early
    sys.exit(main())
