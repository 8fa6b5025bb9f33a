"""`python -m ops failover --env ENV (--restaurant SLUG ... | --all) [--execute] [--planned]
[--write] [--json]`: move restaurants to the environment's recovery region (seed 7.1).

Without --execute it prints the plan (each step, in order, with the time it usually takes) and
calls no AWS API. With --execute it runs the steps and prints the timeline:

  1. ready     each standby database exists, is available and is still a replica of the
               primary's ARN; its ReplicaLag (CloudWatch) is reported
  2. primary   refuse while the primary is healthy (its database answers `available` in the
               primary region and its Route 53 health check is healthy), unless --planned;
               with --planned every replica's lag must be within the RPO (60 s)
  3. promote   promote_read_replica, in parallel (at most --parallel at a time)
  4. writable  wait until each is `available` with no replication source: it accepts writes
  5. scale     the standby app service to the primary's desired count (read from the primary
               region when it answers, else the profile's task counts from config)
  6. dns       each restaurant's failover record answers the standby: the health check of its
               PRIMARY record is unhealthy, or it is made so where its checkers cannot see the
               failure (the app answers but its database is gone, or a planned switchover): a
               calculated check's HealthThreshold above its children, else Inverted=True
  7. probe     the standby's post-deploy probe (ops smoke --probe) for each restaurant
  8. timeline  each step's start and duration; their sum is the measured RTO

Re-running is safe: promoted databases are skipped, a scaled service is left alone, a forced
health check stays unhealthy. A standby that is not ready is reported and left out; the others
go on. `--write` (with --execute) then adds the restaurants whose database now accepts writes to
`disaster_recovery.failed_over` in config/environments/ENV.yaml, so the next deploy renders
their standby as the promoted primary it is instead of fighting it (docs/disaster-recovery.md).

Exit codes: 0 done (or the plan), 1 refused or a step failed (the timeline says which), 2 bad
input.
"""

from __future__ import annotations

import argparse
import io
import os
import sys
import tempfile
import time
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Self

from config.rules import partition_of
from config.schema import EnvironmentConfig
from ops.cli import add_command, add_env
from ops.disaster_recovery import database
from ops.lifecycle import config_change as cc
from ops.output import print_result
from stacks import naming

EXIT_OK, EXIT_FAILED, EXIT_INPUT = 0, 1, 2
DEFAULT_WAIT_SECONDS = 1200.0  # promotions of large databases take longer than the usual 5 min
DEFAULT_SCALE_WAIT_SECONDS = 300.0
DEFAULT_CATCH_UP_SECONDS = 300.0  # a switchover waits this long for ReplicaLag 0 after the fence
CHECK_WORKERS = 16  # parallel read-only checks of the primary region


@dataclass(frozen=True)
class StepInfo:
    key: str
    title: str
    usual: str  # what the step usually takes, for the plan


STEPS = (
    StepInfo("ready", "Check each standby database is ready", "~10 s"),
    StepInfo("primary", "Refuse while the primary is healthy", "5-30 s"),
    StepInfo("fence", "--planned --all: stop the primary's writes (app to 0)", "1-2 min"),
    StepInfo("caught_up", "--planned --all: wait for ReplicaLag 0 after the fence", "1-2 min"),
    StepInfo("promote", "Promote the read replicas (parallel, bounded)", "~5 s to start each"),
    StepInfo("writable", "Wait until every promoted database accepts writes", "3-10 min"),
    StepInfo("scale", "Scale the standby app service", "1-3 min (tasks start, pass health checks)"),
    StepInfo(
        "dns",
        "Confirm DNS answers the standby",
        "1.5-3 min (3 failed checks x 30 s, then the record's 60 s TTL)",
    ),
    StepInfo("probe", "Run the post-deploy probe in the recovery region", "~30 s"),
)


class FailoverInputError(ValueError):
    """Bad input: unknown environment, no disaster recovery, a restaurant it does not cover."""


# ---------------------------------------------------------------------------------------------
# Selection and plan (no AWS)


def select(environment: EnvironmentConfig, slugs: Sequence[str], everything: bool) -> list[str]:
    if environment.disaster_recovery is None:
        raise FailoverInputError(
            f"environment {environment.name!r} has no disaster_recovery section: nothing to fail "
            "over to (docs/disaster-recovery.md)"
        )
    covered = [r.slug for r in environment.standby_restaurants()]
    if everything == bool(slugs):
        raise FailoverInputError("give --restaurant SLUG (one or more) or --all, not both")
    if everything:
        if not covered:
            raise FailoverInputError(f"environment {environment.name!r}: no restaurant is covered")
        return covered
    chosen: list[str] = []
    for slug in slugs:
        if slug not in covered:
            raise FailoverInputError(
                f"--restaurant {slug!r}: not covered by disaster recovery in "
                f"{environment.name!r} (covered: {', '.join(covered) or 'none'})"
            )
        if slug not in chosen:
            chosen.append(slug)
    return chosen


