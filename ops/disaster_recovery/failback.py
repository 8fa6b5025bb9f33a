"""`python -m ops failback --env ENV (--restaurant SLUG ... | --all) [--execute] [--write]
[--json]`: the planned switchover back to the primary region after `ops failover`.

It starts where docs/disaster-recovery.md ("Failback", steps 1-3) leaves off: the old primaries
are fenced and kept, and each failed-over restaurant has a new read replica in the primary
region, `chefs-kiss-<env>-<slug>`, of its promoted standby. Without --execute it prints the
plan and calls no AWS API. With --execute:

  1. ready      each new replica exists in the primary region, is available, replicates from
                the standby's ARN, and its lag is within the RPO (60 s)
  2. fence      stop writes in the recovery region: the standby app service to 0 tasks (its
                autoscaling minimum to 0 first) - the maintenance window starts here
  3. caught_up  wait until each replica reports ReplicaLag 0 after the fence: nothing written
                in the recovery region is left behind
  4. promote    promote the replicas in the primary region (parallel, bounded)
  5. writable   wait until each accepts writes
  6. scale      the primary app service to the count the standby ran (else the profile's)
  7. dns        each restaurant's failover health check follows the primary again
                (HealthThreshold 1, what the template renders outside `failed_over`) and is
                healthy: Route 53 answers the PRIMARY record - the window ends here
  8. probe      the primary region's post-deploy probe for these restaurants

The standby serves every failed-over restaurant, so the selection must include all of
`disaster_recovery.failed_over` (stopping it stops them all). Re-running is safe: promoted
replicas are skipped, a stopped service stays stopped, a restored check stays restored.

`--write` (with --execute) removes the restaurants from `disaster_recovery.failed_over`. Then
deploy each tenant stack (its check's threshold is 1 in the template again) and rebuild each
standby stack with `cdk destroy` + `cdk deploy` (the standby's database is now the diverged one,
and making it a replica again is a replacement `ops plan` refuses for a named database).

Exit codes: 0 done (or the plan), 1 a step failed (the timeline says which), 2 bad input.
"""

from __future__ import annotations

import argparse
import io
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from config.rules import partition_of
from config.schema import EnvironmentConfig
from ops.cli import add_command, add_env
from ops.disaster_recovery import failover as fo
from ops.lifecycle import config_change as cc
from ops.output import print_result
from stacks import naming

STEPS = (
    fo.StepInfo("ready", "Check each new replica in the primary region is ready", "~10 s"),
    fo.StepInfo("fence", "Stop writes in the recovery region (standby app to 0)", "1-2 min"),
    fo.StepInfo("caught_up", "Wait for ReplicaLag 0 after the fence", "1-2 min (1-min metric)"),
    fo.StepInfo("promote", "Promote the replicas in the primary region", "~5 s to start each"),
    fo.StepInfo("writable", "Wait until every promoted database accepts writes", "3-10 min"),
    fo.StepInfo("scale", "Scale the primary app service", "1-3 min"),
    fo.StepInfo("dns", "Point DNS back at the primary", "1.5-3 min (checks, then the TTL)"),
    fo.StepInfo("probe", "Run the post-deploy probe in the primary region", "~30 s"),
)


def select(environment: EnvironmentConfig, slugs: Sequence[str], everything: bool) -> list[str]:
    chosen = fo.select(environment, slugs, everything)
    assert environment.disaster_recovery is not None
    if everything:
        chosen = [s for s in chosen if s in environment.disaster_recovery.failed_over] or chosen
    missing = [s for s in environment.disaster_recovery.failed_over if s not in chosen]
    if missing:
        raise fo.FailoverInputError(
            f"the standby serves every failed-over restaurant and stopping it stops them all: "
            f"fail back {', '.join(missing)} too (--all)"
        )
    return chosen


