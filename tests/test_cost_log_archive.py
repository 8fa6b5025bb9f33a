"""`ops cost` prices the log archive (docs/log-archive.md), each line computed by hand from its
price and its named usage assumption: Firehose ingestion and dynamic partitioning of the
subscribed groups' GB, the objects it writes, and the archive's storage by class at steady
state (objects under 128 KB stay in Standard)."""

from __future__ import annotations

import copy
from decimal import Decimal
from typing import Any

import pytest

from ops.costing import estimate_templates

D = Decimal
STREAM = "chefs-kiss-t-log-archive"
DAYS = 30.42


def _group(name: str, days: int) -> dict:
    return {
        "Type": "AWS::Logs::LogGroup",
        "Properties": {"LogGroupName": name, "RetentionInDays": days},
    }


def _filter(group: str, name: str, stream: str = STREAM) -> dict:
    return {
        "Type": "AWS::Logs::SubscriptionFilter",
        "Properties": {
            "DestinationArn": f"arn:aws:firehose:us-east-1:111122223333:deliverystream/{stream}",
            "FilterName": name,
            "FilterPattern": "",
            "LogGroupName": {"Ref": group},
        },
    }


def _rule(kind: str, cold: int, expire: int, storage_class: str) -> dict:
    return {
        "Id": f"{kind}-logs",
        "Prefix": f"{kind}/",
        "Status": "Enabled",
        "Transitions": [{"StorageClass": storage_class, "TransitionInDays": cold}],
        "ExpirationInDays": expire,
    }


def _templates(storage_class: str = "GLACIER_IR") -> dict[str, dict[str, Any]]:
    platform = {
        "Description": "test platform (production profile)",
        "Resources": {
            "AppLogs": _group("/chefs-kiss-t/app", 7),
            "AppArchive": _filter("AppLogs", "app.platform.app"),
            "OtherLogs": _group("/elsewhere/app", 7),
            "OtherArchive": _filter("OtherLogs", "app.platform.other", stream="another-stream"),
            "LogArchiveBucket": {
                "Type": "AWS::S3::Bucket",
                "Properties": {
                    "LifecycleConfiguration": {
                        "Rules": [
                            _rule("app", 7, 365, storage_class),
                            _rule("access", 30, 365, storage_class),
                            {"Id": "delete-markers", "Status": "Enabled",
                             "ExpiredObjectDeleteMarker": True},
                        ]
                    }
                },
            },
            "LogArchiveStream": {
                "Type": "AWS::KinesisFirehose::DeliveryStream",
                "Properties": {
                    "DeliveryStreamName": STREAM,
                    "ExtendedS3DestinationConfiguration": {
                        "BucketARN": {"Fn::GetAtt": ["LogArchiveBucket", "Arn"]},
                        "DynamicPartitioningConfiguration": {"Enabled": True},
                        "ProcessingConfiguration": {
                            "Enabled": True,
                            "Processors": [
                                {"Type": "Decompression"},
                                {"Type": "MetadataExtraction"},
                            ],
                        },
                    },
                },
            },
        },
    }  # fmt: skip
    tenant = {
        "Resources": {
            "DbLogs": _group("/aws/rds/instance/chefs-kiss-t-t0/postgresql", 30),
            "DbArchive": _filter("DbLogs", "access.tenant-t0.postgresql"),
            "UpgradeLogs": _group("/aws/rds/instance/chefs-kiss-t-t0/upgrade", 30),
            "UpgradeArchive": _filter("UpgradeLogs", "access.tenant-t0.upgrade"),
        }
    }
    return {"chefs-kiss-t-platform": platform, "chefs-kiss-t-tenant-t0": tenant}


def _archive(report: Any) -> dict[str, Any]:
    lines = [ln for ln in report.lines if ln.component == "Log archive"]
    assert len({ln.price_key for ln in lines}) == len(lines)
    return {ln.price_key: ln for ln in lines}


