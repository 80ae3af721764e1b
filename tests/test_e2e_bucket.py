"""Results in a bucket (`[output] url`, issue 26), the way users run it: real processes, the
simulator over HTTP, and an S3-compatible server over HTTP (moto's server mode,
tests/s3_server.py). Exactly once across SIGKILLs: every input is one line over the parts the
ledger recorded, a part no run recorded is never read and is removed, and nothing is paid
twice. Credentials come from the environment and appear in no output."""

import dataclasses
import gzip
import json
import signal
import sqlite3
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from orchestrator.reports import period_table
from tests import counting_proxy, pg_server, s3_server
from tests.conftest import ObjectServer
from tests.test_e2e_run import ENV, running_simulator, stats

DAY = "2026-12-01"
DAYS = ("2026-11-30", DAY)
PART_NAME = r"results-\d{6}-\d{6}\.jsonl\.gz"


def bucket_config(
    tmp: Path,
    api: str,
    server: ObjectServer | None,
    bucket: str,
    n: int,
    extra: str = "",
    state: str = 'path = "state/ledger.sqlite"',
) -> Path:
    """A daily google/organic job of `n` keywords writing to the server's bucket, under
    `serp/` (to the local folder without a server)."""
    (tmp / "kw.txt").write_text("".join(f"keyword {i}\n" for i in range(n)))
    where = server.output(bucket) if server else ""
    config = tmp / "jobs.toml"
    config.write_text(f"""
[api]
base_url = "{api}"
login = "sim"
password = "sim"
calls_per_minute = 3000
rate_period_s = 10
request_timeout_s = 5
reconcile_after_s = 1
reconcile_apart_s = 1

[state]
{state}

[output]
dir = "out"
{where}
{extra}
[[jobs]]
name = "g"
se = "google"
se_type = "organic"
input = "kw.txt"
every = "day"
[jobs.defaults]
location_code = 2840
language_code = "en"
""")
    return config


def cli(
    server: ObjectServer, config: Path, *args: str, timeout: float = 240
) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "orchestrator", *args, "--config", str(config)]
    env = {**ENV, **server.env()}
    return subprocess.run(cmd, capture_output=True, text=True, env=env, timeout=timeout)


def kill_once(config: Path, env: dict[str, str], parts: int, count: Callable[[], int]) -> None:
    """Start a run of DAY and SIGKILL it once `count()` (parts recorded) reaches `parts`."""
    cmd = [sys.executable, "-m", "orchestrator", "run", "--config", str(config), "--period", DAY]
    proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, env=env)
    deadline = time.monotonic() + 120
    while count() < parts:
        assert time.monotonic() < deadline and proc.poll() is None
        time.sleep(0.05)
    proc.send_signal(signal.SIGKILL)
    proc.wait(timeout=10)


def recorded(ledger: Path) -> dict[str, int]:
    """The parts and files the ledger recorded, with their sizes ({} while it is made)."""
    if not ledger.exists():
        return {}
    db = sqlite3.connect(ledger)
    try:
        return {str(p): int(s) for p, s in db.execute("SELECT path, size FROM files")}
    except sqlite3.OperationalError:
        return {}
    finally:
        db.close()


def part_lines(server: ObjectServer, bucket: str, keys: list[str]) -> list[Any]:
    lines = []
    for key in keys:
        body = gzip.decompress(server.read(bucket, f"serp/{key}"))
        lines += [json.loads(line) for line in body.splitlines() if line.strip()]
    return lines


