"""`ops plan` of an existing environment turning disaster recovery on, over real assemblies.

Base: a small generated production environment (two production-tier restaurants, covered by
default, and one PoC-tier restaurant, not covered) synthesized without `disaster_recovery`; head:
the same environment with a warm standby in us-west-2. Both synthesized by the app itself (nag
packs off), once per session with tests/test_dr_stacks.py (tests/shared_assemblies.py). The plan
must show two regions, no database replaced, the new standby stacks, and the record
`<slug>.<domain>` of a covered restaurant turning from a simple alias into the PRIMARY of a
failover pair, with its DNS impact; two crafted variants check what would fail.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lifecycle_helpers import copy_assembly, edit_template, rename_resource, template_path
from shared_assemblies import DR_ENV, DR_REGION, dr_assemblies, dr_environment

from ops.__main__ import main
from ops.assembly import read_assembly
from ops.planning.plan import render_markdown, render_text
from ops.planning.planner import Plan, plan_assemblies
from ops.planning.update_rules import INTERRUPTION, REPLACEMENT
from stacks import naming

# A module fixture builds the base and head apps: once, on one worker (not in test-quick).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("plan-disaster-recovery")]

ENV = DR_ENV
PRIMARY_REGION, RECOVERY_REGION = "us-east-1", DR_REGION
COVERED, UNCOVERED = "r0001", "r0002"
ALSO_COVERED = "r0003"  # the other production-tier restaurant
RECORD = "AWS::Route53::RecordSet"


def _environment(standby: bool) -> Any:
    return dr_environment(standby=standby)


@pytest.fixture(scope="module")
def assemblies(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    return dr_assemblies(tmp_path_factory)


@pytest.fixture(scope="module")
def plan(assemblies: tuple[Path, Path]) -> Plan:
    base, head = assemblies
    return plan_assemblies(read_assembly(base), read_assembly(head))


def _record_id(template: dict[str, Any]) -> str:
    [record] = [k for k, r in template["Resources"].items() if r["Type"] == RECORD]
    return record


def test_the_environment_is_what_the_test_means() -> None:
    environment = _environment(True)
    assert [r.slug for r in environment.standby_restaurants()] == [COVERED, ALSO_COVERED]
    assert environment.restaurant(UNCOVERED).tier == "poc"


def test_stacks_in_two_regions(plan: Plan) -> None:
    regions = plan.regions()
    assert set(regions) == {PRIMARY_REGION, RECOVERY_REGION}
    assert sorted(regions[RECOVERY_REGION]) == sorted(
        [
            naming.dr_platform_stack_name(ENV),
            naming.standby_stack_name(ENV, COVERED),
            naming.standby_stack_name(ENV, ALSO_COVERED),
        ]
    )
    for stack in plan.stacks:
        expected = RECOVERY_REGION if "-dr-" in stack.name else PRIMARY_REGION
        assert stack.region == expected, stack.name
    added = {s.name for s in plan.stacks if s.action == "add"}
    assert added == set(regions[RECOVERY_REGION])  # only the standby is new
    assert naming.standby_stack_name(ENV, UNCOVERED) not in {s.name for s in plan.stacks}


def test_no_database_is_replaced_and_nothing_is_blocked(plan: Plan) -> None:
    assert plan.replacements() == []
    databases = [
        (s.name, r) for s in plan.stacks for r in s.resources if r.type == "AWS::RDS::DBInstance"
    ]
    # the only database changes are the replicas being added, in the standby stacks
    assert sorted((n, r.action) for n, r in databases) == [
        (naming.standby_stack_name(ENV, COVERED), "add"),
        (naming.standby_stack_name(ENV, ALSO_COVERED), "add"),
    ]
    assert not [r for s in plan.stacks for r in s.resources if r.at_risk]
    assert plan.blockers == []


def test_the_record_turns_into_the_primary_of_a_failover_pair(plan: Plan) -> None:
    tenant = plan.stack(naming.tenant_stack_name(ENV, COVERED))
    [record] = [r for r in tenant.resources if r.type == RECORD]
    assert record.action == "modify" and record.impact == INTERRUPTION
    changes = {c.path: c for c in record.changes}
    assert {"Failover", "SetIdentifier", "HealthCheckId"} <= set(changes)
    assert changes["Failover"].after == "PRIMARY"
    assert changes["Failover"].impact == INTERRUPTION
    assert "NXDOMAIN" in changes["Failover"].reason and "UPSERT" in changes["Failover"].reason
    assert "health check" in changes["HealthCheckId"].reason
    # the PoC restaurant's record is untouched
    uncovered = plan.stack(naming.tenant_stack_name(ENV, UNCOVERED))
    assert not [r for r in uncovered.resources if r.type == RECORD]


def test_the_dns_summary_names_the_change_and_the_order(plan: Plan) -> None:
    name = f"{COVERED}.{_environment(True).domain.name}"
    tenant, standby = (
        naming.tenant_stack_name(ENV, COVERED),
        naming.standby_stack_name(ENV, COVERED),
    )
    converted = [d for d in plan.dns if d.startswith(f"{tenant} ({PRIMARY_REGION})")]
    assert len(converted) == 1 and f"{name} (A) simple -> PRIMARY" in converted[0]
    assert "interruption" in converted[0]
    ordered = [d for d in plan.dns if d.startswith(f"{standby} ({RECOVERY_REGION})")]
    assert len(ordered) == 1 and "SECONDARY" in ordered[0]
    assert f"deploy after {tenant}" in ordered[0]
    assert any(f"deploy {tenant} first" in note for note in plan.stack(standby).notes)
    [why] = [d for d in plan.dns if d.startswith("why: ")]  # said once, not per restaurant
    assert "NXDOMAIN" in why and "UPSERT" in why


def test_text_and_markdown_show_regions_and_dns(plan: Plan) -> None:
    text = render_text(plan)
    assert f"Regions: {PRIMARY_REGION}: " in text and f"{RECOVERY_REGION}: 3 stack(s)" in text
    assert f"{naming.dr_platform_stack_name(ENV)} [{RECOVERY_REGION}]: add" in text
    assert "DNS (failover records):" in text
    assert "Verdict: OK" in text
    markdown = render_markdown(plan)
    assert f"| `{naming.dr_platform_stack_name(ENV)}` | add | {RECOVERY_REGION} |" in markdown
    assert "**DNS (failover records)**" in markdown


def test_cli_json_of_the_same_plan(
    assemblies: tuple[Path, Path], capsys: pytest.CaptureFixture[str]
) -> None:
    base, head = assemblies
    code = main(["plan", "--base", str(base), "--head", str(head), "--json", "--no-cost"])
    data = json.loads(capsys.readouterr().out)
    assert code == 0 and data["blocked"] is False
    assert set(data["regions"]) == {PRIMARY_REGION, RECOVERY_REGION}
    assert data["dns"] and all(s["region"] for s in data["stacks"])


def test_a_new_logical_id_for_the_record_is_blocked(
    assemblies: tuple[Path, Path], tmp_path: Path
) -> None:
    """The PRIMARY under a new construct id: CloudFormation creates it before deleting the simple
    record, which Route 53 refuses: the plan blocks instead of a failed deploy."""
    base, head = assemblies
    edited = copy_assembly(head, tmp_path / "head")
    tenant = naming.tenant_stack_name(ENV, COVERED)
    old = _record_id(json.loads(template_path(edited, tenant).read_text()))
    edit_template(edited, tenant, lambda t: rename_resource(t, old, "DnsFailoverPrimary0123"))
    plan = plan_assemblies(read_assembly(base), read_assembly(edited))
    blockers = [b for b in plan.blockers if "DnsFailoverPrimary0123" in b]
    assert len(blockers) == 1 and "FAILS" in blockers[0] and "keep" in blockers[0]


def test_a_secondary_beside_a_simple_record_is_blocked(
    assemblies: tuple[Path, Path], tmp_path: Path
) -> None:
    """The standby stack alone (the tenant stack's record still simple): its SECONDARY fails."""
    base, head = assemblies
    edited = copy_assembly(head, tmp_path / "head")
    tenant = naming.tenant_stack_name(ENV, COVERED)
    template_path(edited, tenant).write_text(template_path(base, tenant).read_text())
    plan = plan_assemblies(read_assembly(base), read_assembly(edited))
    standby = naming.standby_stack_name(ENV, COVERED)
    [blocker] = [b for b in plan.blockers if b.startswith(standby)]
    assert "SECONDARY" in blocker and "stays" in blocker and "FAILS" in blocker


def test_record_rules_by_hand() -> None:
    from ops.planning.update_rules import RULES

    rules = RULES[RECORD]
    head = {"Failover": "SECONDARY", "SetIdentifier": "standby"}
    swap = rules["Failover"]("PRIMARY", "SECONDARY", {"SetIdentifier": "standby"}, head)
    assert swap.impact != INTERRUPTION and "UPSERT" in swap.reason  # same identity: in place
    back = rules["Failover"]("PRIMARY", None, {"SetIdentifier": "x"}, {})
    assert back.impact == INTERRUPTION and "partner" in back.reason
    assert rules["SetIdentifier"]("a", "a", {}, {}).impact != REPLACEMENT
    assert (
        rules["SetIdentifier"](None, "primary", {}, {"Failover": "PRIMARY"}).impact == INTERRUPTION
    )
