"""Generated environments: N restaurants with a tier and size mix, without writing N files.

Used by tests, benchmarks and the cost what-if: `generated_environment("bench", 100)`.
"""

from __future__ import annotations

from collections.abc import Mapping

from config.checks import checked
from config.schema import EnvironmentConfig, Restaurant

EXAMPLE_DOMAIN = {"name": "app.chefskiss.example", "hosted_zone_id": "Z0EXAMPLE00000000000"}
# The production profile needs a critical alert recipient (config/schema.py).
EXAMPLE_ALERTS = {"critical_emails": ["oncall@chefskiss.example"]}


def _spread(count: int, mix: Mapping[str, float]) -> list[str]:
    """Deterministic assignment of `count` items to the keys of `mix` in proportion (largest
    remainder), interleaved so that any prefix of the list keeps roughly the same mix."""
    total = sum(mix.values())
    if total <= 0:
        raise ValueError(f"mix {dict(mix)} has no positive share")
    exact = {key: count * share / total for key, share in mix.items()}
    counts = {key: int(value) for key, value in exact.items()}
    for key in sorted(exact, key=lambda k: exact[k] - counts[k], reverse=True)[
        : count - sum(counts.values())
    ]:
        counts[key] += 1
    result: list[str] = []
    placed = dict.fromkeys(counts, 0)
    for index in range(count):
        # pick the key furthest behind its target share at this point
        key = max(counts, key=lambda k: counts[k] * (index + 1) / count - placed[k])
        placed[key] += 1
        result.append(key)
    return result


def generated_environment(
    name: str,
    tenants: int,
    *,
    profile: str = "production",
    tier_mix: Mapping[str, float] | None = None,
    size_mix: Mapping[str, float] | None = None,
    domain: bool | None = None,
    **settings: object,
) -> EnvironmentConfig:
    """An environment of `tenants` restaurants named r0001, r0002, ... (validated like a file)."""
    tiers = _spread(tenants, tier_mix or {profile: 1.0})
    sizes = _spread(tenants, size_mix) if size_mix else [None] * tenants
    restaurants = [
        Restaurant(slug=f"r{index + 1:04d}", tier=tier, size=size)  # type: ignore[arg-type]
        for index, (tier, size) in enumerate(zip(tiers, sizes, strict=True))
    ]
    with_domain = profile == "production" if domain is None else domain
    data: dict[str, object] = {
        "name": name,
        "profile": profile,
        "region": "us-east-1",
        "domain": EXAMPLE_DOMAIN if with_domain else None,
        "restaurants": restaurants,
    }
    if profile == "production":
        data["alerts"] = EXAMPLE_ALERTS
    return checked(EnvironmentConfig.model_validate({**data, **settings}))
