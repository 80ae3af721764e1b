"""A local simulator of the DataForSEO v3 SERP API (`orchestrator simulate`).

It imports `schemas` and nothing else of the project, so tests and benchmarks can run it
beside any client. Its settings are here; the server is `orchestrator.simulator.app` (`serve`,
`Simulator`), imported by what serves it, so that `orchestrator run`, whose command line knows
the `simulate` flags, does not load it: it starts sooner.
"""

from orchestrator.simulator.settings import DelayRange, SimulatorConfig

__all__ = ["DelayRange", "SimulatorConfig"]