def plan(
    environment: EnvironmentConfig, slugs: Sequence[str], *, planned: bool, parallel: int
) -> dict[str, Any]:
    """What --execute would do, in order, with what each step usually takes."""
    from config.profiles import service_capacity

    assert environment.disaster_recovery is not None
    env, recovery = environment.name, environment.disaster_recovery.region
    account = environment.account or "<account>"
    whole = set(slugs) == {r.slug for r in environment.standby_restaurants()}
    capacity = service_capacity(environment)
    fallback = (capacity.maximum, "maximum") if whole else (capacity.minimum, "minimum")
    restaurants = []
    for slug in slugs:
        identifier = naming.db_instance_identifier(env, slug)
        restaurants.append(
            {
                "slug": slug,
                "standby_stack": naming.standby_stack_name(env, slug),
                "db_instance": identifier,
                "expected_source": naming.db_instance_arn(
                    partition=partition_of(environment.region),
                    region=environment.region,
                    account=account,
                    identifier=identifier,
                ),
                "dns_name": (
                    f"{slug}.{environment.domain.name}" if environment.domain is not None else None
                ),
                "already_failed_over": slug in environment.disaster_recovery.failed_over,
            }
        )
    details = {
        "ready": f"RDS describe_db_instances in {recovery}: exists, available, a replica of "
        "the expected source; CloudWatch ReplicaLag"
        + (" within 60 s (--planned)" if planned else " reported"),
        "primary": (
            "--planned: the primary may be healthy; every replica's lag must be within the "
            "RPO (60 s)"
            + (
                ""
                if whole
                else ". With some restaurants only, the primary keeps serving the others and "
                "cannot be stopped: writes that reach it after the promotion (until DNS moves) "
                "are not replicated; stop them in the app first"
            )
            if planned
            else f"RDS describe_db_instances in {environment.region} and the Route 53 health "
            "check of each restaurant's primary record: refused if both are healthy"
        ),
        "fence": f"{naming.platform_stack_name(env)}'s app service to 0 (autoscaling minimum 0 "
        "first): the maintenance window starts; nothing more is written in the primary region",
        "caught_up": "poll CloudWatch ReplicaLag until a value after the fence is 0: the "
        "replicas have replayed every write; if not within 5 min, nothing is promoted",
        "promote": f"promote_read_replica in {recovery}, at most {parallel} at a time; "
        "already promoted ones are skipped",
        "writable": "poll until status available and no ReadReplicaSourceDBInstanceIdentifier",
        "scale": f"{naming.dr_platform_stack_name(env)}'s app service to the primary's desired "
        f"count (read in {environment.region}), else {fallback[0]} tasks (the profile's "
        f"{fallback[1]} from config); never scaled down",
        "dns": "Route 53: the health check of each PRIMARY record (a calculated check: its "
        "children's status); if it still sees the primary healthy, update_health_check "
        "(HealthThreshold above its children; Inverted=True for an endpoint check). Route 53's "
        f"control plane is in {_route53_region(environment)}: see docs/disaster-recovery.md",
        "probe": "Lambda invoke of the standby probe function (ops smoke --probe) for these "
        "restaurants",
    }
    return {
        "environment": env,
        "primary_region": environment.region,
        "recovery_region": recovery,
        "mode": environment.disaster_recovery.mode,
        "planned": planned,
        "restaurants": restaurants,
        "steps": [
            {"step": s.key, "title": s.title, "usually": s.usual, "detail": details[s.key]}
            for s in STEPS
            if (planned and whole) or s.key not in ("fence", "caught_up")
        ],
        "expected_rto": "5-15 min (seed 7.1); the timeline of --execute measures it",
    }


def _route53_region(environment: EnvironmentConfig) -> str:
    from ops.disaster_recovery.aws import ROUTE53_CONTROL_REGION

    return ROUTE53_CONTROL_REGION.get(partition_of(environment.region), "us-east-1")


def render_plan(data: dict[str, Any], *, rerun: str) -> str:
    lines = [
        f"Failover plan for {data['environment']}: {data['primary_region']} -> "
        f"{data['recovery_region']} ({data['mode']}"
        + (", planned switchover)" if data["planned"] else ")"),
        "",
        "Restaurants:",
    ]
    for r in data["restaurants"]:
        note = "  (already failed over in config)" if r["already_failed_over"] else ""
        dns = f", {r['dns_name']}" if r["dns_name"] else ""
        lines.append(f"  {r['slug']}: {r['db_instance']} in {r['standby_stack']}{dns}{note}")
        lines.append(f"      replica of {r['expected_source']}")
    lines += ["", "Steps (in order; usual duration):"]
    for number, step in enumerate(data["steps"], start=1):
        lines.append(f"  {number}. {step['title']:<52} {step['usually']}")
        lines.append(f"     {step['detail']}")
    lines += [
        f"  {len(data['steps']) + 1}. Print the timeline: each step's start and duration; "
        "the total is the measured RTO",
        "",
        f"Expected RTO: {data['expected_rto']}.",
        f"Run it: {rerun}",
    ]
    return "\n".join(lines)


