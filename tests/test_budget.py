"""A batch is posted only within the budget: the decision (pipeline/budget.py) is a pure
function of the caps and of what the ledger recorded, read at one instant (`spend_facts`)."""

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.config import BudgetConfig
from orchestrator.ledger import Ledger
from orchestrator.ledger.attempts import Spend
from orchestrator.pipeline.budget import affordable, capped, room
from tests import pg_server

PRICES = st.sampled_from([0.0006, 0.00075, 0.0012, 0.002])


def test_the_tightest_cap_binds_and_what_other_batches_hold_counts_as_spent() -> None:
    caps = BudgetConfig(max_cost_usd=10.0, max_cost_usd_per_period=1.0, max_cost_usd_per_month=5.0)
    left, cap = room(caps, Spend(total=9.5, period=0.2, month=4.0, held=0.1), "2026-12-03")
    assert cap == "max_cost_usd" and left == pytest.approx(0.4)
    spend = Spend(total=1.0, period=0.9, month=1.0, held=0.05)
    left, cap = room(caps, spend, "2026-12-03")
    assert cap == "max_cost_usd_per_period" and left == pytest.approx(0.05)
    # A one-shot job (period '') has no period to cap: the monthly cap binds instead.
    left, cap = room(caps, spend, "")
    assert cap == "max_cost_usd_per_month" and left == pytest.approx(3.95)


def test_without_a_cap_nothing_is_read_and_everything_fits() -> None:
    assert not capped(BudgetConfig())
    assert capped(BudgetConfig(max_cost_usd_per_month=1.0))
    left, cap = room(BudgetConfig(), Spend(5.0, 5.0, 5.0, 5.0), "p")
    assert cap == "" and affordable([0.0006] * 100, left) == 100


@given(st.lists(PRICES, max_size=100), st.integers(min_value=0, max_value=100))
def test_a_batch_is_cut_at_the_first_task_that_does_not_fit(costs: list[float], n: int) -> None:
    """Tasks are posted in their order: the batch keeps the longest head whose estimates fit,
    a budget of exactly n tasks' prices takes n of them (float sums are not exact)."""
    left = sum(costs[:n])
    fits = affordable(costs, left)
    assert fits >= min(n, len(costs))  # a budget of exactly n tasks' prices takes n
    assert sum(costs[:fits]) <= left + 1e-9  # never more than the budget
    assert fits == len(costs) or sum(costs[: fits + 1]) > left  # and no fewer than fit


def test_the_spend_is_read_at_one_instant_while_other_batches_are_posted(
    pg: pg_server.Server,
) -> None:
    """Another worker's batches go from posting (held, at their estimate) to posted (spent,
    at the same price) while a budget reads: spent + held never reads less than what was
    claimed. Read one figure at a time, a batch moving between two reads was in neither."""
    url = pg.url()
    poster = Ledger(url, pg_server.PASSWORD, workers=True)
    reader = Ledger(url, pg_server.PASSWORD, workers=True)
    try:
        poster.start_run()
        reader.start_run()
        poster.add_inputs([("j", "p", f"k{i}", f"j:p:k{i}", i, b"{}", 0.0006) for i in range(4000)])
        batches = [poster.claim_batch("j", "p", 10) for _ in range(400)]
        claimed_usd = 4000 * 0.0006
        readings: list[float] = []
        posting = threading.Thread(
            target=lambda: [
                poster.mark_posted([(c.tag, f"id-{c.tag}", 0.0006) for c in claimed], "2026-12")
                for _, claimed in batches
            ]
        )
        posting.start()
        while posting.is_alive() or not readings:
            spend = reader.spend_facts("j", "p", "2026-12", except_batch=0)
            readings.append(spend.total + spend.held)
        posting.join()
        assert len(readings) > 10
        assert min(readings) == pytest.approx(claimed_usd)
        final = reader.spend_facts("j", "p", "2026-12", except_batch=0)
        assert (final.total, final.period, final.month, final.held) == pytest.approx(
            (claimed_usd, claimed_usd, claimed_usd, 0.0)
        )
    finally:
        poster.close()
        reader.close()
