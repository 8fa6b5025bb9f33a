"""Issue 12: every input that would fail at deploy fails when the config loads.

One test per rule and per example of the issue, each asserting the message a user sees: the
file, the field, the (truncated) value and what is allowed.
"""

from __future__ import annotations

import copy
import json
import os
import time
from pathlib import Path
from typing import Any

import pytest

from config import ConfigError, load_environment, load_environments, rules
from config.loader import MAX_FILE_BYTES, MAX_PROBLEMS
from config.names import physical_names
from config.profiles import service_capacity
from config.schema import ENV_NAME_MAX, MAX_RESTAURANTS, SLUG_MAX, EnvironmentConfig

PROD: dict[str, Any] = {
    "profile": "production",
    "region": "us-east-1",
    "domain": {"name": "app.example.com", "hosted_zone_id": "Z0123456789ABC"},
    "alerts": {"critical_emails": ["oncall@example.com"]},
    "restaurants": [{"slug": "bella-napoli", "tier": "production"}],
}
KEY = "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"


def env(**changes: Any) -> dict[str, Any]:
    """PROD with top-level keys replaced; `app={...}` etc. merge into their section."""
    data = copy.deepcopy(PROD)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(data.get(key), dict):
            data[key] = {**data[key], **value}
        else:
            data[key] = value
    return data


def restaurant(**fields: Any) -> dict[str, Any]:
    return env(restaurants=[{"slug": "bella-napoli", "tier": "production", **fields}])


def write(directory: Path, data: dict[str, Any] | str | bytes, name: str = "prod") -> Path:
    path = directory / f"{name}.yaml"
    if isinstance(data, bytes):
        path.write_bytes(data)
    else:
        path.write_text(data if isinstance(data, str) else json.dumps(data), encoding="utf-8")
    return path


def refused(tmp_path: Path, data: dict[str, Any] | str | bytes, name: str = "prod") -> str:
    path = write(tmp_path, data, name)
    with pytest.raises(ConfigError) as excinfo:
        load_environment(path)
    message = str(excinfo.value)
    assert f"{name}.yaml" in message, message
    assert "Traceback" not in message
    return message


def test_the_reference_environment_is_valid(tmp_path: Path) -> None:
    assert load_environment(write(tmp_path, PROD)).name == "prod"


# --------------------------------------------------------------------------- strict types


def test_a_boolean_is_not_a_log_retention(tmp_path: Path) -> None:
    message = refused(tmp_path, env(logs={"app_days": True}))
    assert "prod.yaml: logs.app_days: expected a whole number" in message
    assert "got True" in message


@pytest.mark.parametrize(
    ("section", "field", "value", "got"),
    [
        ("app", "memory_mib", "2048", "'2048'"),
        ("app", "container_port", 80.0, "80.0"),
        ("app", "cpu", True, "True"),
        ("network", "nat_gateways", True, "True"),
        ("security", "cloudtrail", "yes", "'yes'"),
        ("performance", "session_cache", 1, "1"),
    ],
)
def test_no_coercion_between_types(
    tmp_path: Path, section: str, field: str, value: Any, got: str
) -> None:
    message = refused(tmp_path, env(**{section: {field: value}}))
    assert f"prod.yaml: {section}.{field}:" in message and f"got {got}" in message


def test_an_unquoted_account_id_is_refused_with_the_fix(tmp_path: Path) -> None:
    message = refused(tmp_path, env(account=123456789012))
    assert "prod.yaml: account: expected text (quote values" in message
    assert "got 123456789012" in message


def test_a_single_value_where_a_list_belongs_says_list(tmp_path: Path) -> None:
    message = refused(tmp_path, env(alerts={"critical_emails": "oncall@example.com"}))
    assert "prod.yaml: alerts.critical_emails: expected a list; got 'oncall@example.com'" in (
        message
    )
    assert "tuple" not in message
    message = refused(tmp_path, env(restaurants={"slug": "x1", "tier": "poc"}))
    assert "prod.yaml: restaurants: expected a list; got a mapping of 2 key(s)" in message