def test_a_run_writes_recorded_parts_and_a_table_to_the_bucket_and_reads_them_back(
    tmp_path: Path, store: ObjectServer
) -> None:
    """One day's run: its results are gzip parts under the period's partition, each recorded
    with its size; nothing of them is on the local disk; the table is beside them. `export`
    and `report` read the bucket, and say what a run to a local folder of the same answers
    says; with the local folder gone (a new pod), they still do, from the bucket."""
    bucket = store.bucket()
    local = tmp_path / "local"
    local.mkdir()
    flags = ("--seed", "4", "--domains", "example.com")
    with running_simulator(*flags) as api:
        config = bucket_config(tmp_path, api, store, bucket, 40)
        on_disk = bucket_config(local, api, None, bucket, 40)
        for day in ("2026-11-30", DAY):
            done = cli(store, config, "run", "--period", day)
            assert done.returncode == 0, done.stderr
            assert f"g [{day}]: rankings table written, " in done.stdout
            assert cli(store, on_disk, "run", "--period", day).returncode == 0
        assert stats(api)["tasks_created"] == 160

    objects = store.keys(bucket, "serp/")
    parts = recorded(tmp_path / "state" / "ledger.sqlite")
    assert len(parts) >= 2 and all(key.startswith("g/period=2026-1") for key in parts)
    assert {f"serp/{key}": size for key, size in parts.items()}.items() <= objects.items()
    assert f"serp/g/period={DAY}/rankings.parquet" in objects
    assert "serp/g/.orchestrator-ledger" in objects
    lines = part_lines(store, bucket, [key for key in parts if DAY in key])
    assert sorted(str(line["data"]["keyword"]) for line in lines) == sorted(
        f"keyword {i}" for i in range(40)
    )
    assert not list((tmp_path / "out").rglob("results*"))

    def read_back(folder: Path) -> tuple[list[tuple[str, ...]], object]:
        config = folder / "jobs.toml"
        export = cli(store, config, "export", "--job", "g", "--format", "jsonl", "--out", "-")
        assert export.returncode == 0, export.stderr
        rows = [json.loads(line) for line in export.stdout.splitlines()]
        shown = sorted(
            tuple(str(r[c]) for c in ("input_key", "type", "rank_absolute", "url")) for r in rows
        )
        report = cli(
            store, config, "report", "--job", "g", "--domain", "example.com", "--format", "json"
        )
        assert report.returncode == 0, report.stderr
        return shown, json.loads(report.stdout)["keywords"]

    from_bucket = read_back(tmp_path)
    assert from_bucket == read_back(local)
    assert len(from_bucket[0]) > 800
    import shutil

    shutil.rmtree(tmp_path / "out")  # the pod's disk is gone; the ledger (and bucket) are not
    assert read_back(tmp_path) == from_bucket
    assert (tmp_path / "out" / "g" / f"period={DAY}" / "rankings.parquet").is_file()  # fetched
    assert s3_server.SECRET not in done.stdout + done.stderr


def test_sigkills_leave_every_input_one_line_over_the_recorded_parts(
    tmp_path: Path, store: ObjectServer
) -> None:
    """Killed three times as parts appear, then finished: every input is exactly one line
    over the parts the ledger recorded, each task was paid once, and a part no run recorded
    (a crash between upload and record, made here by copying a part under a dead run's name)
    is never read and is removed by the next run."""
    bucket = store.bucket()
    ledger = tmp_path / "state" / "ledger.sqlite"
    flags = ("--seed", "8", "--delay-normal-s", "3:12", "--fault-rate", "0.05")
    with running_simulator(*flags) as api:
        config = bucket_config(tmp_path, api, store, bucket, 300, "part_s = 0.5\n")
        for parts in (1, 3, 6):
            kill_once(config, {**ENV, **store.env()}, parts, lambda: len(recorded(ledger)))
        first = sorted(recorded(ledger))[0]
        orphan = f"g/period={DAY}/results-000001-999999.jsonl.gz"
        store.put(bucket, f"serp/{orphan}", store.read(bucket, f"serp/{first}"))
        done = cli(store, config, "run", "--period", DAY, timeout=300)
        assert done.returncode == 0, done.stderr[-3000:]
        assert stats(api)["tasks_created"] == 300  # nothing paid twice
    recorded_parts = recorded(ledger)
    assert orphan not in recorded_parts and f"serp/{orphan}" not in store.keys(bucket, "serp/")
    assert "orphan_part_removed" in done.stderr
    lines = part_lines(store, bucket, list(recorded_parts))
    tags = [str(line["data"]["tag"]).split("@")[0] for line in lines]
    assert len(tags) == 300 and len(set(tags)) == 300
    export = cli(store, config, "export", "--job", "g", "--format", "jsonl", "--out", "-")
    assert export.returncode == 0, export.stderr
    exported = [json.loads(line) for line in export.stdout.splitlines()]
    collected = {
        str(line["data"]["tag"]).split(":")[-1].split("@")[0]
        for line in lines
        if line.get("result")
    }
    assert {row["input_key"] for row in exported} == collected  # the orphan's lines not twice
    assert len(exported) == sum(
        len(line["result"][0]["items"] or []) for line in lines if line.get("result")
    )


