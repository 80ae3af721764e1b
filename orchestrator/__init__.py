"""orchestrator: run large batches of DataForSEO SERP tasks safely (see README.md).

The stages of a run are one module each: inputs, loader (with load_worker), ledger, producer,
poller (and receiver for postbacks), sink, export and report; `orchestrator.simulator` is the
local API simulator.
"""


def version() -> str:
    """The installed version, as `--version` shows it. (importlib.metadata is imported here:
    it takes half of the time before `__main__` can catch a Ctrl-C.)"""
    from importlib import metadata

    try:
        return metadata.version("serp-orchestrator")
    except metadata.PackageNotFoundError:  # run from a checkout that was never installed
        return "unknown (not installed)"


__all__ = ["version"]
