"""Shared fixtures: asyncio in debug mode, a simulator on an ephemeral loopback port, and the
ledger's location on each engine (a SQLite file; a database on a throwaway PostgreSQL server)."""

import base64
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from orchestrator.ledger import Ledger
from orchestrator.simulator.app import RunningSimulator, serve
from orchestrator.simulator.settings import DelayRange, SimulatorConfig
from tests import az_server, pg_server, s3_server

FIXTURES = Path(__file__).parent / "fixtures"
AUTH = {"Authorization": "Basic " + base64.b64encode(b"sim:sim").decode()}
FAST = DelayRange(0.0, 0.0)


@pytest.fixture
def anyio_backend() -> tuple[str, dict[str, Any]]:
    return ("asyncio", {"debug": True})


def fast_config(**changes: Any) -> SimulatorConfig:
    """A simulator whose tasks complete at once unless the test says otherwise."""
    values: dict[str, Any] = {"delay_normal": FAST, "delay_high": FAST, "port": 0}
    values.update(changes)
    return SimulatorConfig(**values)


@pytest.fixture
async def sim() -> AsyncIterator[RunningSimulator]:
    async with serve(fast_config()) as running:
        yield running


@pytest.fixture
async def http() -> AsyncIterator[aiohttp.ClientSession]:
    async with aiohttp.ClientSession(headers=AUTH) as session:
        yield session


@pytest.fixture(scope="session")
def pg() -> Iterator[pg_server.Server]:
    """A PostgreSQL server for this test process, started on first use."""
    if pg_server.binaries() is None:
        pytest.fail("PostgreSQL's binaries are missing: apt-get install postgresql (.ci/run does)")
    with pg_server.running() as server:
        yield server


@pytest.fixture(scope="session")
def s3() -> Iterator[s3_server.S3Server]:
    """An S3-compatible server (moto's server mode) for this test process, started on first
    use."""
    with s3_server.running() as server:
        yield server


@pytest.fixture(scope="session")
def az() -> Iterator[az_server.AzServer]:
    """An Azure Blob Storage server (Azurite) for this test process, started on first use."""
    if az_server.binary() is None:
        pytest.fail("Azurite is missing: npm install --prefix /opt/azurite azurite (.ci/run does)")
    with az_server.running() as server:
        yield server


ObjectServer = s3_server.S3Server | az_server.AzServer


@pytest.fixture(params=["s3", "az"])
def store(request: pytest.FixtureRequest) -> ObjectServer:
    """An object store of each kind the tests have a server of: the tests that take it run
    on both (`gs://` has none here: obstore needs a full GCS emulator, fake-gcs-server)."""
    server: ObjectServer = request.getfixturevalue(request.param)
    return server


@dataclass(frozen=True)
class LedgerAt:
    """Where a test's ledger is: a SQLite file, or a new database on the test server."""

    location: str
    password: str | None = None

    def open(self) -> Ledger:
        return Ledger(self.location, self.password)

    def reader(self) -> Ledger:
        return Ledger.reader(self.location, self.password)


def ledger_at(engine: str, request: pytest.FixtureRequest, folder: Path) -> LedgerAt:
    if engine == "sqlite":
        return LedgerAt(str(folder / "state.sqlite"))
    server: pg_server.Server = request.getfixturevalue("pg")
    return LedgerAt(server.url(), pg_server.PASSWORD)


@pytest.fixture(params=["sqlite", "postgres"])
def where(request: pytest.FixtureRequest, tmp_path: Path) -> LedgerAt:
    """A ledger's location on each engine: the tests that take it run on both."""
    return ledger_at(request.param, request, tmp_path)