# ---------------------------------------------------------------------------------------------
# Execution


@dataclass
class StepRecord:
    step: str
    title: str
    started_at: str  # UTC, ISO 8601
    offset_seconds: float  # from the start of the run
    seconds: float
    ok: bool
    detail: str
    items: list[dict[str, Any]] = field(default_factory=list)


@dataclass
class Outcome:
    environment: str
    primary_region: str
    recovery_region: str
    restaurants: list[str]
    planned: bool
    steps: list[StepRecord] = field(default_factory=list)
    direction: str = "failover"  # or "failback" (ops failback)
    refused: list[str] = field(default_factory=list)
    failed_over: list[str] = field(default_factory=list)  # databases that now accept writes
    written: str | None = None
    write_error: str | None = None

    @property
    def ok(self) -> bool:
        return not self.refused and bool(self.steps) and all(s.ok for s in self.steps)

    @property
    def exit_code(self) -> int:
        """0 when every step passed and a --write was written, else 1."""
        return EXIT_OK if self.ok and not self.write_error else EXIT_FAILED

    def record(self, write: Callable[[], str], *, changed: str, unchanged: str, rerun: str) -> None:
        """--write after a run: `write()` edits the environment file and returns its diff (empty:
        it already said so); an edit that fails is reported with the command that finishes it."""
        try:
            self.written = changed if write() else unchanged
        except cc.ChangeError as exc:
            self.write_error = f"{exc} Re-run `{rerun}` once it can be."

    @property
    def total_seconds(self) -> float:
        return sum(s.seconds for s in self.steps)

    def to_dict(self) -> dict[str, Any]:
        return {
            "environment": self.environment,
            "direction": self.direction,
            "primary_region": self.primary_region,
            "recovery_region": self.recovery_region,
            "restaurants": self.restaurants,
            "planned": self.planned,
            "ok": self.ok,
            "refused": self.refused,
            "timeline": [asdict(s) for s in self.steps],
            "total_seconds": round(self.total_seconds, 3),
            "failed_over": self.failed_over,
            "written": self.written,
            "write_error": self.write_error,
        }


@dataclass
class Clock:
    """Injected so tests do not wait: monotonic seconds, sleep, and the wall clock."""

    monotonic: Callable[[], float] = time.monotonic
    sleep: Callable[[float], None] = time.sleep
    now: Callable[[], datetime] = lambda: datetime.now(UTC)


