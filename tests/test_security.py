"""Issue 15: findings of the independent template review, each checked in the templates."""

from __future__ import annotations

import fnmatch
import json
from pathlib import Path
from typing import Any

import pytest

from ops.assembly import read_assembly

ACCOUNT = "111111111111"
OTHER_ACCOUNT = "222222222222"
PSEUDO = {"AWS::AccountId": ACCOUNT, "AWS::Partition": "aws", "AWS::URLSuffix": "amazonaws.com"}


def load(cdk_out: Path, stack: str) -> dict[str, Any]:
    return json.loads((cdk_out / f"{stack}.template.json").read_text())


def resolve(value: Any, template: dict[str, Any]) -> Any:
    """Resolve the few intrinsics key policies and names use, for account ACCOUNT."""
    if isinstance(value, list):
        return [resolve(v, template) for v in value]
    if isinstance(value, dict):
        if "Fn::Join" in value:
            delimiter, parts = value["Fn::Join"]
            return delimiter.join(str(resolve(p, template)) for p in parts)
        if "Ref" in value:
            ref = value["Ref"]
            if ref in PSEUDO:
                return PSEUDO[ref]
            if ref == "AWS::Region":
                return "us-east-1"
            return f"<{ref}>"
        return {k: resolve(v, template) for k, v in value.items()}
    return value


def condition_holds(conditions: dict[str, Any], context: dict[str, str]) -> bool:
    """IAM condition operators used here; a key missing from the request fails its test."""
    for operator, tests in conditions.items():
        for key, expected in tests.items():
            values = expected if isinstance(expected, list) else [expected]
            actual = context.get(key)
            if actual is None:
                return False
            if operator == "StringEquals":
                ok = actual in values
            elif operator in ("StringLike", "ArnLike"):
                ok = any(fnmatch.fnmatchcase(actual, pattern) for pattern in values)
            else:
                raise AssertionError(f"operator {operator} not modelled by this test")
            if not ok:
                return False
    return True


def service_statements(template: dict[str, Any], key_id: str, service: str) -> list[dict]:
    key = template["Resources"][key_id]
    statements = resolve(key["Properties"]["KeyPolicy"]["Statement"], template)
    found = []
    for statement in statements:
        services = statement.get("Principal", {}).get("Service", [])
        services = services if isinstance(services, list) else [services]
        if any(fnmatch.fnmatchcase(s, service) for s in services):
            found.append(statement)
    return found


def allowed(
    template: dict[str, Any], key_id: str, service: str, action: str, context: dict[str, str]
) -> bool:
    for statement in service_statements(template, key_id, service):
        actions = statement["Action"]
        actions = actions if isinstance(actions, list) else [actions]
        if (
            statement["Effect"] == "Allow"
            and any(fnmatch.fnmatchcase(action, a) for a in actions)
            and condition_holds(statement.get("Condition", {}), context)
        ):
            return True
    return False


def templates(cdk_out: Path) -> dict[str, dict[str, Any]]:
    return {
        p.name.removesuffix(".template.json"): json.loads(p.read_text())
        for p in sorted(cdk_out.glob("*.template.json"))
    }


# --- item 2: WAF logs redact session tokens -------------------------------------------------


def test_waf_logs_redact_cookie_and_authorization(example_cdk_out: Path) -> None:
    template = load(example_cdk_out, "chefs-kiss-prod-platform")
    configs = [
        r for r in template["Resources"].values() if r["Type"] == "AWS::WAFv2::LoggingConfiguration"
    ]
    assert configs, "the production profile logs its web ACL"
    for config in configs:
        redacted = {
            field["SingleHeader"]["Name"].lower()
            for field in config["Properties"].get("RedactedFields", [])
        }
        assert {"cookie", "authorization"} <= redacted


# --- item 5: key policies for AWS services are scoped to this account's resources ---------


SERVICES = ("logs.*.amazonaws.com", "cloudwatch.amazonaws.com", "cloudtrail.amazonaws.com")


def test_every_service_statement_in_a_key_policy_has_a_condition(example_cdk_out: Path) -> None:
    checked = 0
    for name, template in templates(example_cdk_out).items():
        for key_id, resource in template["Resources"].items():
            if resource["Type"] != "AWS::KMS::Key":
                continue
            for service in SERVICES:
                for statement in service_statements(template, key_id, service):
                    checked += 1
                    assert statement.get("Condition"), f"{name}:{key_id} {service}"
    assert checked >= 8  # 3 platform keys (logs, alarms) + a logs statement per tenant key


