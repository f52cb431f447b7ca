"""Start and stop a throwaway PostgreSQL cluster for tests and benchmarks."""

from __future__ import annotations

import os
import pwd
import shutil
import socket
import subprocess
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path


class PostgresUnavailable(RuntimeError):
    pass


def _bindir() -> Path:
    for candidate in (os.environ.get("PG_BINDIR"), _pg_config_bindir(), *_debian_bindirs()):
        if candidate and (Path(candidate) / "initdb").exists():
            return Path(candidate)
    raise PostgresUnavailable("PostgreSQL server binaries (initdb, pg_ctl) were not found")


def _pg_config_bindir() -> str | None:
    try:
        return subprocess.run(
            ["pg_config", "--bindir"], capture_output=True, text=True, check=True
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return None


def _debian_bindirs() -> list[str]:
    root = Path("/usr/lib/postgresql")
    if not root.exists():
        return []
    return [str(p / "bin") for p in sorted(root.iterdir(), reverse=True)]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class Cluster:
    datadir: Path
    port: int
    bindir: Path
    run_as: str | None
    options: list[str] = field(default_factory=list)
    running: bool = False

    def url(self, database: str = "postgres") -> str:
        return f"postgresql+psycopg://postgres@127.0.0.1:{self.port}/{database}"

    def _cmd(self, *args: str) -> list[str]:
        if self.run_as:
            return ["runuser", "-u", self.run_as, "--", *args]
        return list(args)

    def createdb(self, name: str) -> str:
        subprocess.run(
            self._cmd(
                str(self.bindir / "createdb"),
                "-h",
                "127.0.0.1",
                "-p",
                str(self.port),
                "-U",
                "postgres",
                name,
            ),
            check=True,
            capture_output=True,
        )
        return self.url(name)

    def start(self) -> None:
        """Start the server (again) and wait until it accepts connections."""
        log = self.datadir.parent / "log"
        result = subprocess.run(
            self._cmd(
                str(self.bindir / "pg_ctl"),
                "-D",
                str(self.datadir),
                "-l",
                str(log),
                "-o",
                " ".join(self.options),
                "-w",
                "-t",
                "60",
                "start",
            ),
            capture_output=True,
            text=True,
        )
        if result.returncode != 0:
            text = log.read_text() if log.exists() else ""
            raise PostgresUnavailable(f"pg_ctl start failed: {result.stderr}\n{text}")
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                self.running = True
                return
            except OSError:
                time.sleep(0.1)
        raise PostgresUnavailable("PostgreSQL did not start listening")

    def halt(self) -> None:
        """Shut the server down as an operator's restart does (fast mode: open sessions
        are ended, their transactions rolled back), keeping the data for start()."""
        subprocess.run(
            self._cmd(str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "fast", "-w")
            + ["stop"],
            check=True,
            capture_output=True,
        )
        self.running = False

    def stop(self) -> None:
        subprocess.run(
            self._cmd(
                str(self.bindir / "pg_ctl"), "-D", str(self.datadir), "-m", "immediate", "stop"
            ),
            capture_output=True,
        )
        shutil.rmtree(self.datadir.parent, ignore_errors=True)


def start_cluster(
    *, max_connections: int = 100, durable: bool = False, settings: dict[str, str] | None = None
) -> Cluster:
    """initdb + pg_ctl start on a free 127.0.0.1 port. As root, runs as the postgres user
    (PostgreSQL refuses root). Non-durable settings make the test suite fast; `durable`
    keeps fsync on for benchmarks that should look like production. `settings` are more
    server settings (e.g. shared_preload_libraries for a benchmark's statement counts)."""
    bindir = _bindir()
    run_as = None
    if os.geteuid() == 0:
        try:
            pwd.getpwnam("postgres")
        except KeyError as exc:
            raise PostgresUnavailable("running as root but there is no 'postgres' user") from exc
        run_as = "postgres"
    base = Path(tempfile.mkdtemp(prefix="filmsphere-pg-"))
    datadir = base / "data"
    if run_as:
        entry = pwd.getpwnam(run_as)
        os.chown(base, entry.pw_uid, entry.pw_gid)
    port = free_port()
    options = [
        f"-p {port}",
        "-c listen_addresses=127.0.0.1",
        f"-c unix_socket_directories={base}",
        f"-c max_connections={max_connections}",
        "-c shared_buffers=128MB",
    ]
    if not durable:
        options += ["-c fsync=off", "-c synchronous_commit=off", "-c full_page_writes=off"]
    options += [f"-c {name}={value}" for name, value in (settings or {}).items()]
    cluster = Cluster(datadir=datadir, port=port, bindir=bindir, run_as=run_as, options=options)
    subprocess.run(
        cluster._cmd(
            str(bindir / "initdb"),
            "-D",
            str(datadir),
            "-U",
            "postgres",
            "-A",
            "trust",
            "-E",
            "UTF8",
            "--no-sync",
        ),
        check=True,
        capture_output=True,
    )
    cluster.start()
    return cluster
