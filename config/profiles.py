"""Platform profiles: the seed's PoC (section 2) and production (section 3) settings."""

from __future__ import annotations

import math
from dataclasses import dataclass

from config.schema import EnvironmentConfig, FieldError

# Seed sections 3.2 to 3.7: (tenants, minimum tasks, maximum tasks) of the production profile.
SEED_TASK_TABLE: tuple[tuple[int, int, int], ...] = (
    (1, 2, 10),
    (5, 3, 8),
    (10, 4, 12),
    (25, 6, 20),
    (50, 8, 30),
    (100, 12, 50),
)


@dataclass(frozen=True)
class PlatformProfile:
    name: str
    nat_gateways: int
    container_insights: bool
    autoscaling: bool
    https_required: bool
    alarm_severities: tuple[str, ...]


PROFILES: dict[str, PlatformProfile] = {
    # Seed 2.1: single AZ where it saves money, fixed capacity, basic monitoring.
    "poc": PlatformProfile(
        name="poc",
        nat_gateways=1,
        container_insights=False,
        autoscaling=False,
        https_required=False,
        # Seed 2.2: five alarms, inside the CloudWatch free tier: critical levels only.
        alarm_severities=("critical",),
    ),
    # Seed 3.1: high availability, autoscaling, comprehensive monitoring.
    "production": PlatformProfile(
        name="production",
        nat_gateways=2,
        container_insights=True,
        autoscaling=True,
        https_required=True,
        alarm_severities=("warning", "critical"),
    ),
}


def profile_for(environment: EnvironmentConfig) -> PlatformProfile:
    return PROFILES[environment.profile]


def capacity_band(tenants: int) -> int:
    """The seed table row an environment of `tenants` restaurants is sized for.

    Rounding up to the next row keeps the platform stack unchanged while restaurants are added
    within a band (onboarding touches one tenant stack); crossing a band is a deliberate,
    visible platform change. Past 100, bands are hundreds.
    """
    for row_tenants, _, _ in SEED_TASK_TABLE:
        if tenants <= row_tenants:
            return row_tenants
    return int(math.ceil(tenants / 100.0) * 100)


def task_bounds(tenants: int) -> tuple[int, int]:
    """(min, max) tasks for `tenants`, linear between the seed's rows and extended past 100."""
    tenants = max(1, tenants)
    rows = SEED_TASK_TABLE
    if tenants >= rows[-1][0]:
        (t0, lo0, hi0), (t1, lo1, hi1) = rows[-2], rows[-1]
    else:
        for index in range(1, len(rows)):
            if tenants <= rows[index][0]:
                (t0, lo0, hi0), (t1, lo1, hi1) = rows[index - 1], rows[index]
                break
    fraction = (tenants - t0) / (t1 - t0)
    low = math.ceil(lo0 + (lo1 - lo0) * fraction - 1e-9)
    high = math.ceil(hi0 + (hi1 - hi0) * fraction - 1e-9)
    return low, max(low, high)


@dataclass(frozen=True)
class ServiceCapacity:
    desired: int
    minimum: int
    maximum: int
    sized_for_tenants: int


def default_task_bounds(environment: EnvironmentConfig) -> tuple[int, int]:
    """(min, max) tasks the profile gives the environment before any override."""
    if environment.profile == "poc":
        return 1, 1
    band = environment.app.capacity_tenants or capacity_band(len(environment.restaurants))
    return task_bounds(band)


def task_bounds_problem(environment: EnvironmentConfig) -> FieldError | None:
    """max_tasks is kept as written or refused: never raised to the profile's minimum."""
    app = environment.app
    low, _ = default_task_bounds(environment)
    minimum = app.min_tasks or low
    if app.max_tasks is None or app.max_tasks >= minimum:
        return None
    source = (
        "app.min_tasks"
        if app.min_tasks
        else (
            f"the {environment.profile} profile's minimum for "
            f"{app.capacity_tenants or len(environment.restaurants)} restaurant(s)"
        )
    )
    return FieldError(
        "app.max_tasks",
        f"is below {source} ({minimum}); allowed: {minimum} or more, or set app.min_tasks as well",
        app.max_tasks,
    )


def service_capacity(environment: EnvironmentConfig) -> ServiceCapacity:
    """Task counts of the app service: fixed at one for PoC, the seed's table for production.

    An explicit `max_tasks` is used as written: the schema refuses one below the minimum, so it
    is never silently raised.
    """
    app = environment.app
    band = app.capacity_tenants or capacity_band(len(environment.restaurants))
    low, high = default_task_bounds(environment)
    low = app.min_tasks or low
    high = app.max_tasks if app.max_tasks is not None else max(high, low)
    if high < low:  # pragma: no cover - EnvironmentConfig refuses this when it loads
        raise ValueError(f"app.max_tasks ({high}) is below the minimum task count ({low})")
    return ServiceCapacity(desired=low, minimum=low, maximum=high, sized_for_tenants=band)
