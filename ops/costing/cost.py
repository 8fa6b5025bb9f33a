"""`python -m ops cost`: monthly AWS cost from the synthesized templates, offline.

    python -m ops cost --env prod                       # per stack, per line, per tenant
    python -m ops cost --env prod --year 3              # the same with 2-year-old KMS keys
    python -m ops cost --env prod --base cdk.out.main   # PR comment: cost change per stack
    python -m ops cost --what-if --tenants 1,5,10 --tier both --plot docs/cost-per-tenant.png
    python -m ops cost --reproduce-seed                 # the seed's tables, checked

The model lives in `ops/costing/` (library: `estimate`, `diff`); this module is the CLI.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from ops.costing import report as reports
from ops.costing import seed, whatif
from ops.costing.report import environments_in, read_templates
from ops.costing.tables import CostInputError

DEFAULT_ASSEMBLY = Path("cdk.out")


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = subparsers.add_parser(
        "cost",
        help="monthly AWS cost of an environment, from the synthesized templates",
        description=(
            "Monthly AWS cost from cdk.out, offline: every resource priced by its CloudFormation "
            "type and properties (ops/prices/*.json), usage from config/usage.yaml. Resources it "
            "cannot price are listed as unpriced, never counted as $0."
        ),
    )
    parser.add_argument("--env", help="environment name (stacks chefs-kiss-<env>-*)")
    parser.add_argument(
        "--assembly",
        type=Path,
        default=DEFAULT_ASSEMBLY,
        help="synthesized assembly directory (default: cdk.out; run `make synth` first)",
    )
    parser.add_argument(
        "--prices", default="current", help="price table: current (default), seed, or a JSON path"
    )
    parser.add_argument("--usage", type=Path, help="usage assumptions (default config/usage.yaml)")
    parser.add_argument(
        "--commitment",
        action="append",
        default=[],
        metavar="NAME",
        help="apply a seed 4.1 commitment discount (repeatable): rds-1y-no-upfront, "
        "rds-1y-all-upfront, rds-3y-all-upfront, fargate-sp-1y, fargate-sp-3y",
    )
    parser.add_argument(
        "--arch", choices=("arm64", "x86_64"), help="re-price Fargate tasks as this architecture"
    )
    parser.add_argument(
        "--year",
        metavar="N",
        help="year of operation, 1 (default) to 10: sets the KMS keys' age (year N: N-1 yearly "
        "rotations; AWS bills $1/month per key for each of the first two). The what-if always "
        "also shows years 1-3",
    )
    parser.add_argument("--lines", action="store_true", help="show every priced line")
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument(
        "--base", type=Path, metavar="DIR", help="compare with this assembly (Markdown for a PR)"
    )
    parser.add_argument(
        "--what-if", action="store_true", help="synthesize generated environments and price them"
    )
    parser.add_argument(
        "--tenants", default="1,5,10,25,50,100", help="what-if tenant counts (comma-separated)"
    )
    parser.add_argument(
        "--tier", choices=("production", "poc", "both"), default="both", help="what-if tier"
    )
    parser.add_argument(
        "--size-mix", help="what-if database sizes, e.g. small=60,medium=30,large=10 (seed 4.2)"
    )
    parser.add_argument("--plot", type=Path, metavar="FILE.png", help="what-if: draw the chart")
    parser.add_argument(
        "--standby",
        action="store_true",
        help="what-if: also synthesize each count with seed 7.1 disaster recovery (a warm "
        "standby in us-west-2 for the production-tier restaurants) and compare with the "
        "seed's ~40%%",
    )
    parser.add_argument(
        "--reproduce-seed",
        action="store_true",
        help="the seed's tables (2.2, 2.3, 3.2-3.7) checked",
    )
    parser.add_argument(
        "--no-templates",
        action="store_true",
        help="--reproduce-seed without synthesizing (seed prices and quantities only; fast)",
    )
    parser.set_defaults(func=main)


def _year(text: str | None) -> int | None:
    """`--year N` -> N, or None when not given; anything else is an error saying what is allowed."""
    if text is None:
        return None
    return reports.check_year(int(text) if text.strip().isdigit() else text)  # type: ignore[arg-type]


def _print_json(data: Any) -> None:
    print(json.dumps(data, indent=2, sort_keys=False))


def _choose_env(args: argparse.Namespace, assembly: Path) -> str:
    if args.env:
        return str(args.env)
    envs = environments_in(read_templates(assembly))
    if len(envs) == 1:
        return envs[0]
    raise CostInputError(
        f"--env: required, the assembly {assembly} holds environments: {', '.join(envs) or 'none'}"
    )


def _estimate(args: argparse.Namespace) -> int:
    env = _choose_env(args, args.assembly)
    kwargs: dict[str, Any] = {
        "usage_path": args.usage,
        "commitments": _commitments(args),
        "year": args.year,
    }
    if args.base is not None:
        result = reports.diff(args.base, args.assembly, env, args.prices, **kwargs)
        if args.json:
            _print_json(result.to_json())
        else:
            print(reports.render_diff_markdown(result))
        return 0
    report = reports.estimate(args.assembly, env, args.prices, arch=args.arch, **kwargs)
    if args.json:
        _print_json(report.to_json())
    else:
        print(reports.render_report(report, lines=args.lines))
    return 0


def _commitments(args: argparse.Namespace) -> tuple[str, ...]:
    return tuple(name for item in args.commitment for name in item.split(",") if name)


def _what_if(args: argparse.Namespace) -> int:
    counts = whatif.parse_tenants(args.tenants)
    tiers = list(whatif.TIERS) if args.tier == "both" else [args.tier]
    mix = whatif.parse_size_mix(args.size_mix) if args.size_mix else None
    if args.plot is not None and args.plot.suffix.lower() != ".png":
        raise CostInputError(f"--plot {args.plot}: must be a .png file")
    started = time.perf_counter()
    rows = whatif.run(
        counts,
        tiers,
        prices=args.prices,
        usage_path=args.usage,
        size_mix=mix,
        commitments=_commitments(args),
        progress=not args.json,
        year=args.year,
        standby=args.standby,
    )
    elapsed = time.perf_counter() - started
    if args.plot is not None:
        seed_points = {
            r.table.tenants: r.table.printed_per_tenant or r.table.printed_total
            for r in seed.reproduce()
            if r.table.tier == "production" and r.table.tenants in counts
        }
        whatif.plot(rows, args.plot, seed_points)
    if args.json:
        _print_json({"seconds": round(elapsed, 1), "rows": whatif.rows_json(rows)})
        return 0
    print()
    print(whatif.render_table(rows, tiers))
    if mix:
        print(f"\nSize mix {mix} against the tier's default sizes (production: all db.t4g.small).")
    print("\nYears 1-3 (KMS key rotations; the what-if's other quantities do not change with age):")
    print()
    print(whatif.render_years(rows, tiers))
    key_choice = whatif.render_key_choice(rows, tiers)
    if key_choice:
        print(f"\n{key_choice}")
    if args.standby:
        print(
            "\nDisaster recovery (seed 7.1: a standby in a second region 'adds ~40%'), without "
            f"and with a warm standby in {whatif.RECOVERY_REGION} covering the production-tier "
            "restaurants:"
        )
        print()
        print(whatif.render_standby(rows, tiers))
        print("\nWhat the standby adds, by component:")
        print(whatif.render_standby_components(rows, tiers))
    alternatives = whatif.render_alternatives(rows, tiers)
    if alternatives:
        print(f"\n{alternatives}")
    syntheses = len(rows) * len(tiers) * (2 if args.standby else 1) + (len(rows) if mix else 0)
    noun = "environment" if syntheses == 1 else "environments"
    print(f"\nWhat-if took {elapsed:.1f} s ({syntheses} synthesized {noun}).")
    reports = [r for row in rows for r in (*row.reports.values(), *row.standby.values())]
    unpriced = {n.resource_type for r in reports for n in r.unpriced}
    if unpriced:
        print(f"Unpriced resource types (not in the totals): {', '.join(sorted(unpriced))}")
    if args.plot is not None:
        print(f"Chart written to {args.plot}")
    return 0


def _reproduce(args: argparse.Namespace) -> int:
    results = seed.reproduce("seed")
    current: dict[tuple[str, int], reports.CostReport] = {}
    if not args.no_templates:
        for tier in whatif.TIERS:
            counts = sorted({r.table.tenants for r in results if r.table.tier == tier})
            for row in whatif.run(counts, [tier], prices=args.prices, usage_path=args.usage):
                current[(tier, row.tenants)] = row.reports[tier]
    if args.json:
        _print_json(seed.reproduction_json(results, current or None))
    else:
        print(seed.render_reproduction(results, current or None))
    return 0


def main(args: argparse.Namespace) -> int:
    try:
        args.year = _year(args.year)
        if args.reproduce_seed:
            return _reproduce(args)
        if args.what_if:
            return _what_if(args)
        return _estimate(args)
    except CostInputError as exc:
        print(f"ops cost: error: {exc}", file=sys.stderr)
        return 2