class Failover:
    """The steps of `--execute` over an `AwsWorld` (ops/disaster_recovery/aws.py)."""

    def __init__(
        self,
        environment: EnvironmentConfig,
        slugs: Sequence[str],
        world: Any,
        *,
        planned: bool = False,
        parallel: int = database.DEFAULT_PARALLEL_PROMOTIONS,
        wait_seconds: float = DEFAULT_WAIT_SECONDS,
        scale_wait_seconds: float = DEFAULT_SCALE_WAIT_SECONDS,
        poll_seconds: float = 15.0,
        probe_invoker: Any = None,
        ca_bundle: str | None = None,
        clock: Clock | None = None,
        catch_up_seconds: float = DEFAULT_CATCH_UP_SECONDS,
    ) -> None:
        from ops.disaster_recovery.aws import RdsReplicaBackend

        self.environment = environment
        self.slugs = list(slugs)
        self.world = world
        self.backend: database.ReplicaBackend = RdsReplicaBackend(world)
        self.planned = planned
        self.parallel = parallel
        self.wait_seconds = wait_seconds
        self.scale_wait_seconds = scale_wait_seconds
        self.poll_seconds = poll_seconds
        self.probe_invoker = probe_invoker
        self.ca_bundle = ca_bundle
        self.clock = clock or Clock()
        self.outcome = Outcome(
            environment=environment.name,
            primary_region=world.primary_region,
            recovery_region=world.recovery_region,
            restaurants=list(slugs),
            planned=planned,
        )
        self._start = 0.0
        self._health_checks: dict[str, tuple[str | None, str]] = {}
        self.step_info: Sequence[StepInfo] = STEPS
        self.catch_up_seconds = catch_up_seconds
        self._writer_count = 0  # the writing side's desired count before a fence
        self._fenced_at: datetime | None = None

    def _step(
        self, key: str, action: Callable[[], tuple[bool, str, list[dict[str, Any]]]]
    ) -> StepRecord:
        title = next(s.title for s in self.step_info if s.key == key)
        started_wall = self.clock.now()
        started = self.clock.monotonic()
        try:
            ok, detail, items = action()
        except Exception as exc:  # an unexpected answer ends the step, not the report
            from ops.disaster_recovery.aws import describe_error

            ok, detail, items = False, f"failed: {describe_error(exc)}", []
        record = StepRecord(
            step=key,
            title=title,
            started_at=started_wall.isoformat(timespec="seconds"),
            offset_seconds=round(started - self._start, 3),
            seconds=round(self.clock.monotonic() - started, 3),
            ok=ok,
            detail=detail,
            items=items,
        )
        self.outcome.steps.append(record)
        return record

    @classmethod
    def from_args(
        cls,
        args: argparse.Namespace,
        environment: EnvironmentConfig,
        slugs: Sequence[str],
        world: Any,
        **options: Any,
    ) -> Self:
        """The run a command asked for: the promotion options of `add_promotion_options`
        from `args`, the rest (`options`) as the command has them."""
        return cls(
            environment,
            slugs,
            world,
            parallel=args.parallel,
            wait_seconds=args.wait_seconds,
            poll_seconds=args.poll_seconds,
            **options,
        )

    def run(self) -> Outcome:
        self._start = self.clock.monotonic()
        ready = self._step("ready", self._ready)
        ready_slugs = [i["slug"] for i in ready.items if i["ok"]]
        if not ready_slugs:
            return self.outcome
        primary = self._step("primary", lambda: self._primary(ready_slugs))
        if not primary.ok:
            self.outcome.refused = [
                f"{i['slug']}: {i['detail']}" for i in primary.items if not i["ok"]
            ] or [primary.detail]
            return self.outcome
        # A switchover loses nothing: stop the primary's writes, wait for the replicas to replay
        # them, then promote (with a subset the primary keeps serving the others).
        if (self.planned and self.whole_environment) and (
            len(ready_slugs) < len(self.slugs) or not self._fenced_and_caught_up()
        ):
            return self.outcome
        return self._promote_and_serve(ready_slugs, scale=self._scale, dns=self._dns)

    def _fenced_and_caught_up(self) -> bool:
        """A switchover's middle (both directions): the writer fenced, the replicas caught up."""
        return self._step("fence", self._fence).ok and self._step("caught_up", self._caught_up).ok

    def _promote_and_serve(
        self,
        slugs: list[str],
        *,
        scale: Callable[[], tuple[bool, str, list[dict[str, Any]]]],
        dns: Callable[[Sequence[str]], tuple[bool, str, list[dict[str, Any]]]],
    ) -> Outcome:
        """The tail both directions share: promote, wait until writable, then scale the side
        that now writes, point DNS at it and probe. Each step runs only on what the one before
        it got through; a step that moves nothing ends the run."""
        promoted = self._step("promote", lambda: self._promote(slugs))
        started = [i["slug"] for i in promoted.items if i["ok"]]
        if not started:
            return self.outcome
        writable = self._step("writable", lambda: self._writable(started))
        self.outcome.failed_over = [i["slug"] for i in writable.items if i["ok"]]
        if not self.outcome.failed_over:
            return self.outcome
        self._step("scale", scale)
        self._step("dns", lambda: dns(self.outcome.failed_over))
        self._step("probe", lambda: self._probe(self.outcome.failed_over))
        return self.outcome

    @property
    def whole_environment(self) -> bool:
        return set(self.slugs) == {r.slug for r in self.environment.standby_restaurants()}

    # --- the steps -----------------------------------------------------------------------------

    def _ready(self) -> tuple[bool, str, list[dict[str, Any]]]:
        results = database.check_ready(self.backend, self.slugs, primary_down=not self.planned)
        items = [asdict(r) for r in results]
        good = sum(r.ok for r in results)
        return good == len(results), f"{good}/{len(results)} standbys ready", items

    def _primary(self, slugs: Sequence[str]) -> tuple[bool, str, list[dict[str, Any]]]:
        # In parallel: a region that does not answer costs a connect timeout per call.
        with ThreadPoolExecutor(max_workers=max(1, min(CHECK_WORKERS, len(slugs)))) as pool:
            items = list(pool.map(self._primary_one, slugs))
        refused = [i for i in items if not i["ok"]]
        if refused:
            return False, f"{len(refused)} primary(ies) healthy: refused (use --planned)", items
        if self.planned:
            return True, "planned switchover: lag within the RPO checked in step 1", items
        return True, f"{len(items)} primary(ies) down or unreachable", items

    def _primary_one(self, slug: str) -> dict[str, Any]:
        database_state = self.world.primary_database(slug)
        check_id, _ = self._health_check_id(slug)
        check_text, check_healthy = "no health check found", None
        if check_id is not None:
            try:
                check = self.world.health_check(check_id)
                check_healthy = check.considered_healthy
                check_text = f"health check {check.describe()}"
            except Exception as exc:  # Route 53's API: reported, judged on the database
                from ops.disaster_recovery.aws import describe_error

                check_text = f"health check {check_id}: {describe_error(exc)}"
        healthy = database_state.available and check_healthy is not False
        detail = f"primary database {database_state.detail}; {check_text}"
        if healthy and not self.planned:
            detail += "; the primary is healthy: refused without --planned"
        return {"slug": slug, "ok": self.planned or not healthy, "detail": detail}

    def _health_check_id(self, slug: str) -> tuple[str | None, str]:
        if slug not in self._health_checks:
            try:
                self._health_checks[slug] = self.world.health_check_id(slug)
            except Exception as exc:  # Route 53's API (its control plane) did not answer
                from ops.disaster_recovery.aws import describe_error

                self._health_checks[slug] = (None, self._route53_down(describe_error(exc)))
        return self._health_checks[slug]

    def _route53_down(self, error: str) -> str:
        return (
            f"Route 53 ({self.world.route53_region}, its control plane): {error}; the failover "
            "record still follows the health check's own checkers (data plane)"
        )

    def _promote(self, slugs: Sequence[str]) -> tuple[bool, str, list[dict[str, Any]]]:
        results = database.promote_all(self.backend, slugs, parallel=self.parallel)
        good = sum(r.ok for r in results)
        skipped = sum(r.detail == "already promoted" for r in results)
        return (
            good == len(results),
            f"{good}/{len(results)} promotions started or done ({skipped} already promoted)",
            [asdict(r) for r in results],
        )

    def _writable(self, slugs: Sequence[str]) -> tuple[bool, str, list[dict[str, Any]]]:
        results = database.wait_writable(
            self.backend,
            slugs,
            timeout_seconds=self.wait_seconds,
            poll_seconds=self.poll_seconds,
            clock=self.clock.monotonic,
            sleep=self.clock.sleep,
        )
        good = sum(r.ok for r in results)
        return (
            good == len(results),
            f"{good}/{len(results)} accept writes",
            [asdict(r) for r in results],
        )

    def _fence(self) -> tuple[bool, str, list[dict[str, Any]]]:
        # The side that writes now: the primary in a planned failover, the standby in a failback.
        standby = self.world.app_service(standby=self.world.failback)
        desired, running = self.world.desired_count(standby)
        self._writer_count = desired
        self._fenced_at = self.clock.now()
        action = "already stopped" if desired == 0 else f"desired {desired} -> 0"
        if desired:
            note = self.world.stop(standby)
            action += f"; {note}" if note else ""
        deadline = self.clock.monotonic() + self.scale_wait_seconds
        while True:
            _, running = self.world.desired_count(standby)
            if running == 0 or self.clock.monotonic() >= deadline:
                break
            self.clock.sleep(self.poll_seconds)
        ok = running == 0
        return ok, f"{standby.name} in {standby.region}: {action}; {running} tasks running", []

    def _caught_up(self) -> tuple[bool, str, list[dict[str, Any]]]:
        pending = [s for s in self.slugs if self.backend.status(s).is_replica]
        items = {s: {"slug": s, "ok": True, "detail": "already promoted"} for s in self.slugs}
        deadline = self.clock.monotonic() + self.catch_up_seconds
        while pending:
            for slug in list(pending):
                lag = self.world.replica_lag(slug, since=self._fenced_at)
                if lag == 0:
                    items[slug] = {"slug": slug, "ok": True, "detail": "ReplicaLag 0 after fence"}
                    pending.remove(slug)
                else:
                    seen = "no value since the fence" if lag is None else f"ReplicaLag {lag:.0f} s"
                    items[slug] = {"slug": slug, "ok": False, "detail": seen}
            if not pending or self.clock.monotonic() >= deadline:
                break
            self.clock.sleep(self.poll_seconds)
        good = sum(bool(i["ok"]) for i in items.values())
        detail = f"{good}/{len(items)} caught up"
        if good < len(items):
            detail += (
                f" after {self.catch_up_seconds:.0f} s; nothing was promoted and the standby is "
                "stopped (the maintenance window is open): run again to keep waiting, or restart "
                f"it with desired count {self._writer_count or 'as before'} to call it off"
            )
        return good == len(items), detail, list(items.values())

    def _raise_to(self, service: Any, target: int) -> str:
        """The service's desired count raised to `target`, never lowered: what was done."""
        desired, _ = self.world.desired_count(service)
        if desired >= target:
            return f"already at {desired} desired (target {target}): no change"
        note = self.world.scale(service, target)
        return f"desired {desired} -> {target}" + (f"; {note}" if note else "")

    def _scale(self) -> tuple[bool, str, list[dict[str, Any]]]:
        standby = self.world.app_service(standby=True)
        source = ""
        target: int | None = None
        try:
            primary = self.world.app_service(standby=False)
            target, _ = self.world.desired_count(primary)
            source = f"the primary's desired count (in {self.world.primary_region})"
            if self._writer_count:
                target, source = self._writer_count, "the primary's count before the fence"
        except Exception as exc:
            from ops.disaster_recovery.aws import describe_error

            whole = self.whole_environment
            target, source = self.world.config_task_count(whole_environment=whole)
            source += f" (primary unreadable: {describe_error(exc)})"
        if target < 1:  # a primary scaled to 0 (a quiesced switchover) is no measure of load
            target, source = self.world.config_task_count(whole_environment=True)
        action = self._raise_to(standby, target)
        deadline = self.clock.monotonic() + self.scale_wait_seconds
        while True:
            desired_now, running = self.world.desired_count(standby)
            if running >= target or self.clock.monotonic() >= deadline:
                break
            self.clock.sleep(self.poll_seconds)
        ok = running >= target
        detail = (
            f"{standby.name} in {standby.region}: {action}; target from {source}; "
            f"{running}/{target} tasks running"
            + ("" if ok else f" after {self.scale_wait_seconds:.0f} s")
        )
        item = {
            "service": standby.service,
            "target": target,
            "desired": desired_now,
            "running": running,
            "source": source,
        }
        return ok, detail, [item]

    def _dns(self, slugs: Sequence[str]) -> tuple[bool, str, list[dict[str, Any]]]:
        from ops.disaster_recovery.aws import describe_error

        items: list[dict[str, Any]] = []
        for slug in slugs:
            check_id, where = self._health_check_id(slug)
            if check_id is None:
                items.append(
                    {
                        "slug": slug,
                        "ok": False,
                        "forced": False,
                        "detail": f"no health check to act on: {where}",
                    }
                )
                continue
            try:
                state = self.world.health_check(check_id)
                forced = False
                change = ""
                if state.considered_healthy:
                    # The checkers still see the primary healthy (the app answers while its
                    # database is gone, or a planned switchover): Route 53 would keep answering
                    # the primary. Make its check unhealthy so the SECONDARY record answers.
                    change = self.world.force_unhealthy(state)
                    forced = True
                    state = self.world.health_check(check_id)
            except Exception as exc:
                items.append(
                    {
                        "slug": slug,
                        "ok": False,
                        "forced": False,
                        "detail": self._route53_down(describe_error(exc)),
                    }
                )
                continue
            ok = not state.considered_healthy
            verb = f"forced ({change}): " if forced else ""
            items.append(
                {
                    "slug": slug,
                    "ok": ok,
                    "forced": forced,
                    "detail": (
                        f"{verb}{state.describe()}: Route 53 answers "
                        + ("the standby (SECONDARY)" if ok else "still the primary")
                        + f"; resolvers follow within the record's TTL ({where})"
                    ),
                }
            )
        good = sum(bool(i["ok"]) for i in items)
        forced_count = sum(bool(i["forced"]) for i in items)
        return (
            good == len(items),
            f"{good}/{len(items)} answer the standby ({forced_count} forced)",
            items,
        )

    def _probe(self, slugs: Sequence[str]) -> tuple[bool, str, list[dict[str, Any]]]:
        from ops.deploy import smoke

        function_name, where = self.world.probe_function_name()
        invoke = self.probe_invoker or smoke.lambda_invoker(
            self.world.replica_region, self.world.clients("lambda", self.world.replica_region)
        )
        report = smoke.run_probe(
            self.environment,
            invoke,
            ca_bundle=self.ca_bundle,
            function_name=function_name,
            slugs=slugs,
        )
        lines = smoke.probe_lines(report)
        ok = bool(report.get("passed"))
        items = [
            {"slug": r["slug"], "ok": bool(r["passed"]), "detail": line}
            for r, line in zip(report["restaurants"], lines, strict=True)
        ]
        good = sum(i["ok"] for i in items)
        return ok, f"{function_name} ({where}): {good}/{len(items)} passed", items


