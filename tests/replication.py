"""The failover drill on real PostgreSQL: a primary, its streaming standby, a write load, a crash.

Used by tests/test_failover_drill.py (assertions) and bench/failover_drill.py (numbers). Nothing
here runs at import time; every server is started by `replica_pair()` and stopped when it exits.

- `replica_pair()`: a primary (`start_postgres(replication=True)`), the app user `chefs_app` made by
  the real bootstrap (`runtime.db_bootstrap.converge`, as the master user) with a test password (an
  IAM token on RDS), and a hot standby (`start_standby`, `pg_basebackup -R -X stream`) to which that
  user arrives by physical replication, as it does on an RDS cross-region read replica. Each server
  has a connection parameter shaped like the restaurant's SSM parameter.
- `LocalReplicas`: the `ReplicaBackend` of ops/disaster_recovery/database.py over such standbys.
- `AppWriter`: the load generator, a thread that does what the app does for each order: read the
  connection parameter, connect with `runtime.app_connection.connect` (verified TLS, timeouts),
  insert one row, and log the acknowledged commit. A refused or broken write drops the connection
  and the next one reconnects through the parameter.
- `run_drill(pair)`: the drill; returns a `DrillResult` with the measured RPO and RTO.
"""

from __future__ import annotations

import contextlib
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import Any

import pg8000.native
from postgres_server import PostgresServer, start_postgres, start_standby

from constructs.tenant_database import APP_SCHEMA, APP_USERNAME, DATABASE_NAME
from ops.disaster_recovery.database import (
    DatabaseOutcome,
    ReplicaStatus,
    fail_over_databases,
)
from runtime.app_connection import connect
from runtime.db_bootstrap import Target, converge

SLUG = "golden-wok"
TEST_PASSWORD = "drill-only-password"  # on RDS the app signs an IAM token instead
READ_ONLY_SQLSTATE = "25006"  # read_only_sql_transaction: "cannot execute INSERT in a read-only..."
WRITE_TIMEOUT_SECONDS = 5.0  # the app's socket timeout: a write is answered or fails by then
ORDERS_TABLE = f"{APP_SCHEMA}.drill_orders"
# One way between us-east-1 and us-west-2 (a round trip is about 60-70 ms): the drill's default
# distance between the primary and the standby, so the asynchronous replication has WAL in flight.
CROSS_REGION_DELAY_SECONDS = 0.03


class DrillError(RuntimeError):
    """A bounded wait ran out: the drill could not reach the state it needs."""


def wait_for(what: str, condition: Callable[[], bool], *, timeout: float = 30.0) -> None:
    """Poll `condition` every 10 ms until it holds; DrillError after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise DrillError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.01)


def connection_parameter(server: PostgresServer) -> dict[str, Any]:
    """What the tenant stack writes to `/chefs-kiss-<env>/tenants/<slug>/connection` (see
    docs/application-contract.md), pointing at this server's TLS front."""
    return {
        "host": server.host,
        "port": server.port,
        "database": DATABASE_NAME,
        "user": APP_USERNAME,
        "auth": "iam",
        "sslmode": "verify-full",
    }


def app_connect(
    parameter: Mapping[str, Any], *, ca_file: str, timeout: float = WRITE_TIMEOUT_SECONDS
) -> pg8000.native.Connection:
    """The app's connection from its connection parameter (the password stands in for the IAM
    token the app signs with its access role's credentials on AWS)."""
    return connect(
        host=str(parameter["host"]),
        port=int(parameter["port"]),
        database=str(parameter["database"]),
        user=str(parameter["user"]),
        password=TEST_PASSWORD,
        ca_file=ca_file,
        timeout=timeout,
    )


def sql_state(error: BaseException) -> tuple[str, str]:
    """(SQLSTATE, message) of a pg8000 DatabaseError, which keeps the server's fields in args[0]."""
    detail = error.args[0] if error.args else {}
    if isinstance(detail, dict):
        return str(detail.get("C", "")), str(detail.get("M", detail))
    return "", str(detail)


# The servers ----------------------------------------------------------------------------------


