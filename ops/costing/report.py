"""Priced reports: `estimate()` for one environment of an assembly, `diff()` between two.

These are the library entry points other tools call (`ops plan` / `ops promote` show "monthly
cost difference" with `diff`). Money is `Decimal`, each line rounded to the cent (half up) the
way the seed's tables and AWS bills show it, and totals are sums of the rounded lines.
"""

from __future__ import annotations

import re
import textwrap
from collections import defaultdict
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path
from typing import Any, TypedDict, Unpack

from ops.assembly import AssemblyError, read_assembly
from ops.costing import bill
from ops.costing.tables import CostInputError, PriceTable, Usage, load_prices, load_usage
from stacks import naming

CENT = Decimal("0.01")
PROFILE_PATTERN = re.compile(r"\((?P<profile>[a-z]+) profile\)")

# Free tiers are per account: they are credited once, on the shared (platform) stack.
FREE_TIERS = (
    ("cloudwatch.alarm_metric_month", "cloudwatch.free_alarms", "alarm metrics"),
    ("cloudwatch.metric_month", "cloudwatch.free_metrics", "custom metrics"),
    ("cloudwatch.dashboard_month", "cloudwatch.free_dashboards", "dashboards"),
    ("logs.ingest_gb", "logs.free_gb", "GB of log ingestion"),
    ("route53.health_check_aws_month", "route53.free_aws_health_checks", "basic health checks"),
)
FREE_TIER_COMPONENT = {"route53.health_check_aws_month": bill.DNS}


# The stacks the cost model prices, by kind (stacks/naming.py parses the names).
PRICED_KINDS = (naming.PLATFORM, naming.TENANT, naming.DR_PLATFORM, naming.STANDBY)


def _kind(name: str) -> str | None:
    parsed = naming.parse_stack_name(name)
    return parsed.kind if parsed else None


def is_standby_stack(name: str) -> bool:
    """A stack of the recovery region (seed 7.1): chefs-kiss-<env>-dr-platform / -dr-tenant-*."""
    return _kind(name) in (naming.DR_PLATFORM, naming.STANDBY)


def is_tenant_stack(name: str) -> bool:
    """A restaurant's primary stack (its standby, if any, is not a second tenant)."""
    return _kind(name) == naming.TENANT


def is_platform_stack(name: str) -> bool:
    """The platform of either region (the recovery region's standby platform too)."""
    return _kind(name) in (naming.PLATFORM, naming.DR_PLATFORM)


def _environment(name: str) -> str | None:
    """The environment of one of the priced stacks; None for any other stack."""
    parsed = naming.parse_stack_name(name)
    return parsed.environment if parsed and parsed.kind in PRICED_KINDS else None


def money(value: Decimal) -> Decimal:
    return value.quantize(CENT, rounding=ROUND_HALF_UP)


@dataclass(frozen=True)
class CostLine:
    stack: str
    component: str
    resource: str
    resource_type: str
    item: str
    quantity: float
    unit: str
    unit_usd: Decimal
    price_key: str
    monthly_usd: Decimal
    note: str = ""
    source: str = ""

    def to_json(self) -> dict[str, Any]:
        return {
            "component": self.component,
            "resource": self.resource,
            "resource_type": self.resource_type,
            "item": self.item,
            "quantity": round(self.quantity, 6),
            "unit": self.unit,
            "unit_usd": float(self.unit_usd),
            "price_key": self.price_key,
            "monthly_usd": float(self.monthly_usd),
            "note": self.note,
            "price_source": self.source,
        }


@dataclass(frozen=True)
class Note:
    """A resource the model lists without a price: free (with why) or unpriced (with why)."""

    stack: str
    resource: str
    resource_type: str
    reason: str

    def to_json(self) -> dict[str, str]:
        return {
            "stack": self.stack,
            "resource": self.resource,
            "resource_type": self.resource_type,
            "reason": self.reason,
        }