def plan(environment: EnvironmentConfig, slugs: Sequence[str], *, parallel: int) -> dict[str, Any]:
    assert environment.disaster_recovery is not None
    env, recovery = environment.name, environment.disaster_recovery.region
    account = environment.account or "<account>"
    partition = partition_of(environment.region)
    details = {
        "ready": f"RDS describe_db_instances in {environment.region}: a replica of the "
        f"standby's ARN in {recovery}; CloudWatch ReplicaLag within 60 s",
        "fence": f"{naming.dr_platform_stack_name(env)}'s app service to 0 (autoscaling "
        "minimum 0 first); wait until no task runs",
        "caught_up": "poll CloudWatch ReplicaLag until a value after the fence is 0",
        "promote": f"promote_read_replica in {environment.region}, at most {parallel} at a time",
        "writable": "poll until status available and no ReadReplicaSourceDBInstanceIdentifier",
        "scale": f"{naming.platform_stack_name(env)}'s app service to the count the standby "
        "ran before the fence (else the profile's maximum from config)",
        "dns": "update_health_check(HealthThreshold=1) on each restaurant's failover check, "
        "then confirm Route 53 sees it healthy (the PRIMARY record answers)",
        "probe": f"Lambda invoke of {naming.app_probe_function_name(env)} in "
        f"{environment.region} for these restaurants",
    }
    return {
        "environment": env,
        "primary_region": environment.region,
        "recovery_region": recovery,
        "restaurants": [
            {
                "slug": slug,
                "db_instance": naming.db_instance_identifier(env, slug),
                "expected_source": naming.db_instance_arn(
                    partition=partition,
                    region=recovery,
                    account=account,
                    identifier=naming.db_instance_identifier(env, slug),
                ),
            }
            for slug in slugs
        ],
        "steps": [
            {"step": s.key, "title": s.title, "usually": s.usual, "detail": details[s.key]}
            for s in STEPS
        ],
        "before": "docs/disaster-recovery.md, Failback 1-3: fence and snapshot the old "
        "primaries, then a new replica of each standby in the primary region",
    }


def render_plan(data: dict[str, Any], *, rerun: str) -> str:
    lines = [
        f"Failback plan for {data['environment']}: {data['recovery_region']} -> "
        f"{data['primary_region']} (a planned switchover)",
        f"Before: {data['before']}.",
        "",
        "Restaurants:",
    ]
    for r in data["restaurants"]:
        lines.append(f"  {r['slug']}: {r['db_instance']}, a replica of {r['expected_source']}")
    lines += ["", "Steps (in order; usual duration):"]
    for number, step in enumerate(data["steps"], start=1):
        lines.append(f"  {number}. {step['title']:<52} {step['usually']}")
        lines.append(f"     {step['detail']}")
    lines += ["", f"Run it: {rerun}"]
    return "\n".join(lines)


class Failback(fo.Failover):
    """The switchover back, over an `AwsWorld(failback=True)`: the replica to promote is in the
    primary region and replicates from the promoted standby."""

    def __init__(self, *args: Any, **kw: Any):
        super().__init__(*args, planned=True, **kw)
        self.step_info = STEPS
        self.outcome.direction = "failback"

    def run(self) -> fo.Outcome:
        self._start = self.clock.monotonic()
        ready = self._step("ready", self._ready)
        if not ready.ok:  # a switchover moves every restaurant or none
            return self.outcome
        if not self._fenced_and_caught_up():
            return self.outcome
        return self._promote_and_serve(self.slugs, scale=self._scale_primary, dns=self._restore_dns)

    def _scale_primary(self) -> tuple[bool, str, list[dict[str, Any]]]:
        primary = self.world.app_service(standby=False)
        target, source = self._writer_count, "the count the standby ran before the fence"
        if target < 1:
            target, source = self.world.config_task_count(whole_environment=True)
        action = self._raise_to(primary, target)
        return True, f"{primary.name} in {primary.region}: {action}; target from {source}", []

    def _restore_dns(self, slugs: Sequence[str]) -> tuple[bool, str, list[dict[str, Any]]]:
        from ops.disaster_recovery.aws import describe_error

        items: list[dict[str, Any]] = []
        for slug in slugs:
            check_id, where = self._health_check_id(slug)
            if check_id is None:
                items.append({"slug": slug, "ok": False, "detail": where})
                continue
            try:
                state = self.world.health_check(check_id)
                change = ""
                if not state.considered_healthy:
                    change = self.world.restore_following(state)
                    state = self.world.health_check(check_id)
            except Exception as exc:
                items.append(
                    {"slug": slug, "ok": False, "detail": self._route53_down(describe_error(exc))}
                )
                continue
            ok = state.considered_healthy
            done = f"restored ({change}): " if change else ""
            answer = "the primary (PRIMARY)" if ok else "still the standby: is the primary up?"
            items.append(
                {
                    "slug": slug,
                    "ok": ok,
                    "detail": f"{done}{state.describe()}: Route 53 answers {answer} ({where})",
                }
            )
        good = sum(bool(i["ok"]) for i in items)
        return good == len(items), f"{good}/{len(items)} answer the primary", items


