"""Loading inputs into the ledger: each input is one row however often it is given or loaded,
an unchanged file is not read again, and a load cut short goes on from its last committed
line. The load worker runs as the real process a run starts."""

import signal
import sqlite3
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import anyio
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st

from orchestrator.config import load_config
from orchestrator.errors import InputError, LoadFailed
from orchestrator.ledger import Ledger
from orchestrator.pipeline import load_worker, loader
from orchestrator.pipeline.inputs import ValidInput, read_inputs
from orchestrator.pipeline.run import Run
from orchestrator.pipeline.schedule import plan
from tests.test_e2e_run import ENV

LONG = "x" * 701  # over the keyword limit: rejected


def write_config(tmp: Path, defaults: str = 'location_code = 2840\nlanguage_code = "en"') -> Path:
    config = tmp / "jobs.toml"
    config.write_text(f"""
[api]
base_url = "http://127.0.0.1:9"
login = "sim"
password = "sim"
[state]
path = "state.sqlite"
[output]
dir = "out"
[[jobs]]
name = "g"
se = "google"
se_type = "organic"
input = "kw.txt"
[jobs.defaults]
{defaults}
""")
    return config


def new_run(config_path: Path) -> Run:
    config = load_config(config_path)
    ledger = Ledger(config.state.path)
    return Run(config, ledger, None, plan(config, time.time(), None, str(config_path)))  # type: ignore[arg-type]


def load(config_path: Path, in_process: bool = False) -> Run:
    """One load through the worker process, as `orchestrator run` loads a file over
    IN_PROCESS_BYTES (`in_process`: as it loads a smaller one); the ledger closed."""
    run = new_run(config_path)
    threshold = loader.IN_PROCESS_BYTES
    loader.IN_PROCESS_BYTES = 1 << 40 if in_process else 0  # type: ignore[misc]
    try:
        anyio.run(run.load)
    finally:
        loader.IN_PROCESS_BYTES = threshold  # type: ignore[misc]
        run.ledger.close()
    return run


@contextmanager
def table(config_path: Path) -> Iterator[sqlite3.Connection]:
    db = sqlite3.connect(config_path.parent / "state.sqlite")
    try:
        yield db
    finally:
        db.close()


def keys(config_path: Path) -> tuple[int, int]:
    """(rows, distinct keys) of the ledger."""
    with table(config_path) as db:
        rows, distinct = db.execute("SELECT COUNT(*), COUNT(DISTINCT key) FROM inputs").fetchone()
    return int(rows), int(distinct)


@pytest.mark.parametrize("way", ["worker", "in_process", "in_this_thread"])
def test_every_way_of_loading_knows_a_row_keyed_before_keywords_were_normalised(
    tmp_path: Path, way: str
) -> None:
    """A ledger loaded with normalise_keywords = false (as every earlier version keyed) holds
    `Running Shoes` as written. Loaded again with normalising on, with a variant added, the
    row counts under the key its keyword has now: no second row, nothing posted twice,
    whichever way the file is read (a worker process, the run's process, the sync load)."""
    (tmp_path / "kw.txt").write_text("Running Shoes\n")
    config = write_config(tmp_path)
    text = config.read_text()
    config.write_text(
        text.replace('input = "kw.txt"', 'input = "kw.txt"\nnormalise_keywords = false')
    )
    load(config)
    assert keys(config) == (1, 1)
    config.write_text(text)
    (tmp_path / "kw.txt").write_text("Running Shoes\nrunning  shoes\n")
    if way == "in_this_thread":
        run = new_run(config)
        run.load_inputs()
        run.ledger.close()
    else:
        load(config, in_process=way == "in_process")
    assert keys(config) == (1, 1)


def test_an_input_given_twice_is_one_row(tmp_path: Path) -> None:
    (tmp_path / "kw.txt").write_text(f"pizza\nsushi\npizza\n  sushi \nramen\n{LONG}\n")
    config = write_config(tmp_path)
    run = load(config)
    assert keys(config) == (3, 3)
    report = run.report.jobs["g"]
    assert (report.valid, report.rejected) == (5, 1)  # every valid row counts, repeats too
    rejected = (tmp_path / "out" / "g" / "rejected.jsonl").read_text().splitlines()
    assert len(rejected) == 1 and '"line":6' in rejected[0]


