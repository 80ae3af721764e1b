"""A local simulator of the DataForSEO v3 SERP API (`orchestrator simulate`).

It imports `schemas` and nothing else of the project, so tests and benchmarks can run it
beside any client. The server (`app`, with its routes and result generators) is imported on
first use, so that `orchestrator run`, whose command line knows the `simulate` flags, does
not load it: it starts sooner.
"""

from typing import TYPE_CHECKING, Any

from orchestrator.simulator.settings import DelayRange, SimulatorConfig

if TYPE_CHECKING:
    from orchestrator.simulator.app import RunningSimulator, Simulator, serve

__all__ = ["DelayRange", "RunningSimulator", "Simulator", "SimulatorConfig", "serve"]


def __getattr__(name: str) -> Any:
    if name in ("RunningSimulator", "Simulator", "serve"):
        from orchestrator.simulator import app

        return getattr(app, name)
    raise AttributeError(f"module 'orchestrator.simulator' has no attribute {name!r}")
