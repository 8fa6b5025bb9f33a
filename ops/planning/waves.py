"""Which stacks a change deploys, in which order and in which waves: a pure function of assemblies.

The order of one environment: its platform stack, then its standby platform (disaster recovery),
then any other shared stack of the environment, then the restaurants: one canary first, then
waves of growing size (by default 1, 10% of the touched restaurants, then the rest). A
restaurant's standby stack deploys in the same wave as its tenant stack, right after it (a second
`cdk deploy` call of the wave): a restaurant is one unit of risk, so a wave that fails has touched
only its own restaurants' primaries and standbys, and a failover in the middle of a rollout finds
every restaurant's primary and standby at the same version (a final wave of all standbys would
leave the recovery region one version behind for the whole rollout).

"Touched" is what `ops plan` judges changed (ops/planning/planner.py): a stack added or modified
in the head assembly, compared as deployed (CLI-only metadata ignored). A stack removed from the
head is never deployed: it is listed so that the operator offboards it (`ops offboard`).

Nothing here calls AWS or runs the CLI: `ops rollout` (ops/deploy/rollout.py) runs the waves.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from ops.assembly import StackArtifact
from ops.planning.planner import Plan, plan_assemblies
from stacks import naming

DEFAULT_WAVES = ("1", "10%")  # after the canary; the rest is always the last wave
PRODUCTION_TIER = "production"
TIER_TAG = "Tier"  # stacks/tenant_stack.py tags every tenant resource with its tier
SHARED_KINDS = (naming.PLATFORM, naming.DR_PLATFORM, naming.OTHER)


class RolloutError(ValueError):
    """A rollout that cannot be planned: an unknown canary, bad wave sizes."""


@dataclass(frozen=True)
class Wave:
    """One step of a rollout: `phases` are `cdk deploy` calls run in order (each a list of
    stacks deployed together, concurrency bounded), then the probe of `probe`."""

    name: str
    phases: tuple[tuple[str, ...], ...]
    restaurants: tuple[str, ...] = ()  # the restaurants whose stacks this wave deploys
    probe: tuple[str, ...] = ()  # the restaurants probed after it

    @property
    def stacks(self) -> tuple[str, ...]:
        return tuple(name for phase in self.phases for name in phase)

    def to_dict(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "stacks": list(self.stacks),
            "phases": [list(phase) for phase in self.phases],
            "restaurants": list(self.restaurants),
            "probe": list(self.probe),
        }


@dataclass(frozen=True)
class Rollout:
    environment: str
    waves: tuple[Wave, ...]
    canary: str | None
    removed: tuple[str, ...] = ()  # stacks the head no longer has: offboard, never deployed
    everything: bool = False  # --all: every stack of the environment, today's single deploy
    notes: tuple[str, ...] = field(default=())

    @property
    def stacks(self) -> tuple[str, ...]:
        """Every stack the rollout deploys, in deploy order."""
        return tuple(name for wave in self.waves for name in wave.stacks)

    @property
    def restaurants(self) -> tuple[str, ...]:
        return tuple(slug for wave in self.waves for slug in wave.restaurants)

    def to_dict(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "all": self.everything,
            "canary": self.canary,
            "stacks": list(self.stacks),
            "waves": [wave.to_dict() for wave in self.waves],
            "removed": list(self.removed),
            "notes": list(self.notes),
        }


# ---------------------------------------------------------------------------------------------
# Wave sizes


def parse_wave_sizes(text: str | Sequence[str]) -> tuple[str, ...]:
    """`"1,10%"` -> ("1", "10%"): each a count of restaurants or a percentage of the touched
    restaurants (canary included), rounded up; the rest is always the last wave."""
    items = [s.strip() for s in (text.split(",") if isinstance(text, str) else text)]
    items = [s for s in items if s and s != "rest"]
    for item in items:
        number = item.removesuffix("%")
        if not number.isdigit() or int(number) < 1 or (item.endswith("%") and int(number) > 100):
            raise RolloutError(
                f"--waves {item!r}: allowed: a count of restaurants (1, 2, ...) or a percentage "
                "(1% to 100%), comma-separated; the rest is always the last wave"
            )
    return tuple(items)


def wave_counts(after_canary: int, total: int, sizes: Sequence[str]) -> list[int]:
    """How many restaurants each wave after the canary takes (the last one: the rest)."""
    counts: list[int] = []
    left = after_canary
    for size in sizes:
        if left <= 0:
            break
        wanted = math.ceil(total * int(size[:-1]) / 100) if size.endswith("%") else int(size)
        take = min(max(wanted, 1), left)
        counts.append(take)
        left -= take
    if left > 0:
        counts.append(left)
    return counts


# ---------------------------------------------------------------------------------------------
# Reading the assembly


def tier_of(artifact: StackArtifact | None) -> str | None:
    """A tenant stack's tier, from the `Tier` tag its resources carry (None when untagged)."""
    if artifact is None:
        return None
    for resource in artifact.resources.values():
        tags = (resource.get("Properties") or {}).get("Tags")
        if isinstance(tags, list):
            for tag in tags:
                if isinstance(tag, dict) and tag.get("Key") == TIER_TAG:
                    return str(tag.get("Value"))
    return None


