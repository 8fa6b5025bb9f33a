"""Issue 20: what `ops failover --write` records is a change `ops plan` judges in place.

The file written by `--write` (disaster_recovery.failed_over += [slug]) is synthesized before and
after, and planned like any change: the standby's replica loses SourceDBInstanceIdentifier (an
in-place promotion: interruption at worst, CloudFormation finds it already promoted), the
failover health check keeps DNS on the standby, and nothing is replaced or removed.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aws_cdk as cdk
import pytest

from app import build_app, project_context
from config.schema import EnvironmentConfig
from ops.assembly import StackArtifact
from ops.disaster_recovery import failover
from ops.lifecycle import config_change as cc
from ops.planning.planner import REPLACEMENT, plan_assemblies

# A module fixture builds the apps before and after failover: once, on one worker (slow).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("failover-plan")]

TEXT = """\
# The environment before the failover.
profile: production
region: us-east-1
account: "123456789012"

domain:
  name: app.example.com
  hosted_zone_id: Z0DRTEST000000000000

alerts:
  critical_emails:
    - oncall@example.com

disaster_recovery:
  region: us-west-2
  mode: pilot-light

restaurants:
  - slug: golden-wok
    tier: production
  - slug: sushi-zen
    tier: production
"""
STANDBY = "chefs-kiss-drplan-dr-tenant-golden-wok"
TENANT = "chefs-kiss-drplan-tenant-golden-wok"
PLATFORM = "chefs-kiss-drplan-dr-platform"


def templates(environment: EnvironmentConfig) -> dict[str, StackArtifact]:
    app = cdk.App(context=project_context(), builtin_cloud_formation_validation=False)
    app = build_app(environments=[environment], nag_packs=(), app=app)
    return {
        s.stack_name: StackArtifact(s.stack_name, Path(f"{s.stack_name}.template.json"), s.template)
        for s in app.synth().stacks
    }


@pytest.fixture(scope="module")
def planned() -> Any:
    path = Path("drplan.yaml")  # the name is the environment's; nothing is read or written
    before = cc.validate_text(path, TEXT)
    written = failover.failed_over_text(TEXT, ["golden-wok"], path)
    after = cc.validate_text(path, written)
    assert after.disaster_recovery is not None
    assert after.disaster_recovery.failed_over == ("golden-wok",)
    return plan_assemblies(templates(before), templates(after)), written


def test_the_written_file_keeps_its_comment_and_adds_one_line(planned: Any) -> None:
    _, written = planned
    assert written.startswith("# The environment before the failover.\n")
    added = set(written.splitlines()) - set(TEXT.splitlines())
    assert added == {"  failed_over:", "    - golden-wok"} or added == {
        "  failed_over: [golden-wok]"
    }


def test_the_recorded_failover_plans_in_place(planned: Any) -> None:
    plan, _ = planned
    assert not plan.blocked, plan.blockers
    everything = [(s.name, r) for s in plan.stacks for r in s.resources]
    assert [r.logical_id for _, r in everything if r.action == "replace"] == []
    assert all(c.impact != REPLACEMENT for _, r in everything for c in r.changes)
    # the one removal: the replica-lag alarm, which has no replica left to watch
    removed = [(n, r.type, r.logical_id) for n, r in everything if r.action == "remove"]
    assert [(n, t) for n, t, _ in removed] == [(STANDBY, "AWS::CloudWatch::Alarm")]
    assert "ReplicaLag" in removed[0][2]
    # only the failed-over restaurant's stacks and the standby platform change (it keeps the
    # task count the failover scaled it to); sushi-zen's stacks are untouched
    assert {n for n, _ in everything} <= {STANDBY, TENANT, PLATFORM}
    platform = {
        (r.type, c.path): (c.before, c.after, c.impact)
        for n, r in everything
        if n == PLATFORM
        for c in r.changes
    }
    assert platform == {
        ("AWS::ECS::Service", "DesiredCount"): (0, 3, "no-interruption"),
        ("AWS::ApplicationAutoScaling::ScalableTarget", "MinCapacity"): (0, 3, "no-interruption"),
    }


def test_the_replica_is_promoted_in_place(planned: Any) -> None:
    plan, _ = planned
    (replica,) = [r for r in plan.stack(STANDBY).resources if r.type == "AWS::RDS::DBInstance"]
    assert replica.action == "modify"
    changes = {c.path: c for c in replica.changes}
    assert set(changes) == {"SourceDBInstanceIdentifier", "MultiAZ", "BackupRetentionPeriod"}
    assert changes["MultiAZ"].impact == changes["BackupRetentionPeriod"].impact == "no-interruption"
    source = changes["SourceDBInstanceIdentifier"]
    assert source.after is None and source.impact == "interruption"
    assert "promotes the read replica" in source.reason


def test_dns_stays_on_the_standby(planned: Any) -> None:
    plan, _ = planned
    (check,) = [r for r in plan.stack(TENANT).resources if r.type == "AWS::Route53::HealthCheck"]
    assert check.action == "modify"
    (config,) = check.changes
    assert config.path == "HealthCheckConfig" and config.impact == "no-interruption"
    assert (config.before["HealthThreshold"], config.after["HealthThreshold"]) == (1, 2)
    assert config.before["ChildHealthChecks"] == config.after["ChildHealthChecks"]
