"""How long does `ops plan` take? Prints numbers for the example config and for N tenants.

    .venv/bin/python bench/plan_bench.py            # example config and 100 tenants
    .venv/bin/python bench/plan_bench.py --tenants 25

Synthesis is timed separately: a plan of two existing assemblies only reads templates, so the
synth (which a pull request needs anyway) dominates.
"""

from __future__ import annotations

import argparse
import os
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(PROJECT_DIR))
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")

import aws_cdk as cdk  # noqa: E402

from app import build_app, project_context  # noqa: E402
from config.generated import generated_environment  # noqa: E402
from config.loader import load_environments  # noqa: E402
from config.schema import EnvironmentConfig  # noqa: E402
from ops.assembly import read_assembly  # noqa: E402
from ops.planning.planner import plan_assemblies  # noqa: E402


def timed(label: str, action: Callable[[], Any]) -> Any:
    start = time.perf_counter()
    result = action()
    print(f"  {label:<52} {time.perf_counter() - start:8.2f} s")
    return result


def synth(environments: list[EnvironmentConfig], outdir: Path) -> Path:
    app = cdk.App(context=project_context(), outdir=str(outdir))
    build_app(environments=environments, nag_packs=(), app=app)
    app.synth()
    return outdir


def promote_some(environment: EnvironmentConfig, count: int) -> EnvironmentConfig:
    data = environment.model_dump(mode="json", exclude_none=True)
    promoted = 0
    for restaurant in data["restaurants"]:
        if restaurant["tier"] == "poc" and promoted < count:
            restaurant["tier"] = "production"
            restaurant.pop("multi_az", None)
            promoted += 1
    return EnvironmentConfig.model_validate(data)


def bench(name: str, environments: list[EnvironmentConfig], work: Path) -> None:
    tenants = sum(len(e.restaurants) for e in environments)
    stacks = tenants + len(environments)
    print(f"{name}: {len(environments)} environment(s), {tenants} tenants, {stacks} stacks")
    base = timed("synthesize base (nag off)", lambda: synth(environments, work / f"{name}-a"))
    changed = [promote_some(e, 3) for e in environments]
    head = timed(
        "synthesize head (3 PoC promoted per env)", lambda: synth(changed, work / f"{name}-b")
    )
    a = timed("read both assemblies", lambda: (read_assembly(base), read_assembly(head)))
    plan = timed("plan identical assemblies", lambda: plan_assemblies(a[0], a[0]))
    assert not plan.changed
    plan = timed("plan with changes", lambda: plan_assemblies(a[0], a[1]))
    print(f"  -> {len(plan.changed)} stack(s) changed, blocked={plan.blocked}")
    command = [sys.executable, "-m", "ops", "plan", "--base", str(base), "--head", str(head)]
    timed(
        "`python -m ops plan --base DIR --head DIR` (process)",
        lambda: subprocess.run([*command, "--no-cost"], cwd=PROJECT_DIR, capture_output=True),
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--tenants", type=int, default=100)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="plan-bench-") as tmp:
        work = Path(tmp)
        bench("example config", load_environments(), work)
        generated = generated_environment(
            "bench", args.tenants, tier_mix={"poc": 0.5, "production": 0.5}
        )
        bench(f"generated {args.tenants}", [generated], work)
    return 0


if __name__ == "__main__":
    sys.exit(main())