def log_group_arn(name: str, account: str = ACCOUNT, region: str = "us-east-1") -> str:
    return f"arn:aws:logs:{region}:{account}:log-group:{name}"


def region_of(cdk_out: Path, stack: str) -> str:
    """The stack's region from the manifest (the standby stacks live in the recovery region)."""
    return read_assembly(cdk_out)[stack].environment.rsplit("/", 1)[1]  # type: ignore[union-attr]


def test_logs_service_may_use_each_key_for_its_own_log_groups_only(example_cdk_out: Path) -> None:
    """Intended use allowed (a condition that never matches would deny silently); another
    account's, another environment's or another restaurant's log group denied. Each log group
    is named in its own stack's region (the standby stacks live in the recovery region)."""
    every_group: set[tuple[str, str]] = set()
    pairs: list[tuple[str, dict[str, Any], str, str]] = []
    for name, template in templates(example_cdk_out).items():
        for resource in template["Resources"].values():
            if resource["Type"] != "AWS::Logs::LogGroup":
                continue
            group = resource["Properties"]["LogGroupName"]
            every_group.add((group, region_of(example_cdk_out, name)))
            key = resource["Properties"].get("KmsKeyId")
            assert key is not None, f"{name}: {group} is not encrypted with a customer key"
            pairs.append((name, template, key["Fn::GetAtt"][0], group))
    assert len(pairs) >= 10
    for name, template, key_id, group in pairs:
        region = region_of(example_cdk_out, name)
        for action in ("kms:GenerateDataKey", "kms:Decrypt", "kms:Encrypt"):
            context = {"kms:EncryptionContext:aws:logs:arn": log_group_arn(group, region=region)}
            assert allowed(template, key_id, "logs.*", action, context), f"{name}: {group}"
        foreign = {
            "kms:EncryptionContext:aws:logs:arn": log_group_arn(group, OTHER_ACCOUNT, region)
        }
        assert not allowed(template, key_id, "logs.*", "kms:Decrypt", foreign), group
        assert not allowed(template, key_id, "logs.*", "kms:Decrypt", {}), group
        own = {(g, region) for _, t, k, g in pairs if t is template and k == key_id}
        for other, other_region in every_group - own:
            arn = log_group_arn(other, region=other_region)
            context = {"kms:EncryptionContext:aws:logs:arn": arn}
            assert not allowed(template, key_id, "logs.*", "kms:Decrypt", context), (
                f"{name}: key for {sorted(own)} also opens {other}"
            )


def alarm_arn(name: str, account: str = ACCOUNT) -> str:
    return f"arn:aws:cloudwatch:us-east-1:{account}:alarm:{name}"


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_alarms_of_the_environment_may_publish_to_its_encrypted_topics(
    example_cdk_out: Path, env: str
) -> None:
    every = templates(example_cdk_out)
    platform = every[f"chefs-kiss-{env}-platform"]
    # The platform key (the log archive has its own, for its bucket only).
    (key_id,) = [
        k
        for k, r in platform["Resources"].items()
        if r["Type"] == "AWS::KMS::Key" and k.startswith("PlatformKey")
    ]
    alarms = [
        r["Properties"]["AlarmName"]
        for name, t in every.items()
        if name.startswith(f"chefs-kiss-{env}-")
        for r in t["Resources"].values()
        if r["Type"] == "AWS::CloudWatch::Alarm" and r["Properties"].get("AlarmActions")
    ]
    assert len(alarms) >= 5
    for alarm in alarms:
        context = {"aws:SourceArn": alarm_arn(alarm), "aws:SourceAccount": ACCOUNT}
        assert allowed(platform, key_id, "cloudwatch.amazonaws.com", "kms:GenerateDataKey", context)
        foreign = {
            "aws:SourceArn": alarm_arn(alarm, OTHER_ACCOUNT),
            "aws:SourceAccount": OTHER_ACCOUNT,
        }
        assert not allowed(platform, key_id, "cloudwatch.amazonaws.com", "kms:Decrypt", foreign)
    other_env = {
        "aws:SourceArn": alarm_arn("chefs-kiss-zz-x-critical"),
        "aws:SourceAccount": ACCOUNT,
    }
    assert not allowed(platform, key_id, "cloudwatch.amazonaws.com", "kms:Decrypt", other_env)


# --- item 3: the app container is not root, cannot write its image, holds no capabilities --


