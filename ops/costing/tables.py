"""The two data files the cost model reads: a dated price table and the usage assumptions.

Prices live in `ops/prices/<name>.json` (one source note per price) and usage in
`config/usage.yaml`, so that a price change or a new assumption is a reviewable data change, not
a code change. Both loaders fail with the file, the field and what is allowed.
"""

from __future__ import annotations

import fnmatch
import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from pathlib import Path
from typing import Any

import yaml

PROJECT_DIR = Path(__file__).resolve().parents[2]
PRICES_DIR = PROJECT_DIR / "ops" / "prices"
DEFAULT_USAGE = PROJECT_DIR / "config" / "usage.yaml"


class CostInputError(ValueError):
    """A price table, usage file, assembly or option the cost model cannot use."""


@dataclass(frozen=True)
class Price:
    key: str
    usd: Decimal
    unit: str
    source: str


@dataclass(frozen=True)
class Commitment:
    name: str
    discount: Decimal
    applies_to: str  # price-key prefix
    source: str


@dataclass(frozen=True)
class PriceTable:
    name: str
    date: str
    region: str
    hours_per_month: Decimal
    prices: Mapping[str, Price]
    commitments: Mapping[str, Commitment] = field(default_factory=dict)
    path: Path | None = None

    def get(self, key: str) -> Price | None:
        return self.prices.get(key)

    def number(self, key: str, default: float | int = 0) -> Decimal:
        """A factor or allowance stored as a price (e.g. free tiers); `default` when absent."""
        price = self.prices.get(key)
        return price.usd if price is not None else Decimal(str(default))


def load_prices(name_or_path: str | Path) -> PriceTable:
    """`seed`, `current` or a path to a JSON file of the same shape."""
    path = Path(name_or_path)
    if not path.suffix:
        path = PRICES_DIR / f"{name_or_path}.json"
    if not path.is_file():
        known = ", ".join(sorted(p.stem for p in PRICES_DIR.glob("*.json")))
        raise CostInputError(f"price table {name_or_path!r}: no file {path} (known: {known})")
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except json.JSONDecodeError as exc:
        raise CostInputError(f"{path}: not valid JSON: {exc}") from None
    prices: dict[str, Price] = {}
    for key, entry in dict(data.get("prices", {})).items():
        if not isinstance(entry, dict) or "usd" not in entry or not entry.get("source"):
            raise CostInputError(f"{path}: prices.{key}: needs 'usd' and a 'source' note")
        try:
            usd = Decimal(str(entry["usd"]))
        except ArithmeticError:
            raise CostInputError(f"{path}: prices.{key}.usd: not a number") from None
        prices[key] = Price(key, usd, str(entry.get("unit", "")), str(entry["source"]))
    commitments = {
        name: Commitment(
            name=name,
            discount=Decimal(str(entry["discount"])),
            applies_to=str(entry["applies_to"]),
            source=str(entry.get("source", "")),
        )
        for name, entry in dict(data.get("commitments", {})).items()
    }
    for required in ("name", "date", "hours_per_month"):
        if required not in data:
            raise CostInputError(f"{path}: missing top-level field {required!r}")
    return PriceTable(
        name=str(data["name"]),
        date=str(data["date"]),
        region=str(data.get("region", "us-east-1")),
        hours_per_month=Decimal(str(data["hours_per_month"])),
        prices=prices,
        commitments=commitments,
        path=path,
    )


# --- usage -------------------------------------------------------------------------------------


def scaled(rule: Any, tenants: int, *, where: str = "usage") -> float:
    """Evaluate one usage rule (number, {per_tenant, base, min} or {points}) at `tenants`."""
    if isinstance(rule, bool):
        raise CostInputError(f"{where}: {rule!r} is not a quantity")
    if isinstance(rule, int | float):
        return float(rule)
    if not isinstance(rule, dict):
        raise CostInputError(
            f"{where}: {rule!r} is not a quantity; allowed: a number, "
            "{per_tenant: x, base: y, min: z} or {points: {tenants: value, ...}}"
        )
    if "points" in rule:
        try:
            points = sorted((int(k), float(v)) for k, v in dict(rule["points"]).items())
        except (TypeError, ValueError):
            raise CostInputError(
                f"{where}.points: keys must be tenant counts, values numbers"
            ) from None
        if not points:
            raise CostInputError(f"{where}.points: empty")
        return _interpolate(points, tenants)
    unknown = set(rule) - {"per_tenant", "base", "min"}
    if unknown:
        raise CostInputError(
            f"{where}: unknown keys {sorted(unknown)}; allowed: per_tenant, base, min, points"
        )
    value = float(rule.get("base", 0)) + float(rule.get("per_tenant", 0)) * tenants
    return max(value, float(rule.get("min", 0)))