@dataclass
class StackCost:
    name: str
    kind: str  # "platform" (shared), "tenant", or "standby" (recovery region, seed 7.1)
    lines: list[CostLine] = field(default_factory=list)
    unpriced: list[Note] = field(default_factory=list)
    free: list[Note] = field(default_factory=list)

    @property
    def monthly_usd(self) -> Decimal:
        return sum((line.monthly_usd for line in self.lines), Decimal(0))

    def by_component(self) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for line in self.lines:
            totals[line.component] += line.monthly_usd
        return dict(totals)

    def to_json(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "kind": self.kind,
            "monthly_usd": float(self.monthly_usd),
            "lines": [line.to_json() for line in self.lines],
            "unpriced": [note.to_json() for note in self.unpriced],
            "free": [note.to_json() for note in self.free],
        }


@dataclass
class CostReport:
    env: str
    profile: str
    prices: PriceTable
    tenants: int
    stacks: list[StackCost]
    commitments: tuple[str, ...] = ()
    arch_override: str | None = None
    key_age_years: float = 0.0  # age of the KMS keys: year N of the environment is N - 1

    @property
    def year(self) -> int:
        return int(self.key_age_years) + 1

    @property
    def total_monthly_usd(self) -> Decimal:
        return sum((s.monthly_usd for s in self.stacks), Decimal(0))

    @property
    def shared_monthly_usd(self) -> Decimal:
        return sum((s.monthly_usd for s in self.stacks if s.kind == "platform"), Decimal(0))

    @property
    def tenant_stacks_monthly_usd(self) -> Decimal:
        return sum((s.monthly_usd for s in self.stacks if s.kind == "tenant"), Decimal(0))

    @property
    def standby_monthly_usd(self) -> Decimal:
        """The recovery region's stacks (standby platform and standbys): seed 7.1's extra."""
        return sum((s.monthly_usd for s in self.stacks if s.kind == "standby"), Decimal(0))

    @property
    def standby_share(self) -> Decimal | None:
        """What the standby adds to the rest, as a fraction (the seed says ~0.40); None
        without a standby."""
        rest = self.total_monthly_usd - self.standby_monthly_usd
        if not any(s.kind == "standby" for s in self.stacks) or not rest:
            return None
        return self.standby_monthly_usd / rest

    @property
    def per_tenant_monthly_usd(self) -> Decimal | None:
        """All-in cost per tenant (shared share included), as the seed's tables state it."""
        return money(self.total_monthly_usd / self.tenants) if self.tenants else None

    @property
    def unpriced(self) -> list[Note]:
        return [note for s in self.stacks for note in s.unpriced]

    @property
    def lines(self) -> list[CostLine]:
        return [line for s in self.stacks for line in s.lines]

    def by_component(self) -> dict[str, Decimal]:
        totals: dict[str, Decimal] = defaultdict(Decimal)
        for line in self.lines:
            totals[line.component] += line.monthly_usd
        return {c: totals[c] for c in bill.COMPONENTS if c in totals}

    def to_json(self) -> dict[str, Any]:
        per_tenant = self.per_tenant_monthly_usd
        return {
            "env": self.env,
            "profile": self.profile,
            "prices": {"name": self.prices.name, "date": self.prices.date},
            "commitments": list(self.commitments),
            "year": self.year,
            "kms_key_age_years": self.key_age_years,
            "tenants": self.tenants,
            "total_monthly_usd": float(self.total_monthly_usd),
            "shared_monthly_usd": float(self.shared_monthly_usd),
            "tenant_stacks_monthly_usd": float(self.tenant_stacks_monthly_usd),
            "standby_monthly_usd": float(self.standby_monthly_usd),
            "standby_share": float(self.standby_share) if self.standby_share is not None else None,
            "per_tenant_monthly_usd": float(per_tenant) if per_tenant is not None else None,
            "by_component": {k: float(v) for k, v in self.by_component().items()},
            "stacks": [s.to_json() for s in self.stacks],
            "unpriced": [note.to_json() for note in self.unpriced],
        }


# --- building a report -------------------------------------------------------------------------


def environments_in(names: Iterable[str]) -> list[str]:
    found = {env for n in names if (env := _environment(n))}
    return sorted(found)


def select_environment(templates: Mapping[str, Mapping[str, Any]], env: str) -> dict[str, Any]:
    """The stacks of `env`, platform first; an error names the environments that exist."""
    selected = {name: template for name, template in templates.items() if _environment(name) == env}
    if not selected:
        known = ", ".join(environments_in(templates)) or "none"
        raise CostInputError(f"environment {env!r}: no chefs-kiss-{env}-* stacks (found: {known})")
    # Primary platform first (it carries environment-wide usage), the recovery region last.
    return dict(
        sorted(
            selected.items(),
            key=lambda item: (is_standby_stack(item[0]), not is_platform_stack(item[0])),
        )
    )