def environment_stacks(
    stacks: Mapping[str, StackArtifact] | Sequence[str], environment: str
) -> list[naming.StackName]:
    """The environment's stacks, parsed, in the order given (the manifest's: config order)."""
    parsed = (naming.parse_stack_name(name) for name in stacks)
    return [p for p in parsed if p is not None and p.environment == environment]


def touched_stacks(plan: Plan, environment: str) -> tuple[list[str], list[str]]:
    """(added or modified, removed) stacks of `environment` in a plan."""
    mine = {p.name for p in environment_stacks([s.name for s in plan.stacks], environment)}
    changed = [s.name for s in plan.changed if s.name in mine and s.action != "remove"]
    removed = [s.name for s in plan.changed if s.name in mine and s.action == "remove"]
    return changed, removed


# ---------------------------------------------------------------------------------------------
# The planner


def plan_rollout(
    head: Mapping[str, StackArtifact],
    environment: str,
    touched: Sequence[str],
    *,
    removed: Sequence[str] = (),
    canary: str | None = None,
    waves: Sequence[str] = DEFAULT_WAVES,
) -> Rollout:
    """The waves that deploy `touched` (stack names of `head`) of one environment."""
    sizes = parse_wave_sizes(waves)
    in_env = environment_stacks(head, environment)
    touched_set = set(touched)
    unknown = sorted(touched_set - {p.name for p in in_env})
    if unknown:
        raise RolloutError(f"not stacks of {environment} in the head assembly: {unknown}")

    shared = [p for p in in_env if p.kind in SHARED_KINDS and p.name in touched_set]
    shared.sort(key=lambda p: SHARED_KINDS.index(p.kind))  # platform, standby platform, other
    tenants = {p.slug: p.name for p in in_env if p.kind == naming.TENANT and p.slug}
    standbys = {p.slug: p.name for p in in_env if p.kind == naming.STANDBY and p.slug}
    order = list(dict.fromkeys(p.slug for p in in_env if p.slug))
    changed = [
        slug
        for slug in order
        if tenants.get(slug) in touched_set or standbys.get(slug) in touched_set
    ]
    tiers = {slug: tier_of(head.get(name)) for slug, name in tenants.items()}
    chosen = _canary(canary, changed, [s for s in order if s in tenants], tiers, environment)
    if not shared and not changed:
        chosen = None  # nothing to deploy, nothing to probe

    notes: list[str] = []
    result: list[Wave] = []
    if shared:
        probe: tuple[str, ...] = ()
        if not changed and chosen is not None:
            probe = (chosen,)
        elif not changed:
            notes.append(f"{environment} has no restaurant to probe after the platform")
        result.append(Wave("platform", tuple((p.name,) for p in shared), probe=probe))

    def restaurant_wave(name: str, slugs: Sequence[str]) -> Wave:
        primaries = tuple(tenants[s] for s in slugs if tenants.get(s) in touched_set)
        replicas = tuple(standbys[s] for s in slugs if standbys.get(s) in touched_set)
        phases = tuple(phase for phase in (primaries, replicas) if phase)
        probed = tuple(s for s in slugs if s in tenants)
        return Wave(name, phases, restaurants=tuple(slugs), probe=probed)

    if changed:
        assert chosen is not None
        result.append(restaurant_wave("canary", [chosen]))
        rest = [s for s in changed if s != chosen]
        start = 0
        for index, count in enumerate(wave_counts(len(rest), len(changed), sizes), start=1):
            result.append(restaurant_wave(f"wave {index}", rest[start : start + count]))
            start += count
    gone = tuple(n for n in removed if n not in touched_set)
    if gone:
        notes.append(
            f"{len(gone)} stack(s) removed from the assembly are not deployed: offboard them "
            "(python -m ops offboard, then cdk destroy)"
        )
    return Rollout(environment, tuple(result), chosen, removed=gone, notes=tuple(notes))