def removed_text(text: str, slugs: Sequence[str], path: Path) -> str:
    """The YAML text with `slugs` removed from disaster_recovery.failed_over."""
    yaml = cc._yaml()
    data = yaml.load(text)
    section = data.get("disaster_recovery") or {}
    current = section.get("failed_over")
    if not current or not any(s in current for s in slugs):
        return text
    for slug in slugs:
        while slug in current:
            current.remove(slug)
    if not current:
        del section["failed_over"]
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def write_failed_back(path: Path, slugs: Sequence[str]) -> str:
    """Remove `slugs` from the file's failed_over, as failover writes it; returns the diff."""
    return fo.write_edit(path, lambda text: removed_text(text, slugs, path))


def run(
    args: argparse.Namespace,
    *,
    clients: Any = None,
    probe_invoker: Any = None,
    clock: fo.Clock | None = None,
) -> int:
    try:
        path, environment = fo.load_environment(args.env, args.config_dir)
        slugs = select(environment, args.restaurant or [], args.all)
        if args.write and not args.execute:
            raise fo.FailoverInputError("--write records a failback that happened: add --execute")
        if args.write:
            fo.check_writable(path)
    except (fo.FailoverInputError, cc.ChangeError) as exc:
        print(f"ops failback: {exc}", file=sys.stderr)
        return fo.EXIT_INPUT
    rerun = fo._rerun(args, execute=True, command="failback")
    if not args.execute:
        data = plan(environment, slugs, parallel=args.parallel)
        print_result(
            args.json,
            lambda: {"executed": False, "plan": data},
            lambda: render_plan(data, rerun=rerun),
        )
        return fo.EXIT_OK

    from ops.disaster_recovery.aws import AwsClients, AwsWorld

    clock = clock or fo.Clock()
    world = AwsWorld(environment, clients or AwsClients(), now=clock.now, failback=True)
    failback = Failback.from_args(
        args, environment, slugs, world, probe_invoker=probe_invoker, clock=clock
    )
    outcome = failback.run()
    if args.write and outcome.ok:
        outcome.record(
            lambda: write_failed_back(path, outcome.failed_over),
            changed=f"{cc.shown(path)}: disaster_recovery.failed_over -= {outcome.failed_over}; "
            "now deploy each tenant stack and rebuild each standby stack (cdk destroy, cdk deploy)",
            unchanged=f"{cc.shown(path)}: failed_over already without {outcome.failed_over}",
            rerun=rerun,
        )

    def report() -> dict[str, Any]:
        report = {"executed": True, **outcome.to_dict()}
        report["failed_back"] = report.pop("failed_over")
        return report

    print_result(args.json, report, lambda: fo.render_outcome(outcome))
    return outcome.exit_code


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_command(
        subparsers,
        "failback",
        "switch failed-over restaurants back to the primary region (plan by default)",
        __doc__,
    )
    add_env(parser)
    parser.add_argument(
        "--restaurant", action="append", metavar="SLUG", help="a restaurant to fail back (repeat)"
    )
    parser.add_argument("--all", action="store_true", help="every failed-over restaurant")
    parser.add_argument("--execute", action="store_true", help="run it (default: the plan)")
    parser.add_argument(
        "--write",
        action="store_true",
        help="with --execute: remove the restaurants from failed_over in the environment file",
    )
    fo.add_promotion_options(parser, wait_help=argparse.SUPPRESS)
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--config-dir", type=Path, help=argparse.SUPPRESS)
    parser.set_defaults(func=run)
