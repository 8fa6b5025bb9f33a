"""Seed 7.1 disaster recovery as an opt-in restaurant setting: cross-region replication of the
automated backups, validated, rendered, priced and planned as an in-place change."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from app import build_app, project_context
from config.generated import generated_environment
from config.schema import EnvironmentConfig
from ops.assembly import StackArtifact
from ops.costing.report import estimate_templates
from ops.planning.planner import NO_INTERRUPTION, plan_assemblies

# Two apps of its own, synthesized once: one worker, not in `make test-quick`.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("disaster-recovery")]

KEY = "arn:aws:kms:us-west-2:123456789012:key/1234abcd-12ab-34cd-56ef-1234567890ab"
TENANT = "chefs-kiss-dr-tenant-r0001"


def environment(replication: dict[str, Any] | None) -> EnvironmentConfig:
    data = generated_environment("dr", 1, profile="production").model_dump()
    data["restaurants"][0]["backup_replication"] = replication
    return EnvironmentConfig.model_validate(data)


def templates(env: EnvironmentConfig) -> dict[str, dict[str, Any]]:
    app = cdk.App(context=project_context(), builtin_cloud_formation_validation=False)
    app = build_app(environments=[env], nag_packs=(), app=app)
    return {s.stack_name: s.template for s in app.synth().stacks}


@pytest.fixture(scope="module")
def pair() -> tuple[dict[str, Any], dict[str, Any]]:
    return templates(environment(None)), templates(
        environment({"region": "us-west-2", "kms_key_arn": KEY})
    )


def instance(template: dict[str, Any]) -> dict[str, Any]:
    (props,) = [
        r["Properties"]
        for r in template["Resources"].values()
        if r["Type"] == "AWS::RDS::DBInstance"
    ]
    return props


def test_replication_is_rendered_with_the_backup_retention(pair: tuple[dict, dict]) -> None:
    before, after = pair
    props = instance(after[TENANT])
    assert props["AutomaticBackupReplicationRegion"] == "us-west-2"
    assert props["AutomaticBackupReplicationKmsKeyId"] == KEY
    assert props["AutomaticBackupReplicationRetentionPeriod"] == props["BackupRetentionPeriod"] == 7
    assert "AutomaticBackupReplicationRegion" not in instance(before[TENANT])


def test_turning_replication_on_is_an_in_place_change(pair: tuple[dict, dict]) -> None:
    def assembly(templates: dict[str, Any]) -> dict[str, StackArtifact]:
        return {n: StackArtifact(n, Path(f"{n}.template.json"), t) for n, t in templates.items()}

    plan = plan_assemblies(assembly(pair[0]), assembly(pair[1]))
    assert not plan.blocked
    (db,) = [r for r in plan.stack(TENANT).resources if r.type == "AWS::RDS::DBInstance"]
    impacts = {c.path: c.impact for c in db.changes}
    assert impacts == {
        "AutomaticBackupReplicationRegion": NO_INTERRUPTION,
        "AutomaticBackupReplicationKmsKeyId": NO_INTERRUPTION,
        "AutomaticBackupReplicationRetentionPeriod": NO_INTERRUPTION,
    }


def test_replication_is_priced_not_free(pair: tuple[dict, dict]) -> None:
    before = estimate_templates(pair[0], "dr")
    after = estimate_templates(pair[1], "dr")
    lines = [line for s in after.stacks for line in s.lines if "us-west-2" in line.item]
    assert {line.price_key for line in lines} == {
        "rds.backup.gb_month",
        "data_transfer.inter_region_gb",
    }
    assert all(line.monthly_usd > 0 for line in lines)
    assert after.total_monthly_usd - before.total_monthly_usd == sum(
        line.monthly_usd for line in lines
    )


@pytest.mark.parametrize(
    ("replication", "message"),
    [
        (
            {"region": "us-east-1", "kms_key_arn": KEY.replace("us-west-2", "us-east-1")},
            "must differ",
        ),
        (
            {"region": "us-west-2", "kms_key_arn": KEY.replace("us-west-2", "eu-west-1")},
            "must live in the destination region",
        ),
        ({"region": "us-west-2", "kms_key_arn": "alias/dr"}, "a KMS key ARN"),
        ({"region": "mars-1", "kms_key_arn": KEY}, "AWS region name"),
        ({"region": "us-west-2", "kms_key_arn": KEY, "retention_days": 40}, "1 to 35 days"),
    ],
)
def test_replication_settings_are_validated(replication: dict[str, Any], message: str) -> None:
    with pytest.raises(ValueError, match=message):
        environment(replication)