def detect_profile(templates: Mapping[str, Mapping[str, Any]]) -> str:
    """The platform stack's description says "(production profile)"; production otherwise."""
    for name, template in templates.items():
        if is_platform_stack(name):
            match = PROFILE_PATTERN.search(str(template.get("Description", "")))
            if match:
                return match.group("profile")
    return "production"


def _price_charge(prices: PriceTable, stack: str, charge: bill.Charge) -> CostLine | Note:
    price = prices.get(charge.price_key)
    key, note = charge.price_key, charge.note
    for fallback in charge.fallback_keys:
        if price is not None:
            break
        price, key = prices.get(fallback), fallback
        if price is not None:
            note = f"{note}; priced as {fallback}".lstrip("; ")
    if price is None:
        return Note(
            stack,
            charge.resource,
            charge.resource_type,
            f"{charge.item}: no price {charge.price_key!r} in the {prices.name!r} table",
        )
    unit_usd = price.usd * charge.factor
    monthly = money(Decimal(repr(float(charge.quantity))) * unit_usd)
    return CostLine(
        stack=stack,
        component=charge.component,
        resource=charge.resource,
        resource_type=charge.resource_type,
        item=charge.item,
        quantity=float(charge.quantity),
        unit=charge.unit,
        unit_usd=unit_usd,
        price_key=key,
        monthly_usd=monthly,
        note=note,
        source=price.source,
    )


def _eligible_keys(charges: Iterable[bill.Charge]) -> set[tuple[str, str, str]]:
    return {(c.resource, c.item, c.price_key) for c in charges if c.commitment_eligible}


def _credit_free_tiers(
    report_stacks: list[StackCost], prices: PriceTable, anchor: StackCost
) -> None:
    for price_key, free_key, label in FREE_TIERS:
        free = prices.number(free_key, 0)
        price = prices.get(price_key)
        if not free or price is None:
            continue
        used = sum(
            Decimal(repr(line.quantity))
            for s in report_stacks
            for line in s.lines
            if line.price_key == price_key
        )
        credit = min(free, used)
        if credit <= 0:
            continue
        anchor.lines.append(
            CostLine(
                stack=anchor.name,
                component=FREE_TIER_COMPONENT.get(price_key, bill.MONITORING),
                resource="(free tier)",
                resource_type="account",
                item=f"free tier: first {free.normalize():f} {label}",
                quantity=-float(credit),
                unit=price.unit,
                unit_usd=price.usd,
                price_key=price_key,
                monthly_usd=-money(credit * price.usd),
                note="per account and region; credited to the shared stack",
                source=prices.get(free_key).source if prices.get(free_key) else "",  # type: ignore[union-attr]
            )
        )


def _apply_commitments(
    stacks: list[StackCost], prices: PriceTable, commitments: Sequence[str], eligible: set
) -> None:
    for name in commitments:
        commitment = prices.commitments.get(name)
        if commitment is None:
            known = ", ".join(sorted(prices.commitments)) or "none"
            raise CostInputError(f"--commitment {name!r}: unknown (allowed: {known})")
        for stack in stacks:
            for line in list(stack.lines):
                if not line.price_key.startswith(commitment.applies_to):
                    continue
                if (line.resource, line.item, line.price_key) not in eligible:
                    continue
                stack.lines.append(
                    CostLine(
                        stack=stack.name,
                        component=line.component,
                        resource=line.resource,
                        resource_type=line.resource_type,
                        item=f"{name}: -{commitment.discount * 100:.1f}% on {line.item}",
                        quantity=line.quantity,
                        unit=line.unit,
                        unit_usd=-line.unit_usd * commitment.discount,
                        price_key=f"commitment.{name}",
                        monthly_usd=-money(line.monthly_usd * commitment.discount),
                        note="commitment discount",
                        source=commitment.source,
                    )
                )


