"""What-if: synthesize generated environments of N tenants and price them (seed 10.1 style).

A what-if builds the real app (`app.build_app`) for `config.generated.generated_environment`,
nag packs off for speed, into a temporary directory, and prices that assembly exactly as
`ops cost --env` prices cdk.out. So a change to a stack shows up in the what-if too.
"""

from __future__ import annotations

import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path

from ops.costing import bill
from ops.costing.report import (
    ENDPOINT_SERVICES,
    CostReport,
    estimate,
    kms_key_per_environment,
    money,
    nat_versus_endpoints,
    usd,
)
from ops.costing.tables import CostInputError, PriceTable

WHATIF_ENV = "whatif"
TIERS = ("poc", "production")
SIZES = ("small", "medium", "large")
MAX_TENANTS = 500
YEARS = (1, 2, 3)  # KMS keys rotate yearly; AWS bills the first two rotations, then no more
RECOVERY_REGION = "us-west-2"  # the what-if's recovery region (primary: us-east-1)
SEED_STANDBY_SHARE = Decimal("0.40")  # seed 7.1: multi-region DR "adds ~40%"


def parse_tenants(text: str) -> list[int]:
    """`1,5,10` -> [1, 5, 10]; an error names the bad item and what is allowed."""
    counts: list[int] = []
    for item in (part.strip() for part in text.split(",")):
        if not item.isdigit() or not 1 <= int(item) <= MAX_TENANTS:
            raise CostInputError(
                f"--tenants {text!r}: {item!r} is not a tenant count; "
                f"allowed: comma-separated integers from 1 to {MAX_TENANTS}, e.g. 1,5,10"
            )
        counts.append(int(item))
    return sorted(set(counts))


def parse_size_mix(text: str) -> dict[str, float]:
    """`small=60,medium=30,large=10` -> shares by size."""
    mix: dict[str, float] = {}
    for item in (part.strip() for part in text.split(",") if part.strip()):
        name, _, share = item.partition("=")
        try:
            value = float(share)
        except ValueError:
            value = -1.0
        if name not in SIZES or value < 0:
            raise CostInputError(
                f"--size-mix {text!r}: {item!r} is not size=share; "
                f"allowed sizes: {', '.join(SIZES)}, shares >= 0 (e.g. small=60,medium=30,large=10)"
            )
        mix[name] = value
    if sum(mix.values()) <= 0:
        raise CostInputError(f"--size-mix {text!r}: no positive share")
    return mix


def synthesize(
    tenants: int,
    tier: str,
    outdir: Path,
    size_mix: Mapping[str, float] | None = None,
    *,
    standby: bool = False,
) -> float:
    """Synthesize a generated environment of `tenants` restaurants; returns seconds taken.

    `standby`: with seed 7.1 disaster recovery in RECOVERY_REGION (warm standby; it covers the
    production-tier restaurants, as the config's default does)."""
    import aws_cdk as cdk  # heavy (jsii): imported only when a what-if runs

    from app import build_app, project_context
    from config.generated import generated_environment

    if tier not in TIERS:
        raise CostInputError(f"--tier {tier!r}: allowed: {', '.join(TIERS)}, both")
    started = time.perf_counter()
    recovery = {"region": RECOVERY_REGION, "mode": "warm-standby"} if standby else None
    environment = generated_environment(
        WHATIF_ENV,
        tenants,
        profile=tier,
        tier_mix={tier: 1.0},
        size_mix=size_mix,
        disaster_recovery=recovery,
    )
    app = cdk.App(context=project_context(), outdir=str(outdir))
    build_app(environments=[environment], nag_packs=(), app=app)
    app.synth()
    return time.perf_counter() - started


@dataclass
class WhatIfRow:
    tenants: int
    reports: dict[str, CostReport] = field(default_factory=dict)  # tier -> report
    mixed: dict[str, CostReport] = field(default_factory=dict)  # tier -> report with size mix
    x86: dict[str, CostReport] = field(default_factory=dict)  # tier -> re-priced as x86
    seconds: dict[str, float] = field(default_factory=dict)
    years: dict[str, dict[int, CostReport]] = field(default_factory=dict)  # tier -> year -> report
    standby: dict[str, CostReport] = field(default_factory=dict)  # tier -> report with DR
    standby_seconds: dict[str, float] = field(default_factory=dict)


