"""``RedisServer``: a throwaway ``redis-server`` on a free loopback port, for tests.

Started from Debian's package (``/usr/bin/redis-server``, which ``scripts/setup`` installs) with
no persistence (``--save "" --appendonly no``), so a restart loses everything, as a real Redis
restart without persistence does. Tests that need Redis fail, never skip, when it is missing.
"""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from game_server.testing import free_port

REDIS_SERVER = "/usr/bin/redis-server"
MISSING = (
    "redis-server is not installed: run scripts/setup as root (it installs Debian's "
    "redis-server package), or apt-get install redis-server"
)


def redis_server_binary() -> str:
    """The redis-server to run; fails the test (with how to install it) when there is none."""
    path = REDIS_SERVER if Path(REDIS_SERVER).exists() else shutil.which("redis-server")
    if path is None:
        pytest.fail(MISSING, pytrace=False)
    return path


class RedisServer:
    """One redis-server process on ``port``: ``start()``, ``stop()``, ``restart()``; as a
    context manager, started on entry and stopped on exit."""

    def __init__(self, port: int | None = None) -> None:
        self.binary = redis_server_binary()
        self.port = port or free_port()
        self.process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def start(self, timeout: float = 10.0) -> None:
        """Start it and wait (at most ``timeout`` s) until it answers PING."""
        self.process = subprocess.Popen(
            [
                self.binary,
                "--port",
                str(self.port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--protected-mode",
                "yes",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.process.poll() is not None:
                pytest.fail(f"redis-server exited with {self.process.returncode}")
            if self.ping():
                return
            time.sleep(0.02)
        self.stop()
        pytest.fail("redis-server did not answer PING")

    def ping(self) -> bool:
        """Whether the server answers PING now."""
        try:
            with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as conn:
                conn.sendall(b"PING\r\n")
                return conn.recv(16).startswith(b"+PONG")
        except OSError:
            return False

    def stop(self) -> None:
        """Stop it (SIGTERM, then SIGKILL after 5 s) and wait for it."""
        process, self.process = self.process, None
        if process is None or process.poll() is not None:
            return
        process.terminate()
        try:
            process.wait(timeout=5)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=5)

    def restart(self) -> None:
        """Stop it and start it again on the same port, empty."""
        self.stop()
        self.start()

    def __enter__(self) -> RedisServer:
        self.start()
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
