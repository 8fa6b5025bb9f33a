"""The failover drill, on two real PostgreSQL 18 servers (tests/replication.py).

A primary and its hot standby streaming by physical replication (`pg_basebackup -R -X stream`),
as an RDS cross-region read replica does. First, while the primary is up, the readiness check of
`ops.disaster_recovery.database` is shown a standby that really is behind (replay paused with
`pg_wal_replay_pause()` while the primary takes writes) and must refuse to promote it once its lag
passes the RPO; the passage of the 60 s is a clock the backend is given, not a wait. Then the
drill: a steady write load through the app's connection code, the primary stopped hard, the
failover's database steps (`fail_over_databases`) with the local backend, and the count of what
was lost (the RPO) and how long the app could not write (the RTO of the database step).

Nothing asserted depends on the machine's speed: losses are bounded by the commits the standby
was not yet seen to have, not by a time. The measured numbers are printed, and
bench/failover_drill.py prints them over several runs.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import pytest
from replication import (
    CROSS_REGION_DELAY_SECONDS,
    ORDERS_TABLE,
    READ_ONLY_SQLSTATE,
    SLUG,
    DrillResult,
    LocalReplicas,
    ReplicaPair,
    app_connect,
    replica_pair,
    run_drill,
    wait_for,
)

from ops.disaster_recovery.database import RPO_SECONDS, check_ready, fail_over_databases

# A module fixture runs a real PostgreSQL primary and standby: once, on one worker (slow).
pytestmark = [pytest.mark.slow, pytest.mark.xdist_group("failover-drill")]

T = TypeVar("T")


@pytest.fixture(scope="module")
def pair() -> Iterator[ReplicaPair]:
    with replica_pair(link_delay=CROSS_REGION_DELAY_SECONDS) as servers:
        yield servers


def _standby_sql(pair: ReplicaPair, sql: str) -> Any:
    admin = pair.standby.superuser()
    try:
        return admin.run(sql)
    finally:
        admin.close()


def _insert_on_primary(pair: ReplicaPair, count: int, writer: str) -> None:
    app = app_connect(pair.primary_parameter, ca_file=str(pair.primary.ca_file))
    try:
        for seq in range(count):
            app.run(
                f"INSERT INTO {ORDERS_TABLE} (writer, seq) VALUES (:writer, :seq)",
                writer=writer,
                seq=seq,
            )
    finally:
        app.close()


def _eventually(read: Callable[[], T], holds: Callable[[T], bool], tries: int = 100) -> T:
    """The first reading for which `holds` is true, else the last one (for the assertion)."""
    for _ in range(tries - 1):
        reading = read()
        if holds(reading):
            return reading
        time.sleep(0.02)
    return read()


@pytest.fixture(scope="module")
def lag_check(pair: ReplicaPair) -> dict[str, Any]:
    """Run before the drill (which needs it, so the primary is still up): a standby made to fall
    behind for real, judged with the real clock and with one RPO and a second later."""
    real = LocalReplicas({SLUG: pair.standby})
    later = LocalReplicas({SLUG: pair.standby}, clock=lambda: time.time() + RPO_SECONDS + 1)
    seen: dict[str, Any] = {}
    _insert_on_primary(pair, 1, "lag-check-first")  # a replayed commit to measure lag from
    pair.standby_caught_up()
    # The primary writes a little WAL of its own now and then (e.g. a running-transactions record
    # every 15 s), so "caught up" is read until it holds at the instant of reading.
    seen["streaming"] = _eventually(lambda: real.status(SLUG), lambda s: s.lag_seconds == 0.0)
    _standby_sql(pair, "SELECT pg_wal_replay_pause()")
    try:
        wait_for(
            "replay to pause",
            lambda: _standby_sql(pair, "SELECT pg_get_wal_replay_pause_state()") == [["paused"]],
        )
        _insert_on_primary(pair, 20, "lag-check-behind")
        wait_for(  # received but not replayed: the standby is behind, not merely idle
            "the standby to receive what it cannot replay",
            lambda: (
                _standby_sql(pair, "SELECT pg_last_wal_receive_lsn() > pg_last_wal_replay_lsn()")
                == [[True]]
            ),
        )
        seen["behind_rows"] = _standby_sql(
            pair, f"SELECT count(*) FROM {ORDERS_TABLE} WHERE writer = 'lag-check-behind'"
        )[0][0]
        seen["behind_later"] = later.status(SLUG)
        seen["ready_later"] = check_ready(later, [SLUG], primary_down=False)
        seen["failover_later"] = fail_over_databases(
            later, [SLUG], primary_down=False, timeout_seconds=5, poll_seconds=0.01
        )
        seen["promotions"] = list(later.promotions)
        seen["in_recovery"] = _standby_sql(pair, "SELECT pg_is_in_recovery()")[0][0]
    finally:
        _standby_sql(pair, "SELECT pg_wal_replay_resume()")
    pair.standby_caught_up()
    seen["caught_up_later"] = _eventually(
        lambda: check_ready(later, [SLUG], primary_down=False), lambda r: r[0].ok
    )
    return seen


@pytest.fixture(scope="module")
def drill(pair: ReplicaPair, lag_check: dict[str, Any]) -> DrillResult:
    """The drill, once, after the lag check (it leaves the primary stopped)."""
    return run_drill(pair)


def test_the_standby_streams_the_primary_and_is_caught_up(lag_check: dict[str, Any]) -> None:
    status = lag_check["streaming"]
    assert status.is_replica and status.available
    assert status.lag_seconds == 0.0, status.detail
    assert status.detail == "streaming, caught up"


def test_readiness_refuses_a_standby_further_behind_than_the_rpo(
    lag_check: dict[str, Any],
) -> None:
    assert lag_check["behind_rows"] == 0  # the 20 rows reached the standby's disk, not its tables
    later = lag_check["behind_later"]
    assert later.is_replica and later.lag_seconds is not None
    assert later.lag_seconds > RPO_SECONDS
    [refused] = lag_check["ready_later"]
    assert not refused.ok
    assert refused.detail.startswith("replica lag 6") and refused.detail.endswith("> 60 s")
    outcome = lag_check["failover_later"]
    assert not outcome.ok and outcome.promoted == [] and outcome.writable == []
    assert lag_check["promotions"] == [] and lag_check["in_recovery"] is True
    [caught_up] = lag_check["caught_up_later"]  # replay resumed: lag 0 whatever the clock says
    assert caught_up.ok and caught_up.detail == "replica, lag 0.0 s"


def test_writes_to_the_standby_are_refused_quickly_with_a_clear_error(drill: DrillResult) -> None:
    """The recovery-region app wrote from the start; until the promotion every write was refused
    by the server with SQLSTATE 25006, never left hanging (the app's socket timeout is 5 s)."""
    assert drill.refusals_before_promotion > 0
    assert drill.standby_failures == 0  # every write was answered: no timeout, no cut connection
    assert drill.refusal_codes == {READ_ONLY_SQLSTATE}
    assert drill.refusal_message == "cannot execute INSERT in a read-only transaction"


def test_the_database_steps_promote_the_standby(drill: DrillResult) -> None:
    ready, promoted, writable = drill.outcome.ready, drill.outcome.promoted, drill.outcome.writable
    assert [r.slug for r in ready] == [r.slug for r in promoted] == [r.slug for r in writable]
    assert [r.detail for r in promoted] == ["promotion started"]
    assert [r.detail for r in writable] == ["accepts writes"]
    assert drill.outcome.ok


def test_the_app_reaches_the_promoted_server_through_its_connection_parameter(
    drill: DrillResult, pair: ReplicaPair
) -> None:
    assert drill.in_recovery_after is False
    assert drill.served_by["user"] == "chefs_app"
    assert drill.served_by["transaction_read_only"] == "off"
    assert (drill.served_by["host"], drill.served_by["port"]) == (
        pair.standby.host,
        pair.standby.port,
    )
    assert not pair.primary.running()  # nothing else could have answered
    assert drill.standby_acked >= 5
    assert drill.missing_standby_acks == 0 and drill.standby_rows == drill.standby_acked


def test_commits_lost_are_only_those_the_standby_was_not_seen_to_have(drill: DrillResult) -> None:
    """The RPO in transactions: acknowledged commits missing after the promotion. Asynchronous
    replication may lose the newest ones, never older ones and never with a hole; everything the
    standby had replayed before the crash is there."""
    assert drill.acked >= drill.confirmed + 50
    assert drill.lost <= drill.acked - drill.confirmed  # the in-flight window
    survivors = set(drill.surviving_primary_seqs)
    acked_in_order = drill.acked_seqs
    kept = [seq for seq in acked_in_order if seq in survivors]
    assert kept == acked_in_order[: len(kept)], "a hole: a newer commit survived an older one"
    assert all(seq > acked_in_order[drill.confirmed - 1] for seq in drill.lost_seqs)
    # Nothing appears that the app did not send: rows are acknowledged or in doubt.
    assert len(survivors) == drill.acked - drill.lost + drill.in_doubt_present


def test_rpo_and_rto_are_measured_and_printed(
    drill: DrillResult, capsys: pytest.CaptureFixture[str]
) -> None:
    with capsys.disabled():
        print(
            f"\nfailover drill ({drill.rate:.0f} orders/s, standby "
            f"{drill.link_delay * 1000:.0f} ms away): {drill.summary()}"
        )
    assert drill.rto_seconds > drill.crash_seconds > 0
    assert drill.rpo_seconds >= 0 and (drill.rpo_seconds > 0) == (drill.lost > 0)


def test_a_rerun_after_promotion_is_a_no_op(drill: DrillResult) -> None:
    assert [r.detail for r in drill.rerun.ready] == ["already promoted"]
    assert [r.detail for r in drill.rerun.promoted] == ["already promoted"]
    assert [r.detail for r in drill.rerun.writable] == ["accepts writes"]
    assert drill.rerun.ok and drill.rerun_promotions == 0
