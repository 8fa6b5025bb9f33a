"""At 100 restaurants: within CloudFormation and AWS limits, nag-clean, and onboarding is O(1).

One app with two generated environments is synthesized once for the whole module:

    bigscale  100 restaurants (both tiers, three sizes), capacity sized for 100
    fewscale    6 restaurants, one of each (tier, size) -> nag reference per tenant class

and two one-restaurant apps under the SAME environment name (logical ids and export names embed
the stack name, so only a same-named environment can be byte-identical):

    one       bigscale with 1 restaurant, capacity sized for 100 -> platform equals the 100's
    solo      bigscale with 1 restaurant, default capacity band  -> differs in task counts only
"""

from __future__ import annotations

import json
import re
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from app import build_app, project_context
from config.generated import EXAMPLE_ALERTS, EXAMPLE_DOMAIN, generated_environment
from config.schema import EnvironmentConfig
from constructs.compliance import NAG_PACKS
from ops.assembly import StackArtifact, read_assembly
from ops.limits.preflight import (
    EnvironmentView,
    ResourceRef,
    _managed_policy_size,
    environment_stacks,
    preflight,
    role_inline_policy_sizes,
    role_managed_policies,
)
from stacks import naming

# 100 restaurants synthesized once per module: one worker, and not in `make test-quick`.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("scale")]

BIG, FEW = "bigscale", "fewscale"
TENANTS = 100
TIER_MIX = {"production": 0.6, "poc": 0.4}
SIZE_MIX = {"small": 0.5, "medium": 0.3, "large": 0.2}
# The seed's scaling: task counts follow the tenant count, and nothing else on the platform does.
TASK_COUNT_PROPERTIES = {"DesiredCount", "MinCapacity", "MaxCapacity"}


FIXED_CAPACITY = {"app": {"capacity_tenants": TENANTS}}
FIRST_CLASS = {"small": 1.0}  # the (tier, size) class of the 100-restaurant environment's r0001


def environments() -> list[EnvironmentConfig]:
    classes = [
        {"slug": f"c-{tier}-{size}", "tier": tier, "size": size}
        for tier in ("production", "poc")
        for size in ("small", "medium", "large")
    ]
    few = EnvironmentConfig.model_validate(
        {
            "name": FEW,
            "profile": "production",
            "region": "us-east-1",
            "domain": EXAMPLE_DOMAIN,
            "alerts": EXAMPLE_ALERTS,
            "restaurants": classes,
            **FIXED_CAPACITY,
        }
    )
    big = generated_environment(
        BIG, TENANTS, tier_mix=TIER_MIX, size_mix=SIZE_MIX, **FIXED_CAPACITY
    )
    return [big, few]


@dataclass(frozen=True)
class Scale:
    stacks: dict[str, StackArtifact]
    config: dict[str, EnvironmentConfig]
    # (pack, rule id, construct path) of every unacknowledged finding
    findings: tuple[tuple[str, str, str], ...]

    def env(self, name: str) -> EnvironmentView:
        return EnvironmentView(environment_stacks(self.stacks, name))

    def text(self, stack: str) -> str:
        return self.stacks[stack].template_path.read_text(encoding="utf-8")


def synthesize(outdir: Path, config: list[EnvironmentConfig], nag: bool = False) -> Scale:
    """Synthesize like `cdk synth`, minus aws-cdk-lib's built-in CloudFormation Validate: it does
    not change the templates, other tests cover template validity (cfn-lint), and at 100
    restaurants it is most of the synthesis time (`python -m ops bench --no-cfn-validate`)."""
    app = cdk.App(
        context=project_context(), outdir=str(outdir), builtin_cloud_formation_validation=False
    )
    build_app(environments=config, nag_packs=(), app=app)
    app.synth()
    findings = []
    for pack, factory in NAG_PACKS.items() if nag else ():
        for violation in factory().validate_scope(app).violations:
            for resource in violation.violating_resources:
                findings.append((pack, violation.rule_name, resource.construct_path))
    return Scale(read_assembly(outdir), {c.name: c for c in config}, tuple(findings))


