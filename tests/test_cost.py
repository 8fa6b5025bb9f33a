"""The cost model (`python -m ops cost`): seed tables to the cent, template-derived quantities,
known prices computed by hand, unpriced resources, CLI shape and bad input."""

from __future__ import annotations

import collections
import copy
import json
import shutil
from decimal import Decimal
from pathlib import Path
from typing import Any

import pytest

from ops.__main__ import main as ops_main
from ops.assembly import read_assembly
from ops.costing import bill, estimate, estimate_templates, seed, whatif
from ops.costing.report import diff, money, render_diff_markdown
from ops.costing.tables import CostInputError, load_prices, scaled

D = Decimal
CURRENT = load_prices("current")
SEED = load_prices("seed")


def _platform(**resources: dict) -> dict:
    return {"Description": "test platform (production profile)", "Resources": resources}


def _db(cls: str = "db.t4g.small", multi_az: bool = True, gb: int = 20, days: int = 7) -> dict:
    return {
        "Type": "AWS::RDS::DBInstance",
        "Properties": {
            "DBInstanceClass": cls,
            "Engine": "postgres",
            "MultiAZ": multi_az,
            "AllocatedStorage": str(gb),
            "StorageType": "gp3",
            "BackupRetentionPeriod": days,
        },
    }


def _lines(report: Any, stack: str) -> list:
    return next(s for s in report.stacks if s.name == stack).lines


# --- the seed ----------------------------------------------------------------------------------


def test_seed_tables_reproduced_to_the_cent() -> None:
    for result in seed.reproduce("seed"):
        section = result.table.section
        for line in result.lines:
            if (section, line.component) in seed.ERRATA:
                assert line.computed != line.printed, (section, line.component)
            else:
                assert line.computed == line.printed, (section, line.component, line.parts)
        if (section, "total") in seed.ERRATA:
            assert result.computed_total != result.table.printed_total
        else:
            assert result.computed_total == result.table.printed_total, section
        if result.table.printed_per_tenant is not None:
            expected_equal = (section, "per_tenant") not in seed.ERRATA
            assert (result.computed_per_tenant == result.table.printed_per_tenant) is expected_equal


def test_seed_sums_that_are_wrong_have_the_correct_sum_asserted() -> None:
    results = {r.table.section: r for r in seed.reproduce("seed")}
    # 3.2: $118.27 leaves out its own $1.90 backup line.
    printed_lines = sum(line.printed for line in results["3.2"].lines)
    assert printed_lines == D("120.17") and results["3.2"].table.printed_total == D("118.27")
    # ... and every table prices a 0.5 vCPU / 1 GB task at $18.00, A.1's rounding of $18.02.
    assert results["3.2"].computed_total == D("120.21")
    # 2.2: $11.68 + $2.30 printed as $14.00, and 0.5 GB of logs at $0.50/GB printed as $0.00.
    assert results["2.2"].computed_total == D("55.53")
    assert results["2.3"].computed_total == D("132.80")
    assert results["2.3"].computed_per_tenant == D("26.56")
    # Every other table adds up as printed.
    for section in ("2.2", "2.3", "3.3", "3.4", "3.5", "3.6", "3.7"):
        table = results[section].table
        assert sum(table.printed.values()) == table.printed_total, section


def test_seed_10_1_per_tenant_figures() -> None:
    per_tenant = {r.table.tenants: r.computed_per_tenant for r in seed.reproduce("seed")
                  if r.table.tier == "production"}  # fmt: skip
    assert per_tenant == {
        1: D("120.21"), 5: D("71.54"), 10: D("66.04"), 25: D("61.46"), 50: D("59.37"),
        100: D("58.15"),
    }  # fmt: skip


def test_seed_fargate_task_is_its_own_hourly_rates_like_its_database_correction() -> None:
    """Consistent corrections: A.1's hourly rates give $18.02 a task, as A.2's give $13.98."""
    for result in seed.reproduce("seed"):
        app = next(line for line in result.lines if line.component == bill.APP)
        tasks = result.table.quantities[bill.APP]["tasks"]
        assert app.printed == tasks * D("18.00") and app.computed == tasks * D("18.02")
        assert (result.table.section, bill.APP) in seed.ERRATA
    # The note about the PoC's single fixed task is for PoC rows only.
    assert "PoC" not in seed.WHY[bill.APP] and "1 fixed task" in seed.WHY_POC[bill.APP]
    assert "$18.02" in seed.WHY[bill.APP]