def _canary(
    wanted: str | None,
    changed: Sequence[str],
    restaurants: Sequence[str],
    tiers: Mapping[str, str | None],
    environment: str,
) -> str | None:
    """--canary as given (checked), else the first production-tier restaurant the change
    touches, else the first one it touches; with no restaurant touched, the restaurant probed
    after the platform: the first production-tier one of the environment, else the first."""
    if wanted is not None:
        if wanted not in restaurants:
            raise RolloutError(
                f"--canary {wanted}: no tenant stack of {environment} for that restaurant "
                f"(restaurants: {', '.join(restaurants) or 'none'})"
            )
        if changed and wanted not in changed:
            shown = ", ".join(changed[:10]) + (" ..." if len(changed) > 10 else "")
            raise RolloutError(
                f"--canary {wanted}: this change does not touch it; choose one it touches "
                f"({shown}) or leave --canary out"
            )
        return wanted
    pool = [s for s in changed if s in restaurants] or list(changed) or list(restaurants)
    production = [s for s in pool if tiers.get(s) == PRODUCTION_TIER]
    return next(iter(production or pool), None)


def rollout_between(
    base: Mapping[str, StackArtifact],
    head: Mapping[str, StackArtifact],
    environment: str,
    *,
    canary: str | None = None,
    waves: Sequence[str] = DEFAULT_WAVES,
) -> Rollout:
    """The rollout of one environment from the base assembly (what is deployed) to the head."""
    plan = plan_assemblies(base, head, stacks=[f"{naming.name_prefix(environment)}-*"])
    changed, removed = touched_stacks(plan, environment)
    rollout = plan_rollout(head, environment, changed, removed=removed, canary=canary, waves=waves)
    if not plan.blockers:
        return rollout
    # What `ops plan` would block (a replaced database allowed in review, an export still
    # imported): the deploy goes on, as reviewed, but the log says it first.
    warnings = tuple(f"ops plan: {blocker}" for blocker in plan.blockers)
    return dataclasses.replace(rollout, notes=warnings + rollout.notes)


def rollout_everything(head: Mapping[str, StackArtifact], environment: str) -> Rollout:
    """--all: today's deploy, every stack of the environment in one call (CDK orders the
    platform first), then the probe of every restaurant."""
    in_env = environment_stacks(head, environment)
    if not in_env:
        raise RolloutError(f"the head assembly has no stack of {environment}")
    slugs = tuple(p.slug for p in in_env if p.kind == naming.TENANT and p.slug)
    wave = Wave("all", (tuple(p.name for p in in_env),), restaurants=slugs, probe=slugs)
    return Rollout(environment, (wave,), None, everything=True)


def deploy_order(plan: Plan, head: Mapping[str, StackArtifact]) -> dict[str, list[str]]:
    """`ops plan --stacks-json`: per environment with a change, the stacks to deploy, in order
    (the default canary and waves flattened); a no-op change gives {}."""
    result: dict[str, list[str]] = {}
    environments = dict.fromkeys(
        p.environment for p in (naming.parse_stack_name(s.name) for s in plan.changed) if p
    )
    for environment in environments:
        changed, _ = touched_stacks(plan, environment)
        if changed:
            result[environment] = list(plan_rollout(head, environment, changed).stacks)
    return result
