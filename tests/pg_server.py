"""A throwaway PostgreSQL server on 127.0.0.1 for the tests: Debian's binaries, initdb and
pg_ctl run as the `postgres` user when we are root (PostgreSQL refuses to run as root), on a
free port, in a temporary folder removed at the end. No mock: the ledger talks to a real server.

The server asks every TCP client for a password (scram-sha-256), so the tests see what users
meet; the superuser connects over the folder's Unix socket to make roles and databases.
"""

import glob
import os
import pwd
import shutil
import subprocess
import tempfile
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from itertools import count
from pathlib import Path

from tests.local_servers import free_port

USER = "orch"
PASSWORD = "s3cret-never-logged"  # the tests assert it appears in no output
_numbers = count(1)


def binaries() -> Path | None:
    """The newest PostgreSQL's bin folder on this machine, or None."""
    found = sorted(glob.glob("/usr/lib/postgresql/*/bin/pg_ctl"), key=_major)
    return Path(found[-1]).parent if found else None


def _major(path: str) -> int:
    return int(path.split("/")[4])


@dataclass(frozen=True)
class Server:
    """A running server: `url()` makes a new empty database on it and names it (no password in
    the URL: the ledger reads it from the environment, as users are told to do)."""

    bin: Path
    port: int
    socket_dir: str
    run_as: str | None

    def psql(self, sql: str, database: str = "postgres") -> str:
        command = [str(self.bin / "psql"), "-h", self.socket_dir, "-p", str(self.port)]
        command += ["-U", "postgres", "-d", database, "-v", "ON_ERROR_STOP=1", "-qAtc", sql]
        done = subprocess.run(command, capture_output=True, text=True, check=True, user=self.run_as)
        return done.stdout.strip()

    def url(self) -> str:
        name = f"ledger_{os.getpid()}_{next(_numbers)}"
        self.psql(f"CREATE DATABASE {name} OWNER {USER}")
        return f"postgresql://{USER}@127.0.0.1:{self.port}/{name}"


@contextmanager
def running() -> Iterator[Server]:
    """Start a server for the duration of the block (the caller checks `binaries()` first)."""
    bin_dir = binaries()
    assert bin_dir is not None
    run_as = "postgres" if os.geteuid() == 0 else None
    home = tempfile.mkdtemp(prefix="orch-pg-")
    if run_as is not None:
        entry = pwd.getpwnam(run_as)
        os.chown(home, entry.pw_uid, entry.pw_gid)
    data, port = os.path.join(home, "data"), free_port()
    initdb = [str(bin_dir / "initdb"), "-D", data, "-U", "postgres", "--auth-local=trust"]
    initdb += ["--auth-host=scram-sha-256", "--no-sync", "-E", "UTF8", "--locale=C.UTF-8"]
    subprocess.run(
        initdb,
        check=True,
        capture_output=True,
        user=run_as,
    )
    options = f"-p {port} -k {home} -c listen_addresses=127.0.0.1 -c fsync=off"
    options += " -c max_connections=200 -c shared_buffers=32MB"
    start = [str(bin_dir / "pg_ctl"), "-D", data, "-l", os.path.join(home, "log"), "-w"]
    subprocess.run(
        [*start, "-o", options, "start"],
        check=True,
        capture_output=True,
        user=run_as,
    )
    server = Server(bin_dir, port, home, run_as)
    try:
        server.psql(f"CREATE ROLE {USER} LOGIN PASSWORD '{PASSWORD}'")
        yield server
    finally:
        subprocess.run(
            [str(bin_dir / "pg_ctl"), "-D", data, "-m", "immediate", "-w", "stop"],
            capture_output=True,
            user=run_as,
        )
        shutil.rmtree(home, ignore_errors=True)