@dataclass
class ReplicaPair:
    primary: PostgresServer
    standby: PostgresServer
    link_delay: float = 0.0  # seconds, each way, between the primary and the standby

    @property
    def primary_parameter(self) -> dict[str, Any]:
        return connection_parameter(self.primary)

    @property
    def standby_parameter(self) -> dict[str, Any]:
        """The recovery region's parameter: the standby's endpoint, before and after promotion."""
        return connection_parameter(self.standby)

    def fail_primary_region(self) -> None:
        """The primary's region goes dark at one instant: no byte from the primary reaches anyone
        after it (no acknowledgment to the app, no more WAL to the standby, including WAL on its
        way over the link); then the primary stops hard (`pg_ctl stop -m immediate`) and its
        endpoint and link go away."""
        self.primary.isolate()
        self.primary.crash()
        self.primary.disconnect()
        self.standby.cut_link()

    def standby_caught_up(self) -> bool:
        """The standby has replayed everything the primary had written when asked."""
        primary = self.primary.superuser()
        try:
            [[target]] = primary.run("SELECT pg_current_wal_lsn()::text")
        finally:
            primary.close()

        def replayed() -> bool:
            standby = self.standby.superuser()
            try:
                [[done]] = standby.run(
                    "SELECT pg_last_wal_replay_lsn() >= CAST(:target AS pg_lsn)", target=target
                )
            finally:
                standby.close()
            return bool(done)

        wait_for(f"the standby to replay up to {target}", replayed)
        return True


@contextlib.contextmanager
def replica_pair(*, link_delay: float = 0.0) -> Iterator[ReplicaPair]:
    """A bootstrapped primary and its streaming standby, `link_delay` seconds away (each way);
    both stopped and removed on exit."""
    primary = start_postgres(port=0, replication=True)
    standby: PostgresServer | None = None
    try:
        master = primary.master()
        try:
            converge(master, Target(user=APP_USERNAME, schema=APP_SCHEMA, database=DATABASE_NAME))
            master.run(f"ALTER ROLE {APP_USERNAME} PASSWORD {pg8000.native.literal(TEST_PASSWORD)}")
        finally:
            master.close()
        app = app_connect(connection_parameter(primary), ca_file=str(primary.ca_file))
        try:
            app.run(
                f"CREATE TABLE {ORDERS_TABLE} (writer text NOT NULL, seq bigint NOT NULL, "
                "placed_at timestamptz NOT NULL DEFAULT clock_timestamp(), "
                "PRIMARY KEY (writer, seq))"
            )
        finally:
            app.close()
        standby = start_standby(primary, link_delay=link_delay)
        pair = ReplicaPair(primary, standby, link_delay)
        wait_for("the standby to stream", lambda: _receiver_status(standby) == "streaming")
        pair.standby_caught_up()
        yield pair
    finally:
        try:
            if standby is not None:
                standby.stop()
        finally:
            primary.stop()


def _receiver_status(standby: PostgresServer) -> str | None:
    admin = standby.superuser()
    try:
        rows = admin.run("SELECT status FROM pg_stat_wal_receiver")
    finally:
        admin.close()
    return str(rows[0][0]) if rows else None


# The replica backend ----------------------------------------------------------------------------


