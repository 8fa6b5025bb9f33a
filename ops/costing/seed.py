"""The seed's itemized cost tables (2.2, 2.3, 3.2-3.7), recomputed from its quantities and prices.

Each table below is the seed's quantities and printed amounts, transcribed once. `reproduce()`
prices the quantities with the `seed` price table, line by line to the cent, the way the seed
does (each part rounded, then added). Where the seed's printed figure differs from its own
arithmetic, the difference is an erratum with a one-line reason (`ERRATA`): tests assert the
tool's figure there and the README lists them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any

from ops.costing import bill
from ops.costing.report import money
from ops.costing.tables import PriceTable, load_prices

D = Decimal


@dataclass(frozen=True)
class SeedTable:
    section: str
    tier: str  # "poc" or "production"
    tenants: int
    quantities: Mapping[str, Mapping[str, Any]]  # component -> quantities
    printed: Mapping[str, Decimal]  # component -> the seed's amount
    printed_total: Decimal
    printed_per_tenant: Decimal | None


def _prod(section: str, n: int, **q: Any) -> SeedTable:
    """A production table: the rows common to 3.2-3.7, each from the seed's stated quantities."""
    return SeedTable(
        section=section,
        tier="production",
        tenants=n,
        quantities={
            bill.APP: {"tasks": q["tasks"]},
            bill.DATABASES: {"count": n, "class": "db.t4g.small", "multi_az": True, "gb": 20},
            bill.LOAD_BALANCER: {"albs": 1, "lcu_hours": q["lcu_usd"] / D("0.008")},
            bill.OBJECT_STORAGE: {"gb": 10 * n, "requests": 10000 * n},
            bill.MONITORING: {
                "log_gb": q["logs"],
                "metrics": q["metrics"],
                "alarms": q["alarms"],
                "dashboards": q["dashboards"],
            },
            bill.SECRETS: {"secrets": q["secrets"]},
            bill.DNS: {"zones": 1, "queries": 100000 * n},
            bill.BACKUP: {"gb": 20 * n},
            bill.DATA_TRANSFER: {"gb": q["egress"]},
        },
        printed={k: D(v) for k, v in q["printed"].items()},
        printed_total=D(q["total"]),
        printed_per_tenant=D(q["per_tenant"]) if q.get("per_tenant") else None,
    )


_PROD_ORDER = (
    bill.APP,
    bill.DATABASES,
    bill.LOAD_BALANCER,
    bill.OBJECT_STORAGE,
    bill.MONITORING,
    bill.SECRETS,
    bill.DNS,
    bill.BACKUP,
    bill.DATA_TRANSFER,
)


def _printed(*values: str) -> dict[str, str]:
    return dict(zip(_PROD_ORDER, values, strict=True))


