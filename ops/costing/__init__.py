"""The cost model behind `python -m ops cost`: templates -> bill of quantities -> priced report.

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
