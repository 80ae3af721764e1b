"""`orchestrator demo`: the whole product on a laptop in under a minute, at zero cost.

Starts the simulator in-process (a little fault injection on), writes a sample config and a
few hundred inputs over google/organic, naver/organic and google/search_by_image into the
output folder, runs them, and leaves the results there to look at.
"""

import argparse
import time
from pathlib import Path
from typing import Final

import anyio

from orchestrator.cli.common import ExitCode, say
from orchestrator.cli.run import reason_of, unwrap_errors
from orchestrator.cli.validate import job_summary
from orchestrator.config import credentials, find_job, ledger_password, load_config
from orchestrator.ledger import Ledger
from orchestrator.pipeline.outcome import RunReport
from orchestrator.pipeline.run import Run
from orchestrator.pipeline.schedule import plan
from orchestrator.reports import report, report_html
from orchestrator.simulator import DelayRange, SimulatorConfig
from orchestrator.simulator.app import serve
from orchestrator.storage.layout import MARKER
from orchestrator.wire.client import ApiClient
from orchestrator.wire.limiter import AccountLimiter

DEMO_JOBS: Final = ("rank-tracking", "naver-kr", "image-lookup")
DEMO_DAYS: Final = 3  # periods of the daily job: the day before yesterday, yesterday, today
MAX_DEMO_S: Final = 40.0  # per period
DAY_S: Final = 86400.0

DEMO_DOMAIN: Final = "www.example.com"  # IANA's reserved name: the demo's client
CONFIG: Final = """# Written by `orchestrator demo`; point base_url at the real API to use it.
[api]
base_url = "{url}"
login = "sim"
password = "sim"
overdue_s = 10

[state]
path = "state.sqlite"

[output]
dir = "."

[budget]
max_cost_usd = 5.0

[[jobs]]
name = "rank-tracking"
se = "google"
se_type = "organic"
input = "inputs/keywords.txt"
every = "day"                 # posted again each day; results in rank-tracking/period=.../
[jobs.defaults]
location_code = 2840
language_code = "en"
depth = 20

[[jobs]]
name = "naver-kr"
se = "naver"
se_type = "organic"
input = "inputs/naver.csv"

[[jobs]]
name = "image-lookup"
se = "google"
se_type = "search_by_image"
input = "inputs/images.txt"
[jobs.defaults]
location_name = "United States"
language_code = "en"
"""

BRANDS: Final = "acme globex initech umbrella stark wayne hooli vandelay soylent cyberdyne".split()
TOPICS: Final = "shoes laptop coffee bike camera phone tent watch sofa headphones".split()


def write_inputs(folder: Path) -> None:
    """A few hundred realistic-looking inputs, and two bad rows to show rejection."""
    inputs = folder / "inputs"
    inputs.mkdir(parents=True, exist_ok=True)
    keywords = [f"{brand} {topic}" for brand in BRANDS for topic in TOPICS]
    (inputs / "keywords.txt").write_text("\n".join([*keywords, "x" * 701]) + "\n")
    naver = [
        f"{brand} {topic} 추천,{15 * (1 + i % 2)}"
        for i, (brand, topic) in enumerate((b, t) for b in BRANDS for t in TOPICS)
    ]
    (inputs / "naver.csv").write_text(
        "keyword,depth\n" + "\n".join([*naver, "too deep,9000"]) + "\n"
    )
    images = [f"https://images.example.com/{topic}/{n}.jpg" for topic in TOPICS for n in range(5)]
    (inputs / "images.txt").write_text("\n".join(images) + "\n")


def clear_previous(folder: Path) -> None:
    """Remove what an earlier demo left (only the files the demo itself writes)."""
    names = ("state.sqlite", "state.sqlite-wal", "state.sqlite-shm", "state.sqlite.lock")
    for name in (*names, "report.html"):
        (folder / name).unlink(missing_ok=True)
    for job in DEMO_JOBS:
        (folder / job / MARKER).unlink(missing_ok=True)
        for place in [folder / job, *(folder / job).glob("period=*")]:
            for kind in ("results.jsonl", "failed.jsonl", "rejected.jsonl"):
                (place / kind).unlink(missing_ok=True)
            if place.name.startswith("period=") and place.is_dir() and not any(place.iterdir()):
                place.rmdir()


