"""Every validation rule of the config schema, with the message a user sees."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from config import ConfigError, load_environment, load_environments
from config.profiles import capacity_band, service_capacity, task_bounds
from config.schema import SIZE_TO_INSTANCE_CLASS

VALID_PROD: dict[str, Any] = {
    "profile": "production",
    "region": "us-east-1",
    "domain": {"name": "app.example.com", "hosted_zone_id": "Z0123456789ABC"},
    "alerts": {"critical_emails": ["oncall@example.com"]},
    "restaurants": [{"slug": "bella-napoli", "tier": "production"}],
}


def write(tmp_path: Path, text: str, name: str = "prod") -> Path:
    path = tmp_path / f"{name}.yaml"
    path.write_text(text, encoding="utf-8")
    return path


def dump(data: dict[str, Any]) -> str:
    import json

    return json.dumps(data)  # JSON is YAML


def with_restaurant(**fields: Any) -> dict[str, Any]:
    restaurant = {"slug": "bella-napoli", "tier": "production", **fields}
    return {**VALID_PROD, "restaurants": [restaurant]}


def error_for(tmp_path: Path, data: dict[str, Any] | str, name: str = "prod") -> str:
    text = data if isinstance(data, str) else dump(data)
    path = write(tmp_path, text, name)
    with pytest.raises(ConfigError) as excinfo:
        load_environment(path)
    return str(excinfo.value)


def test_example_config_loads() -> None:
    environments = {e.name: e for e in load_environments()}
    assert {"dev", "prod"} <= set(environments)
    assert environments["dev"].profile == "poc"
    assert environments["prod"].profile == "production"
    for name in ("dev", "prod"):  # the example contract; staging is a one-restaurant rehearsal
        tiers = {r.tier for r in environments[name].restaurants}
        assert tiers == {"poc", "production"}, f"{name} shows both tiers"
        assert len(environments[name].restaurants) >= 2
    assert environments["staging"].profile == "production", "staging is production-like"


def test_valid_minimal_file(tmp_path: Path) -> None:
    environment = load_environment(write(tmp_path, dump(VALID_PROD)))
    restaurant = environment.restaurants[0]
    assert restaurant.instance_class == "db.t4g.small"
    assert restaurant.resolved_multi_az is True
    assert restaurant.resolved_backup_retention_days == 7
    assert restaurant.resolved_deletion_protection is True


@pytest.mark.parametrize(
    "slug",
    ["Bella", "bella_napoli", "bella--napoli", "-bella", "bella-", "9lives", "b", "x" * 25, "café"],
)
def test_slug_rules(tmp_path: Path, slug: str) -> None:
    message = error_for(tmp_path, with_restaurant(slug=slug))
    assert "prod.yaml: restaurants[0].slug" in message
    assert repr(slug) in message
    assert "allowed" in message or "characters long" in message


def test_duplicate_slugs(tmp_path: Path) -> None:
    data = {
        **VALID_PROD,
        "restaurants": [
            {"slug": "taco-loco", "tier": "poc"},
            {"slug": "taco-loco", "tier": "production"},
        ],
    }
    message = error_for(tmp_path, data)
    assert (
        "restaurants" in message
        and "restaurants[1].slug (restaurant 'taco-loco'): duplicate of restaurants[0]" in message
    )


def test_unknown_top_level_key(tmp_path: Path) -> None:
    message = error_for(tmp_path, {**VALID_PROD, "restuarants": []})
    assert "prod.yaml: restuarants: unknown key" in message


def test_unknown_restaurant_key(tmp_path: Path) -> None:
    message = error_for(tmp_path, with_restaurant(multiaz=True))
    assert "restaurants[0].multiaz" in message and "unknown key" in message


def test_unknown_tier(tmp_path: Path) -> None:
    message = error_for(tmp_path, with_restaurant(tier="gold"))
    assert "restaurants[0].tier (restaurant 'bella-napoli')" in message
    assert "'poc' or 'production'" in message and "'gold'" in message


@pytest.mark.parametrize("storage", [19, 65537, 0])
def test_storage_outside_rds_limits(tmp_path: Path, storage: int) -> None:
    message = error_for(tmp_path, with_restaurant(allocated_storage_gb=storage))
    assert "allocated_storage_gb" in message and "20 to 65536 GiB" in message
    assert f"got {storage}" in message


def test_unknown_instance_size(tmp_path: Path) -> None:
    message = error_for(tmp_path, with_restaurant(size="xl"))
    assert "restaurants[0].size" in message and "'small', 'medium' or 'large'" in message


def test_production_tenant_must_be_multi_az(tmp_path: Path) -> None:
    message = error_for(tmp_path, with_restaurant(multi_az=False))
    assert "production restaurants must be Multi-AZ" in message


def test_production_tenant_keeps_seven_days_of_backups(tmp_path: Path) -> None:
    message = error_for(tmp_path, with_restaurant(backup_retention_days=3))
    assert "at least 7 days" in message


def test_backup_retention_range(tmp_path: Path) -> None:
    message = error_for(tmp_path, with_restaurant(backup_retention_days=36))
    assert "1 to 35 days" in message


def test_production_profile_needs_a_domain(tmp_path: Path) -> None:
    data = {k: v for k, v in VALID_PROD.items() if k != "domain"}
    message = error_for(tmp_path, data)
    assert "needs a domain" in message


def test_poc_profile_without_domain_is_fine(tmp_path: Path) -> None:
    data = {
        "profile": "poc",
        "region": "eu-west-1",
        "restaurants": [{"slug": "bella-napoli", "tier": "poc"}],
    }
    environment = load_environment(write(tmp_path, dump(data), "dev"))
    assert environment.domain is None


def test_name_must_match_file(tmp_path: Path) -> None:
    message = error_for(tmp_path, {**VALID_PROD, "name": "production"})
    assert "name: must equal the file name 'prod'" in message


def test_invalid_yaml_names_the_file(tmp_path: Path) -> None:
    message = error_for(tmp_path, "profile: [unclosed\n")
    assert "prod.yaml: not valid YAML" in message


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("account", "12345", "12-digit AWS account id"),
        ("region", "mars-1", "not a known AWS region name"),
        ("profile", "staging", "'poc' or 'production'"),
    ],
)
def test_environment_fields(tmp_path: Path, field: str, value: str, expected: str) -> None:
    message = error_for(tmp_path, {**VALID_PROD, field: value})
    assert f"prod.yaml: {field}" in message and expected in message


def test_region_is_required(tmp_path: Path) -> None:
    data = {k: v for k, v in VALID_PROD.items() if k != "region"}
    message = error_for(tmp_path, data)
    assert "prod.yaml: region: required: this setting is missing" in message


def test_task_bounds_must_be_ordered(tmp_path: Path) -> None:
    message = error_for(tmp_path, {**VALID_PROD, "app": {"min_tasks": 5, "max_tasks": 3}})
    assert "app.max_tasks: must not be below min_tasks (5); got 3" in message


def test_production_needs_two_tasks(tmp_path: Path) -> None:
    message = error_for(tmp_path, {**VALID_PROD, "app": {"min_tasks": 1}})
    assert "at least 2 tasks" in message


def test_all_errors_of_all_files_are_reported(tmp_path: Path) -> None:
    write(tmp_path, dump(with_restaurant(tier="gold")), "prod")
    write(
        tmp_path,
        dump(
            {"profile": "poc", "region": "us-east-1", "restaurants": [{"slug": "X", "tier": "poc"}]}
        ),
        "dev",
    )
    with pytest.raises(ConfigError) as excinfo:
        load_environments(tmp_path)
    assert "dev.yaml" in str(excinfo.value) and "prod.yaml" in str(excinfo.value)


def test_sizes_follow_seed_4_2() -> None:
    assert SIZE_TO_INSTANCE_CLASS == {
        "small": "db.t4g.micro",
        "medium": "db.t4g.small",
        "large": "db.t4g.medium",
    }


@pytest.mark.parametrize(
    ("tenants", "expected"),
    [(1, (2, 10)), (5, (3, 8)), (10, (4, 12)), (25, (6, 20)), (50, (8, 30)), (100, (12, 50))],
)
def test_task_bounds_reproduce_seed_table(tenants: int, expected: tuple[int, int]) -> None:
    assert task_bounds(tenants) == expected


def test_task_bounds_between_and_beyond_the_table() -> None:
    assert task_bounds(30) == (7, 22)  # 20% of the way from 25 to 50, rounded up
    assert task_bounds(200) == (20, 90)  # the 50 -> 100 slope continued
    low, high = task_bounds(75)
    assert 8 < low < 12 and 30 < high < 50


def test_capacity_band_keeps_platform_stable_within_a_row() -> None:
    assert [capacity_band(n) for n in (1, 2, 5, 6, 10, 11, 26, 99, 101, 250)] == [
        1,
        5,
        5,
        10,
        10,
        25,
        50,
        100,
        200,
        300,
    ]


def test_service_capacity_by_profile() -> None:
    environments = {e.name: e for e in load_environments()}
    dev = service_capacity(environments["dev"])
    assert (dev.desired, dev.minimum, dev.maximum) == (1, 1, 1)
    prod = service_capacity(environments["prod"])
    assert prod.minimum >= 2 and prod.maximum >= prod.minimum


# Seed 7.1: the disaster_recovery section -------------------------------------------------------

WITH_POC = {
    **VALID_PROD,
    "restaurants": [
        {"slug": "bella-napoli", "tier": "production"},
        {"slug": "pizza-poc", "tier": "poc"},
    ],
}


@pytest.mark.parametrize(
    ("recovery", "expected"),
    [
        (
            {"region": "us-east-1"},
            "disaster_recovery.region: must differ from the environment's region 'us-east-1'",
        ),
        (
            {"region": "us-gov-west-1"},
            "disaster_recovery.region: must be in the environment's partition 'aws'",
        ),
        ({"region": "cn-north-1"}, "do not cross partitions); got 'cn-north-1'"),
        ({"region": "mars-1"}, "disaster_recovery.region: not a known AWS region name"),
        ({"mode": "pilot-light"}, "disaster_recovery.region: required: this setting is missing"),
        (
            {"region": "us-west-2", "mode": "hot"},
            "disaster_recovery.mode: allowed: 'pilot-light' or 'warm-standby'; got 'hot'",
        ),
        (
            {"region": "us-west-2", "failed_over": ["pizza-poc"]},
            "disaster_recovery.failed_over[0]: 'pizza-poc' is not a restaurant covered by "
            "disaster recovery (covered: bella-napoli)",
        ),
        (
            {"region": "us-west-2", "failed_over": ["nobody"]},
            "disaster_recovery.failed_over[0]: 'nobody' is not a restaurant covered",
        ),
        ({"region": "us-west-2", "regoin": "x"}, "disaster_recovery.regoin: unknown key"),
    ],
)
def test_disaster_recovery_mistakes(
    tmp_path: Path, recovery: dict[str, Any], expected: str
) -> None:
    message = error_for(tmp_path, {**WITH_POC, "disaster_recovery": recovery})
    assert "prod.yaml: disaster_recovery." in message and expected in message


def test_restaurant_disaster_recovery_must_be_a_boolean(tmp_path: Path) -> None:
    message = error_for(tmp_path, {**with_restaurant(disaster_recovery="maybe")})
    assert "restaurants[0].disaster_recovery (restaurant 'bella-napoli'): expected true or " in (
        message
    )


def test_covered_restaurants_default_to_the_production_tier(tmp_path: Path) -> None:
    data = {
        **WITH_POC,
        "disaster_recovery": {"region": "us-west-2"},
        "restaurants": [
            *WITH_POC["restaurants"],
            {"slug": "opted-in", "tier": "poc", "disaster_recovery": True},
            {"slug": "opted-out", "tier": "production", "disaster_recovery": False},
        ],
    }
    environment = load_environment(write(tmp_path, dump(data)))
    assert [r.slug for r in environment.standby_restaurants()] == ["bella-napoli", "opted-in"]
    assert environment.disaster_recovery is not None
    assert environment.disaster_recovery.mode == "warm-standby"  # the default
    # Without the section nothing is covered, whatever a restaurant says.
    data.pop("disaster_recovery")
    assert load_environment(write(tmp_path, dump(data))).standby_restaurants() == ()
