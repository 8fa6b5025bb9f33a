"""The cost lines issue 16 added, each computed by hand from its price and its named usage
assumption: KMS key age (`--year`), S3 lifecycle fees, WAF log record size with header
redaction, enhanced Container Insights per observation, and the one-key-per-environment
what-if; plus the price table's public sources."""

from __future__ import annotations

import json
import re
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ops.__main__ import main as ops_main
from ops.assembly import read_assembly
from ops.costing import estimate, estimate_templates
from ops.costing.report import kms_key_per_environment
from ops.costing.tables import DEFAULT_USAGE, CostInputError, load_prices

D = Decimal
HOURS = 730


def _platform(**resources: dict) -> dict:
    return {"Description": "test platform (production profile)", "Resources": resources}


def _templates(platform: dict, tenants: int = 1) -> dict[str, dict]:
    templates = {"chefs-kiss-t-platform": platform}
    for index in range(tenants):
        templates[f"chefs-kiss-t-tenant-t{index}"] = {"Resources": {}}
    return templates


def _by_key(report: Any) -> dict[str, Any]:
    return {line.price_key: line for line in report.lines}


# --- KMS key age ---------------------------------------------------------------------------------


def _key(rotation: bool = True, **props: Any) -> dict:
    return {"Type": "AWS::KMS::Key", "Properties": {"EnableKeyRotation": rotation, **props}}


@pytest.mark.parametrize(
    ("year", "expected"),
    [(1, D("1.00")), (2, D("2.00")), (3, D("3.00")), (4, D("3.00")), (10, D("3.00"))],
)
def test_rotation_adds_a_dollar_for_each_of_the_first_two_rotations(
    year: int, expected: Decimal
) -> None:
    report = estimate_templates(_templates(_platform(Key=_key())), "t", year=year)
    key_lines = [ln for ln in report.lines if ln.resource == "Key"]
    assert sum(ln.monthly_usd for ln in key_lines) == expected
    assert report.year == year and report.to_json()["year"] == year


def test_key_age_follows_the_rotation_period_and_needs_rotation_on() -> None:
    # Rotation every 180 days: two rotations (both billed) by the end of year 1's successor.
    fast = estimate_templates(
        _templates(_platform(Key=_key(RotationPeriodInDays=180))), "t", year=2
    )
    assert sum(ln.monthly_usd for ln in fast.lines if ln.resource == "Key") == D("3.00")
    fixed = estimate_templates(_templates(_platform(Key=_key(rotation=False))), "t", year=3)
    assert sum(ln.monthly_usd for ln in fixed.lines if ln.resource == "Key") == D("1.00")


