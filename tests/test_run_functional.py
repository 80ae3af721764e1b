"""A Run in-process against the simulator over loopback HTTP: the paths the end-to-end tests
cannot steer, such as a task the API refuses although our validation passed it."""

import json
import time
from pathlib import Path

import anyio
import msgspec
import pytest

from orchestrator.config import credentials, load_config
from orchestrator.ledger import Ledger, is_url
from orchestrator.pipeline.run import Run
from orchestrator.pipeline.schedule import plan
from orchestrator.simulator.app import RunningSimulator
from orchestrator.wire.client import ApiClient
from orchestrator.wire.limiter import AccountLimiter
from tests.conftest import LedgerAt


def write_config(tmp: Path, url: str, keywords: list[str], where: LedgerAt) -> Path:
    """A one-job config whose ledger is `where` (a file, or a database on the test server)."""
    (tmp / "kw.txt").write_text("".join(f"{k}\n" for k in keywords))
    path = tmp / "jobs.toml"
    state = f'url = "{where.location}"' if is_url(where.location) else 'path = "state.db"'
    path.write_text(f"""
[api]
base_url = "{url}"
login = "sim"
password = "sim"
[state]
{state}
[output]
dir = "out"
[[jobs]]
name = "g"
se = "google"
se_type = "organic"
input = "kw.txt"
[jobs.defaults]
location_code = 2840
language_code = "en"
""")
    return path


def open_ledger(path: Path, where: LedgerAt) -> Ledger:
    return Ledger(load_config(path).state.location, where.password)


async def test_a_task_refused_at_post_gets_one_failed_line_and_is_not_reposted(
    tmp_path: Path, sim: RunningSimulator, where: LedgerAt
) -> None:
    path = write_config(tmp_path, sim.url, ["a", "b"], where)
    config = load_config(path)
    api = config.api
    limiter = AccountLimiter.for_api(api)
    ledger = open_ledger(path, where)
    # An input our checks would have refused, as if the API's rules were stricter than ours.
    bad = msgspec.json.encode(
        {
            "keyword": "c",
            "location_code": 2840,
            "language_code": "en",
            "depth": 9000,
            "tag": "g:bad",
        }
    )
    ledger.add_inputs([("g", "", "bad", "g:bad", 3, bad, 0.0006)])
    try:
        async with ApiClient(api, credentials(api, str(path)), limiter) as client:
            run = Run(config, ledger, client, plan(config, time.time(), None, str(path)))
            run.load_inputs()
            report = await run.execute(30)
        assert ledger.counts("g") == {
            "pending": 0,
            "posting": 0,
            "posted": 0,
            "done": 2,
            "failed": 1,
            "missed": 0,
        }
    finally:
        ledger.close()
    assert report.outstanding == 0
    failed = [json.loads(x) for x in (tmp_path / "out/g/failed.jsonl").read_text().splitlines()]
    assert len(failed) == 1
    assert failed[0]["status_code"] == 40501 and failed[0]["stage"] == "task_post"
    assert "depth" in failed[0]["status_message"] and failed[0]["data"]["keyword"] == "c"
    results = (tmp_path / "out/g/results.jsonl").read_text().splitlines()
    assert sorted(json.loads(x)["data"]["keyword"] for x in results) == ["a", "b"]
    assert sim.sim.stats()["calls_by_function"]["task_post"] == 1


async def test_tasks_of_a_job_removed_from_the_config_do_not_keep_a_run_going(
    tmp_path: Path, sim: RunningSimulator, where: LedgerAt
) -> None:
    """A posted task of a job no longer in the config is left alone, and the run still ends."""
    path = write_config(tmp_path, sim.url, ["a"], where)
    config = load_config(path)
    ledger = open_ledger(path, where)
    body = msgspec.json.encode({"keyword": "old", "location_code": 2840, "language_code": "en"})
    ledger.add_inputs([("gone", "", "k", "gone:k", 1, body, 0.0006)])
    ledger.claim_batch("gone", "", 100)
    ledger.mark_posted([("gone:k", "00000000-0000-0000-0000-000000000001", 0.0006)], "2026-11")
    try:
        async with ApiClient(
            config.api, credentials(config.api, str(path)), AccountLimiter.for_api(config.api)
        ) as client:
            run = Run(config, ledger, client, plan(config, time.time(), None, str(path)))
            run.load_inputs()
            report = await run.execute(30)
        assert not report.timed_out
        assert ledger.counts("g")["done"] == 1 and ledger.counts("gone")["posted"] == 1
    finally:
        ledger.close()