def estimate_templates(
    templates: Mapping[str, Mapping[str, Any]],
    env: str,
    *,
    prices: str | Path | PriceTable = "current",
    usage_path: Path | None = None,
    profile: str | None = None,
    commitments: Sequence[str] = (),
    arch: str | None = None,
    year: int | None = None,
) -> CostReport:
    """Price the stacks of `env` among `templates` (stack name -> CloudFormation template).

    `year`: the environment's year of operation; it sets the age of its KMS keys (year N:
    N - 1 yearly rotations, of which AWS bills the first two). None: usage.yaml's
    `kms_key_age_years` (0, year 1).
    """
    selected = select_environment(templates, env)
    table = prices if isinstance(prices, PriceTable) else load_prices(prices)
    tenant_names = tuple(n for n in selected if is_tenant_stack(n))
    standby_names = tuple(n for n in selected if is_standby_stack(n))
    overrides = {"kms_key_age_years": float(check_year(year) - 1)} if year is not None else None
    usage: Usage = load_usage(
        profile or detect_profile(selected), len(tenant_names), usage_path, overrides
    )
    if arch not in (None, "arm64", "x86_64"):
        raise CostInputError(f"--arch {arch!r}: allowed: arm64, x86_64")
    anchor = next(iter(selected))
    environment = bill.Environment(
        name=env,
        templates=selected,
        tenant_stacks=tenant_names,
        anchor=anchor,
        usage=usage,
        prices=table,
        arch_override=arch,
        standby_stacks=standby_names,
    )
    stacks: list[StackCost] = []
    charges_by_stack: dict[str, list[bill.Finding]] = {}
    for name in selected:
        charges_by_stack[name] = bill.stack_findings(environment, name)
    charges_by_stack[anchor] = charges_by_stack[anchor] + bill.environment_findings(environment)
    eligible: set = set()
    for name, findings in charges_by_stack.items():
        kind = "tenant" if name in tenant_names else "platform"
        stack = StackCost(name, "standby" if name in standby_names else kind)
        charges = [f for f in findings if isinstance(f, bill.Charge)]
        eligible |= _eligible_keys(charges)
        for finding in findings:
            if isinstance(finding, bill.Charge):
                priced = _price_charge(table, name, finding)
                (stack.lines if isinstance(priced, CostLine) else stack.unpriced).append(priced)  # type: ignore[arg-type]
            else:
                note = Note(name, finding.resource, finding.resource_type, finding.reason)
                (stack.free if isinstance(finding, bill.Free) else stack.unpriced).append(note)
        stacks.append(stack)
    _credit_free_tiers(stacks, table, stacks[0])
    _apply_commitments(stacks, table, commitments, eligible)
    return CostReport(
        env=env,
        profile=usage.profile,
        prices=table,
        tenants=len(tenant_names),
        stacks=stacks,
        commitments=tuple(commitments),
        arch_override=arch,
        key_age_years=usage.get("kms_key_age_years"),
    )


MAX_YEAR = 10


def check_year(year: int) -> int:
    """`--year N`: an integer from 1 (keys new) to MAX_YEAR; an error says what is allowed."""
    if isinstance(year, bool) or not isinstance(year, int) or not 1 <= year <= MAX_YEAR:
        raise CostInputError(
            f"--year {year!r}: not a year of operation; allowed: an integer from 1 (the first "
            f"year: KMS keys not yet rotated) to {MAX_YEAR}"
        )
    return year


def read_templates(assembly_dir: Path) -> dict[str, dict[str, Any]]:
    """Templates of a synthesized assembly; a missing one says to run `make synth`."""
    assembly_dir = Path(assembly_dir)
    if not assembly_dir.is_dir():
        raise CostInputError(
            f"assembly {assembly_dir}: no such directory; run `make synth` (or pass --assembly DIR)"
        )
    try:
        return {name: dict(a.template) for name, a in read_assembly(assembly_dir).items()}
    except AssemblyError as exc:
        raise CostInputError(str(exc)) from None


class EstimateOptions(TypedDict, total=False):
    """estimate()'s keyword options: those of estimate_templates()."""

    usage_path: Path | None
    profile: str | None
    commitments: Sequence[str]
    arch: str | None
    year: int | None


