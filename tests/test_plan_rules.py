"""One test per rule of `ops plan` beyond the provider schemas, each on a synthesized template.

Every case copies the example assembly (and the base too when it edits it), edits one template
as JSON (milliseconds), and runs the real command (`python -m ops plan --base DIR --head DIR`):
the verdicts are read from the plan that run made, next to its exit code and output.
The rule's source is cited where the rule lives (ops/planning/: update_rules.py, intrinsics.py,
schemas.py, planner.py).
"""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from lifecycle_helpers import (
    copy_assembly,
    db_props,
    edit_template,
    only_id,
    resources_of_type,
    set_db,
)

from config.loader import load_environments
from ops.__main__ import main
from ops.assembly import imported_names, read_assembly
from ops.planning import plan as plan_command
from ops.planning.planner import Plan, ResourceChange
from ops.planning.schemas import resource_schema
from ops.planning.update_rules import INTERRUPTION, NO_INTERRUPTION, REPLACEMENT
from stacks import naming

DB = "AWS::RDS::DBInstance"
KEY = "AWS::KMS::Key"


def _first_tenant(tier: str) -> tuple[str, str]:
    for environment in load_environments():
        for restaurant in environment.restaurants:
            if restaurant.tier == tier:
                return environment.name, restaurant.slug
    raise AssertionError(f"the example config has no {tier} restaurant")


ENV, SLUG = _first_tenant("poc")  # single-AZ
TENANT = naming.tenant_stack_name(ENV, SLUG)
PLATFORM = naming.platform_stack_name(ENV)
Edit = Callable[[dict[str, Any]], Any]


@dataclass
class Judged:
    plan: Plan
    code: int  # exit code of `python -m ops plan`
    output: str

    def resource(self, type_name: str, stack: str = TENANT) -> ResourceChange:
        (found,) = [r for r in self.plan.stack(stack).resources if r.type == type_name]
        return found

    def change(self, type_name: str, path: str, stack: str = TENANT) -> Any:
        (found,) = [c for c in self.resource(type_name, stack).changes if c.path == path]
        return found


@pytest.fixture
def judge(
    example_cdk_out: Path,
    tmp_path: Path,
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
) -> Callable[..., Judged]:
    """judge(head_edits={stack: edit}, base_edits={...}, allow=[...]) -> plan and exit code.

    The plan judged is the one the command itself makes (`make_plan`, watched), so one run
    gives the verdicts, the exit code and the output together."""
    counter = iter(range(1000))
    made: list[Plan] = []

    make_plan = plan_command.make_plan

    def watched_make_plan(*args: Any, **kwargs: Any) -> Plan:
        made.append(make_plan(*args, **kwargs))
        return made[-1]

    monkeypatch.setattr(plan_command, "make_plan", watched_make_plan)

    def run(
        head_edits: dict[str, Edit],
        base_edits: dict[str, Edit] | None = None,
        allow: tuple[str, ...] = (),
    ) -> Judged:
        n = next(counter)
        base = example_cdk_out  # only read: copied when the case edits it
        if base_edits:
            base = copy_assembly(example_cdk_out, tmp_path / f"base{n}")
            for stack, edit in base_edits.items():
                edit_template(base, stack, edit)
        head = copy_assembly(base, tmp_path / f"head{n}")
        for stack, edit in head_edits.items():
            edit_template(head, stack, edit)
        # The edits are to ENV's stacks: the other environments' are the same on both sides.
        only = naming.name_prefix(ENV) + "-*"
        argv = ["plan", "--base", str(base), "--head", str(head), "--no-cost", "--stacks", only]
        for pattern in allow:
            argv += ["--allow", pattern]
        capsys.readouterr()
        made.clear()
        code = main(argv)
        (plan,) = made  # one plan, of these two directories
        assert (plan.base, plan.head) == (str(base), str(head))
        return Judged(plan, code, capsys.readouterr().out)

    return run


