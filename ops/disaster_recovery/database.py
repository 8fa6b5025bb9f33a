"""The database steps of a failover, over any replica backend: RDS (ops/disaster_recovery/aws.py)
or the real PostgreSQL streaming replicas of the failover drill (tests/test_failover_drill.py).

The steps are the same code in both: check the standby is ready, promote (in parallel, bounded),
wait until every promoted database accepts writes. Each is idempotent: a replica that is already
promoted is skipped, so a re-run after a partial failure finishes the job.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Protocol

# The seed's RPO (7.1): a replica further behind than this loses more than a minute of orders.
RPO_SECONDS = 60.0
DEFAULT_PARALLEL_PROMOTIONS = 5


@dataclass(frozen=True)
class ReplicaStatus:
    """What a backend reports of one restaurant's standby database."""

    slug: str
    exists: bool
    is_replica: bool  # still replicating (read-only); False once promoted
    available: bool  # the instance/server answers
    lag_seconds: float | None  # None when unknown (e.g. the source is gone)
    detail: str = ""


class ReplicaBackend(Protocol):
    """One implementation per world: RDS through boto3, or local PostgreSQL servers."""

    def status(self, slug: str) -> ReplicaStatus: ...

    def promote(self, slug: str) -> None:
        """Start the promotion; may return before it completes. Must not fail if promoted."""
        ...

    def writable(self, slug: str) -> bool:
        """True once the database accepts writes (the promotion completed)."""
        ...


@dataclass
class StepResult:
    slug: str
    ok: bool
    detail: str
    seconds: float = 0.0


@dataclass
class DatabaseOutcome:
    ready: list[StepResult] = field(default_factory=list)
    promoted: list[StepResult] = field(default_factory=list)
    writable: list[StepResult] = field(default_factory=list)

    @property
    def ok(self) -> bool:
        steps = [*self.ready, *self.promoted, *self.writable]
        return bool(steps) and all(step.ok for step in steps)


def check_ready(
    backend: ReplicaBackend,
    slugs: Iterable[str],
    *,
    max_lag_seconds: float = RPO_SECONDS,
    primary_down: bool = True,
) -> list[StepResult]:
    """Each standby exists and answers; a replica's lag is known and within the RPO unless the
    primary is down (then lag cannot grow and is reported, not judged). Promoted ones pass."""
    results = []
    for slug in slugs:
        status = backend.status(slug)
        if not status.exists or not status.available:
            results.append(StepResult(slug, False, status.detail or "standby not available"))
        elif not status.is_replica:
            results.append(StepResult(slug, True, "already promoted"))
        elif status.lag_seconds is None and not primary_down:
            results.append(StepResult(slug, False, "replica lag unknown"))
        elif (
            status.lag_seconds is not None
            and status.lag_seconds > max_lag_seconds
            and not primary_down
        ):
            results.append(
                StepResult(
                    slug, False, f"replica lag {status.lag_seconds:.0f} s > {max_lag_seconds:.0f} s"
                )
            )
        else:
            lag = "unknown" if status.lag_seconds is None else f"{status.lag_seconds:.1f} s"
            results.append(StepResult(slug, True, f"replica, lag {lag}"))
    return results


def promote_all(
    backend: ReplicaBackend,
    slugs: Sequence[str],
    *,
    parallel: int = DEFAULT_PARALLEL_PROMOTIONS,
) -> list[StepResult]:
    """Start every promotion, at most `parallel` at a time; one failure does not stop others."""

    def one(slug: str) -> StepResult:
        started = time.monotonic()
        try:
            if not backend.status(slug).is_replica:
                return StepResult(slug, True, "already promoted", time.monotonic() - started)
            backend.promote(slug)
        except Exception as exc:  # reported per restaurant; a re-run retries it
            return StepResult(slug, False, f"promotion failed: {exc}", time.monotonic() - started)
        return StepResult(slug, True, "promotion started", time.monotonic() - started)

    with ThreadPoolExecutor(max_workers=max(1, min(parallel, len(slugs) or 1))) as pool:
        return list(pool.map(one, slugs))


def wait_writable(
    backend: ReplicaBackend,
    slugs: Sequence[str],
    *,
    timeout_seconds: float,
    poll_seconds: float = 10.0,
    clock: Callable[[], float] = time.monotonic,
    sleep: Callable[[float], None] = time.sleep,
) -> list[StepResult]:
    """Poll until each database accepts writes, or the timeout passes."""
    started = clock()
    pending = list(slugs)
    done: dict[str, StepResult] = {}
    while True:
        for slug in list(pending):
            try:
                writable = backend.writable(slug)
            except Exception as exc:  # a flaky call is retried until the timeout
                writable, error = False, str(exc)
            else:
                error = ""
            if writable:
                done[slug] = StepResult(slug, True, "accepts writes", clock() - started)
                pending.remove(slug)
            elif error:
                done[slug] = StepResult(slug, False, f"not writable yet: {error}")
        if not pending or clock() - started >= timeout_seconds:
            break
        sleep(poll_seconds)
    for slug in pending:
        previous = done.get(slug)
        reason = previous.detail if previous else "still read-only"
        done[slug] = StepResult(slug, False, f"{reason} after {timeout_seconds:.0f} s")
    return [done[slug] for slug in slugs]


def fail_over_databases(
    backend: ReplicaBackend,
    slugs: Sequence[str],
    *,
    parallel: int = DEFAULT_PARALLEL_PROMOTIONS,
    timeout_seconds: float = 900.0,
    poll_seconds: float = 10.0,
    primary_down: bool = True,
) -> DatabaseOutcome:
    """The three database steps in order; a standby that is not ready is not promoted."""
    outcome = DatabaseOutcome(ready=check_ready(backend, slugs, primary_down=primary_down))
    ready = [r.slug for r in outcome.ready if r.ok]
    if not ready:
        return outcome
    outcome.promoted = promote_all(backend, ready, parallel=parallel)
    started = [r.slug for r in outcome.promoted if r.ok]
    outcome.writable = wait_writable(
        backend, started, timeout_seconds=timeout_seconds, poll_seconds=poll_seconds
    )
    return outcome