def estimate(
    assembly_dir: Path | str,
    env: str,
    prices: str | Path | PriceTable = "current",
    **options: Unpack[EstimateOptions],
) -> CostReport:
    """Monthly cost of environment `env` as synthesized in `assembly_dir` (e.g. cdk.out)."""
    return estimate_templates(read_templates(Path(assembly_dir)), env, prices=prices, **options)


# --- diff --------------------------------------------------------------------------------------


@dataclass(frozen=True)
class StackDelta:
    name: str
    base_usd: Decimal | None  # None: the stack is new
    head_usd: Decimal | None  # None: the stack is removed

    @property
    def delta_usd(self) -> Decimal:
        return (self.head_usd or Decimal(0)) - (self.base_usd or Decimal(0))


@dataclass
class CostDiff:
    env: str
    base: CostReport
    head: CostReport
    stacks: list[StackDelta]

    @property
    def delta_monthly_usd(self) -> Decimal:
        return self.head.total_monthly_usd - self.base.total_monthly_usd

    def to_json(self) -> dict[str, Any]:
        return {
            "env": self.env,
            "base_monthly_usd": float(self.base.total_monthly_usd),
            "head_monthly_usd": float(self.head.total_monthly_usd),
            "delta_monthly_usd": float(self.delta_monthly_usd),
            "stacks": [
                {
                    "name": s.name,
                    "base_monthly_usd": float(s.base_usd) if s.base_usd is not None else None,
                    "head_monthly_usd": float(s.head_usd) if s.head_usd is not None else None,
                    "delta_monthly_usd": float(s.delta_usd),
                }
                for s in self.stacks
            ],
            "unpriced_added": [
                n.to_json() for n in self.head.unpriced if _note_key(n) not in _note_keys(self.base)
            ],
        }


def _note_key(note: Note) -> tuple[str, str, str]:
    return note.stack, note.resource, note.reason


def _note_keys(report: CostReport) -> set[tuple[str, str, str]]:
    return {_note_key(n) for n in report.unpriced}


def diff_reports(base: CostReport, head: CostReport) -> CostDiff:
    base_stacks = {s.name: s.monthly_usd for s in base.stacks}
    head_stacks = {s.name: s.monthly_usd for s in head.stacks}
    names = list(dict.fromkeys([*base_stacks, *head_stacks]))
    deltas = [StackDelta(n, base_stacks.get(n), head_stacks.get(n)) for n in names]
    return CostDiff(head.env, base, head, deltas)


def diff(
    base_dir: Path | str,
    head_dir: Path | str,
    env: str,
    prices: str | Path | PriceTable = "current",
    *,
    usage_path: Path | None = None,
    commitments: Sequence[str] = (),
    year: int | None = None,
) -> CostDiff:
    """Monthly cost difference of `env` between two synthesized assemblies (base -> head)."""
    table = prices if isinstance(prices, PriceTable) else load_prices(prices)
    kwargs: dict[str, Any] = {
        "prices": table,
        "usage_path": usage_path,
        "commitments": commitments,
        "year": year,
    }
    return diff_reports(estimate(base_dir, env, **kwargs), estimate(head_dir, env, **kwargs))


# --- rendering ---------------------------------------------------------------------------------


def usd(value: Decimal | float | None, *, sign: bool = False) -> str:
    if value is None:
        return "-"
    amount = Decimal(str(value))
    text = f"${abs(amount):,.2f}"
    if amount < 0:
        return f"-{text}"
    return f"+{text}" if sign and amount > 0 else text


def plural(count: int, noun: str) -> str:
    """`1 tenant`, `3 tenants`: counts in reports are often 1 (staging has one restaurant)."""
    return f"{count:,} {noun}" if count == 1 else f"{count:,} {noun}s"


def _wrap(text: str, width: int) -> list[str]:
    """Wrap at spaces only: a log group name or an ARN is never cut (it may overrun instead)."""
    return textwrap.wrap(text, width, break_long_words=False, break_on_hyphens=False) or [""]