def test_cli_year_prices_the_rotations_of_every_rotating_key(
    example_cdk_out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    templates = {n: a.template for n, a in read_assembly(example_cdk_out).items()}
    rotating = sum(
        1
        for name, template in templates.items()
        # The recovery region's stacks (chefs-kiss-prod-dr-*) are part of `--env prod`.
        if name.startswith("chefs-kiss-prod-")
        for resource in template["Resources"].values()
        if resource["Type"] == "AWS::KMS::Key"
        and resource["Properties"].get("EnableKeyRotation") is True
    )
    assert rotating >= 4  # the platform key and one per restaurant
    totals = {}
    for year in (1, 2, 3):
        args = ["cost", "--assembly", str(example_cdk_out), "--env", "prod", "--json"]
        assert ops_main([*args, "--year", str(year)]) == 0
        data = json.loads(capsys.readouterr().out)
        assert data["year"] == year and data["kms_key_age_years"] == year - 1
        totals[year] = D(str(data["total_monthly_usd"]))
    assert totals[2] - totals[1] == rotating * D("1.00")
    assert totals[3] - totals[2] == rotating * D("1.00")
    assert ops_main(["cost", "--assembly", str(example_cdk_out), "--env", "prod"]) == 0
    assert "3 tenants, year 1)" in capsys.readouterr().out


@pytest.mark.parametrize("value", ["0", "11", "two", "-1"])
def test_cli_year_rejects_what_is_not_a_year(
    value: str, example_cdk_out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    args = ["cost", "--assembly", str(example_cdk_out), "--env", "prod", "--year", value]
    assert ops_main(args) == 2
    err = capsys.readouterr().err
    assert err.startswith("ops cost: error: --year") and value in err
    assert "allowed: an integer from 1" in err and "to 10" in err


def test_one_key_per_environment_against_one_per_restaurant(example_cdk_out: Path) -> None:
    for year, own, shared in ((1, "3.00", "1.00"), (2, "6.00", "2.00"), (3, "9.00", "3.00")):
        report = estimate(example_cdk_out, "prod", year=year)
        mine, alternative, keys = kms_key_per_environment(report)
        assert keys == report.tenants == 3
        assert (mine, alternative) == (D(own), D(shared)), year


# --- S3 lifecycle -----------------------------------------------------------------------------


def _bucket(*transitions: tuple[str, int]) -> dict:
    rules = [
        {
            "Status": "Enabled",
            "Transitions": [{"StorageClass": c, "TransitionInDays": d} for c, d in transitions],
        }
    ]
    props: dict[str, Any] = {"LifecycleConfiguration": {"Rules": rules}} if transitions else {}
    return {"Type": "AWS::S3::Bucket", "Properties": props}


def test_uploads_lifecycle_storage_tiers_transitions_and_monitoring_by_hand() -> None:
    bucket = _bucket(("INTELLIGENT_TIERING", 30), ("GLACIER_IR", 90))
    report = estimate_templates(_templates(_platform(UploadsBucket=bucket), tenants=100), "t")
    lines = _by_key(report)
    # 100 tenants x 10 GB; 180 days of uploads: 1/6 Standard, 1/6 IT frequent, 1/6 IT
    # infrequent (not read again), 1/2 Glacier IR.
    assert lines["s3.standard.gb_month"].quantity == pytest.approx(1000 / 6)
    assert lines["s3.standard.gb_month"].monthly_usd == D("3.83")
    assert lines["s3.intelligent_tiering.gb_month"].monthly_usd == D("3.83")
    assert lines["s3.intelligent_tiering.infrequent_gb_month"].monthly_usd == D("2.08")
    assert lines["s3.glacier_ir.gb_month"].monthly_usd == D("2.00")
    # 1,000,000 new objects a month, each transitioned once into each class.
    assert lines["s3.transition.intelligent_tiering_per_1k"].monthly_usd == D("10.00")
    assert lines["s3.transition.glacier_ir_per_1k"].monthly_usd == D("20.00")
    # Objects held in Intelligent-Tiering: 60 days of uploads = 1.97M objects x $0.0025/1,000.
    held = 1_000_000 * 60 / 30.42
    assert lines["s3.intelligent_tiering.monitoring_per_1k_objects"].quantity == pytest.approx(
        held / 1000
    )
    assert lines["s3.intelligent_tiering.monitoring_per_1k_objects"].monthly_usd == D("4.93")
    assert "s3_new_objects" in lines["s3.transition.glacier_ir_per_1k"].note
    assert "s3_stock_age_days" in lines["s3.glacier_ir.gb_month"].note
    storage = sum(ln.monthly_usd for ln in report.lines if ln.component == "Object storage")
    lifecycle = D("10.00") + D("20.00") + D("4.93")  # about $35 the model used to leave out
    assert storage == D("3.83") + D("3.83") + D("2.08") + D("2.00") + lifecycle + D("5.00")  # PUTs


def test_a_bucket_without_transitions_is_all_standard_with_no_lifecycle_fees() -> None:
    report = estimate_templates(_templates(_platform(UploadsBucket=_bucket()), tenants=10), "t")
    keys = {ln.price_key for ln in report.lines}
    assert "s3.standard.gb_month" in keys
    assert not {k for k in keys if "transition" in k or "intelligent" in k or "glacier" in k}


def test_glacier_only_lifecycle_and_a_bucket_without_an_object_count() -> None:
    bucket = _bucket(("GLACIER_IR", 90))
    report = estimate_templates(_templates(_platform(UploadsBucket=bucket), tenants=1), "t")
    lines = _by_key(report)
    assert lines["s3.standard.gb_month"].quantity == pytest.approx(5)  # 90 of 180 days
    assert lines["s3.transition.glacier_ir_per_1k"].quantity == pytest.approx(10)
    assert "s3.intelligent_tiering.monitoring_per_1k_objects" not in lines
    # Any other bucket: no usage.yaml object count, so the fees are listed as unpriced.
    other = estimate_templates(_templates(_platform(Archive=bucket)), "t")
    assert any("no object count" in n.reason for n in other.unpriced)


# --- WAF log records ------------------------------------------------------------------------------


def _waf(redacted: list[str]) -> dict:
    logging: dict[str, Any] = {
        "LogDestinationConfigs": [{"Fn::Join": ["", ["arn:", {"Ref": "WafLogs"}]]}],
        "ResourceArn": {"Fn::GetAtt": ["Acl", "Arn"]},
    }
    if redacted:
        logging["RedactedFields"] = [{"SingleHeader": {"Name": h}} for h in redacted]
    return _platform(
        Acl={"Type": "AWS::WAFv2::WebACL", "Properties": {"Rules": []}},
        WafLogs={
            "Type": "AWS::Logs::LogGroup",
            "Properties": {"LogGroupName": "aws-waf-logs-t", "RetentionInDays": 30},
        },
        Logging={"Type": "AWS::WAFv2::LoggingConfiguration", "Properties": logging},
    )


def _waf_gb(platform: dict) -> float:
    report = estimate_templates(_templates(platform, tenants=10), "t")
    line = next(ln for ln in report.lines if ln.item == "log ingestion aws-waf-logs-t")
    return line.quantity


def test_waf_log_volume_is_requests_times_record_size_less_redacted_headers() -> None:
    # 10 tenants x 1M requests x 2,000 bytes.
    assert _waf_gb(_waf([])) == pytest.approx(20.0)
    # Issue 15 redacts Cookie and Authorization: 390 + 90 bytes less per record.
    assert _waf_gb(_waf(["cookie", "Authorization"])) == pytest.approx(10e6 * 1520 / 1e9)
    # A header usage.yaml does not name saves nothing (and does not break the estimate).
    assert _waf_gb(_waf(["x-request-id"])) == pytest.approx(20.0)


# --- Container Insights -------------------------------------------------------------------------


def _cluster(mode: str, tasks: int) -> dict:
    return _platform(
        Cluster={
            "Type": "AWS::ECS::Cluster",
            "Properties": {"ClusterSettings": [{"Name": "containerInsights", "Value": mode}]},
        },
        Task={"Type": "AWS::ECS::TaskDefinition", "Properties": {"Cpu": "512", "Memory": "1024"}},
        Service={
            "Type": "AWS::ECS::Service",
            "Properties": {
                "Cluster": {"Ref": "Cluster"},
                "TaskDefinition": {"Ref": "Task"},
                "DesiredCount": tasks,
            },
        },
    )


def test_enhanced_container_insights_is_priced_per_observation() -> None:
    report = estimate_templates(_templates(_cluster("enhanced", 2)), "t")
    line = next(ln for ln in report.lines if "observations" in ln.item)
    # (15 cluster + 20 service + 2 tasks x 30) samples a minute, 730 h x 60 min.
    assert line.quantity == pytest.approx(95 * HOURS * 60 / 1e6)
    assert line.monthly_usd == (D("4.161") * D("0.21")).quantize(D("0.01"))
    assert not any(ln.item.startswith("Container Insights metrics") for ln in report.lines)
    standard = estimate_templates(_templates(_cluster("enabled", 2)), "t")
    metrics = next(ln for ln in standard.lines if ln.item.startswith("Container Insights metrics"))
    assert metrics.quantity == 22 and metrics.price_key == "cloudwatch.metric_month"


# --- usage file errors -------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("old", "new", "message"),
    [
        ("record_bytes: waf_log_record_bytes}", "}", "missing 'record_bytes'"),
        ("records: http_requests,", "records: http_requestz,", "'http_requestz' is not a quantity"),
        ("objects: s3_new_objects}", "objects: s3_objects}", "buckets[0].objects: 's3_objects'"),
    ],
)
def test_usage_rules_name_the_file_the_field_and_what_is_allowed(
    old: str, new: str, message: str, tmp_path: Path
) -> None:
    text = DEFAULT_USAGE.read_text(encoding="utf-8")
    assert old in text
    path = tmp_path / "usage.yaml"
    path.write_text(text.replace(old, new), encoding="utf-8")
    with pytest.raises(CostInputError, match=re.escape(message)) as error:
        estimate_templates(_templates(_platform()), "t", usage_path=path)
    assert str(path) in str(error.value)


# --- price sources ------------------------------------------------------------------------------

SOURCE = re.compile(
    r"^https://(aws\.amazon\.com|docs\.aws\.amazon\.com)/\S+ .*checked \d{4}-\d{2}-\d{2}$"
)


def test_every_current_price_cites_a_public_aws_page_and_a_date() -> None:
    table = load_prices("current")
    for key, price in table.prices.items():
        assert SOURCE.match(price.source), (key, price.source)
        assert "DESIGN" not in price.source and "internal" not in price.source.lower()
    for name, commitment in table.commitments.items():
        assert commitment.source.startswith("https://aws.amazon.com/"), name
    data = json.loads(Path(table.path).read_text(encoding="utf-8"))  # type: ignore[arg-type]
    assert re.fullmatch(r"\d{4}-\d{2}-\d{2}", data["date"])


# --- Lambda functions the stacks run on a schedule or for a rotation ----------------------------


def _function(memory: int = 128, arch: str = "arm64") -> dict:
    return {
        "Type": "AWS::Lambda::Function",
        "Properties": {"MemorySize": memory, "Architectures": [arch]},
    }


def test_scheduled_and_rotation_lambdas_are_priced_against_the_free_tier(tmp_path: Path) -> None:
    platform = _platform(
        Probe=_function(),
        Every={
            "Type": "AWS::Events::Rule",
            "Properties": {
                "ScheduleExpression": "rate(1 minute)",
                "Targets": [{"Arn": {"Fn::GetAtt": ["Probe", "Arn"]}, "Id": "probe"}],
            },
        },
        Rotator=_function(arch="x86_64"),
        Rotation={
            "Type": "AWS::SecretsManager::RotationSchedule",
            "Properties": {
                "RotationLambdaARN": {"Fn::GetAtt": ["Rotator", "Arn"]},
                "RotationRules": {"AutomaticallyAfterDays": 30},
            },
        },
    )
    report = estimate_templates(_templates(platform), "t")
    free = {n.resource: n.reason for s in report.stacks for n in s.free}
    assert "43,800 invocations" in free["Probe"] and "5,475 GB-seconds (arm64)" in free["Probe"]
    assert "secret rotation: 4 invocations" in free["Rotator"]
    lambda_lines = [ln for ln in report.lines if ln.price_key.startswith("lambda.")]
    assert lambda_lines and all(ln.monthly_usd == 0 for ln in lambda_lines)  # free tier
    assert not report.unpriced
    # A probe every minute with 4 GB for 10 s: 1,752,000 GB-s, 1,352,000 above the free tier.
    platform["Resources"]["Probe"] = _function(memory=4096)
    usage = tmp_path / "usage.yaml"
    text = DEFAULT_USAGE.read_text(encoding="utf-8")
    usage.write_text(
        text.replace("lambda_seconds_per_invocation: 1", "lambda_seconds_per_invocation: 10"),
        encoding="utf-8",
    )
    heavy = estimate_templates(_templates(platform), "t", usage_path=usage)
    compute = next(ln for ln in heavy.lines if ln.price_key == "lambda.arm64.gb_second")
    assert compute.quantity == pytest.approx(43_800 * 10 * 4 - 400_000)
    assert compute.monthly_usd == (D(1_352_000) * D("0.0000133334")).quantize(D("0.01"))


def test_a_lambda_on_a_cron_schedule_stays_unpriced() -> None:
    platform = _platform(
        Job=_function(),
        Nightly={
            "Type": "AWS::Events::Rule",
            "Properties": {
                "ScheduleExpression": "cron(0 3 * * ? *)",
                "Targets": [{"Arn": {"Fn::GetAtt": ["Job", "Arn"]}, "Id": "job"}],
            },
        },
    )
    report = estimate_templates(_templates(platform), "t")
    assert [n.resource for n in report.unpriced] == ["Job"]