def set_key(**values: Any) -> Edit:
    def edit(template: dict[str, Any]) -> None:
        template["Resources"][only_id(template, KEY)]["Properties"].update(values)

    return edit


def set_db_attribute(**values: Any) -> Edit:
    def edit(template: dict[str, Any]) -> None:
        template["Resources"][only_id(template, DB)].update(values)

    return edit


def with_condition(name: str, expression: Any) -> Edit:
    def edit(template: dict[str, Any]) -> None:
        template.setdefault("Conditions", {})[name] = expression

    return edit


def both(*edits: Edit) -> Edit:
    def edit(template: dict[str, Any]) -> None:
        for one in edits:
            one(template)

    return edit


IN_REGION = {"Fn::Equals": [{"Ref": "AWS::Region"}, "us-east-1"]}
OTHER_REGION = {"Fn::Equals": [{"Ref": "AWS::Region"}, "eu-west-3"]}


# ---------------------------------------------------------------------------------------------
# Resolving the template before judging it (ops/planning/intrinsics.py)


def test_a_resource_whose_condition_is_false_is_a_deletion(judge: Callable[..., Judged]) -> None:
    judged = judge(
        {
            TENANT: both(
                with_condition("Elsewhere", OTHER_REGION), set_db_attribute(Condition="Elsewhere")
            )
        }
    )
    database = judged.resource(DB)
    assert database.action == "remove" and database.at_risk
    assert database.outcome.startswith("DELETED after a final snapshot")
    assert judged.plan.blocked and judged.code == 1


def test_a_condition_that_holds_changes_nothing(judge: Callable[..., Judged]) -> None:
    judged = judge(
        {TENANT: both(with_condition("Here", IN_REGION), set_db_attribute(Condition="Here"))}
    )
    assert [r for r in judged.plan.stack(TENANT).resources if r.type == DB] == []
    assert not judged.plan.blocked and judged.code == 0


def test_a_condition_that_cannot_be_evaluated_offline_puts_the_resource_at_risk(
    judge: Callable[..., Judged],
) -> None:
    """AWS::AccountId is unknown for these stacks: the condition may be false at deploy."""
    account = {"Fn::Equals": [{"Ref": "AWS::AccountId"}, "111111111111"]}
    judged = judge(
        {
            TENANT: both(
                with_condition("InAccount", account), set_db_attribute(Condition="InAccount")
            )
        }
    )
    assert judged.change(DB, "Condition").impact == REPLACEMENT
    assert judged.resource(DB).at_risk and judged.code == 1


def test_a_mapping_value_change_reaches_the_property_that_reads_it(
    judge: Callable[..., Judged],
) -> None:
    """The real Fn::FindInMap of the template: the rotation application's version."""

    def bump(template: dict[str, Any]) -> None:
        (mapping,) = template["Mappings"].values()
        mapping["aws"]["semanticVersion"] = "9.9.9"
        mapping["aws-cn"]["semanticVersion"] = "0.0.1"  # another partition: not deployed here

    judged = judge({TENANT: bump})
    application = judged.resource("AWS::Serverless::Application")
    (change,) = application.changes
    assert change.path == "Location"
    assert change.after["SemanticVersion"] == "9.9.9"  # evaluated, not the FindInMap text
    assert judged.code == 0


def _db_name_from_mapping(value: str) -> Edit:
    def edit(template: dict[str, Any]) -> None:
        template.setdefault("Mappings", {})["Names"] = {"aws": {"database": value}}
        db_props(template)["DBName"] = {
            "Fn::FindInMap": ["Names", {"Ref": "AWS::Partition"}, "database"]
        }

    return edit


