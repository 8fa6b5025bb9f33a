"""`python -m ops preflight --scale-doc`: the per-restaurant quota table of docs/scale.md, fitted
from preflight's own counts of synthesized environments; no rate is kept by hand.

Four generated production-profile environments are synthesized in process (no nag packs, no
built-in template validation: neither changes a template), the platform pinned to one capacity
band so that only the restaurants vary: 1 and 10 restaurants all of the production tier, 1 and
10 all of the PoC tier. For every check, preflight's worst value over its subjects (an account
and Region, an account, a VPC, a subnet...) is fitted as

    value = platform + per_production * production restaurants + per_poc * PoC restaurants

and the fit is then verified against a 100-restaurant environment of the documented mix (60%
production tier): every prediction must equal preflight's count exactly, or the command fails.
From the fit: the restaurant at which each default quota is passed, and the one at which the
most AWS grants (a hard limit, or a quota's published maximum, e.g. 5,000 IAM roles) is passed:
the first of those is the design's hard ceiling for one account and Region.
"""

from __future__ import annotations

import argparse
import math
import sys
import tempfile
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from pathlib import Path
from typing import Any

from ops.assembly import StackArtifact, read_assembly
from ops.limits.preflight import CHECKS, Check, EnvironmentView, environment_stacks
from ops.output import write_or_check

PROJECT_DIR = Path(__file__).resolve().parents[2]
DEFAULT_OUTPUT = PROJECT_DIR / "docs" / "scale.md"
BEGIN = "<!-- BEGIN GENERATED: python -m ops preflight --scale-doc -->"
END = "<!-- END GENERATED: python -m ops preflight --scale-doc -->"

SAMPLE_SIZES = (1, 10)
VERIFY_SIZE = 100
MIX = {"production": Fraction(3, 5), "poc": Fraction(2, 5)}
APP_CAPACITY = {"capacity_tenants": 100}  # the platform pinned to one band
# (environment name, tier mix, restaurants)
# Names of one length, so that per-stack sizes (template bytes, policy characters) compare.
SAMPLES = {
    f"{prefix}{suffix}": ({tier: 1.0}, size)
    for prefix, tier in (("prd", "production"), ("poc", "poc"))
    for suffix, size in zip("ab", SAMPLE_SIZES, strict=True)
}
VERIFY = "mixc"
# One check's measurements in one environment: {subject: (value, limit)}, where the subject's
# stack names say `<env>` instead of the environment's name, so they match across samples.
Counts = dict[str, dict[str, tuple[int, int | None]]]


class ModelError(RuntimeError):
    """The counts are not linear in the restaurants: the table would be wrong."""


@dataclass(frozen=True)
class Row:
    """One check's fit for its subject that passes its limit first: the platform's value and
    what each restaurant adds."""

    check: Check
    subject: str
    limit: int
    ceiling: int | None
    platform: Fraction
    per_production: Fraction
    per_poc: Fraction

    @property
    def per_restaurant(self) -> Fraction:
        """At the documented mix (60% production tier)."""
        return self.per_production * MIX["production"] + self.per_poc * MIX["poc"]

    def predict(self, production: int, poc: int) -> Fraction:
        return self.platform + self.per_production * production + self.per_poc * poc

    def reached_at(self, limit: int | None, slope: Fraction | None = None) -> int | None:
        """The first restaurant count whose value passes `limit` (None: never)."""
        slope = self.per_restaurant if slope is None else slope
        if limit is None or slope <= 0:
            return None
        return max(1, math.floor((limit - self.platform) / slope) + 1)


def sample_environments() -> list[Any]:
    from config.generated import generated_environment

    environments = [
        generated_environment(name, size, tier_mix=mix, app=APP_CAPACITY)
        for name, (mix, size) in SAMPLES.items()
    ]
    mix = {tier: float(share) for tier, share in MIX.items()}
    environments.append(generated_environment(VERIFY, VERIFY_SIZE, tier_mix=mix, app=APP_CAPACITY))
    return environments


def synthesize(outdir: Path) -> dict[str, Counts]:
    """Preflight's measurements for every sample environment, synthesized into `outdir`."""
    import aws_cdk as cdk

    from app import build_app, project_context

    app = cdk.App(
        context=project_context(), outdir=str(outdir), builtin_cloud_formation_validation=False
    )
    environments = sample_environments()
    build_app(environments=environments, nag_packs=(), app=app)
    app.synth()
    return measure(outdir)


