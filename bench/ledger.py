"""A ledger that has lived for years: status, the live display and a run's start on it.

    status_s_10m_rows               wall time of `orchestrator status` (a process) on the ledger
    progress_cpu_share_10m_rows     CPU seconds per second of the live display's ledger reads
                                    (it refreshes once a second)
    start_to_first_post_s_10m_rows  seconds from `orchestrator run` starting to the simulator
                                    seeing its first task_post (the day's --keywords inputs
                                    are loaded first)
    ledger_rows                     rows in the ledger (10M full; --rows sets it)

The ledger is built directly, with the product's own schema (`Ledger` creates it, triggers and
indexes included): --rows settled rows of a daily job, --keywords a day, as after months of
use. The figures keep their `10m_rows` names at the smaller sizes of `--quick`; `ledger_rows`
says which size was measured.
"""

import argparse
import random
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench.common import ENV, Figures, emit, get_json, simulator, write_config
from orchestrator.config import load_config
from orchestrator.ledger import Ledger
from orchestrator.pipeline.schedule import plan

BODY = (
    b'{"keyword":"keyword 123456","location_code":2840,"language_code":"en","depth":10,'
    b'"tag":"bench:2026-01-01:0123456789abcdef0123"}'
)
SNAPSHOTS = 50


def build(path: Path, rows: int, per_day: int) -> float:
    """Settled rows of past days of job `bench`, inserted in key order; returns seconds."""
    started = time.perf_counter()
    ledger = Ledger(path)
    db = ledger._db
    rng = random.Random(1)
    keys = sorted(f"{rng.getrandbits(80):020x}" for _ in range(per_day))
    for day in range(rows // per_day):
        period = time.strftime("%Y-%m-%d", time.gmtime(1_700_000_000 + day * 86400))
        db.execute("BEGIN")
        db.executemany(
            "INSERT INTO inputs (job, period, key, tag, line, body, est_cost, state, task_id,"
            " cost, status_code, posted_at, updated_at)"
            " VALUES ('bench', ?, ?, ?, ?, ?, 0.0006, 'done', ?, 0.0006, 20000, 0, 0)",
            (
                (period, k, f"bench:{period}:{k}", i + 1, BODY, f"{day:05d}-{i:08d}-{k[:12]}")
                for i, k in enumerate(keys)
            ),
        )
        db.execute(  # the tally Ledger.add_chunk keeps for the rows it adds
            "INSERT INTO tally (job, period, state, n, cost) VALUES ('bench', ?, 'done', ?, ?)",
            (period, len(keys), 0.0006 * len(keys)),
        )
        db.execute("COMMIT")
    ledger.close()
    return time.perf_counter() - started


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.ledger", description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=10_000_000)
    parser.add_argument("--keywords", type=int, default=100_000, help="inputs a day")
    parser.add_argument(
        "--ledger",
        help="a ledger this bench built before (its rows are not rebuilt; the run adds"
        " a day to it)",
    )
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp, simulator("--delay-normal-s", "0:0") as sim:
        folder = Path(tmp)
        config_path = write_config(folder, sim.url, args.keywords, calls=2000, period_s=60)
        text = config_path.read_text().replace(
            'input = "kw.txt"', 'input = "kw.txt"\nevery = "day"'
        )
        config_path.write_text(text)
        state = folder / "state.sqlite"
        build_s = 0.0
        if args.ledger:
            state = Path(args.ledger).resolve()
            text = config_path.read_text().replace('path = "state.sqlite"', f'path = "{state}"')
            config_path.write_text(text)
        else:
            build_s = build(state, args.rows, args.keywords)

        started = time.perf_counter()
        status = subprocess.run(
            [sys.executable, "-m", "orchestrator", "status", "--config", str(config_path)],
            capture_output=True,
            text=True,
            env=ENV,
            timeout=600,
            check=True,
        )
        status_s = time.perf_counter() - started
        assert "bench:" in status.stdout, status.stdout

        # The live display's reads, as `Run.snapshot_sync` makes them for this config.
        config = load_config(config_path)
        day = plan(config, time.time(), None, str(config_path)).key("bench")
        ledger = Ledger.reader(state)
        cpu = time.process_time()
        for _ in range(SNAPSHOTS):
            ledger.counts("bench", day)
            ledger.spent()
        per_snapshot = (time.process_time() - cpu) / SNAPSHOTS
        ledger.close()

        cmd = [sys.executable, "-m", "orchestrator", "run", "--config", str(config_path)]
        started = time.perf_counter()
        proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, env=ENV)
        first_post = None
        while first_post is None and proc.poll() is None:
            posts = get_json(f"{sim.url}/_sim/stats")["calls_by_function"].get("task_post", 0)
            if posts:
                first_post = time.perf_counter() - started
            else:
                time.sleep(0.02)
        proc.kill()
        proc.wait(timeout=30)
        if first_post is None:
            problem = proc.stderr.read().decode() if proc.stderr else ""
            raise RuntimeError(f"the run posted nothing: {problem}")
    figures: Figures = {
        "ledger_rows": args.rows,
        "ledger_build_s": round(build_s, 1),
        "status_s_10m_rows": round(status_s, 3),
        "progress_cpu_share_10m_rows": round(per_snapshot / 1.0, 5),
        "start_to_first_post_s_10m_rows": round(first_post, 2),
    }
    emit(figures, args.json)


if __name__ == "__main__":
    main()