def test_reproduction_renders_errata_without_synthesizing() -> None:
    text = seed.render_reproduction(seed.reproduce("seed"))
    assert "$120.17" in text and "$118.27" in text and "leaves out its own $1.90" in text
    assert all(item in text for item in seed.SUMMARY_ERRATA)


# --- price tables and usage ---------------------------------------------------------------------


def test_every_price_has_a_source_and_the_design_corrections() -> None:
    for table in (SEED, CURRENT):
        assert all(price.source for price in table.prices.values())
    assert CURRENT.number("rds.multi_az_storage_factor") == 2
    assert SEED.number("rds.multi_az_storage_factor") == 1
    assert CURRENT.get("rds.postgres.instance_hour.db.t4g.medium").usd == D("0.065")
    assert CURRENT.get("nat.hour").usd == D("0.045")
    assert CURRENT.get("ec2.public_ipv4_hour").usd == D("0.005")
    assert SEED.get("nat.hour") is None  # the seed omits NAT: priced templates say "unpriced"


def test_usage_rules_scale_with_tenants() -> None:
    assert scaled({"points": {1: 2, 5: 5, 10: 10}}, 3) == pytest.approx(3.5)
    assert scaled({"points": {50: 50, 100: 100}}, 200) == pytest.approx(200)
    assert scaled({"per_tenant": 10, "base": 5}, 4) == 45
    with pytest.raises(CostInputError, match="per_tenantt"):
        scaled({"per_tenantt": 1}, 1)


# --- hand-computed prices ------------------------------------------------------------------------


def test_db_t4g_small_multi_az_20_gb_by_hand() -> None:
    templates = {
        "chefs-kiss-t-platform": _platform(),
        "chefs-kiss-t-tenant-a": {"Resources": {"Db": _db()}},
    }
    report = estimate_templates(templates, "t", prices="current")
    lines = {line.price_key: line for line in _lines(report, "chefs-kiss-t-tenant-a")}
    instance = D("0.032") * 730 * 2  # primary + standby
    storage = D("0.115") * 20 * 2  # Multi-AZ storage counts twice
    assert lines["rds.postgres.instance_hour.db.t4g.small"].monthly_usd == D("46.72") == instance
    assert lines["rds.storage.gp3.gb_month"].monthly_usd == D("4.60") == storage
    # 7 days of 5% daily change on 10 GB used = 13.5 GB of backups: under the free 20 GB.
    assert lines["rds.backup.gb_month"].monthly_usd == 0
    # 20 GB app <-> database a month, half of it across AZs, billed out and in at $0.01/GB.
    assert lines["data_transfer.cross_az_gb"].monthly_usd == D("0.20")
    assert "db_cross_az_traffic_fraction" in lines["data_transfer.cross_az_gb"].note
    stack = next(s for s in report.stacks if s.name == "chefs-kiss-t-tenant-a")
    assert stack.monthly_usd == D("51.52")


def test_backup_beyond_the_allocated_size_is_billed(tmp_path: Path) -> None:
    usage = (Path(__file__).resolve().parent.parent / "config" / "usage.yaml").read_text(
        encoding="utf-8"
    )
    usage = usage.replace("db_used_fraction: 0.5", "db_used_fraction: 1.0")
    usage = usage.replace("db_daily_change_fraction: 0.05", "db_daily_change_fraction: 0.1")
    (tmp_path / "usage.yaml").write_text(usage, encoding="utf-8")
    templates = {
        "chefs-kiss-t-platform": _platform(),
        "chefs-kiss-t-tenant-a": {"Resources": {"Db": _db(days=7)}},
    }
    report = estimate_templates(templates, "t", usage_path=tmp_path / "usage.yaml")
    backup = next(
        line for line in _lines(report, "chefs-kiss-t-tenant-a") if line.component == bill.BACKUP
    )
    # 20 GB x (1 + 0.1 x 7) = 34 GB of backups, 20 GB free: 14 GB x $0.095.
    assert backup.quantity == pytest.approx(14) and backup.monthly_usd == D("1.33")


