"""A local simulator of the DataForSEO v3 SERP API (`orchestrator simulate`).

It imports `schemas` and nothing else of the project, so tests and benchmarks can run it
beside any client.
"""

from orchestrator.simulator.app import RunningSimulator, Simulator, serve
from orchestrator.simulator.settings import DelayRange, SimulatorConfig

__all__ = ["DelayRange", "RunningSimulator", "Simulator", "SimulatorConfig", "serve"]