def test_a_prefix_another_ledger_writes_is_refused_before_anything_is_posted(
    tmp_path: Path, s3: s3_server.S3Server
) -> None:
    bucket = s3.bucket()
    marker = json.dumps({"ledger_id": "0123456789ab", "ledger": "/elsewhere/ledger.sqlite"})
    s3.put(bucket, "serp/g/.orchestrator-ledger", marker.encode())
    with running_simulator("--seed", "2") as api:
        config = bucket_config(tmp_path, api, s3, bucket, 5)
        done = cli(s3, config, "run", "--period", DAY)
        assert stats(api)["tasks_created"] == 0
    assert done.returncode == 2
    assert f"s3://{bucket}/serp/g: written by another ledger" in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


def test_unrecorded_parts_in_a_prefix_with_no_marker_are_refused(
    tmp_path: Path, s3: s3_server.S3Server
) -> None:
    """Parts a lost ledger wrote (no marker names this one): never cut, never read."""
    bucket = s3.bucket()
    s3.put(bucket, f"serp/g/period={DAY}/results-000004-000001.jsonl.gz", gzip.compress(b"{}\n"))
    with running_simulator("--seed", "2") as api:
        config = bucket_config(tmp_path, api, s3, bucket, 5)
        done = cli(s3, config, "run", "--period", DAY)
        assert stats(api)["tasks_created"] == 0
    assert done.returncode == 2
    assert "holds parts this ledger did not write" in done.stderr
    assert f"serp/g/period={DAY}/results-000004-000001.jsonl.gz" in s3.keys(bucket, "serp/")


def test_a_bucket_out_of_reach_is_one_line_and_exit_74_before_anything_is_posted(
    tmp_path: Path, s3: s3_server.S3Server
) -> None:
    with running_simulator("--seed", "2") as api:
        config = bucket_config(tmp_path, api, s3, "no-such-bucket-here", 5)
        done = cli(s3, config, "run", "--period", DAY)
        assert stats(api)["tasks_created"] == 0
    assert done.returncode == 74, done.stderr
    (line,) = done.stderr.strip().splitlines()
    assert line.startswith("orchestrator run: s3://no-such-bucket-here/serp/g/")
    assert s3_server.SECRET not in line and "Traceback" not in line


@pytest.mark.parametrize(
    ("output", "key", "says"),
    [
        ('url = "s3://KEY:SECRET@b/p"', "output.url", "leave credentials"),
        ('url = "ftp://b/p"', "output.url", "not a bucket's URL"),
        ('endpoint_url = "http://127.0.0.1:9"', "output.endpoint_url", "only with output.url"),
        ('url = "s3://b/p"\nendpoint_url = "http://h:9/x"', "output.endpoint_url", "root only"),
        ('url = "s3://b/p"\naws_secret_access_key = "x"', "output", "aws_secret_access_key"),
        ('url = "s3://b/p"\npart_s = 6', "output.part_s", "with [postback] at most 5"),
    ],
)
def test_a_bad_output_setting_is_one_line_naming_its_key(
    tmp_path: Path, output: str, key: str, says: str
) -> None:
    (tmp_path / "kw.txt").write_text("a\n")
    postback = '[postback]\npublic_url = "https://example.com/pb"\n' if "part_s" in output else ""
    (tmp_path / "jobs.toml").write_text(
        f'{postback}[output]\n{output}\n[[jobs]]\nname = "g"\nse = "google"\nse_type = "organic"\n'
        'input = "kw.txt"\n[jobs.defaults]\nlocation_code = 2840\nlanguage_code = "en"\n'
    )
    config = str(tmp_path / "jobs.toml")
    cmd = [sys.executable, "-m", "orchestrator", "validate", "--config", config]
    done = subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=60)
    assert done.returncode == 2
    (line,) = done.stderr.strip().splitlines()
    assert key in line and says in line and "SECRET" not in line