def render_outcome(outcome: Outcome) -> str:
    lines = [
        (
            f"Failover of {outcome.environment}: {outcome.primary_region} -> "
            f"{outcome.recovery_region}"
            if outcome.direction == "failover"
            else f"Failback of {outcome.environment}: {outcome.recovery_region} -> "
            f"{outcome.primary_region}"
        )
        + (" (planned)" if outcome.planned and outcome.direction == "failover" else ""),
        "",
        f"{'step':<9} {'start':>8} {'took':>9}  result",
    ]
    for step in outcome.steps:
        mark = "ok" if step.ok else "FAILED"
        lines.append(
            f"{step.step:<9} {'+' + _duration(step.offset_seconds):>8} "
            f"{_duration(step.seconds):>9}  {mark}: {step.detail}"
        )
        for item in step.items:
            if "slug" not in item:  # the scale step's one item repeats its detail
                continue
            good = item.get("ok", True)
            text = item.get("detail") or item.get("source", "")
            lines.append(f"{'':<30}{'-' if good else '!'} {item.get('slug', '')} {text}".rstrip())
    lines.append(f"Total (measured RTO): {_duration(outcome.total_seconds)}")
    if outcome.steps:
        lines.append(f"Started {outcome.steps[0].started_at}")
    if outcome.refused:
        lines += ["", "REFUSED: nothing was changed."]
        lines.extend(f"  - {r}" for r in outcome.refused)
    elif not outcome.ok:
        lines += [
            "",
            "Not finished: fix what failed and run the same command again (promoted "
            "databases are skipped, a scaled service is left alone).",
        ]
    if outcome.written:
        lines.append(f"Written: {outcome.written}")
    if outcome.write_error:
        lines.append(f"NOT written: {outcome.write_error}")
    return "\n".join(lines)