def run(
    tenant_counts: Sequence[int],
    tiers: Sequence[str],
    *,
    prices: str | Path | PriceTable = "current",
    usage_path: Path | None = None,
    size_mix: Mapping[str, float] | None = None,
    commitments: Sequence[str] = (),
    progress: bool = False,
    year: int | None = None,
    standby: bool = False,
) -> list[WhatIfRow]:
    """Synthesize and price each tenant count and tier; `year` picks the year of the main
    reports (None: usage.yaml's key age, year 1), and every row also has years 1-3.
    `standby`: each also synthesized and priced with seed 7.1 disaster recovery on."""
    rows = []
    for count in tenant_counts:
        row = WhatIfRow(count)
        for tier in tiers:
            with tempfile.TemporaryDirectory(prefix=f"cost-{tier}-{count}-") as tmp:
                row.seconds[tier] = synthesize(count, tier, Path(tmp))
                kwargs = {"usage_path": usage_path, "commitments": commitments, "year": year}
                row.reports[tier] = estimate(tmp, WHATIF_ENV, prices, **kwargs)  # type: ignore[arg-type]
                other = "x86_64" if _arch(row.reports[tier]) == "arm64" else "arm64"
                row.x86[tier] = estimate(tmp, WHATIF_ENV, prices, arch=other, **kwargs)  # type: ignore[arg-type]
                row.years[tier] = {
                    n: estimate(tmp, WHATIF_ENV, prices, **{**kwargs, "year": n})  # type: ignore[arg-type]
                    for n in YEARS
                }
            if size_mix and tier == _mix_tier(tiers):
                with tempfile.TemporaryDirectory(prefix=f"cost-{tier}-{count}-mix-") as tmp:
                    synthesize(count, tier, Path(tmp), size_mix)
                    row.mixed[tier] = estimate(tmp, WHATIF_ENV, prices, **kwargs)  # type: ignore[arg-type]
            if standby:
                with tempfile.TemporaryDirectory(prefix=f"cost-{tier}-{count}-dr-") as tmp:
                    row.standby_seconds[tier] = synthesize(count, tier, Path(tmp), standby=True)
                    row.standby[tier] = estimate(tmp, WHATIF_ENV, prices, **kwargs)  # type: ignore[arg-type]
            if progress:
                print(
                    f"  synthesized {count:>3} {tier} tenants in {row.seconds[tier]:.1f} s"
                    + (
                        f" ({row.standby_seconds[tier]:.1f} s with the standby)"
                        if tier in row.standby_seconds
                        else ""
                    ),
                    flush=True,
                )
        rows.append(row)
    return rows


def _mix_tier(tiers: Sequence[str]) -> str:
    """The tier the size mix and architecture columns describe: production when shown."""
    return "production" if "production" in tiers else tiers[0]


def _arch(report: CostReport) -> str:
    for line in report.lines:
        if line.price_key.startswith("fargate.linux_arm64"):
            return "arm64"
    return "x86_64"


def _pct(new: Decimal, old: Decimal) -> str:
    return f"{(new - old) / old * 100:+.0f}%" if old else "-"