def test_postbacks_into_a_bucket_settle_each_task_once_and_in_time(
    tmp_path: Path, s3: s3_server.S3Server
) -> None:
    """Deliveries are answered once their part is recorded: with the default part_s (2 s),
    well within the simulator's 10 s, as the API's. Every delivery got its 200 (none failed,
    none left for task_get), and every task is one line over the recorded parts."""
    from tests.local_servers import free_port

    bucket = s3.bucket()
    ledger = tmp_path / "state" / "ledger.sqlite"
    port = free_port()
    receiver = (
        f'[postback]\nlisten = "127.0.0.1:{port}"\npublic_url = "http://127.0.0.1:{port}/dfs"'
    )
    with running_simulator("--delay-normal-s", "1:4", "--seed", "5") as api:
        config = bucket_config(tmp_path, api, s3, bucket, 200)
        config.write_text(config.read_text().replace("[[jobs]]", f"{receiver}\n\n[[jobs]]", 1))
        done = cli(s3, config, "run", "--period", DAY)
        assert done.returncode == 0, done.stderr[-3000:]
        numbers = stats(api)
    lines = part_lines(s3, bucket, list(recorded(ledger)))
    ids = [line["id"] for line in lines]
    assert len(ids) == len(set(ids)) == 200
    assert numbers["webhooks_sent"] == 200 and numbers["webhooks_failed"] == 0
    assert numbers["calls_by_function"].get("task_get", 0) == 0


def test_another_tasks_result_is_refused_and_asked_again_when_writing_to_a_bucket(
    tmp_path: Path, s3: s3_server.S3Server
) -> None:
    """Five task_get answers carry the result of the task fetched before (a hostile proxy in
    front of the simulator): none is gathered into a part, each task is fetched again, and
    every line in the bucket is its own input's."""
    from tests.test_e2e_hostile import altered, hostile_proxy

    bucket = s3.bucket()
    with running_simulator() as api, hostile_proxy(api, "task_get:swap=5") as proxy:
        config = bucket_config(tmp_path, proxy, s3, bucket, 30)
        done = cli(s3, config, "run", "--period", DAY)
        assert done.returncode == 0, done.stderr[-3000:]
        assert altered(proxy) == {"swap": 5} and "foreign_answer" in done.stderr
        assert stats(api)["tasks_created"] == 30
    lines = part_lines(s3, bucket, list(recorded(tmp_path / "state" / "ledger.sqlite")))
    assert len(lines) == 30 and len({line["id"] for line in lines}) == 30
    for line in lines:
        assert line["data"]["keyword"] == line["result"][0]["keyword"]


def test_pods_on_new_disks_with_the_ledger_on_postgres_finish_a_day_exactly_once(
    tmp_path: Path, s3: s3_server.S3Server, pg: pg_server.Server
) -> None:
    """The Kubernetes story: nothing on a pod's disk lasts. A run is killed twice as parts
    appear, each time the next starts in a new folder (an emptyDir), with the ledger on
    PostgreSQL and the results in the bucket: every input is one line over the parts the
    ledger recorded, each task paid once, no call refused for the rate."""
    from tests.test_e2e_postgres import PG_ENV

    bucket = s3.bucket()
    url = pg.url()
    state = f'url = "{url}"\npassword_env = "ORCH_TEST_LEDGER_PASSWORD"'
    env = {**PG_ENV, **s3.env()}
    flags = ("--seed", "3", "--delay-normal-s", "2:8", "--fault-rate", "0.05")
    with running_simulator(*flags) as api:
        pods = [tmp_path / f"pod{n}" for n in range(3)]
        for pod in pods:
            pod.mkdir()
            bucket_config(pod, api, s3, bucket, 200, "part_s = 0.5\n", state)
        for pod, parts in zip(pods[:2], (1, 4), strict=True):
            kill_once(pod / "jobs.toml", env, parts, lambda: len(server_parts(url)))
        cmd = [sys.executable, "-m", "orchestrator", "run", "--period", DAY, "--config"]
        done = subprocess.run(
            [*cmd, str(pods[2] / "jobs.toml")], capture_output=True, text=True, env=env, timeout=200
        )
        assert done.returncode == 0, done.stderr[-3000:]
        numbers = stats(api)
    assert numbers["tasks_created"] == 200 and numbers["rate_limited"] == 0
    lines = part_lines(s3, bucket, list(server_parts(url)))
    tags = [str(line["data"]["tag"]).split("@")[0] for line in lines]
    assert len(tags) == 200 and len(set(tags)) == 200
    assert pg_server.PASSWORD not in done.stdout + done.stderr


