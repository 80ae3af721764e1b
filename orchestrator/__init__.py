"""orchestrator: run large batches of DataForSEO SERP tasks safely (see README.md).

The stages of a run are one module each: inputs, loader (with load_worker), ledger, producer,
poller (and receiver for postbacks), sink, export and report; `orchestrator.simulator` is the
local API simulator.
"""

__version__ = "0.1.0"  # the one place it is written: pyproject.toml reads it from here


def version() -> str:
    """The version `--version` shows. A constant: asking importlib.metadata took 30 ms of
    every start."""
    return __version__


__all__ = ["__version__", "version"]
