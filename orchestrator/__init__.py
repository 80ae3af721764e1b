"""orchestrator: run large batches of DataForSEO SERP tasks safely (see README.md).

The batch pipeline is not here yet; `orchestrator.simulator` is the local API simulator.
"""

__all__: list[str] = []