def server_parts(url: str) -> dict[str, int]:
    """The parts the ledger on the server recorded."""
    import psycopg

    with psycopg.connect(url, password=pg_server.PASSWORD) as db:
        if db.execute("SELECT to_regclass('files')").fetchone() == (None,):
            return {}  # the first run is making the schema
        return {str(p): int(n) for p, n in db.execute("SELECT path, size FROM files")}


def test_a_report_on_a_new_disk_downloads_only_the_columns_it_reads(
    tmp_path: Path, store: ObjectServer
) -> None:
    """A report from a pod whose disk is new reads the bucket's rankings table, but downloads
    only the columns it reads (keys, types, ranks, domains, URLs), not the titles and
    descriptions that are most of the table's bytes; it says what the report of the whole
    table said. `export`, which writes every column, then fetches the whole table."""
    bucket = store.bucket()
    with running_simulator("--seed", "4", "--domains", "example.com") as api:
        config = bucket_config(tmp_path, api, store, bucket, 40)
        config.write_text(
            config.read_text().replace("[jobs.defaults]", "[jobs.defaults]\ndepth = 100")
        )
        for day in DAYS:
            assert cli(store, config, "run", "--period", day).returncode == 0
    report_args = ("report", "--job", "g", "--domain", "example.com", "--format", "json")
    export_args = ("export", "--job", "g", "--format", "jsonl", "--out", "-")
    whole = cli(store, config, *report_args)
    exported = cli(store, config, *export_args)
    assert whole.returncode == 0 and exported.returncode == 0, whole.stderr + exported.stderr
    folders = [tmp_path / "out" / "g" / f"period={day}" for day in DAYS]
    assert all((folder / "rankings.parquet").is_file() for folder in folders)  # the runs' own
    import shutil

    shutil.rmtree(tmp_path / "out")  # a new pod
    tables = [f"serp/g/period={day}/rankings.parquet" for day in DAYS]
    table_bytes = sum(store.keys(bucket, "serp/")[key] for key in tables)
    direct = config.read_text()
    with counting_proxy.counting(store.endpoint) as proxy:
        via = dataclasses.replace(store, endpoint=proxy.endpoint)
        config.write_text(direct.replace(store.output(bucket), via.output(bucket)))
        fetched = cli(via, config, *report_args)
        downloaded = sum(
            n for path, n in proxy.served.items() for key in tables if path.endswith(f"/{key}")
        )
    config.write_text(direct)
    assert fetched.returncode == 0, fetched.stderr
    assert json.loads(fetched.stdout) == json.loads(whole.stdout)
    assert 0 < downloaded < table_bytes / 2, (downloaded, table_bytes)
    import pyarrow.parquet as pq

    for folder in folders:
        cached = pq.read_schema(folder / ".rankings.columns.parquet").names
        assert set(cached) == set(period_table.columns_read("example.com"))
        assert not (folder / "rankings.parquet").exists()
    again = cli(store, config, *export_args)
    assert again.returncode == 0, again.stderr
    assert again.stdout == exported.stdout
    assert all((folder / "rankings.parquet").is_file() for folder in folders)