def _duration(seconds: float) -> str:
    minutes, rest = divmod(seconds, 60)
    return f"{int(minutes)}m{rest:04.1f}s" if minutes else f"{rest:.1f}s"


# ---------------------------------------------------------------------------------------------
# --write: disaster_recovery.failed_over


def failed_over_text(text: str, slugs: Sequence[str], path: Path) -> str:
    """The YAML text with `slugs` added to disaster_recovery.failed_over (order kept)."""
    yaml = cc._yaml()
    data = yaml.load(text)
    section = data.get("disaster_recovery")
    if section is None:
        raise cc.ChangeError(f"{path}: no disaster_recovery section to record a failover in")
    current = list(section.get("failed_over") or [])
    added = [s for s in slugs if s not in current]
    if not added:
        return text
    if "failed_over" in section and section["failed_over"] is not None:
        section["failed_over"].extend(added)
    else:
        section["failed_over"] = added
    out = io.StringIO()
    yaml.dump(data, out)
    return out.getvalue()


def check_writable(path: Path) -> None:
    """Before any AWS call: the file and its directory take a write (even root is refused by an
    immutable file or a read-only mount), so a failover never ends with an unrecordable config."""
    target = Path(os.path.realpath(path))
    try:
        with open(target, "r+b"):
            pass
        fd, tmp = tempfile.mkstemp(prefix=f".{target.name}.", suffix=".check", dir=target.parent)
        os.close(fd)
        os.unlink(tmp)
    except OSError as exc:
        raise cc.ChangeError(cc._permission_message(path, exc)) from None