def test_commitments_discount_only_instance_hours() -> None:
    templates = {"chefs-kiss-t-platform": _platform(Db=_db())}
    plain = estimate_templates(templates, "t")
    reserved = estimate_templates(templates, "t", commitments=["rds-1y-no-upfront"])
    assert plain.total_monthly_usd - reserved.total_monthly_usd == D("15.18")  # 32.5% of 46.72
    with pytest.raises(CostInputError, match="allowed: fargate-sp-1y"):
        estimate_templates(templates, "t", commitments=["rds-9y"])


# --- unpriced ------------------------------------------------------------------------------------


def test_unknown_costly_resources_are_unpriced_not_zero() -> None:
    templates = {
        "chefs-kiss-t-platform": _platform(
            Box={"Type": "AWS::EC2::Instance", "Properties": {"InstanceType": "m7g.large"}},
            Big=_db(cls="db.x2iedn.32xlarge"),
            Role={"Type": "AWS::IAM::Role", "Properties": {}},
        )
    }
    report = estimate_templates(templates, "t")
    unpriced = {(n.resource, n.resource_type) for n in report.unpriced}
    assert ("Box", "AWS::EC2::Instance") in unpriced
    assert ("Big", "AWS::RDS::DBInstance") in unpriced
    assert not any(line.resource == "Box" for line in report.lines)
    assert "Role" not in {n.resource for n in report.unpriced}  # IAM is listed as free
    assert any(n.resource == "Role" for s in report.stacks for n in s.free)
    assert report.to_json()["unpriced"][0]["reason"]


def test_seed_prices_leave_what_the_seed_omits_unpriced(example_cdk_out: Path) -> None:
    report = estimate(example_cdk_out, "prod", "seed")
    types = {n.resource_type for n in report.unpriced}
    assert {"AWS::EC2::NatGateway", "AWS::KMS::Key"} <= types


# --- quantities from the synthesized example -----------------------------------------------------


def test_quantities_match_the_synthesized_templates(example_cdk_out: Path) -> None:
    stacks = {n: a.template for n, a in read_assembly(example_cdk_out).items()}
    for env in ("dev", "prod"):
        report = estimate(example_cdk_out, env)
        # The recovery region's stacks (-dr-) belong to the environment and are priced with it.
        mine = {n: t for n, t in stacks.items() if n.startswith(f"chefs-kiss-{env}-")}
        types = collections.Counter(
            r["Type"] for t in mine.values() for r in t.get("Resources", {}).values()
        )
        keys = collections.Counter(line.price_key for line in report.lines if line.quantity > 0)
        assert keys["kms.key_month"] == types["AWS::KMS::Key"]
        assert keys["secretsmanager.secret_month"] == types["AWS::SecretsManager::Secret"]
        assert keys["nat.hour"] == types["AWS::EC2::NatGateway"]
        assert keys["cloudwatch.dashboard_month"] == types["AWS::CloudWatch::Dashboard"]
        alarms = sum(1 for line in report.lines if line.resource_type == "AWS::CloudWatch::Alarm")
        assert alarms == types["AWS::CloudWatch::Alarm"]
        db_lines = [line for line in report.lines if line.price_key.startswith("rds.postgres.")]
        standbys = sum(1 for s in report.stacks if "-dr-tenant-" in s.name)  # read replicas
        assert len(db_lines) == types["AWS::RDS::DBInstance"] == report.tenants + standbys
        storage_lines = {
            line.resource_type: line for line in report.lines if line.item.startswith("log storage")
        }
        assert (
            len([ln for ln in report.lines if ln.item.startswith("log storage")])
            == types["AWS::Logs::LogGroup"]
        )
        assert storage_lines  # every log group has a storage line
        # public IPv4: one per EIP plus one per ALB subnet
        ipv4 = sum(ln.quantity for ln in report.lines if ln.price_key == "ec2.public_ipv4_hour")
        albs = [
            r["Properties"] for t in mine.values() for r in t["Resources"].values()
            if r["Type"] == "AWS::ElasticLoadBalancingV2::LoadBalancer"
        ]  # fmt: skip
        expected = types["AWS::EC2::EIP"] + sum(len(p["Subnets"]) for p in albs)
        assert ipv4 == pytest.approx(expected * 730)


