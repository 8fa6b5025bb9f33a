"""ops promote / resize / offboard and restore_from_snapshot: lifecycle changes stay in place.

One fixture synthesizes the example config with every PoC restaurant promoted and some
restaurants resized up and down (one app, both environments); the commands themselves run on a
one-restaurant environment in a temporary config directory, so each costs two small synths.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from conftest import synth_app
from lifecycle_helpers import (
    copy_assembly,
    db_props,
    # autouse: the commands here change one small demo environment, several starting from (or
    # ending in) the same one; each distinct environment is synthesized once for the module
    each_environment_synthesized_once,  # noqa: F401
    edit_template,
)

from config.loader import ENVIRONMENTS_DIR, load_environments
from config.schema import EnvironmentConfig, Restaurant
from constructs.compliance import DEFAULT_NAG_PACKS
from ops.__main__ import main
from ops.assembly import read_assembly
from ops.lifecycle import config_change as cc
from ops.lifecycle.promote import ChangeRequest, execute, promotion_edits, refusals
from ops.lifecycle.resize import resize_request
from ops.planning.planner import plan_assemblies
from ops.planning.update_rules import INTERRUPTION, NO_INTERRUPTION
from stacks import naming

# The changed example app, synthesized once: one worker, not in `make test-quick`.
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("promote")]

DB = "AWS::RDS::DBInstance"
SIZES = ("small", "medium", "large")


def _changes_for(environment: EnvironmentConfig) -> dict[str, dict[str, object]]:
    """Every PoC restaurant promoted; every production one resized (alternately up and down)."""
    changes: dict[str, dict[str, object]] = {}
    for index, restaurant in enumerate(environment.restaurants):
        if restaurant.tier == "poc":
            changes[restaurant.slug] = promotion_edits(restaurant)
        else:
            position = SIZES.index(restaurant.resolved_size)
            step = -1 if position == len(SIZES) - 1 or (index % 2 and position > 0) else 1
            changes[restaurant.slug] = {"size": SIZES[position + step]}
    return changes


@pytest.fixture(scope="session")
def lifecycle_changes(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, dict[str, dict[str, dict[str, object]]]]:
    """The example config changed through the tool's own YAML editing, synthesized once."""
    outdir = tmp_path_factory.mktemp("changed.cdk.out")
    after: list[EnvironmentConfig] = []
    changes: dict[str, dict[str, dict[str, object]]] = {}
    for environment in load_environments():
        path = ENVIRONMENTS_DIR / f"{environment.name}.yaml"
        text = path.read_text(encoding="utf-8")
        changes[environment.name] = _changes_for(environment)
        for slug, edits in changes[environment.name].items():
            text = cc.edit_text(text, slug, edits, path)
        after.append(cc.validate_text(path, text))
    # Same nag packs as example_cdk_out (their metadata is in the templates); synth also fails
    # if the promoted or resized configuration has an unacknowledged finding. Read only: the
    # built-in CloudFormation validation runs on these stack kinds in the example assembly.
    synth_app(after, outdir=outdir, nag_packs=DEFAULT_NAG_PACKS, cfn_validation=False)
    return outdir, changes


def test_every_promotion_and_resize_of_the_example_is_in_place(
    example_cdk_out: Path,
    lifecycle_changes: tuple[Path, dict[str, dict[str, dict[str, object]]]],
) -> None:
    changed_dir, changes = lifecycle_changes
    plan = plan_assemblies(read_assembly(example_cdk_out), read_assembly(changed_dir))
    assert refusals(plan) == [] and not plan.blocked
    expected = {
        naming.tenant_stack_name(env, slug): edits
        for env, per_env in changes.items()
        for slug, edits in per_env.items()
    }
    kinds = {"promote": 0, "up": 0, "down": 0}
    # Seed 7.1 (prod has disaster recovery): a resized covered restaurant's standby follows in
    # place (its replica's class); a promoted PoC restaurant becomes covered, so its standby
    # stack is new. Everything else, platform stacks included, is untouched.
    standbys = {s.name: s for s in plan.changed if "-dr-tenant-" in s.name}
    assert standbys, "the example's prod environment has standbys"
    assert not plan.replacements()
    for name, standby in standbys.items():
        env, slug = name.split("-")[2], name.split("-dr-tenant-")[1]
        assert slug in changes[env], name
        promoted = changes[env][slug].get("tier") == "production"
        assert standby.action == ("add" if promoted else "modify"), name
        if not promoted:
            (replica,) = [r for r in standby.resources if r.type == DB]
            # The class and its parameter group, like the primary's resize.
            assert {c.path for c in replica.changes} == {"DBInstanceClass", "DBParameterGroupName"}
    assert {s.name for s in plan.changed} - set(standbys) == set(expected)
    for stack in plan.changed:
        if stack.name in standbys:
            continue
        (database,) = [r for r in stack.resources if r.type == DB]
        impacts = {c.path: c for c in database.changes}
        assert database.action == "modify", stack.name
        if expected[stack.name].get("tier") == "production":
            kinds["promote"] += 1
            assert impacts["MultiAZ"].impact == NO_INTERRUPTION
            # A PoC restaurant of a production environment already keeps 7 days (issue 15).
            backups = impacts.get("BackupRetentionPeriod")
            assert backups is None or backups.impact == NO_INTERRUPTION
            assert impacts["EnablePerformanceInsights"].after is True
        else:
            klass = impacts["DBInstanceClass"]
            assert klass.impact == INTERRUPTION
            kinds["up" if klass.after > klass.before else "down"] += 1
    assert all(kinds.values()), kinds