async def test_follow_posts_each_period_when_it_begins_and_says_what_it_waits_for(
    tmp_path: Path, sim: RunningSimulator, where: LedgerAt
) -> None:
    """An hourly job followed across an hour boundary: both hours' batches are posted and
    collected once each, and between them the run waits for the next hour, saying so."""
    path = write_config(tmp_path, sim.url, ["a", "b", "c"], where)
    path.write_text(
        path.read_text().replace('input = "kw.txt"', 'input = "kw.txt"\nevery = "hour"')
    )
    config = load_config(path)
    real = time.time()
    offset = (3600 - real % 3600) - 5.0  # five seconds before the next full hour

    def clock() -> float:  # the wall clock, shifted
        return time.time() + offset

    first = plan(config, clock(), None, str(path))
    ledger = open_ledger(path, where)
    seen: list[str | None] = []
    try:
        async with ApiClient(
            config.api, credentials(config.api, str(path)), AccountLimiter.for_api(config.api)
        ) as client:
            run = Run(config, ledger, client, first, clock=clock)
            run.load_inputs()

            async def watch() -> None:
                while True:
                    seen.append((await run.snapshot()).waiting())
                    await anyio.sleep(0.2)

            async with anyio.create_task_group() as tg:
                tg.start_soon(watch)
                report = await run.execute(12.0, follow=True)
                tg.cancel_scope.cancel()
        hours = [first.key("g"), run.plan.key("g")]
        assert hours[0] != hours[1]
        for hour in hours:
            assert ledger.counts("g", hour)["done"] == 3
    finally:
        ledger.close()
    assert report.timed_out  # --follow ends only when told to
    # Between batches it said what it waited for: the next hour (or, on a loaded machine that
    # settled the first batch only after the boundary, the one after it).
    waits = {s.split()[3] for s in seen if s and s.startswith("waiting for period ")}
    assert waits and all(hour > hours[0] for hour in waits), seen
    assert sim.sim.stats()["tasks_created"] == 6 and sim.sim.stats()["duplicate_tags"] == 0
    for hour in hours:
        results = tmp_path / "out" / "g" / f"period={hour}" / "results.jsonl"
        assert len(results.read_text().splitlines()) == 3


async def _run_period(
    path: Path, period: str | None, where: LedgerAt
) -> tuple[dict[str, int], str | None]:
    config = load_config(path)
    ledger = open_ledger(path, where)
    try:
        async with ApiClient(
            config.api, credentials(config.api, str(path)), AccountLimiter.for_api(config.api)
        ) as client:
            run = Run(config, ledger, client, plan(config, time.time(), period, str(path)))
            run.load_inputs()
            report = await run.execute(30)
        return ledger.counts("g", run.plan.key("g")), report.budget_stopped
    finally:
        ledger.close()


async def test_period_and_month_budgets_stop_posting_at_their_caps(
    tmp_path: Path, sim: RunningSimulator, where: LedgerAt
) -> None:
    """$0.0012 a period lets 2 of 3 keywords through each day; a month cap of $0.003 then
    stops the second day at 1 more task, whatever the period cap allows."""
    path = write_config(tmp_path, sim.url, ["a", "b", "c"], where)
    text = path.read_text().replace('input = "kw.txt"', 'input = "kw.txt"\nevery = "day"')
    path.write_text(text + "[budget]\nmax_cost_usd_per_period = 0.0012\n")
    counts, cap = await _run_period(path, "2026-11-22", where)
    assert (counts["done"], counts["pending"], cap) == (2, 1, "max_cost_usd_per_period")
    path.write_text(text + "[budget]\nmax_cost_usd_per_month = 0.0018\n")
    counts, cap = await _run_period(path, "2026-11-23", where)
    assert (counts["done"], counts["pending"], cap) == (1, 2, "max_cost_usd_per_month")
    assert sim.sim.stats()["tasks_created"] == 3


async def test_keep_periods_prunes_old_settled_rows_but_never_outputs(
    tmp_path: Path, sim: RunningSimulator, where: LedgerAt
) -> None:
    """With keep_periods = 1, the second day's run forgets the first day's settled rows; the
    first day's results file stays, and the spend is still counted."""
    path = write_config(tmp_path, sim.url, ["a", "b"], where)
    text = path.read_text().replace('input = "kw.txt"', 'input = "kw.txt"\nevery = "day"')
    path.write_text(text.replace("[state]\n", "[state]\nkeep_periods = 1\n"))
    await _run_period(path, "2026-11-22", where)
    first = tmp_path / "out" / "g" / "period=2026-11-22" / "results.jsonl"
    kept = first.read_bytes()
    await _run_period(path, "2026-11-23", where)
    ledger = open_ledger(path, where)
    try:
        counts, spent, pruned = ledger.period_summary("g", "2026-11-22")
        assert (sum(counts.values()), pruned) == (0, 2) and spent == pytest.approx(0.0012)
        assert ledger.counts("g", "2026-11-23")["done"] == 2
        assert ledger.spent() == pytest.approx(0.0024)
    finally:
        ledger.close()
    assert first.read_bytes() == kept


@pytest.mark.anyio
async def test_a_wait_for_the_next_period_follows_a_step_of_the_wall_clock() -> None:
    """--follow waits for a wall-clock time: when the clock steps an hour ahead mid-wait, the
    wait ends at the next reading instead of an hour of the event loop's clock later."""
    from orchestrator.pipeline.producer import sleep_until

    readings = iter([1000.0, 1000.0])  # then the step: every later reading is an hour on
    started = time.monotonic()
    with anyio.fail_after(30):
        await sleep_until(lambda: next(readings, 4600.0), 4600.0, check_s=0.05)
    assert time.monotonic() - started < 10