def render_table(rows: Sequence[WhatIfRow], tiers: Sequence[str]) -> str:
    """Markdown, seed 10.1 style: totals, per tenant, PoC to production increase, alternatives."""
    both = set(tiers) == set(TIERS)
    head = ["tenants"]
    for tier in tiers:
        head += [f"{tier} total", f"{tier} per tenant"]
    if both:
        head += ["PoC to production increase"]
    arch_tier = _mix_tier(tiers)
    head += [f"{arch_tier}: other Fargate arch"]
    mixed = any(row.mixed for row in rows)
    if mixed:
        head += [f"{arch_tier}: with size mix", "saving vs default sizes"]
    out = ["| " + " | ".join(head) + " |", "|" + " ---: |" * len(head)]
    for row in rows:
        cells = [str(row.tenants)]
        for tier in tiers:
            report = row.reports[tier]
            cells += [usd(report.total_monthly_usd), usd(report.per_tenant_monthly_usd)]
        if both:
            poc = row.reports["poc"].total_monthly_usd
            prod = row.reports["production"].total_monthly_usd
            cells.append(f"{usd(prod - poc, sign=True)} ({_pct(prod, poc)})")
        base = row.reports[arch_tier]
        other = row.x86[arch_tier]
        arch = "x86" if _arch(base) == "arm64" else "ARM64"
        cells.append(
            f"{arch}: {usd(other.total_monthly_usd)} "
            f"({usd(other.total_monthly_usd - base.total_monthly_usd, sign=True)})"
        )
        if mixed:
            mix = row.mixed[arch_tier]
            cells += [
                usd(mix.total_monthly_usd),
                usd(base.total_monthly_usd - mix.total_monthly_usd),
            ]
        out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def render_standby(rows: Sequence[WhatIfRow], tiers: Sequence[str]) -> str:
    """Markdown: each count without and with the seed 7.1 standby, and its share against the
    seed's ~40%. The standby covers the production-tier restaurants (the config's default), so
    a PoC-tier environment gets the standby platform alone."""
    head = [
        "tenants",
        "tier",
        "without standby",
        "with standby",
        "standby adds",
        "share",
        "vs seed ~40%",
        "standby stacks",
        "synth s (without / with)",
    ]
    out = ["| " + " | ".join(head) + " |", "| ---: | --- |" + " ---: |" * (len(head) - 2)]
    for row in rows:
        for tier in tiers:
            with_dr = row.standby.get(tier)
            if with_dr is None:
                continue
            without = row.reports[tier].total_monthly_usd
            total = with_dr.total_monthly_usd
            extra = total - without
            share = extra / without if without else Decimal(0)
            ratio = share / SEED_STANDBY_SHARE
            stacks = sum(1 for s in with_dr.stacks if s.kind == "standby")
            out.append(
                f"| {row.tenants} | {tier} | {usd(without)} | {usd(total)} | "
                f"{usd(extra, sign=True)} | {share * 100:.1f}% | {ratio:.2f}x | {stacks} | "
                f"{row.seconds[tier]:.1f} / {row.standby_seconds[tier]:.1f} |"
            )
    return "\n".join(out)


def standby_components(row: WhatIfRow, tier: str) -> dict[str, Decimal]:
    """What the standby adds, by component (with minus without): what the ~40% is made of."""
    before = row.reports[tier].by_component()
    after = row.standby[tier].by_component()
    delta = {k: after.get(k, Decimal(0)) - before.get(k, Decimal(0)) for k in {*before, *after}}
    return dict(sorted(((k, v) for k, v in delta.items() if v), key=lambda item: -item[1]))


def render_standby_components(rows: Sequence[WhatIfRow], tiers: Sequence[str]) -> str:
    """One line per count: the standby's extra cost by component, largest first."""
    out = []
    for row in rows:
        for tier in tiers:
            if tier not in row.standby:
                continue
            delta = standby_components(row, tier)
            parts = ", ".join(f"{k} {usd(v, sign=True)}" for k, v in delta.items())
            out.append(f"- {row.tenants} {tier}: {parts}")
    return "\n".join(out)


def _kms_lines(report: CostReport) -> Decimal:
    return sum((ln.monthly_usd for ln in report.lines if ln.component == bill.KEYS), Decimal(0))