SEED_TABLES: tuple[SeedTable, ...] = (
    SeedTable(
        "2.2",
        "poc",
        1,
        {
            bill.APP: {"tasks": 1},
            bill.DATABASES: {"count": 1, "class": "db.t4g.micro", "multi_az": False, "gb": 20},
            bill.LOAD_BALANCER: {"albs": 1, "lcu_hours": D(625)},
            bill.OBJECT_STORAGE: {"gb": 5, "requests": 5000},
            bill.MONITORING: {"log_gb": D("0.5"), "metrics": 5, "alarms": 5, "dashboards": 0},
            bill.SECRETS: {"secrets": 3},
            bill.DNS: {"zones": 1, "queries": 10000},
            bill.DATA_TRANSFER: {"gb": 10},
        },
        {
            bill.APP: D("18.00"),
            bill.DATABASES: D("14.00"),
            bill.LOAD_BALANCER: D("21.43"),
            bill.OBJECT_STORAGE: D("0.15"),
            bill.MONITORING: D("0.00"),
            bill.SECRETS: D("1.20"),
            bill.DNS: D("0.50"),
            bill.DATA_TRANSFER: D("0.00"),
        },
        D("55.28"),
        None,
    ),
    SeedTable(
        "2.3",
        "poc",
        5,
        {
            bill.APP: {"tasks": 2},
            bill.DATABASES: {"count": 5, "class": "db.t4g.micro", "multi_az": False, "gb": 20},
            bill.LOAD_BALANCER: {"albs": 1, "lcu_hours": D(625)},
            bill.OBJECT_STORAGE: {"gb": 25, "requests": 25000},
            bill.MONITORING: {"log_gb": D(2), "metrics": 10, "alarms": 10, "dashboards": 0},
            bill.SECRETS: {"secrets": 8},
            bill.DNS: {"zones": 1, "queries": 50000},
            bill.DATA_TRANSFER: {"gb": 50},
        },
        {
            bill.APP: D("36.00"),
            bill.DATABASES: D("70.00"),
            bill.LOAD_BALANCER: D("21.43"),
            bill.OBJECT_STORAGE: D("0.71"),
            bill.MONITORING: D("1.00"),
            bill.SECRETS: D("3.20"),
            bill.DNS: D("0.52"),
            bill.DATA_TRANSFER: D("0.00"),
        },
        D("132.86"),
        D("26.57"),
    ),
    _prod("3.2", 1, tasks=2, lcu_usd=D(8), logs=2, metrics=15, alarms=15, dashboards=1,
          secrets=5, egress=50, total="118.27", per_tenant=None,
          printed=_printed("36.00", "49.02", "24.43", "0.28", "6.00", "2.00", "0.54", "1.90",
                           "0.00")),
    _prod("3.3", 5, tasks=3, lcu_usd=D(8), logs=5, metrics=25, alarms=20, dashboards=2,
          secrets=10, egress=150, total="357.63", per_tenant="71.53",
          printed=_printed("54.00", "245.10", "24.43", "1.40", "14.00", "4.00", "0.70", "9.50",
                           "4.50")),
    _prod("3.4", 10, tasks=4, lcu_usd=D(12), logs=10, metrics=35, alarms=25, dashboards=3,
          secrets=15, egress=300, total="660.33", per_tenant="66.03",
          printed=_printed("72.00", "490.20", "28.43", "2.80", "23.00", "6.00", "0.90", "19.00",
                           "18.00")),
    _prod("3.5", 25, tasks=6, lcu_usd=D(18), logs=25, metrics=50, alarms=35, dashboards=5,
          secrets=30, egress=750, total="1536.43", per_tenant="61.46",
          printed=_printed("108.00", "1225.50", "34.43", "7.00", "42.00", "12.00", "1.50",
                           "47.50", "58.50")),
    _prod("3.6", 50, tasks=8, lcu_usd=D(25), logs=50, metrics=75, alarms=50, dashboards=8,
          secrets=55, egress=1500, total="2968.43", per_tenant="59.37",
          printed=_printed("144.00", "2451.00", "41.43", "14.00", "72.50", "22.00", "2.50",
                           "95.00", "126.00")),
    _prod("3.7", 100, tasks=12, lcu_usd=D(35), logs=100, metrics=100, alarms=75, dashboards=12,
          secrets=105, egress=3000, total="5814.43", per_tenant="58.14",
          printed=_printed("216.00", "4902.00", "51.43", "28.00", "119.50", "42.00", "4.50",
                           "190.00", "261.00")),
)  # fmt: skip

# Where the seed's printed figure is not its own arithmetic: (section, component) -> why.
_FARGATE = "0.5 vCPU / 1 GB at A.1's own hourly rates is $18.02 a task-month, not $18.00"
ERRATA: dict[tuple[str, str], str] = {
    **{
        (section, bill.APP): f"{tasks} x $18.02 = ${tasks * D('18.02')}: {_FARGATE}"
        for section, tasks in (
            ("2.2", 1),
            ("2.3", 2),
            ("3.2", 2),
            ("3.3", 3),
            ("3.4", 4),
            ("3.5", 6),
            ("3.6", 8),
            ("3.7", 12),
        )
    },
    ("2.2", bill.DATABASES): "$11.68 + $2.30 is $13.98, not $14.00",
    ("2.2", bill.MONITORING): (
        "0.5 GB of logs at its own $0.50/GB is $0.25; it says 'free tier' here only "
        "(2.3 charges 2 GB = $1.00, below AWS's real 5 GB free tier)"
    ),
    ("2.2", "total"): "the lines add up to $55.53 with the three corrections above",
    ("2.3", bill.DATABASES): "5 x $13.98 is $69.90 (it carries 2.2's $14.00 rounding error)",
    ("2.3", "total"): "the lines add up to $132.80 with the Fargate and database corrections",
    ("2.3", "per_tenant"): "$132.80 / 5 = $26.56",
    ("3.2", "total"): "$118.27 leaves out its own $1.90 backup line: the lines add up to $120.17, "
    "$120.21 with the Fargate correction",
    ("3.2", "per_tenant"): "$120.21 for one tenant",
    ("3.3", "total"): "+$0.06 Fargate correction: $357.69",
    ("3.3", "per_tenant"): "$357.69 / 5 = $71.54",
    ("3.4", "total"): "+$0.08 Fargate correction: $660.41",
    ("3.4", "per_tenant"): "$660.41 / 10 = $66.04",
    ("3.5", "total"): "+$0.12 Fargate correction: $1,536.55",
    ("3.6", "total"): "+$0.16 Fargate correction: $2,968.59",
    ("3.7", "total"): "+$0.24 Fargate correction: $5,814.67",
    ("3.7", "per_tenant"): "$5,814.67 / 100 = $58.15",
}