@pytest.fixture(scope="module")
def scale(tmp_path_factory: pytest.TempPathFactory) -> Scale:
    """The shared 100-restaurant synthesis (about ten seconds on two cores); nag packs run with
    validate_scope so that findings are listed instead of failing the synthesis."""
    return synthesize(tmp_path_factory.mktemp("scale.out"), environments(), nag=True)


@pytest.fixture(scope="module")
def one(tmp_path_factory: pytest.TempPathFactory) -> Scale:
    config = generated_environment(BIG, 1, size_mix=FIRST_CLASS, **FIXED_CAPACITY)
    return synthesize(tmp_path_factory.mktemp("one.out"), [config])


@pytest.fixture(scope="module")
def solo(tmp_path_factory: pytest.TempPathFactory) -> Scale:
    config = generated_environment(BIG, 1, size_mix=FIRST_CLASS)
    return synthesize(tmp_path_factory.mktemp("solo.out"), [config])


PLATFORM = naming.platform_stack_name(BIG)


# --------------------------------------------------------------------------- O(1) onboarding


def test_platform_template_is_identical_for_1_and_100_restaurants(scale: Scale, one: Scale) -> None:
    assert one.text(PLATFORM) == scale.text(PLATFORM)


def json_differences(a: Any, b: Any, path: str = "") -> Iterator[str]:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in sorted(set(a) | set(b)):
            yield from json_differences(a.get(key), b.get(key), f"{path}/{key}")
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        for index, (x, y) in enumerate(zip(a, b, strict=True)):
            yield from json_differences(x, y, f"{path}/{index}")
    elif a != b:
        yield path


def test_without_a_fixed_capacity_only_task_counts_differ(scale: Scale, solo: Scale) -> None:
    small = json.loads(solo.text(PLATFORM))
    big = json.loads(scale.text(PLATFORM))
    differences = list(json_differences(small, big))
    assert differences, "1 and 100 restaurants should be sized differently by default"
    assert {path.rsplit("/", 1)[-1] for path in differences} <= TASK_COUNT_PROPERTIES, differences
    # ... and those are the ECS service and its scalable target, nothing per tenant
    types = {big["Resources"][path.split("/")[2]]["Type"] for path in differences}
    assert types <= {"AWS::ECS::Service", "AWS::ApplicationAutoScaling::ScalableTarget"}


def test_a_tenant_stack_is_independent_of_how_many_others_exist(scale: Scale, one: Scale) -> None:
    """The same restaurant alone or among 100 synthesizes to the same tenant template."""
    first = scale.config[BIG].restaurants[0]
    only = one.config[BIG].restaurants[0]
    assert (first.slug, first.tier, first.resolved_size) == (
        only.slug,
        only.tier,
        only.resolved_size,
    )
    stack = naming.tenant_stack_name(BIG, first.slug)
    assert one.text(stack) == scale.text(stack)


# --------------------------------------------------------------------------- limits at 100


def test_every_stack_is_within_cloudformation_limits_and_nothing_hard_fails(scale: Scale) -> None:
    results = {r.id: r for r in preflight(scale.stacks, BIG)}
    assert len(environment_stacks(scale.stacks, BIG)) == TENANTS + 1
    for check in ("cfn-resources", "cfn-outputs", "cfn-parameters", "cfn-template-size"):
        assert results[check].status == "ok", results[check]
    assert [r for r in results.values() if r.status == "error"] == []
    # 100 databases do exceed the default RDS quota: preflight must say which quota to raise
    assert results["rds-instances"].status == "warning"
    assert "'Amazon RDS: DB instances'" in results["rds-instances"].message


def test_every_database_uses_the_one_shared_subnet_group(scale: Scale) -> None:
    view = scale.env(BIG)
    groups = [ResourceRef(s, lid) for s, lid, _ in view.resources("AWS::RDS::DBSubnetGroup")]
    assert len(groups) == 1 and groups[0].stack == naming.platform_stack_name(BIG)
    databases = list(view.resources("AWS::RDS::DBInstance"))
    assert len(databases) == TENANTS
    for stack, _, resource in databases:
        assert view.references(stack, resource["Properties"]["DBSubnetGroupName"]) == set(groups)