def test_archive_lines_by_hand() -> None:
    report = estimate_templates(_templates(), "t")
    lines = _archive(report)
    # Subscribed to this stream: app 2 GB (1 tenant, production), postgresql 0.2, upgrade 0.01;
    # /elsewhere/app goes to another stream and is not counted here.
    gb = 2 + 0.2 + 0.01
    assert lines["firehose.ingest_gb"].quantity == pytest.approx(gb)
    assert lines["firehose.dynamic_partitioning_gb"].quantity == pytest.approx(gb)
    # Two busy groups write every quarter hour, the quiet upgrade log about daily.
    objects = 2 * 2920 + 30
    assert lines["firehose.dynamic_partitioning_per_1k_objects"].quantity == pytest.approx(
        objects / 1000
    )
    assert lines["s3.put_per_1k"].quantity == pytest.approx(objects / 1000)
    assert lines["firehose.jq_hour"].quantity == pytest.approx(gb * 0.01)
    # Storage, a year of each: app objects (2 GB / 2,920 = 685 KB) move to Glacier IR on day 7,
    # upgrade's (0.01 GB / 30 = 333 KB) on day 30; postgresql's (0.2 GB / 2,920 = 68 KB) are
    # under 128 KB, which S3 does not transition: Standard all year.
    year = 365 / DAYS
    app_standard = 2 * year * 7 / 365
    app_cold = 2 * year * 358 / 365
    upgrade_standard = 0.01 * year * 30 / 365
    upgrade_cold = 0.01 * year * 335 / 365
    standard = app_standard + 0.2 * year + upgrade_standard
    assert lines["s3.standard.gb_month"].quantity == pytest.approx(standard)
    assert lines["s3.glacier_ir.gb_month"].quantity == pytest.approx(app_cold + upgrade_cold)
    assert lines["s3.transition.glacier_ir_per_1k"].quantity == pytest.approx((2920 + 30) / 1000)
    expected = (
        D("0.029") * D(str(gb))
        + D("0.02") * D(str(gb))
        + 2 * D("0.005") * D(str(objects / 1000))
        + D("0.07") * D(str(gb * 0.01))
        + D("0.023") * D(str(standard))
        + D("0.004") * D(str(app_cold + upgrade_cold))
        + D("0.02") * D(str((2920 + 30) / 1000))
    )
    total = sum(ln.monthly_usd for ln in lines.values())
    assert abs(total - expected) <= D("0.05")  # each line is rounded to the cent
    # The bucket the stream fills is not priced a second time.
    assert "LogArchiveBucket" not in {ln.resource for ln in report.lines}
    # Decompression has no price in the table: said, not counted as $0.
    assert any("decompression" in n.reason for n in report.unpriced)


def test_deep_archive_is_priced_as_deep_archive() -> None:
    lines = _archive(estimate_templates(_templates("DEEP_ARCHIVE"), "t"))
    assert "s3.glacier_ir.gb_month" not in lines
    assert lines["s3.deep_archive.gb_month"].unit_usd == D("0.00099")
    assert lines["s3.transition.deep_archive_per_1k"].unit_usd == D("0.05")


def test_a_stream_without_a_bucket_in_its_template_says_so() -> None:
    templates = _templates()
    del templates["chefs-kiss-t-platform"]["Resources"]["LogArchiveBucket"]
    report = estimate_templates(templates, "t")
    assert any("archive bucket not in this template" in n.reason for n in report.unpriced)


def test_each_region_archive_prices_only_its_own_region_groups() -> None:
    """The standby platform's archive stream has the primary's (regional) name: it carries the
    recovery region's groups only, never the primary tenants' a second time."""
    templates = _templates()
    templates["chefs-kiss-t-dr-platform"] = copy.deepcopy(templates["chefs-kiss-t-platform"])
    report = estimate_templates(templates, "t")
    ingest = {ln.stack: ln.quantity for ln in report.lines if ln.price_key == "firehose.ingest_gb"}
    assert ingest["chefs-kiss-t-platform"] == pytest.approx(2 + 0.2 + 0.01)
    # Its own app group only, at the standby's share of the traffic (usage.yaml).
    assert ingest["chefs-kiss-t-dr-platform"] == pytest.approx(2 * 0.05)