def _write_env(directory: Path, restaurant_yaml: str, name: str = "demo") -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{name}.yaml"
    path.write_text(
        "# Demo environment for lifecycle tests.\n"
        "profile: poc\n"
        "region: us-east-1\n"
        "\n"
        "restaurants:\n" + restaurant_yaml,
        encoding="utf-8",
    )
    return path


PILOT = (
    "  # Pilot since March; promote after the load test.\n"
    "  - slug: trattoria\n"
    "    display_name: Trattoria  # shown in the app\n"
    "    tier: poc\n"
    "    multi_az: false\n"
    "    backup_retention_days: 3\n"
)


def test_promote_write_edits_in_place_validates_and_second_run_has_nothing_to_do(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    path = _write_env(tmp_path, PILOT)
    args = ["promote", "trattoria", "--env", "demo", "--config-dir", str(tmp_path)]
    assert main([*args, "--write"]) == 0
    out = capsys.readouterr().out
    assert "In place only" in out and "Multi-AZ conversion: no downtime" in out
    assert "\n  cdk deploy chefs-kiss-demo-tenant-trattoria" in out and "npx" not in out
    assert re.search(r"cdk-nag \(AwsSolutions[^)]*\) on the new configuration: no unack", out)
    text = path.read_text()
    assert "# Pilot since March; promote after the load test." in text
    assert "display_name: Trattoria  # shown in the app" in text
    assert "tier: production" in text and "multi_az" not in text
    assert "backup_retention_days: 7" in text
    (environment,) = load_environments(directory=tmp_path)
    assert environment.restaurant("trattoria").resolved_multi_az

    before = path.read_bytes()
    assert main(args) == cc.EXIT_NOTHING
    assert "nothing to do" in capsys.readouterr().out
    assert main([*args, "--write"]) == cc.EXIT_NOTHING
    assert path.read_bytes() == before


def test_a_change_that_replaces_the_database_is_refused_and_not_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """Adding restore_from_snapshot to an existing database is the restore trap: refused."""
    path = _write_env(tmp_path, PILOT)
    before = path.read_bytes()
    request = ChangeRequest(
        verb="resize",
        env="demo",
        slug="trattoria",
        edits={"restore_from_snapshot": "chefs-kiss-demo-trattoria-final"},
        summary="restore trattoria in place",
        rerun="(none)",
        config_dir=tmp_path,
    )
    assert execute(request, write=True, as_json=True) == cc.EXIT_BLOCKED
    report = json.loads(capsys.readouterr().out)
    assert report["written"] is False and report["in_place_only"] is False
    assert any("DBSnapshotIdentifier" in reason for reason in report["refused"])
    assert path.read_bytes() == before


@pytest.mark.parametrize(
    ("argv", "code", "message"),
    [
        (["promote", "nope", "--env", "demo", "--write"], 2, "no restaurant 'nope'"),
        (["promote", "trattoria", "--env", "nowhere", "--write"], 2, "no such environment file"),
        (["promote", "osteria", "--env", "demo", "--write"], 3, "already on the production tier"),
        (
            ["resize", "osteria", "--env", "demo", "--size", "medium", "--write"],
            3,
            "already medium",
        ),
        (["offboard", "nope", "--env", "demo"], 2, "no restaurant 'nope'"),
    ],
)
def test_bad_input_is_refused_clearly_and_nothing_is_written(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], argv: list[str], code: int, message: str
) -> None:
    path = _write_env(tmp_path, PILOT + "  - slug: osteria\n    tier: production\n")
    before = path.read_bytes()
    assert main([*argv, "--config-dir", str(tmp_path)]) == code
    captured = capsys.readouterr()
    assert message in captured.out + captured.err
    assert path.read_bytes() == before


def test_resize_rejects_an_unknown_size(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["resize", "golden-wok", "--env", "dev", "--size", "huge"])
    assert exc.value.code == 2
    assert "invalid choice: 'huge'" in capsys.readouterr().err