def prepare(folder: Path) -> None:
    """Create the folder, clear an earlier demo's files, write the sample inputs."""
    folder.mkdir(parents=True, exist_ok=True)
    clear_previous(folder)
    write_inputs(folder)


async def run_demo(folder: Path) -> tuple[list[RunReport], dict[str, object]]:
    """Run the demo in a `prepare`d folder: the daily job's last DEMO_DAYS periods, one after
    the other, with the simulator's clock moved a day between them (so rankings move); the
    one-shot jobs run with the first. Returns each run's report and the simulator's stats."""
    sim_config = SimulatorConfig(
        port=0,
        seed=42,
        delay_normal=DelayRange(1.0, 6.0),
        delay_high=DelayRange(0.5, 2.0),
        fault_rate=0.02,
        fault_weights={"http_500": 1.0, "drop": 1.0, "drop_after": 1.0, "truncate": 1.0},
        share_no_results=0.02,
        domains=(DEMO_DOMAIN,),  # the "client" the report follows, among real-looking SERPs
    )
    async with serve(sim_config) as sim:
        path = folder / "jobs.toml"
        await anyio.Path(path).write_text(CONFIG.format(url=sim.url))
        config = load_config(path)
        api = config.api
        limiter = AccountLimiter.for_api(api)
        ledger = Ledger(config.state.location, ledger_password(config.state))
        reports = []
        now = time.time()
        try:
            async with ApiClient(api, credentials(api, str(path)), limiter) as client:
                for back in range(DEMO_DAYS - 1, -1, -1):
                    day = plan(config, now - back * DAY_S, None, str(path)).key("rank-tracking")
                    run = Run(config, ledger, client, plan(config, now, day, str(path)))
                    run.load_inputs()
                    reports.append(await run.execute(MAX_DEMO_S))
                    sim.sim.clock.advance(DAY_S)  # the next period's SERPs are a day later
        finally:
            ledger.close()
        return reports, sim.sim.stats()


def add_demo(p: argparse.ArgumentParser) -> None:
    p.add_argument("--out", default="demo-out", help="folder for config, inputs and results")


def command_demo(args: argparse.Namespace) -> int:
    """`orchestrator demo`: a simulated account, sample jobs, a daily job over three periods,
    a summary, and the HTML report of what moved."""
    folder = Path(args.out)
    say(f"demo: simulator started in-process; writing config, inputs and results to {folder}/")
    started = time.monotonic()
    prepare(folder)
    with unwrap_errors():
        reports, stats = anyio.run(run_demo, folder)
    for report_ in reports:
        period = report_.jobs["rank-tracking"].period
        say(f"period {period}:")
        job_summary(report_, dry=False)
    last = reports[-1]
    say(f"runs ended ({reason_of(last)}): spent ${last.spent:.4f}, {last.outstanding} outstanding")
    say(
        f"simulator saw {stats['calls_total']} calls, {stats['tasks_created']} tasks created, "
        f"{stats['duplicate_tags']} duplicate tags, {stats['rate_limited']} rate-limit refusals, "
        f"faults injected {stats['faults_injected']}; took {time.monotonic() - started:.1f} s"
    )
    say(
        f"results: {folder}/rank-tracking/period=<day>/results.jsonl (and "
        f"{folder}/<job>/results.jsonl for the one-shot jobs); rejected rows: rejected.jsonl"
    )
    config = load_config(folder / "jobs.toml")
    job = find_job(config, "rank-tracking", str(folder / "jobs.toml"))
    found = report.build(config, job, str(folder / "jobs.toml"), DEMO_DOMAIN)
    html = folder / "report.html"
    html.write_text(report_html.render(found), encoding="utf-8")
    say(f"what moved ({found.then} -> {found.now}): open {html.resolve()}")
    return ExitCode.OK if last.outstanding == 0 else ExitCode.ERROR