def task_definitions(cdk_out: Path) -> list[tuple[str, dict[str, Any]]]:
    return [
        (name, resource["Properties"])
        for name, template in templates(cdk_out).items()
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::ECS::TaskDefinition"
    ]


def is_root(user: str | None) -> bool:
    return user is None or user.split(":")[0] in ("0", "root")


def test_every_container_has_a_read_only_root_and_no_capabilities(example_cdk_out: Path) -> None:
    tasks = task_definitions(example_cdk_out)
    platforms = [n for n in templates(example_cdk_out) if n.endswith("-platform")]
    assert len(tasks) == len(platforms) == 4  # one per platform: 3 environments, 1 standby
    for name, task in tasks:
        for container in task["ContainerDefinitions"]:
            where = f"{name}:{container['Name']}"
            assert container["ReadonlyRootFilesystem"] is True, where
            capabilities = container["LinuxParameters"]["Capabilities"]
            assert capabilities["Drop"] == ["ALL"] and not capabilities.get("Add"), where
            assert not container.get("Privileged"), where


def test_the_app_runs_as_a_non_root_user_on_an_unprivileged_port(example_cdk_out: Path) -> None:
    for name, task in task_definitions(example_cdk_out):
        app = next(c for c in task["ContainerDefinitions"] if c["Name"] == "app")
        assert not is_root(app.get("User")), name
        assert app["Essential"] is True
        # nginx-unprivileged: USER 101, listens on 8080, PID file and temp files in /tmp.
        assert app["Image"] == "public.ecr.aws/nginx/nginx-unprivileged:stable-alpine"
        assert app["User"] == "101:101"
        assert [p["ContainerPort"] for p in app["PortMappings"]] == [8080]
        assert "localhost:8080/" in app["HealthCheck"]["Command"][1]


def test_the_only_root_step_opens_the_writable_volumes_and_exits(example_cdk_out: Path) -> None:
    for name, task in task_definitions(example_cdk_out):
        containers = {c["Name"]: c for c in task["ContainerDefinitions"]}
        assert set(containers) == {"app", "volume-permissions"}, name
        app, step = containers["app"], containers["volume-permissions"]
        # The app writes only to per-task volumes, each opened by the one-shot step first.
        volumes = {v["Name"] for v in task["Volumes"]}
        assert all(set(v) == {"Name"} for v in task["Volumes"]), "empty Fargate volumes only"
        mounts = {m["ContainerPath"]: m["SourceVolume"] for m in app["MountPoints"]}
        assert mounts == {"/tmp": "writable-tmp"} and set(mounts.values()) == volumes
        assert {m["ContainerPath"] for m in step["MountPoints"]} == set(mounts)
        assert app["DependsOn"] == [{"ContainerName": "volume-permissions", "Condition": "SUCCESS"}]
        assert step["Essential"] is False
        assert step["Command"] == [f"chmod 1777 {' '.join(mounts)}"]
        assert not step.get("Secrets") and not step.get("PortMappings")
        roots = [c["Name"] for c in task["ContainerDefinitions"] if is_root(c.get("User"))]
        assert roots == ["volume-permissions"], name


@pytest.mark.slow
def test_the_image_can_be_pinned_by_digest(tmp_path: Path) -> None:
    from config.generated import generated_environment
    from tests.conftest import synth_app

    digest = "public.ecr.aws/nginx/nginx-unprivileged@sha256:" + "0123456789abcdef" * 4
    environment = generated_environment("pin", 1, profile="poc", app={"image": digest})
    synth_app([environment], outdir=tmp_path, cfn_validation=False)  # read-only template
    ((_, task),) = task_definitions(tmp_path)
    assert {c["Image"] for c in task["ContainerDefinitions"]} == {digest}


# --- item 4: the session-signing secret rotates on its own -----------------------------------