def _priced_line_rows(line: CostLine, component_width: int, unit_width: int) -> list[str]:
    """One `--lines` row; a long component, item or unit wraps at words onto more rows."""
    component = _wrap(line.component, component_width)
    item = _wrap(line.item, 60)
    unit = _wrap(line.unit, unit_width)
    rows = [
        f"    {component[0]:<{component_width}} {item[0]:<60} "
        f"{line.quantity:>12,.2f} {unit[0]:<{unit_width}} {usd(line.monthly_usd):>10}"
    ]
    for i in range(1, max(len(component), len(item), len(unit))):
        more = [part[i] if i < len(part) else "" for part in (component, item, unit)]
        rows.append(f"    {more[0]:<{component_width}} {more[1]:<60} {'':>12} {more[2]}".rstrip())
    return rows


def render_report(report: CostReport, *, lines: bool = False) -> str:
    component_width = min(40, max((len(line.component) for line in report.lines), default=10))
    unit_width = min(24, max((len(line.unit) for line in report.lines), default=4))
    out = [
        f"Monthly cost of environment {report.env!r} ({report.profile} profile, "
        f"{plural(report.tenants, 'tenant')}, year {report.year}), {report.prices.name} prices "
        f"of {report.prices.date}"
        + (f", commitments: {', '.join(report.commitments)}" if report.commitments else ""),
        "",
        f"{'stack':<52} {'monthly':>12}",
    ]
    for stack in report.stacks:
        out.append(f"{stack.name:<52} {usd(stack.monthly_usd):>12}")
        if lines:
            for line in stack.lines:
                out += _priced_line_rows(line, component_width, unit_width)
    out += [
        "",
        f"{'by component':<52} {'monthly':>12}",
        *(f"{name:<52} {usd(value):>12}" for name, value in report.by_component().items()),
        "",
        f"{'shared (platform)':<52} {usd(report.shared_monthly_usd):>12}",
        f"{'tenant stacks':<52} {usd(report.tenant_stacks_monthly_usd):>12}",
        *(
            [
                f"{'standby (recovery region, seed 7.1)':<52} "
                f"{usd(report.standby_monthly_usd):>12}",
                f"{'  standby adds to the rest':<52} {report.standby_share * 100:>11.1f}%"
                "  (seed 7.1: ~40%)",
            ]
            if report.standby_share is not None
            else []
        ),
        f"{'TOTAL':<52} {usd(report.total_monthly_usd):>12}",
        f"{'per tenant (all-in)':<52} {usd(report.per_tenant_monthly_usd):>12}",
    ]
    if report.unpriced:
        out += ["", f"UNPRICED ({len(report.unpriced)}): not included in the totals above"]
        out += [
            f"  {n.stack} {n.resource} ({n.resource_type}): {n.reason}" for n in report.unpriced
        ]
    return "\n".join(out)


def line_changes(result: CostDiff) -> list[tuple[str, str, str, Decimal]]:
    """Per stack and line item, the monthly change; largest absolute change first."""
    totals: dict[tuple[str, str, str], Decimal] = defaultdict(Decimal)
    for sign, report in ((-1, result.base), (1, result.head)):
        for line in report.lines:
            totals[(line.stack, line.component, line.item)] += sign * line.monthly_usd
    changes = [(*key, amount) for key, amount in totals.items() if amount]
    return sorted(changes, key=lambda change: (-abs(change[3]), change[0], change[2]))


def render_diff_markdown(result: CostDiff, *, top: int = 10) -> str:
    """A pull-request comment: per stack base, head and change; new unpriced items."""
    delta = result.delta_monthly_usd
    out = [
        f"### Monthly cost: `{result.env}` {usd(delta, sign=True)} "
        f"({usd(result.base.total_monthly_usd)} -> {usd(result.head.total_monthly_usd)})",
        "",
        f"Prices: {result.head.prices.name} ({result.head.prices.date}); usage: config/usage.yaml.",
        "",
        "| stack | base | head | change |",
        "| --- | ---: | ---: | ---: |",
    ]
    for stack in result.stacks:
        if stack.delta_usd == 0 and stack.base_usd is not None and stack.head_usd is not None:
            continue
        label = stack.name + (" (new)" if stack.base_usd is None else "")
        label += " (removed)" if stack.head_usd is None else ""
        out.append(
            f"| `{label}` | {usd(stack.base_usd)} | {usd(stack.head_usd)} | "
            f"{usd(stack.delta_usd, sign=True)} |"
        )
    unchanged = sum(1 for s in result.stacks if s.delta_usd == 0 and s.base_usd and s.head_usd)
    out.append(
        f"| **total** ({plural(unchanged, 'stack')} unchanged) | "
        f"{usd(result.base.total_monthly_usd)} | {usd(result.head.total_monthly_usd)} | "
        f"**{usd(delta, sign=True)}** |"
    )
    per_base, per_head = result.base.per_tenant_monthly_usd, result.head.per_tenant_monthly_usd
    out += ["", f"Per tenant (all-in): {usd(per_base)} -> {usd(per_head)}."]
    changes = line_changes(result)
    if changes:
        out += ["", "What changed (largest first):", ""]
        out += [
            f"- `{stack}` {component}: {item} {usd(amount, sign=True)}"
            for stack, component, item, amount in changes[:top]
        ]
        if len(changes) > top:
            out.append(f"- ... and {len(changes) - top} more lines")
    new_unpriced = [n for n in result.head.unpriced if _note_key(n) not in _note_keys(result.base)]
    if new_unpriced:
        out += ["", "**Newly unpriced** (not in the totals):"]
        out += [f"- `{n.stack}` {n.resource} ({n.resource_type}): {n.reason}" for n in new_unpriced]
    return "\n".join(out)


