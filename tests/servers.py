"""Real servers for the cluster tests: PostgreSQL from the system's packages, and Dask's scheduler
and workers as separate processes (`dask scheduler`, `dask worker`), as a deployment runs them."""

from __future__ import annotations

import glob
import os
import pwd
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from tests.browser import free_port

DASK = str(Path(sys.executable).parent / "dask")
SERVER_USER = "postgres"  # PostgreSQL refuses to run as root


def postgres_bin() -> Path | None:
    """The folder of PostgreSQL's server programs (Debian keeps them off PATH), or None."""
    if found := shutil.which("initdb"):
        return Path(found).resolve().parent
    folders = sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=lambda f: int(Path(f).parent.name))
    return Path(folders[-1]) if folders else None


def missing_postgres() -> str | None:
    """Why no PostgreSQL server can be started here (None if one can)."""
    if postgres_bin() is None:
        return "PostgreSQL's server is not installed (Debian: apt-get install postgresql; .ci/run does)"
    if os.geteuid() == 0:
        try:
            pwd.getpwnam(SERVER_USER)
        except KeyError:
            return f"running as root, and there is no '{SERVER_USER}' user to run PostgreSQL as"
    return None


class Postgres:
    """A throwaway PostgreSQL server on 127.0.0.1, trusting local connections."""

    def __init__(self) -> None:
        bin_dir = postgres_bin()
        self.port = free_port()
        self.folder = Path(tempfile.mkdtemp(prefix="nnla-postgres-"))
        data = self.folder / "data"
        run_as = {}
        if os.geteuid() == 0:
            user = pwd.getpwnam(SERVER_USER)
            run_as = {"user": user.pw_uid, "group": user.pw_gid, "extra_groups": []}
            os.chown(self.folder, user.pw_uid, user.pw_gid)
        subprocess.run(
            [bin_dir / "initdb", "-D", data, "-U", "nnla", "--auth=trust", "-E", "UTF8", "--no-locale"],
            check=True,
            capture_output=True,
            **run_as,
        )
        self.process = subprocess.Popen(
            [bin_dir / "postgres", "-D", data, "-h", "127.0.0.1", "-p", str(self.port), "-k", self.folder],
            stdout=subprocess.DEVNULL,
            stderr=open(self.folder / "server.log", "wb"),  # noqa: SIM115 - closed with the process
            start_new_session=True,
            **run_as,
        )
        self._wait_until_ready()

    def _wait_until_ready(self, seconds: float = 60) -> None:
        import psycopg2

        deadline = time.monotonic() + seconds
        while True:
            try:
                psycopg2.connect(host="127.0.0.1", port=self.port, user="nnla", dbname="postgres").close()
                return
            except psycopg2.OperationalError:
                if self.process.poll() is not None or time.monotonic() > deadline:
                    raise RuntimeError((self.folder / "server.log").read_text()) from None
                time.sleep(0.1)

    def new_database(self, name: str) -> str:
        """An empty database; its SQLAlchemy URL."""
        import psycopg2

        connection = psycopg2.connect(host="127.0.0.1", port=self.port, user="nnla", dbname="postgres")
        connection.autocommit = True
        with connection.cursor() as cursor:
            cursor.execute(f'DROP DATABASE IF EXISTS "{name}"')
            cursor.execute(f'CREATE DATABASE "{name}"')
        connection.close()
        return f"postgresql+psycopg2://nnla@127.0.0.1:{self.port}/{name}"

    def stop(self) -> None:
        self.process.send_signal(signal.SIGINT)  # "fast" shutdown
        try:
            self.process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.folder, ignore_errors=True)


class DaskCluster:
    """`dask scheduler` and `dask worker` processes on 127.0.0.1, started and ended by a test."""

    def __init__(self, folder: Path, env: dict[str, str] | None = None) -> None:
        self.folder = folder
        self.folder.mkdir(parents=True, exist_ok=True)
        self.env = {**os.environ, **(env or {})}
        self.port = free_port()
        self.address = f"tcp://127.0.0.1:{self.port}"
        self.processes: list[subprocess.Popen] = []
        self._start("scheduler", [DASK, "scheduler", "--host", "127.0.0.1", "--port", str(self.port)])

    def _start(self, name: str, argv: list[str], env: dict[str, str] | None = None) -> subprocess.Popen:
        process = subprocess.Popen(
            [*argv, "--no-dashboard"],
            cwd=self.folder,
            env={**self.env, **(env or {})},
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=open(self.folder / f"{name}-{len(self.processes)}.log", "wb"),  # noqa: SIM115
            start_new_session=True,
        )
        self.processes.append(process)
        return process

    def add_worker(self, env: dict[str, str] | None = None, preload: str | None = None) -> subprocess.Popen:
        """A `dask worker` (a nanny and its worker process) with one thread."""
        argv = [DASK, "worker", self.address, "--nthreads", "1", "--nworkers", "1", "--host", "127.0.0.1"]
        if preload:
            argv += ["--preload", preload]
        return self._start("worker", argv, env)

    def client(self):
        from distributed import Client

        return Client(self.address, timeout=60)

    def wait_for_workers(self, count: int, seconds: float = 120) -> None:
        with self.client() as client:
            client.wait_for_workers(count, timeout=seconds)

    def logs(self) -> str:
        return "\n".join(
            f"--- {p.name}\n{p.read_text(errors='replace')[-3000:]}" for p in self.folder.glob("*.log")
        )

    def stop(self) -> None:
        for process in reversed(self.processes):
            if process.poll() is None:
                os.killpg(process.pid, signal.SIGTERM)
        for process in self.processes:
            try:
                process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait()