class LocalReplicas:
    """`ReplicaBackend` over local standbys, by slug. Status and writability are read over the
    standby's TLS front as the superuser stand-in (on AWS: the RDS API and CloudWatch's ReplicaLag);
    promotion is `pg_ctl promote` without waiting, as RDS's PromoteReadReplica returns at once.

    Lag: 0 when the standby has replayed all it received, else the age of the last replayed
    commit, now - pg_last_xact_replay_timestamp() (what RDS's ReplicaLag is, except that RDS does
    not return 0 for a caught-up replica of an idle source: it reports up to five minutes there);
    unknown (None) when the WAL receiver is not streaming (the primary is gone or unreachable).
    `clock` is that "now" (wall-clock seconds); a test moves it forward instead of waiting out
    the RPO."""

    def __init__(
        self, standbys: Mapping[str, PostgresServer], *, clock: Callable[[], float] = time.time
    ) -> None:
        self.standbys = dict(standbys)
        self.clock = clock
        self.promotions: list[str] = []

    def status(self, slug: str) -> ReplicaStatus:
        standby = self.standbys.get(slug)
        if standby is None or not standby.data_dir.exists():
            return ReplicaStatus(slug, False, False, False, None, "no standby")
        try:
            admin = standby.superuser()
        except (pg8000.native.Error, OSError) as error:
            return ReplicaStatus(slug, True, True, False, None, f"standby does not answer: {error}")
        try:
            [[in_recovery]] = admin.run("SELECT pg_is_in_recovery()")
            if not in_recovery:
                return ReplicaStatus(slug, True, False, True, 0.0, "promoted")
            [[receiver, caught_up, replayed_at, paused]] = admin.run(
                "SELECT (SELECT status FROM pg_stat_wal_receiver), "
                "pg_last_wal_receive_lsn() = pg_last_wal_replay_lsn(), "
                "pg_last_xact_replay_timestamp(), pg_get_wal_replay_pause_state()"
            )
        finally:
            admin.close()
        lag: float | None
        if receiver != "streaming":
            lag, detail = None, f"not streaming from the primary (receiver: {receiver})"
        elif caught_up:
            lag, detail = 0.0, "streaming, caught up"
        elif replayed_at is None:
            lag, detail = None, "streaming, nothing replayed yet"
        else:
            lag = max(0.0, self.clock() - replayed_at.timestamp())
            detail = f"streaming, behind (replay {paused})"
        return ReplicaStatus(slug, True, True, True, lag, detail)

    def promote(self, slug: str) -> None:
        standby = self.standbys[slug]
        if not self.status(slug).is_replica:
            return
        self.promotions.append(slug)
        try:
            standby.pg_ctl("promote", "-W", timeout=30)
        except RuntimeError:
            if self.status(slug).is_replica:  # not a race with another promotion: a failure
                raise

    def writable(self, slug: str) -> bool:
        """Whether the server hands out a transaction id, which a standby cannot."""
        admin = self.standbys[slug].superuser()
        try:
            admin.run("SELECT pg_current_xact_id()")
        except pg8000.native.DatabaseError as error:
            if "during recovery" in sql_state(error)[1]:  # cannot assign TransactionIds during ...
                return False
            raise
        finally:
            admin.close()
        return True


# The load generator -----------------------------------------------------------------------------


@dataclass(frozen=True)
class Attempt:
    """One write and how it ended: acked (committed and acknowledged), refused (the server said
    no, with its SQLSTATE), or failed (no answer: connection refused or cut; in doubt if sent)."""

    seq: int
    outcome: str  # "acked" | "refused" | "failed"
    at: float  # time.monotonic() when the outcome was known
    seconds: float  # from the start of the attempt (connect included) to its outcome
    code: str = ""
    message: str = ""
    sent: bool = False  # for a failure: the INSERT was sent, so it may have committed


class AppWriter(threading.Thread):
    """Writes one order per tick (`rate` a second) through the app's connection code, reading
    the connection parameter from `parameter` before each new connection, until `stop()`."""

    def __init__(
        self,
        name: str,
        parameter: Callable[[], Mapping[str, Any]],
        *,
        ca_file: str,
        rate: float,
        reconnect_pause: float = 0.01,
    ) -> None:
        super().__init__(name=f"drill-writer-{name}", daemon=True)
        self.writer = name
        self.parameter = parameter
        self.ca_file = ca_file
        self.interval = 1.0 / rate
        self.reconnect_pause = reconnect_pause
        self.attempts: list[Attempt] = []
        self.crashed: BaseException | None = None
        self._stop_event = threading.Event()
        self._lock = threading.Lock()

    def stop(self) -> None:
        self._stop_event.set()
        self.join(timeout=3 * WRITE_TIMEOUT_SECONDS)
        if self.is_alive():
            raise DrillError(f"{self.name} did not stop")
        if self.crashed is not None:
            raise DrillError(f"{self.name} crashed: {self.crashed!r}") from self.crashed

    def log(self) -> list[Attempt]:
        with self._lock:
            return list(self.attempts)

    def acked(self) -> list[Attempt]:
        return [a for a in self.log() if a.outcome == "acked"]

    def _record(self, attempt: Attempt) -> None:
        with self._lock:
            self.attempts.append(attempt)

    def run(self) -> None:
        try:
            self._run()
        except BaseException as error:  # reported by stop(); a writer must not die silently
            self.crashed = error

    def _run(self) -> None:
        conn: pg8000.native.Connection | None = None
        seq = 0
        next_tick = time.monotonic()
        while not self._stop_event.is_set():
            seq += 1
            started, sent = time.monotonic(), False
            try:
                if conn is None:
                    conn = app_connect(self.parameter(), ca_file=self.ca_file)
                sent = True
                conn.run(
                    f"INSERT INTO {ORDERS_TABLE} (writer, seq) VALUES (:writer, :seq)",
                    writer=self.writer,
                    seq=seq,
                )
            except pg8000.native.DatabaseError as error:
                code, message = sql_state(error)
                self._record(
                    Attempt(seq, "refused", time.monotonic(), time.monotonic() - started,
                            code, message)
                )  # fmt: skip
                _drop(conn)  # a read-only server is the wrong one: reconnect next time
                conn = None
                self._stop_event.wait(self.reconnect_pause)
            except (pg8000.native.InterfaceError, OSError) as error:
                self._record(
                    Attempt(seq, "failed", time.monotonic(), time.monotonic() - started,
                            type(error).__name__, str(error), sent)
                )  # fmt: skip
                _drop(conn)
                conn = None
                self._stop_event.wait(self.reconnect_pause)
            else:
                self._record(Attempt(seq, "acked", time.monotonic(), time.monotonic() - started))
            next_tick = max(next_tick + self.interval, time.monotonic())
            self._stop_event.wait(max(0.0, next_tick - time.monotonic()))
        _drop(conn)