@pytest.mark.parametrize("env", ["dev", "prod"])
def test_session_secret_rotates_every_30_days_without_an_acknowledgment(
    example_cdk_out: Path, env: str
) -> None:
    resources = load(example_cdk_out, f"chefs-kiss-{env}-platform")["Resources"]
    (secret_id,) = [
        k
        for k, r in resources.items()
        if r["Type"] == "AWS::SecretsManager::Secret"
        and r["Properties"].get("Name") == f"chefs-kiss-{env}/app/secrets"
    ]
    (schedule,) = [
        r["Properties"]
        for r in resources.values()
        if r["Type"] == "AWS::SecretsManager::RotationSchedule"
        and r["Properties"]["SecretId"] == {"Ref": secret_id}
    ]
    assert schedule["RotationRules"]["ScheduleExpression"] == "rate(30 days)"
    assert schedule["RotateImmediatelyOnUpdate"] is False
    function_id = schedule["RotationLambdaARN"]["Fn::GetAtt"][0]
    function = resources[function_id]["Properties"]
    assert function["Handler"] == "index.handler"
    assert function["Runtime"].startswith("python3.")
    service_id = next(k for k, r in resources.items() if r["Type"] == "AWS::ECS::Service")
    assert function["Environment"]["Variables"]["ECS_SERVICE"] == {
        "Fn::GetAtt": [service_id, "Name"]
    }
    rules = {
        rule["id"]
        for rule in resources[secret_id]
        .get("Metadata", {})
        .get("cdk_nag", {})
        .get("rules_to_suppress", [])
    }
    assert not {r for r in rules if "SMG4" in r or "SecretsManagerRotationEnabled" in r}
    # The function may restart exactly this service, nothing else in ECS.
    role_id = function["Role"]["Fn::GetAtt"][0]
    ecs_statements = [
        statement
        for r in resources.values()
        if r["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in r["Properties"]["Roles"]
        for statement in r["Properties"]["PolicyDocument"]["Statement"]
        if "ecs:" in json.dumps(statement["Action"])
    ]
    assert ecs_statements == [
        {
            "Action": "ecs:UpdateService",
            "Effect": "Allow",
            "Resource": {"Ref": service_id},
            "Sid": "StartTasksWithTheNewValue",
        }
    ]


def test_rotation_code_is_the_tested_handler(example_cdk_out: Path) -> None:
    """The asset CDK packages for the function is runtime/session_secret_rotation."""
    source = (
        Path(__file__).resolve().parent.parent / "runtime" / "session_secret_rotation" / "index.py"
    )
    packaged = list(example_cdk_out.glob("asset.*/index.py"))
    assert any(p.read_bytes() == source.read_bytes() for p in packaged)


# --- item 6: PoC-tier restaurants of a production environment keep a week of backups -------


def database(cdk_out: Path, stack: str) -> dict[str, Any]:
    (props,) = [
        r["Properties"]
        for r in load(cdk_out, stack)["Resources"].values()
        if r["Type"] == "AWS::RDS::DBInstance"
    ]
    return props


def test_poc_tier_keeps_seven_days_of_backups_in_a_production_environment(
    example_cdk_out: Path,
) -> None:
    sushi = database(example_cdk_out, "chefs-kiss-prod-tenant-sushi-zen")  # PoC tier, prod env
    assert sushi["BackupRetentionPeriod"] == 7 and sushi["MultiAZ"] is False
    taco = database(example_cdk_out, "chefs-kiss-dev-tenant-taco-loco")  # PoC tier, PoC env
    assert taco["BackupRetentionPeriod"] == 1


def test_a_shorter_explicit_retention_is_refused_in_a_production_environment() -> None:
    from config.generated import generated_environment
    from config.schema import EnvironmentConfig

    data = generated_environment("short", 1, profile="production").model_dump()
    data["restaurants"][0].update(tier="poc", backup_retention_days=3, multi_az=None)
    with pytest.raises(
        ValueError, match=r"restaurants\[0\]\.backup_retention_days: 3 is too short"
    ):
        EnvironmentConfig.model_validate(data)
    data["profile"] = "poc"
    data["restaurants"][0]["backup_retention_days"] = None
    poc = EnvironmentConfig.model_validate(data)
    assert poc.restaurants[0].resolved_backup_retention_days == 1


def test_preflight_counts_poc_restaurants_in_a_production_environment(
    example_cdk_out: Path,
) -> None:
    from config import load_environments
    from ops.assembly import read_assembly
    from ops.limits.preflight import preflight

    stacks = read_assembly(example_cdk_out)
    for environment in load_environments():
        (row,) = [r for r in preflight(stacks, environment.name) if r.id == "poc-in-production"]
        expected = sum(
            r.tier == "poc" for r in environment.restaurants if environment.profile == "production"
        )
        assert row.value == expected, environment.name
    (prod,) = [r for r in preflight(stacks, "prod") if r.id == "poc-in-production"]
    assert prod.value == 1 and "sushi-zen (7-day backups)" in prod.detail