# Errors in the seed's summaries and prose, checked in tests/test_cost.py.
SUMMARY_ERRATA: tuple[str, ...] = (
    "6.1 / 10.1, 1 tenant: production $118 and per-tenant $118.00 carry 3.2's missing backup "
    "line ($120.17; $120.21 with the Fargate correction); $118.00 does not even match 3.2's own "
    "$118.27",
    "10.1, 1 tenant: the PoC to production increase is +$64.68 (+116%) with corrected totals "
    "($55.53 -> $120.21), not +$63 (+114%)",
    "6.1 / 10.1, PoC at 10/25/50/100 tenants ($238 / $553 / $1,068 / $2,093): no itemized table "
    "supports them; the seed's own PoC rates give less (see the what-if table)",
    "Executive summary: '$85-$95 for a single tenant' and '$2,850-$3,100 for 100 tenants' "
    "contradict its own tables ($118.27 and $5,814.43)",
    "A.1: 0.5 vCPU / 1 GB at its own hourly rates is $18.02 per month, not $18.00; every Fargate "
    "line uses $18.00, so every table's Fargate line and total are corrected above",
    "4.2: db.t4g.micro Multi-AZ '~$28' and db.t4g.medium Multi-AZ '~$98' are not its A.2 prices "
    "($23.36 + $2.30 = $25.66 and $93.44 + $2.30 = $95.74); the 60/30/10 mix at 50 tenants is "
    "$1,983.80, a saving of $467.20, not $2,065 / $386",
    "7.3: RDS Proxy 'about $11/month' is one vCPU; it is billed per vCPU of the database with a "
    "2-vCPU minimum, so $0.015 x 2 x 730 = $21.90 for any db.t4g class",
    "5.3: 'ongoing increase $60-$70 per tenant' disagrees with 10.1, where the increase per "
    "tenant falls to $37.21 at 100 tenants",
)


@dataclass(frozen=True)
class LineResult:
    component: str
    printed: Decimal
    computed: Decimal
    parts: str  # how the tool got there

    @property
    def matches(self) -> bool:
        return self.printed == self.computed


@dataclass(frozen=True)
class TableResult:
    table: SeedTable
    lines: tuple[LineResult, ...]

    @property
    def computed_total(self) -> Decimal:
        return sum((line.computed for line in self.lines), Decimal(0))

    @property
    def computed_per_tenant(self) -> Decimal:
        return money(self.computed_total / self.table.tenants)


def _price(table: PriceTable, key: str) -> Decimal:
    price = table.get(key)
    if price is None:
        raise KeyError(f"the {table.name!r} price table has no {key!r}")
    return price.usd