def test_fargate_hours_follow_the_autoscaling_minimum(example_cdk_out: Path) -> None:
    template = read_assembly(example_cdk_out)["chefs-kiss-prod-platform"].template
    resources = template["Resources"].values()
    task = next(r["Properties"] for r in resources if r["Type"] == "AWS::ECS::TaskDefinition")
    target = next(
        r["Properties"] for r in resources
        if r["Type"] == "AWS::ApplicationAutoScaling::ScalableTarget"
    )  # fmt: skip
    arch = task["RuntimePlatform"]["CpuArchitecture"].lower()
    report = estimate(example_cdk_out, "prod")
    vcpu = next(ln for ln in report.lines if ln.price_key == f"fargate.linux_{arch}.vcpu_hour")
    assert vcpu.quantity == pytest.approx(target["MinCapacity"] * int(task["Cpu"]) / 1024 * 730)
    x86 = estimate(example_cdk_out, "prod", arch="x86_64")
    assert x86.total_monthly_usd > report.total_monthly_usd  # Graviton is cheaper


def test_per_tenant_is_the_all_in_total_over_tenant_stacks(example_cdk_out: Path) -> None:
    report = estimate(example_cdk_out, "prod")
    tenants = [s for s in report.stacks if s.kind == "tenant"]
    assert report.tenants == len(tenants) == 3
    assert (
        report.total_monthly_usd
        == report.shared_monthly_usd
        + sum(s.monthly_usd for s in tenants)
        + report.standby_monthly_usd
    )  # the recovery region's stacks (seed 7.1), when on
    assert report.per_tenant_monthly_usd == (report.total_monthly_usd / 3).quantize(D("0.01"))
    credits = [line for line in report.lines if line.resource == "(free tier)"]
    assert credits and all(line.monthly_usd < 0 for line in credits)


# --- diff ----------------------------------------------------------------------------------------


def test_diff_between_two_assemblies(example_cdk_out: Path, tmp_path: Path) -> None:
    head = tmp_path / "head"
    shutil.copytree(example_cdk_out, head)
    path = head / "chefs-kiss-prod-tenant-golden-wok.template.json"
    template = json.loads(path.read_text(encoding="utf-8"))
    changed = copy.deepcopy(template)
    for resource in changed["Resources"].values():
        if resource["Type"] == "AWS::RDS::DBInstance":
            resource["Properties"]["DBInstanceClass"] = "db.t4g.medium"
    path.write_text(json.dumps(changed), encoding="utf-8")
    result = diff(example_cdk_out, head, "prod")
    # (0.065 - 0.032) $/h x 730 h x 2 (Multi-AZ)
    assert result.delta_monthly_usd == D("48.18")
    changed_stacks = [s.name for s in result.stacks if s.delta_usd]
    assert changed_stacks == ["chefs-kiss-prod-tenant-golden-wok"]
    markdown = render_diff_markdown(result)
    assert "+$48.18" in markdown and "| stack | base | head | change |" in markdown
    assert "db.t4g.medium Multi-AZ instance hours +$94.90" in markdown


# --- CLI -----------------------------------------------------------------------------------------