def measure(outdir: Path) -> dict[str, Counts]:
    """Preflight's measurements for every sample environment of an assembly `synthesize` wrote."""
    stacks = read_assembly(outdir)
    return {e.name: counts(stacks, e.name) for e in sample_environments()}


def counts(stacks: Mapping[str, StackArtifact], environment: str) -> Counts:
    """Every check's measurements of one environment, by environment-neutral subject."""
    view = EnvironmentView(environment_stacks(dict(stacks), environment))
    marker = f"-{environment}-"
    found: Counts = {}
    for check in CHECKS:
        found[check.id] = {
            m.subject.replace(marker, "-<env>-"): (
                m.value,
                None if check.kind == "info" else (check.limit if m.limit is None else m.limit),
            )
            for m in check.measure(view)
        }
    return found


def fit(results: Mapping[str, Counts]) -> list[Row]:
    """One row per check: of the subjects measured in every sample, the one that passes its
    ceiling (else its default limit) first. Raises ModelError where the production and PoC
    samples disagree on the platform's share (the count is not linear)."""
    small, large = SAMPLE_SIZES
    names = {tier: (f"{tier}a", f"{tier}b") for tier in ("prd", "poc")}
    rows = []
    for check in CHECKS:
        candidates = []
        subjects = set.intersection(*(set(results[n][check.id]) for n in SAMPLES))
        for subject in sorted(subjects):

            def value(name: str, subject: str = subject, check_id: str = check.id) -> Fraction:
                return Fraction(results[name][check_id][subject][0])

            slopes = {
                tier: (value(b) - value(a)) / (large - small) for tier, (a, b) in names.items()
            }
            platform = value(names["prd"][0]) - slopes["prd"] * small
            poc_platform = value(names["poc"][0]) - slopes["poc"] * small
            if not any(slopes.values()):  # a fixed subject (a stack, a policy): its largest
                platform = max(platform, poc_platform)
            elif poc_platform != platform:
                raise ModelError(
                    f"{check.id} {subject}: the production and PoC samples disagree on the "
                    "platform's share"
                )
            limit = results[names["prd"][0]][check.id][subject][1]
            ceiling = limit if check.kind == "hard" else check.maximum
            candidates.append(
                Row(check, subject, limit or 0, ceiling, platform, slopes["prd"], slopes["poc"])
            )
        if candidates:
            rows.append(min(candidates, key=_urgency))
    return rows


def _urgency(row: Row) -> tuple[int, int, str]:
    """Sort key: the subject whose ceiling (then default limit) is passed first; growing ones
    before fixed ones."""
    never = 10**12
    return (
        row.reached_at(row.ceiling) or never,
        row.reached_at(row.limit) or never,
        row.subject,
    )


def verify(rows: list[Row], results: Counts) -> list[str]:
    """Every row's prediction at the verification size against preflight's count."""
    production = round(VERIFY_SIZE * MIX["production"])
    poc = VERIFY_SIZE - production
    wrong = []
    for row in rows:
        predicted = row.predict(production, poc)
        measured = results[row.check.id].get(row.subject, (None, None))[0]
        if measured is not None and row not in growing([row]) and measured <= predicted:
            continue  # a fixed subject: at most its largest sample
        if predicted != measured:
            wrong.append(
                f"{row.check.id} {row.subject}: predicted {float(predicted):g}, counted {measured}"
            )
    return wrong


def growing(rows: list[Row]) -> list[Row]:
    return [row for row in rows if row.per_production > 0 or row.per_poc > 0]


def first_ceiling(rows: list[Row], *, all_production: bool = False) -> tuple[Row, int]:
    """The growing check whose hard ceiling comes first, and the restaurant that passes it."""
    reached = [
        (row.reached_at(row.ceiling, row.per_production if all_production else None), row)
        for row in growing(rows)
    ]
    at, row = min((n, r) for n, r in reached if n is not None)  # type: ignore[type-var]
    return row, at


def _number(value: Fraction) -> str:
    if value.denominator == 1:
        return f"{value.numerator:,}"
    return f"{float(value):,.2f}".rstrip("0").rstrip(".")