def compute_line(table: PriceTable, component: str, q: Mapping[str, Any]) -> tuple[Decimal, str]:
    """One seed row from its quantities: each part rounded to the cent, then added (as printed)."""
    hours = table.hours_per_month
    p = lambda key: _price(table, key)  # noqa: E731
    if component == bill.APP:
        # 0.5 vCPU / 1 GB at A.1's own hourly rates: $18.02 a month (A.1's table rounds it to
        # $18.00, and every seed table uses $18.00): the same correction as 2.2's $13.98.
        vcpu = money(D("0.5") * p("fargate.linux_x86_64.vcpu_hour") * hours)
        gb = money(D(1) * p("fargate.linux_x86_64.gb_hour") * hours)
        each = vcpu + gb
        return q["tasks"] * each, f"{q['tasks']} x ${each} (${vcpu} vCPU + ${gb} memory)"
    if component == bill.DATABASES:
        factor = p("rds.multi_az_instance_factor") if q["multi_az"] else D(1)
        storage_factor = p("rds.multi_az_storage_factor") if q["multi_az"] else D(1)
        instance = money(p(f"rds.postgres.instance_hour.{q['class']}") * hours * factor)
        storage = money(q["gb"] * p("rds.storage.gp3.gb_month") * storage_factor)
        return q["count"] * (instance + storage), f"{q['count']} x (${instance} + ${storage})"
    if component == bill.LOAD_BALANCER:
        alb = money(q["albs"] * p("alb.hour") * hours)
        lcu = money(D(q["lcu_hours"]) * p("alb.lcu_hour"))
        return alb + lcu, f"${alb} + ${lcu} ({q['lcu_hours']:f} LCU-hours)"
    if component == bill.OBJECT_STORAGE:
        gb = money(q["gb"] * p("s3.standard.gb_month"))
        req = money(D(q["requests"]) / 1000 * p("s3.put_per_1k"))
        return gb + req, f"${gb} + ${req}"
    if component == bill.MONITORING:
        logs = money(max(D(0), D(q["log_gb"]) - p("logs.free_gb")) * p("logs.ingest_gb"))
        metrics = money(
            max(0, q["metrics"] - p("cloudwatch.free_metrics")) * p("cloudwatch.metric_month")
        )
        alarms = money(
            max(0, q["alarms"] - p("cloudwatch.free_alarms")) * p("cloudwatch.alarm_metric_month")
        )
        dashboards = money(
            max(0, q["dashboards"] - p("cloudwatch.free_dashboards"))
            * p("cloudwatch.dashboard_month")
        )
        total = logs + metrics + alarms + dashboards
        return total, f"${logs} + ${metrics} + ${alarms} + ${dashboards}"
    if component == bill.SECRETS:
        return money(q["secrets"] * p("secretsmanager.secret_month")), f"{q['secrets']} secrets"
    if component == bill.DNS:
        zones = money(q["zones"] * p("route53.zone_month"))
        queries = money(D(q["queries"]) / D(1_000_000) * p("route53.query_per_million"))
        return zones + queries, f"${zones} + ${queries}"
    if component == bill.BACKUP:
        return money(q["gb"] * p("rds.backup.gb_month")), f"{q['gb']} GB"
    if component == bill.DATA_TRANSFER:
        billable = max(D(0), D(q["gb"]) - p("data_transfer.free_gb"))
        return money(billable * p("data_transfer.out_gb")), f"{billable:f} GB billable"
    raise KeyError(component)  # pragma: no cover - the tables use only the components above


def reproduce(prices: str | PriceTable = "seed") -> list[TableResult]:
    table = prices if isinstance(prices, PriceTable) else load_prices(prices)
    results = []
    for seed_table in SEED_TABLES:
        lines = []
        for component, quantities in seed_table.quantities.items():
            computed, parts = compute_line(table, component, quantities)
            lines.append(LineResult(component, seed_table.printed[component], computed, parts))
        results.append(TableResult(seed_table, tuple(lines)))
    return results


# --- side by side with the templates -----------------------------------------------------------

WHY: dict[str, str] = {
    bill.APP: "ARM64 (Graviton) Fargate, $14.42 per 0.5 vCPU / 1 GB task-month against the seed's "
    "x86 $18.02; task count is the template's autoscaling minimum",
    bill.DATABASES: "Multi-AZ storage is billed for both copies (+$2.30 per 20 GB database); "
    "instance prices unchanged",
    bill.LOAD_BALANCER: "same ALB hours and LCU assumption (usage.yaml alb_lcu_hours)",
    bill.OBJECT_STORAGE: "the uploads lifecycle keeps half in Glacier IR (seed 4.3, in the "
    "template), plus the access-log bucket",
    bill.MONITORING: "template-derived: the templates' alarms and dashboards, Container Insights, "
    "RDS enhanced monitoring, DB, WAF and flow logs, less the AWS free tier",
    bill.SECRETS: "one secret per tenant plus one app secret (the seed counts N+4 / N+5), plus "
    "API calls",
    bill.DNS: "queries to alias records (the ALB) are free; the zone exists outside the stacks",
    bill.BACKUP: "backup storage up to the allocated size is free: 7 days of changes to a "
    "half-full 20 GB database stay under 20 GB",
    bill.DATA_TRANSFER: "same egress assumption; the first 100 GB are free",
    bill.NETWORKING: "not in the seed: NAT gateways ($32.85 each + $0.045/GB) and public IPv4 "
    "($3.65 per address: NAT EIPs and ALB nodes)",
    bill.KEYS: "not in the seed: one KMS key per tenant plus the platform key ($1 each) and "
    "requests",
    bill.LOG_ARCHIVE: "seed 4.4 archives logs to S3 Glacier but its tables leave it out: "
    "Firehose ingestion and partitioning, the archive's storage by class (docs/log-archive.md)",
    bill.OTHER: "not in the seed: WAF web ACL, rules and inspected requests",
}
WHY_POC: dict[str, str] = {
    bill.APP: "ARM64 (Graviton) Fargate, $14.42 per 0.5 vCPU / 1 GB task-month against the seed's "
    "x86 $18.02; PoC: 1 fixed task",
    bill.DATABASES: "single-AZ db.t4g.micro at the seed's own prices",
    bill.DNS: "the PoC profile has no domain: no zone, no queries",
    bill.MONITORING: "template-derived logs (app, DB, flow logs) within the 5 GB free tier; no "
    "Container Insights in PoC",
}