def test_cli_json_shape(example_cdk_out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert ops_main(["cost", "--assembly", str(example_cdk_out), "--env", "prod", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert {"total_monthly_usd", "per_tenant_monthly_usd", "stacks", "unpriced"} <= set(data)
    assert data["stacks"][0]["name"] == "chefs-kiss-prod-platform"
    assert {"name", "monthly_usd", "lines"} <= set(data["stacks"][0])
    assert data["total_monthly_usd"] == pytest.approx(sum(s["monthly_usd"] for s in data["stacks"]))


def test_cli_base_markdown(example_cdk_out: Path, capsys: pytest.CaptureFixture[str]) -> None:
    args = ["cost", "--assembly", str(example_cdk_out), "--base", str(example_cdk_out)]
    assert ops_main([*args, "--env", "dev"]) == 0
    assert "### Monthly cost: `dev` $0.00" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--assembly", "/nonexistent/cdk.out", "--env", "prod"], "run `make synth`"),
        (["--env", "qa"], "no chefs-kiss-qa-* stacks (found: dev, prod, staging)"),
        ([], "--env: required"),
        (["--env", "prod", "--prices", "tomorrow"], "known: current, seed"),
        (["--what-if", "--tenants", "1,0"], "'0' is not a tenant count"),
        (["--what-if", "--tenants", "5", "--size-mix", "tiny=5"], "allowed sizes"),
        (["--env", "prod", "--commitment", "rds-9y"], "unknown"),
    ],
)
def test_cli_bad_input(
    args: list[str], message: str, example_cdk_out: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    if "--assembly" not in args:
        args = ["--assembly", str(example_cdk_out), *args]
    assert ops_main(["cost", *args]) == 2
    captured = capsys.readouterr()
    assert message in captured.err and captured.out == ""


# --- what-if (one small synthesis) ----------------------------------------------------------------


@pytest.mark.slow
def test_what_if_synthesizes_and_prices_a_generated_environment() -> None:
    from config.generated import generated_environment
    from config.profiles import service_capacity

    rows = whatif.run([2], ["production"])
    report = rows[0].reports["production"]
    assert report.tenants == 2 and report.profile == "production"
    minimum = service_capacity(generated_environment("whatif", 2)).minimum
    vcpu = next(ln for ln in report.lines if ".vcpu_hour" in ln.price_key)
    assert vcpu.quantity == pytest.approx(minimum * 0.5 * 730)
    assert rows[0].x86["production"].total_monthly_usd > report.total_monthly_usd
    table = whatif.render_table(rows, ["production"])
    assert table.splitlines()[2].startswith("| 2 | $")
    # Years 1-3: every rotating key (the platform key, the log archive's and one per
    # restaurant) adds $1/month in year 2 and again in year 3, and nothing after.
    years = rows[0].years["production"]
    assert years[1].total_monthly_usd == report.total_monthly_usd
    assert years[2].total_monthly_usd - years[1].total_monthly_usd == 4 * D("1.00")
    assert years[3].total_monthly_usd - years[2].total_monthly_usd == 4 * D("1.00")
    text = whatif.render_years(rows, ["production"])
    head, _, line = text.splitlines()
    assert "year 3 per tenant" in head and "one key per environment: year 3 per tenant" in head
    cells = [c.strip() for c in line.strip("|").split("|")]
    assert cells[:2] == ["2", "production"]
    assert cells[2:5] == [f"${years[n].per_tenant_monthly_usd}" for n in (1, 2, 3)]
    # One environment key instead of two restaurant keys: $1 less in year 1, $3 in year 3.
    per_env = [D(c.lstrip("$")) for c in cells[8:11]]
    # (each a per-tenant figure rounded to the cent, as the table prints it)
    assert per_env[0] == money((years[1].total_monthly_usd - 1) / 2)
    assert per_env[2] == money((years[3].total_monthly_usd - 3) / 2)
    choice = whatif.render_key_choice(rows, ["production"])
    assert "one per restaurant (2 keys)" in choice and "final snapshot" in choice
    assert "year 3 $6.00 vs $3.00 (-$3.00)" in choice


@pytest.mark.slow
def test_cli_what_if_shows_years_one_to_three(capsys: pytest.CaptureFixture[str]) -> None:
    assert ops_main(["cost", "--what-if", "--tenants", "1", "--tier", "production"]) == 0
    out = capsys.readouterr().out
    assert "Years 1-3" in out and "| 1 | production |" in out
    assert "KMS keys (production, 1 tenant): one per restaurant (1 key)" in out


def test_optional_services_are_priced_from_their_properties() -> None:
    subnets = [{"Ref": "A"}, {"Ref": "B"}]
    templates = {
        "chefs-kiss-t-platform": _platform(
            Db=_db(cls="db.t4g.medium"),
            Proxy={"Type": "AWS::RDS::DBProxy", "Properties": {"DBProxyName": "p"}},
            ProxyTargets={
                "Type": "AWS::RDS::DBProxyTargetGroup",
                "Properties": {
                    "DBProxyName": {"Ref": "Proxy"},
                    "DBInstanceIdentifiers": [{"Ref": "Db"}],
                },
            },
            Endpoint={
                "Type": "AWS::EC2::VPCEndpoint",
                "Properties": {"VpcEndpointType": "Interface", "SubnetIds": subnets},
            },
            S3Endpoint={"Type": "AWS::EC2::VPCEndpoint", "Properties": {}},
            Cache={
                "Type": "AWS::ElastiCache::CacheCluster",
                "Properties": {"CacheNodeType": "cache.t4g.small", "NumCacheNodes": 2},
            },
        )
    }
    report = estimate_templates(templates, "t")
    by_resource = collections.defaultdict(D)
    for line in report.lines:
        by_resource[line.resource] += line.monthly_usd
    assert by_resource["Proxy"] == D("21.90")  # 2 vCPUs x $0.015 x 730
    assert by_resource["Endpoint"] == D("14.60")  # 2 AZs x $0.01 x 730
    assert by_resource["Cache"] == D("46.72")  # 2 nodes x $0.032 x 730
    assert "S3Endpoint" not in by_resource and not report.unpriced


def test_fargate_spot_share_and_commitment_scope() -> None:
    task = {
        "Type": "AWS::ECS::TaskDefinition",
        "Properties": {"Cpu": "1024", "Memory": "2048", "RequiresCompatibilities": ["FARGATE"]},
    }
    service = {
        "Type": "AWS::ECS::Service",
        "Properties": {
            "TaskDefinition": {"Ref": "Task"},
            "DesiredCount": 4,
            "CapacityProviderStrategy": [
                {"CapacityProvider": "FARGATE", "Base": 2, "Weight": 1},
                {"CapacityProvider": "FARGATE_SPOT", "Weight": 1},
            ],
        },
    }
    templates = {"chefs-kiss-t-platform": _platform(Task=task, Service=service)}
    report = estimate_templates(templates, "t")
    fargate = [ln for ln in report.lines if ln.resource == "Service"]
    spot = [ln for ln in fargate if "Spot" in ln.item]
    assert sum(ln.quantity for ln in spot if ln.unit == "vCPU-hours") == pytest.approx(730)
    on_demand = sum(ln.monthly_usd for ln in fargate if "Spot" not in ln.item)
    plan = estimate_templates(templates, "t", commitments=["fargate-sp-1y"])
    saving = report.total_monthly_usd - plan.total_monthly_usd
    assert saving == pytest.approx(on_demand * D("0.25"), abs=D("0.02"))  # Spot is not covered


def test_nat_against_endpoints(example_cdk_out: Path) -> None:
    from ops.costing.report import ENDPOINT_SERVICES, nat_versus_endpoints

    report = estimate(example_cdk_out, "prod")
    nat, endpoints = nat_versus_endpoints(report)
    nat_lines = [ln for ln in report.lines if ln.price_key.startswith("nat.")]
    assert nat > sum(ln.monthly_usd for ln in nat_lines)  # Elastic IPs included
    assert endpoints is not None and endpoints >= len(ENDPOINT_SERVICES) * 2 * D("7.30")


def test_cli_reproduce_seed_json_without_synthesis(capsys: pytest.CaptureFixture[str]) -> None:
    assert ops_main(["cost", "--reproduce-seed", "--no-templates", "--json"]) == 0
    tables = {t["section"]: t for t in json.loads(capsys.readouterr().out)}
    assert set(tables) == {"2.2", "2.3", "3.2", "3.3", "3.4", "3.5", "3.6", "3.7"}
    assert tables["3.2"]["computed_total_usd"] == 120.21
    assert tables["3.2"]["printed_total_usd"] == 118.27
    assert tables["3.7"]["printed_total_usd"] == 5814.43
    assert tables["3.7"]["computed_total_usd"] == 5814.67  # 12 tasks x $0.02


def test_valkey_cache_and_cloudfront_free_tier() -> None:
    templates = {
        "chefs-kiss-t-platform": _platform(
            Sessions={
                "Type": "AWS::ElastiCache::ReplicationGroup",
                "Properties": {
                    "Engine": "valkey",
                    "CacheNodeType": "cache.t4g.micro",
                    "NumCacheClusters": 2,
                },
            },
            SessionSubnets={"Type": "AWS::ElastiCache::SubnetGroup", "Properties": {}},
            Cdn={"Type": "AWS::CloudFront::Distribution", "Properties": {}},
        )
    }
    report = estimate_templates(templates, "t")
    cache = sum(ln.monthly_usd for ln in report.lines if ln.resource == "Sessions")
    assert cache == D("18.69")  # 2 x $0.0128 x 730: Valkey is 20% below Redis OSS
    cdn = [ln for ln in report.lines if ln.resource == "Cdn"]
    assert cdn and all(ln.monthly_usd == 0 and "free" in ln.note for ln in cdn)
    assert not report.unpriced
