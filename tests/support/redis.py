"""Start and stop a throwaway redis-server (no persistence) on a free 127.0.0.1 port."""

from __future__ import annotations

import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

import redis

from .postgres import free_port


class RedisUnavailable(RuntimeError):
    pass


@dataclass
class RedisServer:
    port: int
    process: subprocess.Popen[bytes]
    workdir: Path

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def stop(self) -> None:
        if self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(10)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        shutil.rmtree(self.workdir, ignore_errors=True)


def start_redis() -> RedisServer:
    """redis-server in the foreground of a child process, nothing written to disk."""
    binary = shutil.which("redis-server")
    if binary is None:
        raise RedisUnavailable("redis-server was not found (apt-get install redis-server)")
    workdir = Path(tempfile.mkdtemp(prefix="filmsphere-redis-"))
    port = free_port()
    process = subprocess.Popen(
        [
            binary,
            "--port",
            str(port),
            "--bind",
            "127.0.0.1",
            "--save",
            "",
            "--appendonly",
            "no",
            "--dir",
            str(workdir),
            "--daemonize",
            "no",
            "--loglevel",
            "warning",
        ],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )
    server = RedisServer(port=port, process=process, workdir=workdir)
    client = redis.Redis(host="127.0.0.1", port=port, socket_connect_timeout=1)
    deadline = time.monotonic() + 15
    while time.monotonic() < deadline:
        if process.poll() is not None:
            error = process.stderr.read().decode() if process.stderr else ""
            server.stop()
            raise RedisUnavailable(f"redis-server exited: {error}")
        try:
            if client.ping():
                return server
        except redis.ConnectionError:
            time.sleep(0.05)
    server.stop()
    raise RedisUnavailable("redis-server did not start answering")