def render_years(rows: Sequence[WhatIfRow], tiers: Sequence[str]) -> str:
    """Markdown: per-tenant cost in years 1-3 (KMS key rotations), and the same with one KMS
    key per environment for all tenant data instead of one per restaurant."""
    head = ["tenants", "tier"]
    head += [f"year {n} per tenant" for n in YEARS]
    head += [f"KMS year {n}" for n in YEARS]
    head += [f"one key per environment: year {n} per tenant" for n in YEARS]
    out = ["| " + " | ".join(head) + " |", "| ---: | --- |" + " ---: |" * (len(head) - 2)]
    for row in rows:
        for tier in tiers:
            by_year = row.years.get(tier)
            if not by_year:
                continue
            cells = [str(row.tenants), tier]
            cells += [usd(by_year[n].per_tenant_monthly_usd) for n in YEARS]
            cells += [usd(_kms_lines(by_year[n])) for n in YEARS]
            for n in YEARS:
                report = by_year[n]
                own, shared, _ = kms_key_per_environment(report)
                total = report.total_monthly_usd - own + shared
                cells.append(usd(money(total / report.tenants)))
            out.append("| " + " | ".join(cells) + " |")
    return "\n".join(out)


def _plural(count: int, noun: str) -> str:
    return f"{count} {noun}{'' if count == 1 else 's'}"


def render_key_choice(rows: Sequence[WhatIfRow], tiers: Sequence[str]) -> str:
    """One KMS key per restaurant against one per environment, at the largest tenant count."""
    row = rows[-1]
    tier = _mix_tier(tiers)
    by_year = row.years.get(tier)
    if not by_year:
        return ""
    parts = []
    for n in YEARS:
        own, shared, _ = kms_key_per_environment(by_year[n])
        parts.append(f"year {n} {usd(own)} vs {usd(shared)} ({usd(shared - own, sign=True)})")
    _, _, keys = kms_key_per_environment(by_year[YEARS[0]])
    return (
        f"KMS keys ({tier}, {_plural(row.tenants, 'tenant')}): one per restaurant "
        f"({_plural(keys, 'key')}) against one "
        f"environment key for all tenant data: {'; '.join(parts)} a month. A key per restaurant "
        "keeps a grant, a key-policy mistake or a compromised role to one restaurant's data, "
        "lets offboarding destroy exactly that restaurant's key (crypto-shredding its final "
        "snapshot), and audit trails name the restaurant; but each retained key keeps billing "
        "after offboarding, and restoring a final snapshot needs that restaurant's key to be "
        "kept (not pending deletion). One environment key makes every final snapshot restorable "
        "while the environment lives, with no per-restaurant key to keep, but one key policy "
        "then covers every restaurant and a single restaurant's data can no longer be "
        "destroyed by deleting a key. What-if only: the default stays one key per restaurant."
    )


def render_alternatives(rows: Sequence[WhatIfRow], tiers: Sequence[str]) -> str:
    """NAT gateways against interface endpoints, at the largest tenant count of each tier."""
    out = []
    row = rows[-1]
    for tier in tiers:
        nat, endpoints = nat_versus_endpoints(row.reports[tier])
        if endpoints is None:
            continue
        cheaper = "endpoints are cheaper" if endpoints < nat else "NAT gateways are cheaper"
        out.append(
            f"NAT vs VPC endpoints ({tier}, {row.tenants} tenants): NAT gateways {usd(nat)}/month; "
            f"{len(ENDPOINT_SERVICES)} interface endpoints ({', '.join(ENDPOINT_SERVICES)}) "
            f"{usd(endpoints)}/month: {cheaper}. The platform offers only NAT gateways today, "
            "and a public app image needs internet egress anyway."
        )
    return "\n".join(out)