def write_failed_over(path: Path, slugs: Sequence[str]) -> str:
    """Add `slugs` to the file's failed_over, validated before and after; returns the diff."""
    return write_edit(path, lambda text: failed_over_text(text, slugs, path))


def write_edit(path: Path, transform: Callable[[str], str]) -> str:
    """The environment file rewritten by `transform`, validated before and after and read back;
    returns the diff ("" when `transform` changes nothing, and nothing is written)."""
    original = cc.read_original(path)
    text = cc.decode_text(path, original)
    cc.validate_text(path, text)
    new_text = transform(text)
    if new_text == text:
        return ""
    after = cc.validate_text(path, new_text)
    cc.write_atomically(path, new_text, original)
    written = cc.validate_text(path, cc.decode_text(path, cc.read_original(path)))
    if written != after:  # pragma: no cover - would be a ruamel bug
        raise cc.ChangeError(f"{path}: the written file does not read back as planned")
    return cc.unified_diff(path, text, new_text)


# ---------------------------------------------------------------------------------------------
# The command


def load_environment(env: str, config_dir: Path | None) -> tuple[Path, EnvironmentConfig]:
    from config.loader import ConfigError, parse_environment, read_yaml

    try:
        path = cc.environment_file(env, config_dir)
        return path, parse_environment(path, read_yaml(path))
    except (cc.ChangeError, ConfigError) as exc:
        raise FailoverInputError(str(exc)) from None