def test_a_mapping_change_under_a_create_only_property_replaces_and_blocks(
    judge: Callable[..., Judged],
) -> None:
    same = judge({TENANT: _db_name_from_mapping("chefs_kiss")})
    assert [r for r in same.plan.stack(TENANT).resources if r.type == DB] == []
    assert same.code == 0
    changed = judge({TENANT: _db_name_from_mapping("restaurant")})
    assert changed.change(DB, "DBName").impact == REPLACEMENT
    assert changed.resource(DB).action == "replace" and changed.code == 1


def test_fn_if_over_a_changed_condition_is_judged_by_its_branch(
    judge: Callable[..., Judged],
) -> None:
    name_if = set_db(DBName={"Fn::If": ["Primary", "chefs_kiss", "restaurant"]})
    judged = judge(
        {TENANT: both(with_condition("Primary", OTHER_REGION), name_if)},
        base_edits={TENANT: both(with_condition("Primary", IN_REGION), name_if)},
    )
    change = judged.change(DB, "DBName")
    assert (change.before, change.after, change.impact) == ("chefs_kiss", "restaurant", REPLACEMENT)
    assert judged.code == 1


def test_aws_novalue_removes_the_property(judge: Callable[..., Judged]) -> None:
    judged = judge(
        {TENANT: set_db(CopyTagsToSnapshot={"Fn::If": ["Never", True, {"Ref": "AWS::NoValue"}]})},
        base_edits={TENANT: with_condition("Never", OTHER_REGION)},
    )
    change = judged.change(DB, "CopyTagsToSnapshot")
    assert change.before is True and change.after is None and judged.code == 0


def test_select_split_join_sub_and_pseudo_parameters_resolve_to_the_same_values(
    judge: Callable[..., Judged],
) -> None:
    def rewrite(template: dict[str, Any]) -> None:
        props = db_props(template)
        props["DBName"] = {"Fn::Select": [1, {"Fn::Split": [",", "x,chefs_kiss,y"]}]}
        props["MasterUsername"] = {"Fn::Join": ["_", ["chefs", "admin"]]}
        props["DBInstanceIdentifier"] = {"Fn::Sub": "${AWS::StackName}"}
        for tag in props["Tags"]:
            tag["Value"] = {"Fn::Sub": ["${V}", {"V": tag["Value"]}]}

    def literal_identifier(template: dict[str, Any]) -> None:
        db_props(template)["DBInstanceIdentifier"] = TENANT

    judged = judge({TENANT: rewrite}, base_edits={TENANT: literal_identifier})
    assert [r for r in judged.plan.stack(TENANT).resources if r.type == DB] == []
    assert judged.code == 0
    moved = judge(
        {TENANT: set_db(DBName={"Fn::Select": [0, {"Fn::Split": [",", "x,chefs_kiss"]}]})}
    )
    assert moved.change(DB, "DBName").after == "x" and moved.code == 1


def test_cli_only_metadata_is_not_a_change(judge: Callable[..., Judged]) -> None:
    """`cdk synth` adds aws:cdk:path, asset metadata and CDKMetadata; `python app.py` does not."""

    def as_the_cli_writes_it(template: dict[str, Any]) -> None:
        for logical_id, definition in template["Resources"].items():
            definition.setdefault("Metadata", {})["aws:cdk:path"] = f"{TENANT}/{logical_id}"
            definition["Metadata"]["aws:asset:path"] = "asset.0123"
        template["Resources"]["CDKMetadata"] = {
            "Type": "AWS::CDK::Metadata",
            "Properties": {"Analytics": "v2:deflate64:H4sI"},
            "Condition": "CDKMetadataAvailable",
        }
        template.setdefault("Conditions", {})["CDKMetadataAvailable"] = IN_REGION

    judged = judge({TENANT: as_the_cli_writes_it})
    assert judged.plan.changed == [] and judged.code == 0
    assert "No changes" in judged.output


# ---------------------------------------------------------------------------------------------
# Rules the provider schemas do not carry (ops/planning/update_rules.py, ops/planning/schemas.py)