# --- alternatives ------------------------------------------------------------------------------

# Interface endpoints a private Fargate app and rotation Lambdas need to run without a NAT
# gateway (S3 uses a free gateway endpoint).
ENDPOINT_SERVICES = ("ecr.api", "ecr.dkr", "logs", "secretsmanager", "ssm", "kms", "sts")


def nat_versus_endpoints(
    report: CostReport, services: Sequence[str] = ENDPOINT_SERVICES
) -> tuple[Decimal, Decimal | None]:
    """(monthly NAT cost incl. its Elastic IPs, the same traffic through interface endpoints).

    Endpoints sit in every AZ the app uses (the ALB's AZs); their data is priced at the
    endpoint rate. None when the price table has no endpoint price.
    """
    nat_ids = {line.resource for line in report.lines if line.price_key.startswith("nat.")}
    nat = sum(
        (
            line.monthly_usd
            for line in report.lines
            if line.price_key.startswith("nat.") or line.resource_type == "AWS::EC2::EIP"
        ),
        Decimal(0),
    )
    az_price, gb_price = report.prices.get("vpce.interface.az_hour"), report.prices.get("vpce.gb")
    if not nat_ids or az_price is None or gb_price is None:
        return nat, None
    ipv4 = [ln for ln in report.lines if ln.resource_type.endswith("LoadBalancer")]
    azs = max(
        (round(ln.quantity / float(report.prices.hours_per_month)) for ln in ipv4
         if ln.price_key == "ec2.public_ipv4_hour"),
        default=2,
    )  # fmt: skip
    gb = sum(Decimal(repr(ln.quantity)) for ln in report.lines if ln.price_key == "nat.gb")
    hours = report.prices.hours_per_month
    endpoints = money(len(services) * azs * hours * az_price.usd) + money(gb * gb_price.usd)
    return nat, endpoints


def kms_key_per_environment(report: CostReport) -> tuple[Decimal, Decimal, int]:
    """(monthly cost of the tenant stacks' own KMS keys, of one environment key for all tenant
    data instead, number of tenant keys), in the report's year (key age).

    Requests are the same either way (the same secrets are read, the same objects written), so
    only the key-months and their rotated versions differ.
    """
    # The primary region's restaurant keys; a standby's replica key is the recovery region's and
    # stays either way (a key is regional).
    tenant_kms = [
        ln
        for ln in report.lines
        if ln.resource_type == "AWS::KMS::Key" and is_tenant_stack(ln.stack)
    ]
    keys = len({(ln.stack, ln.resource) for ln in tenant_kms})
    own = sum((ln.monthly_usd for ln in tenant_kms), Decimal(0))
    key_price = report.prices.get("kms.key_month")
    rotated_price = report.prices.get("kms.rotated_version_month")
    if not keys or key_price is None:
        return own, own, keys
    rotations = int(report.key_age_years)  # yearly rotation
    billed = min(rotations, int(report.prices.number("kms.billed_rotations", 2)))
    shared = key_price.usd + (rotated_price.usd * billed if rotated_price else Decimal(0))
    return own, money(shared), keys