def _drop(conn: pg8000.native.Connection | None) -> None:
    """Close a connection that may already be broken; the caller forgets it (None)."""
    if conn is not None:
        with contextlib.suppress(Exception):
            conn.close()


# The drill ------------------------------------------------------------------------------------


@dataclass
class DrillResult:
    """What one drill measured. Times are seconds; RPO and RTO as the issue defines them."""

    rate: float  # the primary writer's target, orders a second
    link_delay: float  # seconds, each way, between the primary and the standby
    acked: int  # commits the primary acknowledged to the app
    confirmed: int  # of which the standby was seen to replay before the crash
    lost: int  # acknowledged but absent after promotion: the RPO in transactions
    lost_seqs: list[int]
    rpo_seconds: float  # ack time of the newest lost commit - of the newest surviving one
    in_doubt: int  # sent, never answered: may or may not have committed
    in_doubt_present: int
    rto_seconds: float  # the primary's stop -> the first write acknowledged by the promoted server
    crash_seconds: float  # how long cutting the network and `pg_ctl stop -m immediate` took
    database_steps_seconds: float  # fail_over_databases, start to end
    lag_before_stop: float | None  # the backend's lag reading just before the crash
    refusals_before_promotion: int  # the recovery-region app's writes the standby refused
    refusal_codes: set[str]
    refusal_message: str
    slowest_refusal_seconds: float
    standby_failures: int  # the recovery-region app's writes that got no answer (none expected)
    standby_acked: int
    standby_rows: int
    missing_standby_acks: int
    surviving_primary_seqs: list[int] = field(repr=False)
    acked_seqs: list[int] = field(repr=False)
    outcome: DatabaseOutcome = field(repr=False)
    rerun: DatabaseOutcome = field(repr=False)
    rerun_promotions: int = 0
    in_recovery_after: bool = True
    served_by: dict[str, Any] = field(default_factory=dict)

    def summary(self) -> str:
        lag = "unknown" if self.lag_before_stop is None else f"{self.lag_before_stop:.3f} s"
        codes = "/".join(sorted(self.refusal_codes))
        return (
            f"RPO {self.lost} of {self.acked} acknowledged commits lost "
            f"({self.rpo_seconds:.3f} s of writes; {self.in_doubt} in doubt, "
            f"{self.in_doubt_present} of them committed), RTO {self.rto_seconds:.3f} s "
            f"(database steps {self.database_steps_seconds:.3f} s), lag before stop {lag}, "
            f"{self.refusals_before_promotion} writes refused by the standby "
            f"({codes}, slowest {self.slowest_refusal_seconds:.3f} s)"
        )