@pytest.mark.parametrize(
    ("prop", "value"),
    [("KeySpec", "RSA_2048"), ("KeyUsage", "SIGN_VERIFY"), ("MultiRegion", True)],
)
def test_kms_key_immutable_properties_are_refused_as_a_failing_deploy(
    judge: Callable[..., Judged], prop: str, value: Any
) -> None:
    judged = judge({TENANT: set_key(**{prop: value})}, allow=(f"{TENANT}/*",))
    change = judged.change(KEY, prop)
    assert change.impact == REPLACEMENT and "update request fails" in (change.blocker or "")
    assert judged.plan.blocked and judged.code == 1  # --allow does not make it deployable


def test_availability_zone_on_a_single_az_instance_replaces_it(
    judge: Callable[..., Judged],
) -> None:
    judged = judge({TENANT: set_db(AvailabilityZone="us-east-1a")})
    change = judged.change(DB, "AvailabilityZone")
    assert change.impact == REPLACEMENT and "isAvailabilityZoneChangeMutable" in change.reason
    database = judged.resource(DB)
    assert database.action == "replace" and database.at_risk and judged.code == 1
    assert any("cannot replace a custom-named resource" in f for f in database.failures)


def test_availability_zone_dropped_while_going_multi_az_is_an_update(
    judge: Callable[..., Judged],
) -> None:
    judged = judge(
        {TENANT: set_db(AvailabilityZone=None, MultiAZ=True)},
        base_edits={TENANT: set_db(AvailabilityZone="us-east-1a")},
    )
    assert judged.change(DB, "AvailabilityZone").impact == NO_INTERRUPTION
    assert judged.resource(DB).action == "modify" and judged.code == 0


@pytest.mark.parametrize(
    ("base", "head", "action", "code"),
    [
        (None, "snap-1", "replace", 1),
        ("snap-1", "snap-2", "replace", 1),
        ("snap-1", None, "modify", 0),  # RDS handler: unsetting it is an update (PR #351)
    ],
)
def test_snapshot_identifier_follows_the_rds_handler(
    judge: Callable[..., Judged], base: str | None, head: str | None, action: str, code: int
) -> None:
    judged = judge(
        {TENANT: set_db(DBSnapshotIdentifier=head)},
        base_edits={TENANT: set_db(DBSnapshotIdentifier=base)},
    )
    assert judged.resource(DB).action == action and judged.code == code


@pytest.mark.parametrize(
    ("prop", "base", "head", "impact"),
    [
        ("RestoreTime", None, "2026-11-30T00:00:00Z", REPLACEMENT),
        ("RestoreTime", "2026-11-30T00:00:00Z", None, NO_INTERRUPTION),
        ("UseLatestRestorableTime", None, True, REPLACEMENT),
        ("SourceDBInstanceIdentifier", "primary-db", None, INTERRUPTION),  # promotion
        ("SourceDBInstanceIdentifier", None, "primary-db", REPLACEMENT),
    ],
)
def test_restore_and_source_identifiers_follow_the_rds_handler(
    judge: Callable[..., Judged], prop: str, base: Any, head: Any, impact: str
) -> None:
    judged = judge({TENANT: set_db(**{prop: head})}, base_edits={TENANT: set_db(**{prop: base})})
    assert judged.change(DB, prop).impact == impact
    assert judged.code == (1 if impact == REPLACEMENT else 0)


def test_storage_encryption_turned_off_replaces_the_database(
    judge: Callable[..., Judged],
) -> None:
    judged = judge({TENANT: set_db(StorageEncrypted=False, KmsKeyId=None)})
    change = judged.change(DB, "StorageEncrypted")
    assert change.impact == REPLACEMENT and "turned off" in change.reason
    assert judged.code == 1