def test_a_small_file_read_in_the_runs_process_loads_as_the_worker_loads_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A file up to IN_PROCESS_BYTES is read in the run's process: no worker is started (one
    that would die is never run), and its rows, rejected lines and counts are the worker's,
    on the first load and on the next of the same file grown (read on from its last line,
    the keys it holds left out)."""
    dies = [sys.executable, "-c", "import sys; sys.exit(1)"]
    found = {}
    for mode in ("worker", "here"):
        folder = tmp_path / mode
        folder.mkdir()
        (folder / "kw.txt").write_text(f"pizza\nSushi\npizza\n{LONG}\nramen\n")
        config = write_config(folder)
        with monkeypatch.context() as patched:
            if mode == "here":
                patched.setattr(loader, "WORKER", dies)
            first = load(config, in_process=mode == "here")
            with (folder / "kw.txt").open("a") as handle:
                handle.write(f"ramen\nudon\n{LONG}\n")
            again = load(config, in_process=mode == "here")
        with table(config) as db:
            rows = db.execute(
                "SELECT key, tag, line, body, est_cost, state FROM inputs ORDER BY key"
            ).fetchall()
        reports = [(r.report.jobs["g"].valid, r.report.jobs["g"].rejected) for r in (first, again)]
        found[mode] = (rows, (folder / "out" / "g" / "rejected.jsonl").read_text(), reports)
    assert found["here"] == found["worker"]
    rows, rejected, reports = found["here"]
    assert len(rows) == 4 and rejected.count("\n") == 2 and reports == [(4, 1), (6, 2)]


def test_a_changed_file_adds_only_its_new_inputs(tmp_path: Path) -> None:
    (tmp_path / "kw.txt").write_text("pizza\nsushi\n")
    config = write_config(tmp_path)
    load(config)
    with (tmp_path / "kw.txt").open("a") as handle:
        handle.write("ramen\npizza\n")
    load(config)
    assert keys(config) == (3, 3)
    with table(config) as db:
        assert db.execute("SELECT SUM(n) FROM tally").fetchone() == (3,)
        assert db.execute("SELECT done, valid FROM loads").fetchall() == [(1, 4)]


def test_an_unchanged_file_is_not_read_again_but_a_changed_recipe_is(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A one-shot job's file is read by every run; once it is in, the next run with the same
    file and settings reads nothing (its counts come from the ledger). New defaults make new
    tasks: that file is read again."""
    (tmp_path / "kw.txt").write_text(f"pizza\nsushi\n{LONG}\n")
    config = write_config(tmp_path)
    first = new_run(config)
    first.load_inputs()
    first.ledger.close()

    def no_reading(*args: object, **kwargs: object) -> None:
        raise AssertionError("the file was read again")

    with monkeypatch.context() as patched:
        patched.setattr(load_worker, "input_rows", no_reading)
        again = new_run(config)
        again.load_inputs()
        again.ledger.close()
    assert (again.report.jobs["g"].valid, again.report.jobs["g"].rejected) == (2, 1)
    assert (tmp_path / "out" / "g" / "rejected.jsonl").read_text().count("\n") == 1

    write_config(tmp_path, 'location_code = 2826\nlanguage_code = "en"')
    load(config)
    assert keys(config) == (4, 4)


DRIVER = """
import sys, time, anyio
from orchestrator.config import load_config
from orchestrator.ledger import Ledger
from orchestrator.pipeline.run import Run
from orchestrator.pipeline.schedule import plan
config = load_config(sys.argv[1])
run = Run(config, Ledger(config.state.path), None, plan(config, time.time(), None, sys.argv[1]))
anyio.run(run.load)
"""


def test_a_load_killed_midway_goes_on_from_its_last_committed_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """SIGKILL while 300k rows (50k repeats, 300 rejected) load: the next load reads on from
    the last committed line. Every input ends as one row, every rejected row as one line."""
    lines = [LONG if i % 1000 == 999 else f"keyword {i % 250_000}" for i in range(300_000)]
    (tmp_path / "kw.txt").write_text("\n".join(lines) + "\n")
    config = write_config(tmp_path)
    proc = subprocess.Popen(
        [sys.executable, "-c", DRIVER, str(config)], env=ENV, stderr=subprocess.PIPE
    )
    deadline = time.monotonic() + 60
    through = 0
    while through == 0:
        assert proc.poll() is None and time.monotonic() < deadline, proc.communicate()
        time.sleep(0.05)
        try:
            with table(config) as db:
                found = db.execute("SELECT through_line FROM loads").fetchone()
        except sqlite3.OperationalError:  # not made yet
            found = None
        through = found[0] if found else 0
    proc.send_signal(signal.SIGKILL)
    proc.communicate(timeout=10)
    with table(config) as db:
        through, done = db.execute("SELECT through_line, done FROM loads").fetchone()
    assert 0 < through < 300_000 and not done

    with caplog.at_level("INFO", logger="orchestrator.pipeline.loader"):
        run = load(config)
    assert f"after_line={through}" in caplog.text
    assert keys(config) == (250_000 - 250, 250_000 - 250)  # the rejected numbers never load
    with table(config) as db:
        assert db.execute("SELECT done, valid, rejected FROM loads").fetchone() == (
            1,
            300_000 - 300,
            300,
        )
        assert db.execute("SELECT SUM(n) FROM tally").fetchone() == (250_000 - 250,)
    rejected = (tmp_path / "out" / "g" / "rejected.jsonl").read_text().splitlines()
    assert [int(r.split(",")[0].removeprefix('{"line":')) for r in rejected] == list(
        range(1000, 300_001, 1000)
    )
    assert run.report.jobs["g"].rejected == 300