def _at(value: int | None) -> str:
    return "never" if value is None else f"#{value:,}"


def render_markdown(rows: list[Row]) -> str:
    share = int(MIX["production"] * 100)
    lines = [
        BEGIN,
        "",
        f"Counted by preflight in synthesized generated environments (1 and {SAMPLE_SIZES[1]} "
        "restaurants of each tier, platform pinned at `capacity_tenants: 100`) and fitted per "
        f"restaurant; verified exactly at {VERIFY_SIZE} restaurants ({share}% production tier). "
        f"*per restaurant* and *reached at* are for that {share}/{100 - share} mix; the ceiling "
        "is a hard limit or the most AWS grants on request.",
        "",
        "| quota (scope) | kind | default | ceiling | platform | per production restaurant "
        "| per PoC restaurant | per restaurant | default passed at | ceiling passed at |",
        "| --- | --- | ---: | ---: | ---: | ---: | ---: | ---: | ---: | ---: |",
    ]
    for row in growing(rows):
        check = row.check
        name = check.quota or check.title
        if check.scope in ("per subnet", "per DB subnet group"):
            name += f" ({row.subject.split('/')[-1]})"
        default = "-" if check.kind == "info" else f"{row.limit:,}"
        ceiling = "-" if row.ceiling is None else f"{row.ceiling:,}"
        passed = "-" if check.kind == "info" else _at(row.reached_at(row.limit))
        lines.append(
            f"| {name} ({check.scope}) | {check.kind} | {default} | {ceiling} | "
            f"{_number(row.platform)} | {_number(row.per_production)} | "
            f"{_number(row.per_poc)} | {_number(row.per_restaurant)} | {passed} | "
            f"{_at(row.reached_at(row.ceiling))} |"
        )
    fixed = sorted({row.check.title for row in rows if row not in growing(rows)})
    row, at = first_ceiling(rows)
    production_row, production_at = first_ceiling(rows, all_production=True)
    ceilings = sorted(
        (n, r.check.quota or r.check.title)
        for r in growing(rows)
        if (n := r.reached_at(r.ceiling)) is not None
    )
    lines += [
        "",
        f"Not growing with the restaurants (checked all the same): {', '.join(fixed)}.",
        "",
        f"**First hard ceiling of one account and Region with this design: restaurant "
        f"#{at:,}**, {row.check.quota or row.check.title} ({row.check.scope}: "
        f"{row.ceiling:,} at most; {_number(row.per_restaurant)} per restaurant). With every "
        f"restaurant in the production tier: #{production_at:,} "
        f"({production_row.check.quota or production_row.check.title}). All ceilings in order: "
        + "; ".join(f"{name} #{n:,}" for n, name in ceilings)
        + ".",
        "",
        END,
    ]
    return "\n".join(lines)


def splice(document: str, generated: str) -> str:
    if BEGIN not in document or END not in document:
        raise ModelError(f"no {BEGIN} ... {END} markers in the document")
    head, rest = document.split(BEGIN, 1)
    _, tail = rest.split(END, 1)
    return head + generated + tail


def build(outdir: Path | None = None) -> tuple[list[Row], list[str]]:
    """Synthesize, fit and verify: (rows, verification failures)."""
    with tempfile.TemporaryDirectory(prefix="chefs-kiss-scale-") as scratch:
        results = synthesize(outdir or Path(scratch))
    rows = fit(results)
    return rows, verify(rows, results[VERIFY])


def run(args: argparse.Namespace) -> int:
    output = Path(args.output) if args.output else DEFAULT_OUTPUT
    try:
        rows, wrong = build()
        if wrong:
            raise ModelError(
                "the fit does not predict the 100-restaurant count: " + "; ".join(wrong)
            )
        current = output.read_text(encoding="utf-8")
        updated = splice(current, render_markdown(rows))
    except (ModelError, OSError) as exc:
        print(f"preflight --scale-doc: {exc}", file=sys.stderr)
        return 2
    stale = (
        f"{output}: the quota table is out of date; run `python -m ops preflight --scale-doc` "
        "and commit the result"
    )
    return write_or_check(
        output,
        updated,
        current,
        check=args.check,
        stale=stale,
        fresh=f"{output}: the quota table is up to date",
        written=f"updated {output}",
        unchanged=f"{output}: unchanged",
    )
