"""The cost model behind `python -m ops cost`: templates -> bill of quantities -> priced report.

`cost` is the command; `bill` turns resources into quantities, `tables` reads prices
(ops/prices/*.json) and usage, `report` prices a bill, `whatif` and `seed` are the per-tenant
curve and the seed's tables. It may import `ops.assembly`, config/ and (what-if, to synthesize
in process) app.py; it must never import `ops.planning` or `ops.lifecycle`, which call it for the
cost line of a plan.

Library entry points (for `ops plan`, `ops promote` and friends):

    estimate(assembly_dir, env, prices="current") -> CostReport
    diff(base_dir, head_dir, env, prices="current") -> CostDiff
"""

from ops.costing.report import (
    CostDiff,
    CostLine,
    CostReport,
    StackCost,
    diff,
    estimate,
    estimate_templates,
)
from ops.costing.tables import CostInputError, load_prices, load_usage

__all__ = [
    "CostDiff",
    "CostInputError",
    "CostLine",
    "CostReport",
    "StackCost",
    "diff",
    "estimate",
    "estimate_templates",
    "load_prices",
    "load_usage",
]
