"""Whether a claimed batch may be posted within the budget: a pure function of the caps and
of what the ledger recorded (`Spend`, read in one statement), so that it is tested alone.

Several workers claim batches at once; each judges its batch after its claim committed, and
counts the rows other batches hold *posting* as spent. Of two batches judged at once, the one
judged later sees the other's claim, so together they never pass a cap.
"""

import math
from collections.abc import Iterable
from typing import Final

from orchestrator.config import BudgetConfig
from orchestrator.ledger.attempts import Spend

SLACK_USD: Final = 1e-9  # sums of prices such as 0.0006 are not exact in binary


def capped(caps: BudgetConfig) -> bool:
    """Whether any cap is set (else nothing need be read before a batch is posted)."""
    return any(
        cap is not None
        for cap in (caps.max_cost_usd, caps.max_cost_usd_per_period, caps.max_cost_usd_per_month)
    )


def room(caps: BudgetConfig, spend: Spend, period: str) -> tuple[float, str]:
    """(USD the batch may still cost, the cap that binds); no bound ('') when no cap is set.
    A one-shot job (period '') has no per-period cap."""
    rooms = []
    if caps.max_cost_usd is not None:
        rooms.append((caps.max_cost_usd - spend.total, "max_cost_usd"))
    if caps.max_cost_usd_per_period is not None and period:
        rooms.append((caps.max_cost_usd_per_period - spend.period, "max_cost_usd_per_period"))
    if caps.max_cost_usd_per_month is not None:
        rooms.append((caps.max_cost_usd_per_month - spend.month, "max_cost_usd_per_month"))
    if not rooms:
        return math.inf, ""
    left, cap = min(rooms)
    return left - spend.held, cap


def affordable(costs: Iterable[float], left: float) -> int:
    """How many of the batch's tasks, in its order, fit in `left` by their estimates."""
    fits = 0
    for cost in costs:
        if cost > left + SLACK_USD:
            break
        left -= cost
        fits += 1
    return fits
