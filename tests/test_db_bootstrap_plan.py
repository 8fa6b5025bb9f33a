"""The bootstrap arrives on existing databases as an addition: `ops plan` judges it safe.

The base is the example assembly with what issue 11's database side added taken out again (the
bootstrap's resources, the contract parameter and the bootstrap's key-policy statement), which
is what main's tenant templates held before; the planner then judges the deploy that adds them.
The real run against main's synthesized templates is recorded in docs/database-bootstrap.md.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest
from lifecycle_helpers import copy_assembly, edit_template

from ops.assembly import read_assembly
from ops.planning.planner import Plan, plan_assemblies
from ops.planning.update_rules import NO_INTERRUPTION

# The log archive's subscription filters came later still (one names the bootstrap's log group).
ADDED_TYPES = {"AWS::SSM::Parameter", "AWS::Logs::SubscriptionFilter"}


def _is_added(logical_id: str, resource: dict[str, Any]) -> bool:
    return "DatabaseBootstrap" in logical_id or resource["Type"] in ADDED_TYPES


def _without_bootstrap(template: dict[str, Any]) -> None:
    resources = template["Resources"]
    removed = {k for k, v in resources.items() if _is_added(k, v)}
    for logical_id in removed:
        del resources[logical_id]
    for resource in resources.values():
        if resource["Type"] != "AWS::KMS::Key":
            continue
        policy = resource["Properties"]["KeyPolicy"]
        policy["Statement"] = [
            s for s in policy["Statement"] if not any(r in json.dumps(s) for r in removed)
        ]
    leftover = [r for r in removed if f'"{r}"' in json.dumps(template)]
    assert leftover == [], f"still referenced after removal: {leftover}"


@pytest.fixture(scope="module")
def plan(example_cdk_out: Path, tmp_path_factory: pytest.TempPathFactory) -> Plan:
    base = copy_assembly(example_cdk_out, tmp_path_factory.mktemp("before-bootstrap"))
    # Tenant stacks only: a standby (-dr-tenant-, seed 7.1) has no bootstrap, its users replicate.
    tenants = [
        p.name.removesuffix(".template.json")
        for p in base.glob("*-tenant-*.template.json")
        if "-dr-tenant-" not in p.name
    ]
    assert len(tenants) >= 5
    for stack in tenants:
        edit_template(base, stack, _without_bootstrap)
    return plan_assemblies(read_assembly(base), read_assembly(example_cdk_out))


def test_existing_tenant_databases_get_the_bootstrap_without_replacement(plan: Plan) -> None:
    assert not plan.blocked, plan.blockers
    assert plan.replacements() == []
    changed = plan.changed
    assert changed and all("-tenant-" in stack.name for stack in changed)
    for stack in changed:
        by_action: dict[str, list[str]] = {}
        for resource in stack.resources:
            by_action.setdefault(resource.action, []).append(resource.type)
            assert resource.type != "AWS::RDS::DBInstance", f"{stack.name}: the database changes"
            if resource.action == "modify":
                assert resource.impact == NO_INTERRUPTION, (stack.name, resource)
        assert set(by_action) <= {"add", "modify"}, (stack.name, by_action)
        assert "Custom::DatabaseBootstrap" in by_action["add"]
        assert "AWS::SSM::Parameter" in by_action["add"]
        modified = {t for t in by_action.get("modify", []) if t != "AWS::CDK::Metadata"}
        assert modified == {"AWS::KMS::Key"}, (stack.name, modified)  # the key policy grant