def test_a_worker_that_dies_is_a_clear_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    (tmp_path / "kw.txt").write_text("pizza\n")
    config = write_config(tmp_path)
    dies = "import sys; sys.stderr.write('Traceback ...\\nMemoryError\\n'); sys.exit(1)"
    monkeypatch.setattr(loader, "WORKER", [sys.executable, "-c", dies])
    with pytest.raises(LoadFailed, match=r"kw.txt: the load worker stopped \(MemoryError\)"):
        load(config)


def test_a_file_the_worker_cannot_decode_is_an_input_error_naming_it(tmp_path: Path) -> None:
    (tmp_path / "kw.txt").write_bytes(b"pizza\n" + "caf\u00e9\n".encode("latin-1"))
    config = write_config(tmp_path)
    with pytest.raises(InputError, match=r"kw.txt: not UTF-8 text"):
        load(config)
    assert keys(config) == (0, 0)


@settings(
    max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    st.lists(
        st.text(st.characters(codec="utf-8"), min_size=1, max_size=40)
        .map(lambda t: " ".join(t.split()))  # one line each, as a .txt holds them
        .filter(bool),
        min_size=1,
        max_size=20,
    )
)
@example(["nul \x00 inside", 'say "hi" \\ ok', "\u2028 \U0001f389 \u0627\u0644 \ud55c"])
def test_each_body_is_stored_byte_for_byte(tmp_path: Path, keywords: list[str]) -> None:
    """Chunks travel as JSON text into one INSERT: any keyword (quotes, backslashes, control
    characters, emoji, any script) comes out of the ledger exactly as validation made it."""
    folder = Path(tempfile.mkdtemp(dir=tmp_path))
    (folder / "kw.txt").write_text("\n".join(keywords) + "\n", encoding="utf-8")
    config = write_config(folder)
    run = new_run(config)
    run.load_inputs()
    stored = dict(run.ledger._db.execute("SELECT key, body FROM inputs").fetchall())
    run.ledger.close()
    made = {
        r.key: r.body
        for r in read_inputs(run.config.jobs[0], run.config.prices)
        if isinstance(r, ValidInput)
    }
    assert stored == made


def test_a_period_that_begins_while_the_last_one_loads_gets_its_own_rows(
    tmp_path: Path,
) -> None:
    """A `--follow` run's next day begins while yesterday's 120k inputs still load: the new
    day's load (started as follow starts it) waits its turn, and each day holds its own rows,
    tagged with its own period. Before, the two loads ran at once and rows read for one day
    were stored under the other (40,000 in the reported case)."""
    (tmp_path / "kw.txt").write_text("".join(f"keyword {i}\n" for i in range(120_000)))
    config = write_config(tmp_path)
    config.write_text(
        config.read_text().replace('input = "kw.txt"', 'input = "kw.txt"\nevery = "day"')
    )
    run = new_run(config)
    today = run.plan.key("g")

    async def both() -> None:
        async with anyio.create_task_group() as tg:
            first_chunk = run.more_inputs = anyio.Event()
            tg.start_soon(run.load)
            await first_chunk.wait()  # the loader sets it once a chunk is in the ledger
            assert run.ledger.counts("g", today)["pending"] > 0
            run.plan = plan(run.config, time.time() + 86_400, None, str(config))
            run.loaded_jobs.discard("g")
            tg.start_soon(run.load)  # as producer.follow does when a period begins

    anyio.run(both)
    tomorrow = run.plan.key("g")
    assert tomorrow != today
    assert run.ledger.counts("g", tomorrow)["pending"] == 120_000
    assert run.ledger.counts("g", today)["missed"] == 120_000  # its day is over: not posted
    mixed = run.ledger._db.execute(
        "SELECT COUNT(*) FROM inputs WHERE tag NOT LIKE 'g:' || period || ':%'"
    ).fetchone()
    assert mixed == (0,)
    run.ledger.close()