def _rerun(args: argparse.Namespace, *, execute: bool, command: str = "failover") -> str:
    """The command line that runs it again (failback has no --planned)."""
    parts = [f"python -m ops {command}", f"--env {args.env}"]
    parts += ["--all"] if args.all else [f"--restaurant {s}" for s in args.restaurant or []]
    if getattr(args, "planned", False):
        parts.append("--planned")
    if execute:
        parts.append("--execute")
    if args.write:
        parts.append("--write")
    return " ".join(parts)


def run(
    args: argparse.Namespace,
    *,
    clients: Any = None,
    probe_invoker: Any = None,
    clock: Clock | None = None,
) -> int:
    try:
        path, environment = load_environment(args.env, args.config_dir)
        slugs = select(environment, args.restaurant or [], args.all)
        if args.write and not args.execute:
            raise FailoverInputError(
                "--write records a failover that happened: give it with --execute (re-running "
                "is safe; it confirms each database is promoted before the file says so)"
            )
        if args.write:
            check_writable(path)
        if args.parallel < 1:
            raise FailoverInputError("--parallel must be at least 1")
    except (FailoverInputError, cc.ChangeError) as exc:
        print(f"ops failover: {exc}", file=sys.stderr)
        return EXIT_INPUT
    if not args.execute:
        data = plan(environment, slugs, planned=args.planned, parallel=args.parallel)
        print_result(
            args.json,
            lambda: {"executed": False, "plan": data},
            lambda: render_plan(data, rerun=_rerun(args, execute=True)),
        )
        return EXIT_OK

    from ops.disaster_recovery.aws import AwsClients, AwsWorld

    clock = clock or Clock()
    world = AwsWorld(environment, clients or AwsClients(), now=clock.now)
    failover = Failover.from_args(
        args,
        environment,
        slugs,
        world,
        planned=args.planned,
        probe_invoker=probe_invoker,
        ca_bundle=_ca_bundle(args.rds_ca_bundle),
        clock=clock,
    )
    outcome = failover.run()
    if args.write and outcome.failed_over:
        outcome.record(
            lambda: write_failed_over(path, outcome.failed_over),
            changed=f"{cc.shown(path)}: disaster_recovery.failed_over += {outcome.failed_over}",
            unchanged=f"{cc.shown(path)}: already lists {outcome.failed_over}",
            rerun=_rerun(args, execute=True),
        )
    print_result(
        args.json, lambda: {"executed": True, **outcome.to_dict()}, lambda: render_outcome(outcome)
    )
    return outcome.exit_code


def _ca_bundle(path: str | None) -> str | None:
    if path is None:
        return None
    from ops.deploy.smoke import SmokeInputError, _ca_bundle

    try:
        return _ca_bundle(path, probe=False)
    except SmokeInputError as exc:  # pragma: no cover - same message as ops smoke
        raise FailoverInputError(str(exc)) from None


def register(subparsers: argparse._SubParsersAction) -> None:  # type: ignore[type-arg]
    parser = add_command(
        subparsers,
        "failover",
        "fail restaurants over to the recovery region (plan by default, --execute runs it)",
        __doc__,
    )
    add_env(parser)
    parser.add_argument(
        "--restaurant", action="append", metavar="SLUG", help="a restaurant to fail over (repeat)"
    )
    parser.add_argument(
        "--all", action="store_true", help="every restaurant covered by disaster recovery"
    )
    parser.add_argument("--execute", action="store_true", help="run it (default: print the plan)")
    parser.add_argument(
        "--planned",
        action="store_true",
        help="a switchover while the primary is healthy (lag must be within the RPO)",
    )
    parser.add_argument(
        "--write",
        action="store_true",
        help="with --execute: record the failed-over restaurants in the environment file",
    )
    add_promotion_options(
        parser,
        wait_help=f"how long to wait for writable databases (default: {DEFAULT_WAIT_SECONDS:.0f})",
    )
    parser.add_argument(
        "--rds-ca-bundle", metavar="FILE", help="RDS CA bundle (PEM) for the standby probe"
    )
    parser.add_argument("--json", action="store_true", help="machine-readable output")
    parser.add_argument("--config-dir", type=Path, help=argparse.SUPPRESS)
    parser.set_defaults(func=run)


def add_promotion_options(parser: argparse.ArgumentParser, *, wait_help: str) -> None:
    """How a switch promotes, in both directions (failover, failback): promotions at a time,
    how long to wait for writable databases and how often to look."""
    parser.add_argument(
        "--parallel",
        type=int,
        default=database.DEFAULT_PARALLEL_PROMOTIONS,
        help=f"promotions at a time (default: {database.DEFAULT_PARALLEL_PROMOTIONS})",
    )
    parser.add_argument("--wait-seconds", type=float, default=DEFAULT_WAIT_SECONDS, help=wait_help)
    parser.add_argument("--poll-seconds", type=float, default=15.0, help=argparse.SUPPRESS)