def render_reproduction(
    results: list[TableResult], current: Mapping[tuple[str, int], Any] | None = None
) -> str:
    """Markdown: each seed table, printed vs recomputed vs current prices and templates."""
    from ops.costing.report import usd

    out = [
        "## The seed's tables reproduced",
        "",
        "`seed printed` is the seed's figure; `seed recomputed` prices the seed's own quantities "
        "with its own prices (ops/prices/seed.json); `current` is current prices with quantities "
        "from synthesized templates of that many tenants (config/usage.yaml for usage).",
    ]
    for result in results:
        table = result.table
        report = current.get((table.tier, table.tenants)) if current else None
        now = report.by_component() if report else {}
        out += [
            "",
            f"### {table.section} {table.tier}, {table.tenants} tenant{'s' * (table.tenants > 1)}",
            "",
            "| component | seed printed | seed recomputed | current (templates) | why |",
            "| --- | ---: | ---: | ---: | --- |",
        ]
        components = [line.component for line in result.lines]
        components += [c for c in now if c not in components]
        by_component = {line.component: line for line in result.lines}
        for component in components:
            line = by_component.get(component)
            why = ERRATA.get((table.section, component), "")
            if report is not None:
                reason = (WHY_POC if table.tier == "poc" else {}).get(component, WHY[component])
                why = f"{why}; {reason}" if why else reason
            out.append(
                f"| {component} | {usd(line.printed) if line else '-'} | "
                f"{usd(line.computed) if line else '-'} | "
                f"{usd(now.get(component)) if report else '-'} | {why} |"
            )
        total_why = ERRATA.get((table.section, "total"), "")
        out.append(
            f"| **total** | {usd(table.printed_total)} | {usd(result.computed_total)} | "
            f"{usd(report.total_monthly_usd) if report else '-'} | {total_why} |"
        )
        out.append(
            f"| **per tenant** | {usd(table.printed_per_tenant)} | "
            f"{usd(result.computed_per_tenant)} | "
            f"{usd(report.per_tenant_monthly_usd) if report else '-'} | "
            f"{ERRATA.get((table.section, 'per_tenant'), '')} |"
        )
        if report is not None and report.unpriced:
            out.append(f"\nUnpriced in the templates: {len(report.unpriced)} resources.")
    out += ["", "### Errors in the seed's summaries and prose", ""]
    out += [f"- {item}" for item in SUMMARY_ERRATA]
    return "\n".join(out)


def reproduction_json(results: list[TableResult], current: Mapping | None = None) -> list[dict]:
    data = []
    for result in results:
        table = result.table
        report = current.get((table.tier, table.tenants)) if current else None
        data.append(
            {
                "section": table.section,
                "tier": table.tier,
                "tenants": table.tenants,
                "printed_total_usd": float(table.printed_total),
                "computed_total_usd": float(result.computed_total),
                "current_total_usd": float(report.total_monthly_usd) if report else None,
                "errata": {k[1]: v for k, v in ERRATA.items() if k[0] == table.section},
                "lines": [
                    {
                        "component": line.component,
                        "printed_usd": float(line.printed),
                        "computed_usd": float(line.computed),
                        "parts": line.parts,
                        "current_usd": float(report.by_component().get(line.component, 0))
                        if report
                        else None,
                    }
                    for line in result.lines
                ],
            }
        )
    return data