def _interpolate(points: list[tuple[int, float]], x: int) -> float:
    """Piecewise linear through `points`, straight-line extrapolation at both ends."""
    if len(points) == 1:
        return points[0][1]
    if x <= points[0][0]:
        (x0, y0), (x1, y1) = points[0], points[1]
    elif x >= points[-1][0]:
        (x0, y0), (x1, y1) = points[-2], points[-1]
    else:
        for index in range(1, len(points)):
            if x <= points[index][0]:
                (x0, y0), (x1, y1) = points[index - 1], points[index]
                break
    value = y0 + (y1 - y0) * (x - x0) / (x1 - x0)
    return max(0.0, value)


@dataclass(frozen=True)
class Usage:
    """The usage file resolved for one profile and tenant count: `usage.get(name)` -> float."""

    profile: str
    tenants: int
    values: Mapping[str, Any]  # profile block merged over per_resource
    log_groups: tuple[Mapping[str, str], ...]
    buckets: tuple[Mapping[str, str], ...]
    path: Path

    def get(self, name: str) -> float:
        if name not in self.values:
            raise CostInputError(
                f"{self.path}: no quantity {name!r} for profile {self.profile!r} "
                "(add it under profiles.<profile> or per_resource)"
            )
        return scaled(self.values[name], self.tenants, where=f"{self.path}: {name}")

    def match(self, rules: tuple[Mapping[str, str], ...], name: str) -> Mapping[str, str] | None:
        for rule in rules:
            if fnmatch.fnmatchcase(name, rule["match"]):
                return rule
        return None


def load_usage(
    profile: str,
    tenants: int,
    path: Path | None = None,
    overrides: Mapping[str, float] | None = None,
) -> Usage:
    """The usage file for one profile and tenant count; `overrides` replace quantities (the
    CLI's `--year N` sets `kms_key_age_years`)."""
    path = path or DEFAULT_USAGE
    if not path.is_file():
        raise CostInputError(f"usage file {path}: not found")
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except yaml.YAMLError as exc:
        raise CostInputError(f"{path}: not valid YAML: {exc}") from None
    profiles = dict(data.get("profiles", {}))
    if profile not in profiles:
        raise CostInputError(
            f"{path}: profiles.{profile}: missing (known profiles: {', '.join(sorted(profiles))})"
        )
    values = {
        **dict(data.get("per_resource", {})),
        **dict(profiles[profile]),
        **dict(overrides or {}),
    }
    usage = Usage(
        profile=profile,
        tenants=tenants,
        values=values,
        log_groups=tuple(data.get("log_groups", ())),
        buckets=tuple(data.get("buckets", ())),
        path=path,
    )
    for name in values:  # fail at load time, not halfway through a report
        usage.get(name)
    for section, rules in (("log_groups", usage.log_groups), ("buckets", usage.buckets)):
        for index, rule in enumerate(rules):
            where = f"{path}: {section}[{index}]"
            per_record = section == "log_groups" and "records" in rule
            needed = ("match", "records", "record_bytes") if per_record else ("match", "usage")
            missing = [key for key in needed if key not in rule]
            if missing:
                raise CostInputError(
                    f"{where}: needs {', '.join(repr(k) for k in needed)} (missing "
                    f"{', '.join(repr(k) for k in missing)}); a log group takes either usage: "
                    "(GB a month) or records: and record_bytes: (one record per request)"
                )
            for key, name in rule.items():
                if key != "match" and name not in values:
                    raise CostInputError(
                        f"{where}.{key}: {name!r} is not a quantity in profiles.{profile} or "
                        "per_resource"
                    )
    return usage