def run_drill(
    pair: ReplicaPair,
    *,
    rate: float = 200.0,
    warmup_commits: int = 100,
    window_commits: int = 50,
    after_commits: int = 5,
) -> DrillResult:
    """Write at `rate` to the primary while the recovery-region app writes to the standby; once
    `warmup_commits` are acknowledged, see the standby replay them, let `window_commits` more be
    acknowledged, crash the primary, run `fail_over_databases`, and count.

    The recovery-region writer tries every 10 ms from the start, so its refusals before the
    promotion and its first success after it are both observed through the app's own code."""
    slug = SLUG
    backend = LocalReplicas({slug: pair.standby})
    ca_file = str(pair.standby.ca_file)
    primary_app = AppWriter(
        "primary-app", lambda: pair.primary_parameter, ca_file=ca_file, rate=rate
    )
    standby_app = AppWriter(
        "standby-app", lambda: pair.standby_parameter, ca_file=ca_file, rate=100
    )
    writers = (primary_app, standby_app)
    for writer in writers:
        writer.start()
    try:
        wait_for(
            f"{warmup_commits} commits on the primary",
            lambda: len(primary_app.acked()) >= warmup_commits,
        )
        confirmed = len(primary_app.acked())
        pair.standby_caught_up()  # every commit acknowledged so far is on the standby
        wait_for(
            f"{window_commits} more commits",
            lambda: len(primary_app.acked()) >= confirmed + window_commits,
        )
        lag_before_stop = backend.status(slug).lag_seconds
        stopped_at = time.monotonic()
        pair.fail_primary_region()
        crash_seconds = time.monotonic() - stopped_at
        primary_app.stop()

        steps_started = time.monotonic()
        outcome = fail_over_databases(backend, [slug], timeout_seconds=60, poll_seconds=0.01)
        steps_seconds = time.monotonic() - steps_started
        if not outcome.ok:
            raise DrillError(f"the database steps failed: {outcome}")
        wait_for(
            f"{after_commits} writes on the promoted server",
            lambda: len(standby_app.acked()) >= after_commits,
        )
    finally:
        for writer in writers:
            with contextlib.suppress(DrillError):
                writer.stop()
    for writer in writers:
        if writer.crashed is not None:
            raise DrillError(f"{writer.name} crashed: {writer.crashed!r}") from writer.crashed

    promotions_before = len(backend.promotions)
    rerun = fail_over_databases(backend, [slug], timeout_seconds=10, poll_seconds=0.01)
    rerun_promotions = len(backend.promotions) - promotions_before

    # What the app now sees through its parameter, and what survived.
    app = app_connect(pair.standby_parameter, ca_file=ca_file)
    try:
        [[in_recovery, user, read_only]] = app.run(
            "SELECT pg_is_in_recovery(), current_user, current_setting('transaction_read_only')"
        )
        rows = app.run(f"SELECT writer, seq FROM {ORDERS_TABLE}")
    finally:
        app.close()
    present: dict[str, set[int]] = {"primary-app": set(), "standby-app": set()}
    for writer_name, seq in rows:
        present.setdefault(writer_name, set()).add(int(seq))

    acked = primary_app.acked()
    acked_seqs = [a.seq for a in acked]
    lost = [a for a in acked if a.seq not in present["primary-app"]]
    surviving = [a for a in acked if a.seq in present["primary-app"]]
    in_doubt = [a for a in primary_app.log() if a.outcome == "failed" and a.sent]
    rpo_seconds = (lost[-1].at - surviving[-1].at) if lost and surviving else 0.0

    standby_log = standby_app.log()
    first_success = next(a for a in standby_log if a.outcome == "acked")
    refusals = [a for a in standby_log if a.outcome == "refused" and a.at < first_success.at]
    standby_acked = [a.seq for a in standby_log if a.outcome == "acked"]
    return DrillResult(
        rate=rate,
        link_delay=pair.link_delay,
        acked=len(acked),
        confirmed=confirmed,
        lost=len(lost),
        lost_seqs=[a.seq for a in lost],
        rpo_seconds=rpo_seconds,
        in_doubt=len(in_doubt),
        in_doubt_present=sum(1 for a in in_doubt if a.seq in present["primary-app"]),
        rto_seconds=first_success.at - stopped_at,
        crash_seconds=crash_seconds,
        database_steps_seconds=steps_seconds,
        lag_before_stop=lag_before_stop,
        refusals_before_promotion=len(refusals),
        refusal_codes={a.code for a in refusals},
        refusal_message=refusals[0].message if refusals else "",
        slowest_refusal_seconds=max((a.seconds for a in refusals), default=0.0),
        standby_failures=sum(1 for a in standby_log if a.outcome == "failed"),
        standby_acked=len(standby_acked),
        standby_rows=len(present["standby-app"]),
        missing_standby_acks=len(set(standby_acked) - present["standby-app"]),
        surviving_primary_seqs=sorted(present["primary-app"]),
        acked_seqs=acked_seqs,
        outcome=outcome,
        rerun=rerun,
        rerun_promotions=rerun_promotions,
        in_recovery_after=bool(in_recovery),
        served_by={"user": user, "transaction_read_only": read_only, **pair.standby_parameter},
    )