def test_range_errors_show_the_value(tmp_path: Path) -> None:
    message = refused(tmp_path, env(app={"container_port": 70000}))
    assert "prod.yaml: app.container_port:" in message and "65535" in message
    assert "got 70000" in message
    message = refused(tmp_path, restaurant(backup_retention_days=40))
    assert "restaurants[0].backup_retention_days (restaurant 'bella-napoli')" in message
    assert "allowed: 1 to 35 days" in message and "got 40" in message


# --------------------------------------------------------------------------- regions, ARNs


def test_region_typo_is_refused_with_suggestions(tmp_path: Path) -> None:
    message = refused(tmp_path, env(region="us-est-1"))
    assert "prod.yaml: region: not a known AWS region name" in message
    assert "us-east-1" in message and "got 'us-est-1'" in message


def test_region_list_matches_the_cdk_region_facts() -> None:
    from aws_cdk import region_info

    known = {
        r.name: r.partition
        for r in region_info.RegionInfo.regions
        if r.partition in ("aws", "aws-cn", "aws-us-gov")
    }
    assert known == rules.REGION_PARTITIONS


def test_snapshot_arn_of_another_region_is_refused(tmp_path: Path) -> None:
    arn = "arn:aws:rds:eu-west-1:123456789012:snapshot:golden-final"
    message = refused(tmp_path, restaurant(restore_from_snapshot=arn))
    assert "restaurants[0].restore_from_snapshot" in message
    assert "the snapshot is in 'eu-west-1'" in message and "copy it to 'us-east-1'" in message
    assert f"got {arn!r}" in message


def test_snapshot_arn_of_another_partition_is_refused(tmp_path: Path) -> None:
    arn = "arn:aws-cn:rds:us-east-1:123456789012:snapshot:golden-final"
    message = refused(tmp_path, restaurant(restore_from_snapshot=arn))
    assert "restaurants[0].restore_from_snapshot" in message
    assert "partition 'aws-cn' is not the partition of its Region 'us-east-1'" in message


@pytest.mark.parametrize("snapshot", ["golden-final-", "golden--final", "1golden", "x" * 256, ""])
def test_snapshot_identifier_rules(tmp_path: Path, snapshot: str) -> None:
    message = refused(tmp_path, restaurant(restore_from_snapshot=snapshot))
    assert "restaurants[0].restore_from_snapshot" in message
    assert "allowed: an RDS DB snapshot identifier" in message


def test_a_snapshot_identifier_ending_in_a_hyphen_says_so(tmp_path: Path) -> None:
    message = refused(tmp_path, restaurant(restore_from_snapshot="golden-final-"))
    assert "must not end with a hyphen" in message and "got 'golden-final-'" in message


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        (KEY.replace("us-west-2", "eu-west-1"), "must live in the destination region 'us-west-2'"),
        (KEY.replace("arn:aws:", "arn:aws-us-gov:"), "partition 'aws-us-gov' is not the partition"),
        ("arn:aws:kms:us-west-2:123456789012:alias/backups", "allowed: a KMS key ARN"),
    ],
)
def test_replication_key_must_be_of_the_destination_region(
    tmp_path: Path, key: str, expected: str
) -> None:
    replication = {"region": "us-west-2", "kms_key_arn": key}
    message = refused(tmp_path, restaurant(backup_replication=replication))
    assert "restaurants[0].backup_replication.kms_key_arn" in message
    assert expected in message


def test_replication_stays_in_the_partition(tmp_path: Path) -> None:
    key = KEY.replace("arn:aws:", "arn:aws-cn:").replace("us-west-2", "cn-north-1")
    replication = {"region": "cn-north-1", "kms_key_arn": key}
    message = refused(tmp_path, restaurant(backup_replication=replication))
    assert "restaurants[0].backup_replication.region" in message
    assert "partition 'aws'" in message and "got 'cn-north-1'" in message


def test_valid_replication_and_snapshot_arn_load(tmp_path: Path) -> None:
    arn = "arn:aws:rds:us-east-1:123456789012:snapshot:golden-final"
    replication = {"region": "us-west-2", "kms_key_arn": KEY}
    data = restaurant(restore_from_snapshot=arn, backup_replication=replication)
    loaded = load_environment(write(tmp_path, data))
    assert loaded.restaurants[0].restore_from_snapshot == arn


