"""The benchmark machinery works end to end at tiny sizes (figures are not judged here: speed
is proven by `make bench`, not by timed assertions)."""

import json
import subprocess
import sys
from pathlib import Path

from bench.rate import steady_utilization

ROOT = Path(__file__).resolve().parent.parent


def test_steady_utilization_ignores_the_first_and_last_window() -> None:
    # 2 s of warm-up, 10 s at 5 calls/s, a 1-call tail: the steady part is exactly 5 per second.
    per_second = [0, 1, 3] + [5] * 10 + [1]
    assert steady_utilization(per_second, limit=10, period=2) == 1.0
    assert steady_utilization([], limit=10, period=2) == 0.0


def run_bench(module: str, *args: str, tmp: Path) -> dict[str, float]:
    out = tmp / f"{module}.json"
    done = subprocess.run(
        [sys.executable, "-m", module, *args, "--json", str(out)],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    figures: dict[str, float] = json.loads(out.read_text())
    printed = [line.split(": ", 1)[0] for line in done.stdout.splitlines()]
    assert sorted(printed) == sorted(figures)  # one `name: value` line per figure, no more
    return figures


def test_rate_bench_runs_and_never_sees_a_rejection(tmp_path: Path) -> None:
    figures = run_bench("bench.rate", "--tasks", "300", tmp=tmp_path)
    assert figures["rate_rejections"] == 0
    assert figures["rate_window_peak"] <= figures["rate_limit_per_window"]
    assert figures["rate_calls"] >= figures["rate_least_calls"]


def test_overhead_and_memory_benches_run(tmp_path: Path) -> None:
    figures = run_bench("bench.overhead", "--tasks", "500", tmp=tmp_path)
    assert figures["overhead_calls"] >= 500 + 5
    args = ["--small", "100", "--large", "300", "--dry-lines", "1000"]
    figures = run_bench("bench.memory", *args, tmp=tmp_path)
    assert figures["memory_run_small_peak_mb"] > 0 and figures["memory_dry_run_lines"] == 1000


def test_ledger_bench_runs_on_the_products_schema(tmp_path: Path) -> None:
    figures = run_bench("bench.ledger", "--rows", "3000", "--keywords", "300", tmp=tmp_path)
    assert figures["ledger_rows"] == 3000
    assert figures["status_s_10m_rows"] > 0 and figures["start_to_first_post_s_10m_rows"] > 0


def test_recovery_bench_runs_through_kills(tmp_path: Path) -> None:
    args = ["--tasks", "30", "--kills", "1", "--load-rows", "2000", "--start-rows", "2000"]
    figures = run_bench("bench.recovery", *args, tmp=tmp_path)
    assert figures["load_rows"] == 2000 and figures["load_rows_per_s"] > 0
    assert figures["restart_vs_clean"] > 0 and figures["restart_rate_limited"] == 0


def test_postbacks_bench_runs_both_ways(tmp_path: Path) -> None:
    args = ["--tasks", "60", "--calls", "600", "--settle-tasks", "100"]
    figures = run_bench("bench.postbacks", *args, tmp=tmp_path)
    assert figures["postback_task_get_calls"] == 0 and figures["polling_task_get_calls"] == 60
    assert figures["postback_vs_polling"] > 0 and figures["postback_settled_per_s"] > 0


def test_bucket_bench_runs_both_ways(tmp_path: Path) -> None:
    args = ["--tasks", "40", "--depth", "10", "--repeat", "1"]
    figures = run_bench("bench.bucket", *args, tmp=tmp_path)
    assert figures["s3_vs_local"] > 0 and figures["s3_parts"] >= 1


def test_object_clients_bench_runs_both_clients(tmp_path: Path) -> None:
    figures = run_bench("bench.object_clients", "--parts", "2", "--part-mb", "0.5", tmp=tmp_path)
    assert figures["obstore_put_mb_per_s"] > 0 and figures["s3fs_put_mb_per_s"] > 0


def test_postgres_bench_runs_on_a_server_and_keeps_the_shared_window(tmp_path: Path) -> None:
    args = ["--tasks", "50", "--repeat", "1", "--limit-tasks", "30", "--load-rows", "2000"]
    args += ["--window-s", "3"]
    figures = run_bench("bench.postgres", *args, tmp=tmp_path)
    assert figures["postgres_vs_sqlite"] > 0 and figures["load_rows_per_s_postgres"] > 0
    assert 0 < figures["shared_window_peak"] <= 600
    assert figures["postgres_at_limit_rate_limited"] == 0


def test_workers_bench_runs_three_workers_and_a_failover(tmp_path: Path) -> None:
    args = ["--tasks", "300", "--failover-tasks", "300"]
    args += ["--request-timeout-s", "5", "--reconcile-after-s", "1"]  # an open POST: 6 s, not 155
    figures = run_bench("bench.workers", *args, tmp=tmp_path)
    assert figures["workers3_rate_limited"] == 0
    assert figures["workers3_vs_bound"] > 0
    assert 0 < figures["failover_fetched_s"] <= figures["failover_s"] < 60


def test_receivers_bench_settles_with_one_and_with_two_receivers(tmp_path: Path) -> None:
    figures = run_bench("bench.receivers", "--tasks", "300", tmp=tmp_path)
    assert figures["receivers1_settled_per_s"] > 0 and figures["receivers2_settled_per_s"] > 0
    assert figures["receivers2_vs_1"] > 0 and figures["receivers_cores"] >= 1