def app_role_policies(scale: Scale) -> tuple[int, int, int]:
    """(inline characters, managed policies attached, characters of the attached customer
    managed policies) of the app task role, counted over every stack of the environment."""
    view = scale.env(BIG)
    role_name = naming.app_task_role_name(BIG)
    (role,) = [
        f"{s}/{lid}"
        for s, lid, r in view.resources("AWS::IAM::Role")
        if r["Properties"].get("RoleName") == role_name
    ]
    attached = role_managed_policies(view)[role]
    sizes = {r.subject: r.value for r in _managed_policy_size(view)}
    return (
        role_inline_policy_sizes(view)[role][0],
        len(attached),
        sum(sizes.get(policy, 0) for policy in attached),
    )


def test_app_task_role_policies_are_far_under_the_limits_and_do_not_grow(
    scale: Scale, one: Scale
) -> None:
    inline, attached, managed = app_role_policies(scale)
    assert inline < 10_240 // 5  # inline policy characters per role (hard limit)
    assert attached <= 10 // 5 and managed < 6_144 // 3  # managed policies per role / size
    assert inline + managed > 0, "the role must be allowed to assume the tenant access roles"
    assert (inline, attached, managed) == app_role_policies(one)


# --------------------------------------------------------------------------- nag at 100


def normalized(config: EnvironmentConfig, path: str) -> tuple[str, str]:
    """("platform" | the tenant's (tier, size) class, path inside the stack) of a construct."""
    stack, _, inner = path.partition("/")
    if stack == naming.platform_stack_name(config.name):
        return "platform", inner
    slug = stack.removeprefix(f"{naming.name_prefix(config.name)}-tenant-")
    restaurant = config.restaurant(slug)
    return f"tenant:{restaurant.tier}:{restaurant.resolved_size}", inner


def test_aws_solutions_has_no_findings_at_100(scale: Scale) -> None:
    assert [f for f in scale.findings if f[0] == "AwsSolutions"] == []


def test_other_packs_find_at_100_exactly_what_they_find_per_tenant_class(scale: Scale) -> None:
    """No finding depends on the tenant count: the 100-restaurant environment has the platform
    findings of a small one plus, per restaurant, the findings of its (tier, size) class. When
    the packs are clean on main this is zero == zero."""

    def by_env(env: str) -> list[tuple[str, str, str, str]]:
        prefix = f"{naming.name_prefix(env)}-"
        return [
            (pack, rule, *normalized(scale.config[env], path))
            for pack, rule, path in scale.findings
            if path.startswith(prefix)
        ]

    per_class: dict[str, Counter[tuple[str, str, str, str]]] = {}
    for finding, count in Counter(by_env(FEW)).items():
        per_class.setdefault(finding[2], Counter())[finding] = count
    expected: Counter[tuple[str, str, str, str]] = Counter(per_class.get("platform", Counter()))
    for restaurant in scale.config[BIG].restaurants:
        expected.update(per_class.get(f"tenant:{restaurant.tier}:{restaurant.resolved_size}", {}))
    assert Counter(by_env(BIG)) == expected
    # the reference is complete: every class among the 100 restaurants has its reference
    big_classes = {(r.tier, r.resolved_size) for r in scale.config[BIG].restaurants}
    assert big_classes <= {(r.tier, r.resolved_size) for r in scale.config[FEW].restaurants}
    assert len(big_classes) >= 4


def test_tenant_stack_names_and_slugs_are_what_generated_environments_promise(
    scale: Scale,
) -> None:
    names = sorted(environment_stacks(scale.stacks, BIG))
    assert names[0] == naming.platform_stack_name(BIG)
    assert all(re.fullmatch(rf"chefs-kiss-{BIG}-tenant-r\d{{4}}", n) for n in names[1:])