# --------------------------------------------------------------------------- storage, tasks


@pytest.mark.parametrize(("allocated", "maximum"), [(100, 105), (100, 109), (20, 21), (20, 20)])
def test_autoscaling_ceiling_needs_ten_percent_headroom(
    tmp_path: Path, allocated: int, maximum: int
) -> None:
    data = restaurant(allocated_storage_gb=allocated, max_allocated_storage_gb=maximum)
    message = refused(tmp_path, data)
    lowest = -(-allocated * 11 // 10)
    assert "restaurants[0].max_allocated_storage_gb" in message
    assert f"allowed: {lowest} to 65536 GiB" in message and f"got {maximum}" in message


def test_autoscaling_ceiling_of_exactly_ten_percent_loads(tmp_path: Path) -> None:
    data = restaurant(allocated_storage_gb=100, max_allocated_storage_gb=110)
    assert load_environment(write(tmp_path, data)).restaurants[0].max_allocated_storage_gb == 110


@pytest.mark.parametrize(("cpu", "memory"), [(256, 4096), (512, 512), (1024, 1536), (4096, 4096)])
def test_fargate_cpu_memory_pairs(tmp_path: Path, cpu: int, memory: int) -> None:
    message = refused(tmp_path, env(app={"cpu": cpu, "memory_mib": memory}))
    assert f"app.memory_mib: Fargate does not offer this memory with cpu {cpu}" in message
    assert f"got {memory}" in message


def test_max_tasks_below_the_profile_minimum_is_refused_not_raised(tmp_path: Path) -> None:
    # 5 restaurants: the seed's table runs 3 tasks at least; max_tasks 1 used to become 3.
    many = [{"slug": f"r{i:02d}", "tier": "production"} for i in range(5)]
    message = refused(tmp_path, env(restaurants=many, app={"max_tasks": 1}))
    assert "prod.yaml: app.max_tasks: is below the production profile's minimum for 5" in message
    assert "(3)" in message and "got 1" in message


def test_max_tasks_above_the_minimum_is_kept_as_written(tmp_path: Path) -> None:
    loaded = load_environment(write(tmp_path, env(app={"max_tasks": 3})))
    capacity = service_capacity(loaded)
    assert (capacity.minimum, capacity.maximum) == (2, 3)


def test_max_tasks_below_min_tasks(tmp_path: Path) -> None:
    message = refused(tmp_path, env(app={"min_tasks": 4, "max_tasks": 3}))
    assert "prod.yaml: app.max_tasks: must not be below min_tasks (4); got 3" in message


# --------------------------------------------------------------------------- images, paths


@pytest.mark.parametrize(
    ("image", "reason"),
    [
        ("", "is empty"),
        ("nginx stable", "is not a container image reference"),
        ("Nginx:latest", "is not a container image reference"),
        ("nginx:", "is not a container image reference"),
        ("nginx@sha256:abc", "is not a container image reference"),
        ("r/" + "a" * 260, "ECS allows at most 255"),
    ],
)
def test_image_reference_rules(tmp_path: Path, image: str, reason: str) -> None:
    message = refused(tmp_path, env(app={"image": image}))
    assert "prod.yaml: app.image:" in message and reason in message
    assert "got " in message


@pytest.mark.parametrize(
    "image",
    [
        "nginx",
        "public.ecr.aws/nginx/nginx:stable-alpine",
        "123456789012.dkr.ecr.us-east-1.amazonaws.com/chefs-kiss/app:2026.11.30",
        "localhost:5000/app",
        "ghcr.io/org/app@sha256:" + "a" * 64,
        "ghcr.io/org/app:1.2.3@sha256:" + "0123456789abcdef" * 4,
    ],
)
def test_image_references_that_load(tmp_path: Path, image: str) -> None:
    assert load_environment(write(tmp_path, env(app={"image": image}))).app.image == image


@pytest.mark.parametrize("path", ["health", "/health check", "/" + "a" * 1024, "/\u00e9"])
def test_health_check_path_rules(tmp_path: Path, path: str) -> None:
    message = refused(tmp_path, env(app={"health_check_path": path}))
    assert "prod.yaml: app.health_check_path: allowed: a path starting with '/'" in message


# --------------------------------------------------------------------------- names, DNS, e-mail


def test_a_slug_with_a_trailing_newline_is_refused(tmp_path: Path) -> None:
    message = refused(tmp_path, restaurant(slug="bella\n"))
    assert "restaurants[0].slug" in message and "got 'bella\\n'" in message
    assert "allowed: lowercase letters" in message


def test_an_environment_name_with_a_trailing_newline_is_refused(tmp_path: Path) -> None:
    message = refused(tmp_path, {**PROD, "name": "prod\n"})
    assert "name: must equal the file name 'prod'" in message


def test_a_70_character_domain_is_refused_for_acm(tmp_path: Path) -> None:
    name = "a" * 50 + "." + "b" * 15 + ".com"
    assert len(name) == 70
    message = refused(tmp_path, env(domain={"name": name}))
    assert "prod.yaml: domain.name: is 70 characters long; at most 64 are allowed" in message


@pytest.mark.parametrize(
    "name", ["example", "App.example.com", "a..com", "-a.example.com", "x.123"]
)
def test_domain_name_rules(tmp_path: Path, name: str) -> None:
    message = refused(tmp_path, env(domain={"name": name}))
    assert "prod.yaml: domain.name:" in message and f"got {name!r}" in message


@pytest.mark.parametrize("zone", ["z0123", "Z", "Z" + "A" * 32, "Z0123\n"])
def test_hosted_zone_id_rules(tmp_path: Path, zone: str) -> None:
    message = refused(tmp_path, env(domain={"hosted_zone_id": zone}))
    assert "prod.yaml: domain.hosted_zone_id: allowed: a Route 53 zone id" in message


def test_the_same_email_twice_in_one_list(tmp_path: Path) -> None:
    emails = ["oncall@example.com", "cto@example.com", "OnCall@example.com"]
    message = refused(tmp_path, env(alerts={"critical_emails": emails}))
    assert "prod.yaml: alerts.critical_emails[2]: duplicate of [0]" in message
    assert "got 'OnCall@example.com'" in message


@pytest.mark.parametrize(
    "email", ["oncall", "on call@example.com", "a@b", "a@@example.com", ".a@example.com"]
)
def test_email_rules(tmp_path: Path, email: str) -> None:
    message = refused(tmp_path, env(alerts={"warning_emails": [email]}))
    assert "prod.yaml: alerts.warning_emails[0]: is not an e-mail address" in message


def test_production_needs_a_critical_alert_recipient(tmp_path: Path) -> None:
    message = refused(tmp_path, env(alerts={"critical_emails": []}))
    assert "prod.yaml: alerts.critical_emails: the production profile needs at least one" in (
        message
    )


def test_a_slug_the_cdn_uses_is_refused(tmp_path: Path) -> None:
    data = env(
        performance={"cloudfront": True},
        restaurants=[{"slug": "static", "tier": "production"}],
    )
    message = refused(tmp_path, data)
    assert "restaurants[0].slug (restaurant 'static'): static.app.example.com is a DNS name" in (
        message
    )
    assert "CloudFront static assets" in message


def test_static_is_a_fine_slug_without_the_cdn(tmp_path: Path) -> None:
    data = env(restaurants=[{"slug": "static", "tier": "production"}])
    assert load_environment(write(tmp_path, data)).restaurants[0].slug == "static"


def test_one_duplicate_names_one_restaurant_not_the_list(tmp_path: Path) -> None:
    many = [{"slug": f"r{i:03d}", "tier": "poc"} for i in range(200)]
    many.append({"slug": "r007", "tier": "poc"})
    message = refused(tmp_path, env(restaurants=many))
    assert "restaurants[200].slug (restaurant 'r007'): duplicate of restaurants[7]" in message
    assert "r150" not in message and len(message) < 400


def test_longest_names_stay_within_every_service_limit(tmp_path: Path) -> None:
    name = "e" * ENV_NAME_MAX
    slug = "s" * SLUG_MAX
    data = env(account="123456789012", region="ap-southeast-7")
    data["restaurants"] = [{"slug": slug, "tier": "production"}]
    loaded = load_environment(write(tmp_path, data, name))
    names = {namespace: n for namespace, n, _ in physical_names(loaded) if slug in n}
    assert len(names["RDS DB instance"]) <= 63 and len(names["IAM role"]) <= 64
    bucket = [n for ns, n, _ in physical_names(loaded) if ns == "S3 bucket"]
    assert bucket and len(bucket[0]) <= 63


def test_two_environments_claiming_the_same_domain(tmp_path: Path) -> None:
    write(tmp_path, PROD, "prod")
    write(tmp_path, env(restaurants=[]), "prod2")
    with pytest.raises(ConfigError) as excinfo:
        load_environments(tmp_path)
    message = str(excinfo.value)
    assert "prod2.yaml: domain: the DNS name 'app.example.com'" in message
    assert "also created by environment 'prod'" in message


def test_a_restaurant_name_that_is_another_environments_domain(tmp_path: Path) -> None:
    write(
        tmp_path,
        env(
            domain={"name": "example.com"}, restaurants=[{"slug": "staging", "tier": "production"}]
        ),
        "prod",
    )
    write(
        tmp_path,
        env(domain={"name": "staging.example.com", "hosted_zone_id": "Z0OTHER"}, restaurants=[]),
        "stage",
    )
    with pytest.raises(ConfigError) as excinfo:
        load_environments(tmp_path)
    assert "the DNS name 'staging.example.com'" in str(excinfo.value)


def test_one_zone_for_two_unrelated_domains(tmp_path: Path) -> None:
    write(tmp_path, PROD, "prod")
    write(tmp_path, env(domain={"name": "shop.other.org"}), "shop")
    with pytest.raises(ConfigError) as excinfo:
        load_environments(tmp_path)
    assert "domain.hosted_zone_id: zone 'Z0123456789ABC' is also the zone" in str(excinfo.value)


# --------------------------------------------------------------------------- availability zones


def test_pinned_zones_must_be_of_the_region(tmp_path: Path) -> None:
    message = refused(tmp_path, env(network={"availability_zones": ["us-east-1a", "us-west-2b"]}))
    assert "prod.yaml: network.availability_zones[1]: allowed: an Availability Zone of" in message
    assert "got 'us-west-2b'" in message
    message = refused(tmp_path, env(network={"availability_zones": ["us-east-1a"]}))
    assert "exactly two different Availability Zone names" in message


# --------------------------------------------------------------------------- counts, size, files


def test_ten_thousand_restaurants_are_refused_before_validation(tmp_path: Path) -> None:
    many = [{"slug": f"r{i:05d}", "tier": "poc"} for i in range(10_000)]
    started = time.monotonic()
    message = refused(tmp_path, env(restaurants=many))
    assert time.monotonic() - started < 5
    assert (
        f"restaurants: more than {MAX_RESTAURANTS}; allowed: at most {MAX_RESTAURANTS}" in message
    )


def test_a_huge_file_is_refused_by_size(tmp_path: Path) -> None:
    value = "x" * (20 * 1024 * 1024)
    message = refused(tmp_path, f"profile: poc\nregion: us-east-1\ndisplay: {value}\n")
    assert f"allowed: at most {MAX_FILE_BYTES} bytes" in message and len(message) < 300


def test_a_long_value_is_truncated_in_the_message(tmp_path: Path) -> None:
    value = "x" * 500_000
    message = refused(tmp_path, restaurant(display_name=value))
    assert "restaurants[0].display_name" in message and "(500000 characters)" in message
    assert len(message) < 600


def test_many_problems_are_counted_not_all_printed(tmp_path: Path) -> None:
    many = [{"slug": f"R{i}", "tier": "poc"} for i in range(100)]
    message = refused(tmp_path, env(restaurants=many))
    assert f"... and {100 - MAX_PROBLEMS} more problem(s)" in message
    assert len(message.splitlines()) == MAX_PROBLEMS + 1


def test_a_file_that_is_not_utf8_names_the_line(tmp_path: Path) -> None:
    data = b"profile: poc\nregion: us-east-1\nrestaurants:\n  - slug: caf\xe9\n"
    message = refused(tmp_path, data)
    assert "prod.yaml: line 4, column 14: not UTF-8 (byte 0xe9)" in message


def test_a_100000_deep_list_is_refused_quickly(tmp_path: Path) -> None:
    started = time.monotonic()
    message = refused(tmp_path, "restaurants: " + "[" * 100_000 + "]" * 100_000 + "\n")
    assert time.monotonic() - started < 5
    assert "nested more than 32 levels deep" in message


def test_an_alias_bomb_is_refused_before_it_is_built(tmp_path: Path) -> None:
    lines = ["a0: &a0 [x, x, x, x, x, x, x, x, x, x]"]
    for level in range(1, 9):
        previous = f"*a{level - 1}"
        lines.append(f"a{level}: &a{level} [{', '.join([previous] * 10)}]")
    lines.append("restaurants: *a8")
    started = time.monotonic()
    message = refused(tmp_path, "\n".join(lines) + "\n")
    assert time.monotonic() - started < 5
    assert "values once aliases are expanded" in message and len(message) < 300


def test_a_small_alias_is_fine(tmp_path: Path) -> None:
    text = (
        "profile: poc\nregion: us-east-1\n"
        "restaurants:\n  - &base {slug: aa, tier: poc}\n  - {slug: bb, tier: poc}\n"
    )
    assert len(load_environment(write(tmp_path, text)).restaurants) == 2


@pytest.mark.parametrize(
    "text",
    [
        "!!python/object/apply:os.system ['touch /tmp/issue12-pwned']\n",
        "profile: !custom poc\nregion: us-east-1\n",
        "profile: poc\nregion: us-east-1\nrestaurants: !!set {a, b}\n",
    ],
)
def test_no_arbitrary_yaml_tags(tmp_path: Path, text: str) -> None:
    message = refused(tmp_path, text)
    assert "prod.yaml" in message
    assert not Path("/tmp/issue12-pwned").exists()


def test_a_fifo_is_refused_without_hanging(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "prod.yaml")
    started = time.monotonic()
    with pytest.raises(ConfigError) as excinfo:
        load_environments(tmp_path)
    assert time.monotonic() - started < 5
    assert "prod.yaml: not a regular file (a named pipe)" in str(excinfo.value)


def test_a_directory_named_like_a_file_is_refused(tmp_path: Path) -> None:
    (tmp_path / "prod.yaml").mkdir()
    with pytest.raises(ConfigError, match=r"prod.yaml: not a regular file \(a directory\)"):
        load_environments(tmp_path)


def test_symlinks_only_inside_the_config_directory(tmp_path: Path) -> None:
    inside = tmp_path / "envs"
    inside.mkdir()
    write(inside, PROD, "real")
    (inside / "prod.yaml").symlink_to("real.yaml")
    (inside / "real.yaml").rename(inside / "shared.conf")  # reached only by the link
    (inside / "prod.yaml").unlink()
    (inside / "prod.yaml").symlink_to("shared.conf")
    assert [e.name for e in load_environments(inside)] == ["prod"]
    (inside / "dev.yaml").symlink_to("/dev/zero")
    with pytest.raises(ConfigError) as excinfo:
        load_environments(inside)
    assert "dev.yaml: a symbolic link to /dev/zero, outside the configuration directory" in str(
        excinfo.value
    )
    (inside / "dev.yaml").unlink()
    (inside / "dev.yaml").symlink_to("missing.conf")
    with pytest.raises(ConfigError, match=r"dev\.yaml: no such file"):
        load_environments(inside)


def test_generated_production_environments_are_valid() -> None:
    from config.generated import generated_environment

    environment = generated_environment("bench", 5)
    assert isinstance(environment, EnvironmentConfig)
    assert environment.alerts.critical_emails


def test_capacity_is_sized_for_at_most_the_restaurant_limit(tmp_path: Path) -> None:
    message = refused(tmp_path, env(app={"capacity_tenants": 10_000}))
    assert "prod.yaml: app.capacity_tenants:" in message and "1000" in message
    assert "got 10000" in message