def rows_json(rows: Sequence[WhatIfRow]) -> list[dict]:
    result = []
    for row in rows:
        entry: dict = {"tenants": row.tenants, "tiers": {}}
        for tier, report in row.reports.items():
            entry["tiers"][tier] = {
                "total_monthly_usd": float(report.total_monthly_usd),
                "per_tenant_monthly_usd": float(report.per_tenant_monthly_usd or 0),
                "by_component": {k: float(v) for k, v in report.by_component().items()},
                "other_arch_total_monthly_usd": float(row.x86[tier].total_monthly_usd),
                "synth_seconds": round(row.seconds[tier], 2),
                "unpriced": len(report.unpriced),
                "years": {
                    str(n): _year_json(r) for n, r in sorted(row.years.get(tier, {}).items())
                },
            }
            if tier in row.mixed:
                entry["tiers"][tier]["size_mix_total_monthly_usd"] = float(
                    row.mixed[tier].total_monthly_usd
                )
            if tier in row.standby:
                with_dr = row.standby[tier]
                extra = with_dr.total_monthly_usd - report.total_monthly_usd
                share = extra / report.total_monthly_usd if report.total_monthly_usd else 0
                entry["tiers"][tier]["standby"] = {
                    "total_monthly_usd": float(with_dr.total_monthly_usd),
                    "standby_monthly_usd": float(extra),
                    "share": round(float(share), 4),
                    "ratio_to_seed_40_percent": round(float(share) / 0.40, 3),
                    "synth_seconds": round(row.standby_seconds[tier], 2),
                    "unpriced": len(with_dr.unpriced),
                }
        result.append(entry)
    return result


def _year_json(report: CostReport) -> dict:
    own, shared, keys = kms_key_per_environment(report)
    per_env = report.total_monthly_usd - own + shared
    return {
        "total_monthly_usd": float(report.total_monthly_usd),
        "per_tenant_monthly_usd": float(report.per_tenant_monthly_usd or 0),
        "kms_monthly_usd": float(_kms_lines(report)),
        "tenant_keys": keys,
        "one_key_per_environment": {
            "total_monthly_usd": float(per_env),
            "per_tenant_monthly_usd": float(money(per_env / report.tenants)),
        },
    }


def plot(rows: Sequence[WhatIfRow], path: Path, seed_points: Mapping[int, Decimal]) -> None:
    """Per-tenant monthly cost against tenant count, both tiers, with the seed's figures."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(8, 4.8), dpi=120)
    counts = [row.tenants for row in rows]
    styles = {"production": ("#c0392b", "o"), "poc": ("#2980b9", "s")}
    for tier in TIERS:
        if all(tier in row.reports for row in rows):
            values = [float(row.reports[tier].per_tenant_monthly_usd or 0) for row in rows]
            color, marker = styles[tier]
            ax.plot(
                counts,
                values,
                marker=marker,
                color=color,
                label=f"{tier} (templates, current, year 1)",
            )
            for x, y in zip(counts, values, strict=True):
                ax.annotate(f"${y:,.0f}", (x, y), textcoords="offset points", xytext=(0, 7),
                            ha="center", fontsize=8, color=color)  # fmt: skip
    if all(row.years.get("production") for row in rows):
        # Year 3: every key has had the two rotations AWS bills ($2/month more per key).
        values = [float(row.years["production"][YEARS[-1]].per_tenant_monthly_usd or 0)
                  for row in rows]  # fmt: skip
        ax.plot(counts, values, linestyle=":", marker="o", markersize=3, color="#e67e22",
                label=f"production, year {YEARS[-1]} (KMS rotations billed)")  # fmt: skip
    if seed_points:
        xs = sorted(seed_points)
        ax.plot(xs, [float(seed_points[x]) for x in xs], linestyle="--", marker="x",
                color="#7f8c8d", label="production (seed tables, as printed)")  # fmt: skip
    ax.set_xscale("log")
    ax.set_xticks(counts)
    ax.set_xticklabels([str(c) for c in counts])
    ax.set_xlabel("tenants (restaurants)")
    ax.set_ylabel("monthly AWS cost per tenant (USD, all-in)")
    ax.set_title("Chef's Kiss: cost per tenant falls as the shared platform is amortized")
    ax.grid(True, which="major", alpha=0.3)
    ax.set_ylim(bottom=0)
    ax.legend()
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(".tmp.png")
    fig.savefig(tmp)
    plt.close(fig)
    tmp.replace(path)  # nothing half-written


def money_rows(rows: Sequence[WhatIfRow], tier: str) -> dict[int, Decimal]:
    return {
        row.tenants: money(row.reports[tier].per_tenant_monthly_usd or Decimal(0)) for row in rows
    }
