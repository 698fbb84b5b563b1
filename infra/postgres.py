"""A private PostgreSQL cluster (Debian's server binaries, initdb + pg_ctl) on a loopback port.

PostgreSQL refuses to run as root, so when we are root the server commands run as the
``postgres`` system user that Debian's package creates, and the cluster directory is theirs.
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

from jobstream.infra.apt import apt_install
from jobstream.infra.process import InfraError, pid_alive, port_open, read_pid, tail, wait_until

READY_TIMEOUT_S = 60.0
SERVER_USER = "postgres"


def find_bindir() -> Path | None:
    """The newest installed server's bin directory, or None when no server is installed."""
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_major_version)
    if candidates:
        return Path(candidates[-1]).parent
    initdb = shutil.which("initdb")
    return Path(initdb).resolve().parent if initdb else None


def _major_version(path: str) -> int:
    try:
        return int(Path(path).parts[-3])
    except (ValueError, IndexError):
        return 0


def install_server() -> Path:
    """Install Debian's PostgreSQL server package when missing (root, or sudo without a password)."""
    bindir = find_bindir()
    if bindir is not None:
        return bindir
    apt_install("postgresql", "install Debian's 'postgresql' package, or set JOBSTREAM_DATABASE_URL to an existing "
                              "server")
    bindir = find_bindir()
    if bindir is None:
        raise InfraError("the postgresql package installed but initdb was not found under /usr/lib/postgresql")
    return bindir


@dataclass(frozen=True)
class LocalPostgres:
    home: Path
    port: int
    database: str = "jobstream"
    user: str = "jobstream"
    fast_and_unsafe: bool = False  # fsync off: for throwaway test clusters only

    @property
    def data_dir(self) -> Path:
        return self.home / "data"

    @property
    def log_file(self) -> Path:
        return self.home / "postgres.log"

    @property
    def dsn(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/{self.database}"

    def _as_server_user(self, command: list[str]) -> list[str]:
        if os.geteuid() != 0:
            return command
        return ["runuser", "-u", SERVER_USER, "--", *command]

    def _run(self, command: list[str], what: str) -> None:
        result = subprocess.run(self._as_server_user(command), capture_output=True, text=True)
        if result.returncode != 0:
            raise InfraError(f"{what} failed:\n{result.stdout[-2000:]}{result.stderr[-2000:]}\nlog: {self.log_file}")

    def _prepare_home(self) -> None:
        self.home.mkdir(parents=True, exist_ok=True)
        if os.geteuid() == 0:
            # The server user must reach the cluster through every parent directory.
            shutil.chown(self.home, SERVER_USER, SERVER_USER)
            for parent in self.home.parents:
                if parent.stat().st_mode & 0o001 == 0:
                    parent.chmod(parent.stat().st_mode | 0o001)

    def _initdb(self, bindir: Path) -> None:
        if (self.data_dir / "PG_VERSION").exists():
            return
        self._run(
            [str(bindir / "initdb"), "-D", str(self.data_dir), "-U", self.user, "--auth=trust",
             "--encoding=UTF8", "--locale=C.UTF-8"],
            "initdb",
        )

    def running_pid(self) -> int | None:
        """The postmaster's pid from its own pid file, when that process is alive."""
        pid = read_pid(self.data_dir / "postmaster.pid") if self.data_dir.exists() else None
        return pid if pid is not None and pid_alive(pid) else None

    def up(self) -> str:
        pid = self.running_pid()
        if pid is not None:
            self._wait_ready()
            return f"postgres already running (pid {pid}) at {self.dsn}"
        if port_open(self.port):
            raise InfraError(f"port {self.port} is taken by another process; stop it or set JOBSTREAM_PG_PORT")
        bindir = install_server()
        self._prepare_home()
        self._initdb(bindir)
        options = f"-c listen_addresses=127.0.0.1 -p {self.port} -c unix_socket_directories={self.home}"
        options += " -c max_connections=200 -c shared_buffers=256MB"
        if self.fast_and_unsafe:
            options += " -c fsync=off -c synchronous_commit=off -c full_page_writes=off"
        self._run(
            [str(bindir / "pg_ctl"), "-D", str(self.data_dir), "-l", str(self.log_file), "-o", options,
             "-w", "-t", str(int(READY_TIMEOUT_S)), "start"],
            "starting postgres",
        )
        self._wait_ready()
        self._create_database()
        return f"postgres started (pid {self.running_pid()}) at {self.dsn}"

    def _wait_ready(self) -> None:
        wait_until(lambda: answers_query(self._admin_dsn()), READY_TIMEOUT_S,
                   f"postgres on port {self.port} (log: {self.log_file})", 0.1)

    def _admin_dsn(self) -> str:
        return f"postgresql://{self.user}@127.0.0.1:{self.port}/postgres"

    def _create_database(self) -> None:
        import psycopg

        with psycopg.connect(self._admin_dsn(), autocommit=True) as conn:
            exists = conn.execute("SELECT 1 FROM pg_database WHERE datname = %s", (self.database,)).fetchone()
            if not exists:
                conn.execute(f'CREATE DATABASE "{self.database}"')

    def down(self) -> str:
        pid = self.running_pid()
        if pid is None:
            return "postgres not running"
        bindir = find_bindir()
        if bindir is None:
            raise InfraError("postgres runs but its pg_ctl cannot be found")
        self._run([str(bindir / "pg_ctl"), "-D", str(self.data_dir), "-m", "fast", "-w", "stop"], "stopping postgres")
        return f"postgres stopped (pid {pid})"

    def status(self) -> str:
        pid = self.running_pid()
        if pid is None:
            return "postgres: stopped"
        state = "ready" if answers_query(self.dsn) else "starting"
        return f"postgres: {state} (pid {pid}) dsn={self.dsn} log={self.log_file}"

    def log_tail(self) -> str:
        return tail(self.log_file)


def answers_query(dsn: str) -> bool:
    import psycopg

    try:
        with psycopg.connect(dsn, connect_timeout=2) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.Error:
        return False