def test_another_performance_insights_key_format_replaces_per_the_handler(
    judge: Callable[..., Judged],
) -> None:
    def key(attribute: str) -> Edit:
        def edit(template: dict[str, Any]) -> None:
            key_id = only_id(template, KEY)
            value = {"Ref": key_id} if attribute == "Ref" else {"Fn::GetAtt": [key_id, "Arn"]}
            db_props(template).update(
                EnablePerformanceInsights=True, PerformanceInsightsKMSKeyId=value
            )

        return edit

    first = judge({TENANT: key("Arn")})
    assert first.change(DB, "PerformanceInsightsKMSKeyId").impact == NO_INTERRUPTION
    judged = judge({TENANT: key("Ref")}, base_edits={TENANT: key("Arn")})
    assert judged.change(DB, "PerformanceInsightsKMSKeyId").impact == REPLACEMENT
    assert judged.code == 1


@pytest.mark.parametrize(
    ("base", "head", "allow_major", "code", "message"),
    [
        ("17", "18", False, 1, "AllowMajorVersionUpgrade is not true"),
        ("17", "18", True, 0, "major upgrade"),
        ("18", "17", True, 1, "cannot downgrade"),
        ("18.2", "18.1", True, 1, "cannot downgrade"),
        ("18.1", "18.2", False, 0, "minor upgrade"),
        ("18.1", "18", False, 0, "minor upgrade"),  # the major alone: not a downgrade
    ],
)
def test_engine_version_upgrades_and_downgrades(
    judge: Callable[..., Judged],
    base: str,
    head: str,
    allow_major: bool,
    code: int,
    message: str,
) -> None:
    judged = judge(
        {TENANT: set_db(EngineVersion=head, AllowMajorVersionUpgrade=allow_major)},
        base_edits={TENANT: set_db(EngineVersion=base, AllowMajorVersionUpgrade=allow_major)},
    )
    change = judged.change(DB, "EngineVersion")
    assert change.impact == INTERRUPTION
    assert message in (change.blocker or change.reason)
    assert judged.code == code


def test_fixed_names_are_derived_from_the_provider_schemas() -> None:
    """Every name property the planner used to list by hand, and the ones it missed."""
    expected = {
        "AWS::RDS::DBInstance": "DBInstanceIdentifier",
        "AWS::RDS::DBCluster": "DBClusterIdentifier",
        "AWS::RDS::DBParameterGroup": "DBParameterGroupName",
        "AWS::RDS::DBSubnetGroup": "DBSubnetGroupName",
        "AWS::SecretsManager::Secret": "Name",
        "AWS::KMS::Alias": "AliasName",
        "AWS::Logs::LogGroup": "LogGroupName",
        "AWS::S3::Bucket": "BucketName",
        "AWS::IAM::Role": "RoleName",
        "AWS::IAM::ManagedPolicy": "ManagedPolicyName",
        "AWS::EC2::SecurityGroup": "GroupName",
        "AWS::SNS::Topic": "TopicName",
        "AWS::Lambda::Function": "FunctionName",
        "AWS::DynamoDB::Table": "TableName",
        "AWS::ECS::Cluster": "ClusterName",
        "AWS::CloudWatch::Alarm": "AlarmName",
        "AWS::CloudWatch::Dashboard": "DashboardName",
        "AWS::ECS::Service": "ServiceName",
        "AWS::ElasticLoadBalancingV2::TargetGroup": "Name",
        "AWS::WAFv2::WebACL": "Name",
    }
    assert {t: resource_schema(t).name_property for t in expected} == expected
    for not_a_name in ("AWS::S3::BucketPolicy", "AWS::EC2::VPC", "AWS::KMS::Key"):
        assert resource_schema(not_a_name).name_property is None


def test_replacing_the_named_ecs_service_is_refused_as_a_failing_deploy(
    judge: Callable[..., Judged],
) -> None:
    def daemon(template: dict[str, Any]) -> None:
        (service,) = resources_of_type(template, "AWS::ECS::Service").values()
        assert service["Properties"]["ServiceName"]  # the app names its service
        service["Properties"]["SchedulingStrategy"] = "DAEMON"  # create-only

    judged = judge({PLATFORM: daemon}, allow=(f"{PLATFORM}/*",))
    service = judged.resource("AWS::ECS::Service", PLATFORM)
    assert service.action == "replace"
    assert any("ServiceName" in f and "cannot replace" in f for f in service.failures)
    assert judged.code == 1


