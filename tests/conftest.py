"""Shared fixtures: asyncio in debug mode, and a simulator on an ephemeral loopback port."""

import base64
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import aiohttp
import pytest

from orchestrator.simulator.app import RunningSimulator, serve
from orchestrator.simulator.settings import DelayRange, SimulatorConfig

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