def test_resize_request_names_both_classes(tmp_path: Path) -> None:
    _write_env(tmp_path, PILOT)
    request = resize_request("trattoria", "demo", "large", tmp_path)
    assert request.edits == {"size": "large"}
    assert "db.t4g.micro" in request.summary and "db.t4g.medium" in request.summary


# ---------------------------------------------------------------------------------------------
# Restore from snapshot


@pytest.mark.parametrize(
    "value",
    [
        "chefs-kiss-dev-bella-napoli-final",
        "rds:chefs-kiss-dev-x-2026-11-29-03-10",
        "arn:aws:rds:us-east-1:123456789012:snapshot:chefs-kiss-dev-x-final",
    ],
)
def test_restore_from_snapshot_accepts_ids_and_arns(value: str) -> None:
    assert Restaurant(slug="x1", tier="poc", restore_from_snapshot=value).restore_from_snapshot


@pytest.mark.parametrize("value", ["", "1abc", "snap shot", "arn:aws:s3:::bucket"])
def test_restore_from_snapshot_rejects_other_values(value: str) -> None:
    with pytest.raises(ValueError, match="RDS DB snapshot identifier"):
        Restaurant(slug="x1", tier="poc", restore_from_snapshot=value)


def test_restored_database_keeps_the_logical_id_and_the_trap_is_blocked(
    example_cdk_out: Path, tmp_path: Path
) -> None:
    """Same construct id: only the snapshot field differs, and the planner blocks changing it."""
    environment = EnvironmentConfig.model_validate(
        {
            "name": "rs",
            "profile": "poc",
            "region": "us-east-1",
            "restaurants": [
                {"slug": "fresh", "tier": "poc"},
                {"slug": "restored", "tier": "poc", "restore_from_snapshot": "snap-restored-1"},
            ],
        }
    )
    outdir = tmp_path / "rs.cdk.out"
    synth_app([environment], outdir=outdir, nag_packs=("AwsSolutions",))  # raises on findings
    stacks = read_assembly(outdir)
    fresh = stacks[naming.tenant_stack_name("rs", "fresh")].template
    restored = stacks[naming.tenant_stack_name("rs", "restored")].template
    fresh_id = next(k for k, v in fresh["Resources"].items() if v["Type"] == DB)
    restored_props = restored["Resources"][fresh_id]["Properties"]  # same logical id
    assert restored_props["DBSnapshotIdentifier"] == "snap-restored-1"
    assert "MasterUsername" not in restored_props and "DBName" not in restored_props
    secrets = [
        v["Properties"]["Name"]
        for v in restored["Resources"].values()
        if v["Type"] == "AWS::SecretsManager::Secret"
    ]
    assert secrets == [naming.tenant_secret_name("rs", "restored")]

    # The trap: a later deploy with another snapshot id replaces the restored database
    # (removing the id alone is an update for the RDS handler; see tests/test_plan_rules.py).
    stack = naming.tenant_stack_name("rs", "restored")
    head = copy_assembly(outdir, tmp_path / "head")
    edit_template(head, stack, lambda t: db_props(t).update(DBSnapshotIdentifier="snap-2"))
    plan = plan_assemblies(read_assembly(outdir), read_assembly(head))
    assert plan.blocked
    assert [r.action for r in plan.stack(stack).resources if r.type == DB] == ["replace"]


# ---------------------------------------------------------------------------------------------
# Offboarding


def test_offboard_checks_protection_first(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _write_env(tmp_path, PILOT)
    assert main(["offboard", "trattoria", "--env", "demo", "--config-dir", str(tmp_path)]) == 1
    out = capsys.readouterr().out
    assert "[NO]" in out and "deletion protection is on" in out
    assert "`cdk destroy chefs-kiss-demo-tenant-trattoria`" in out and "npx" not in out


def test_offboard_of_an_unprotected_production_restaurant_is_one_stack_deletion(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    restaurant = "  - slug: osteria\n    tier: production\n    deletion_protection: false\n"
    path = _write_env(tmp_path, PILOT + restaurant)  # another tenant keeps the exports in use
    before = path.read_bytes()
    argv = ["offboard", "osteria", "--env", "demo", "--config-dir", str(tmp_path), "--json"]
    assert main(argv) == 0
    result = json.loads(capsys.readouterr().out)
    assert result["ready"] is True
    texts = [c["text"] for c in result["checks"]]
    assert any(t.endswith("deletes chefs-kiss-demo-tenant-osteria") for t in texts)
    assert not any(t.startswith("also changes") for t in texts)
    assert any("a final snapshot is taken" in t for t in texts)
    assert any("the final snapshot stays restorable" in t for t in texts)
    assert any("termination protection is off" in t for t in texts)
    assert any("DELETED after a final snapshot" in d for d in result["data"])
    assert path.read_bytes() == before  # offboard never edits the config