# ---------------------------------------------------------------------------------------------
# Exports and policies (ops/planning/planner.py)


def _export_renamed(template: dict[str, Any], old: str, new: str) -> dict[str, Any]:
    return json.loads(json.dumps(template).replace(f'"{old}"', f'"{new}"'))


def test_an_export_renamed_while_deployed_tenants_import_it_is_refused(
    judge: Callable[..., Judged], example_cdk_out: Path
) -> None:
    """Head tenants already import the new name; the deployed (base) ones hold the old."""
    imported = json.loads((example_cdk_out / f"{TENANT}.template.json").read_text())
    old = sorted(imported_names(imported))[0]
    new = old + "V2"
    tenants = [
        s for s in read_assembly(example_cdk_out) if s.startswith(f"chefs-kiss-{ENV}-tenant-")
    ]
    edits: dict[str, Edit] = {
        s: (lambda t: _export_renamed(t, old, new)) for s in [PLATFORM, *tenants]
    }
    judged = judge(edits)
    blockers = [b for b in judged.plan.blockers if f"export {old} changes" in b]
    assert blockers and "deployed (base)" in blockers[0] and TENANT in blockers[0]
    assert judged.code == 1


def test_an_import_of_an_export_nobody_makes_is_refused(judge: Callable[..., Judged]) -> None:
    def import_missing(template: dict[str, Any]) -> None:
        db_props(template)["DBSubnetGroupName"] = {"Fn::ImportValue": "no-such-export"}

    judged = judge({TENANT: import_missing}, allow=(f"{TENANT}/*",))
    assert any("no-such-export" in b and "no stack" in b for b in judged.plan.blockers)
    assert judged.code == 1


@pytest.mark.parametrize(
    ("attribute", "head", "blocked"),
    [
        ("DeletionPolicy", "Delete", True),
        ("UpdateReplacePolicy", "Delete", True),
        ("DeletionPolicy", "Retain", False),  # stronger
        ("DeletionPolicy", None, False),  # absent on an RDS instance is Snapshot (CFN docs)
    ],
)
def test_a_weakened_policy_on_the_database_needs_allow(
    judge: Callable[..., Judged], attribute: str, head: str | None, blocked: bool
) -> None:
    def edit(template: dict[str, Any]) -> None:
        definition = template["Resources"][only_id(template, DB)]
        if head is None:
            definition.pop(attribute)
        else:
            definition[attribute] = head

    judged = judge({TENANT: edit})
    database = judged.resource(DB)
    assert database.action == "modify" and database.at_risk is blocked
    assert judged.code == (1 if blocked else 0)
    if blocked:
        assert "Snapshot -> Delete" in database.outcome
        allowed = judge({TENANT: edit}, allow=(f"{TENANT}/{database.logical_id}",))
        assert allowed.code == 0


def test_a_weakened_policy_on_the_key_needs_allow(judge: Callable[..., Judged]) -> None:
    def edit(template: dict[str, Any]) -> None:
        template["Resources"][only_id(template, KEY)]["DeletionPolicy"] = "Delete"

    judged = judge({TENANT: edit})
    assert "Retain -> Delete" in judged.resource(KEY).outcome and judged.code == 1


def test_the_resolver_leaves_its_input_alone(example_cdk_out: Path) -> None:
    from ops.planning.intrinsics import resolve_template

    template = json.loads((example_cdk_out / f"{TENANT}.template.json").read_text())
    before = copy.deepcopy(template)
    resolved = resolve_template(
        template, stack_name=TENANT, environment="aws://unknown-account/us-east-1"
    )
    assert template == before and "Mappings" in resolved
