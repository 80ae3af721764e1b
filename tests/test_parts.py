"""A bucket's parts (storage/parts.py, pipeline/bucket_sink.py): which objects are results of
which period, how answers gather into a part and when it closes, what a run may delete at its
start (only parts of earlier runs the ledger never recorded), against a real S3-compatible
server."""

import gzip
import time
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from orchestrator.errors import ForeignOutput
from orchestrator.ledger import Ledger
from orchestrator.pipeline.bucket_sink import Gathered
from orchestrator.pipeline.collected import Collected
from orchestrator.storage.bucket import Bucket
from orchestrator.storage.parts import claim, decode, encode, part_key, period_of
from tests import counting_proxy, pg_server, s3_server


def test_a_parts_key_says_its_period_and_only_results_parts_are_results() -> None:
    day = part_key("rank", "2026-12-01", "results", 12, 3, True)
    assert day == "rank/period=2026-12-01/results-000012-000003.jsonl.gz"
    assert period_of(day, "rank") == "2026-12-01"
    assert period_of(part_key("rank", "", "results", 1, 1, False), "rank") == ""
    assert period_of("rank/period=2026-12-01/failed-000001-000001.jsonl.gz", "rank") is None
    assert period_of("rank/period=2026-12-01/rankings.parquet", "rank") is None
    assert period_of("rank/period=2026-W48/results-000001-000002.jsonl", "rank") == "2026-W48"


@given(
    lines=st.lists(st.binary(min_size=1, max_size=40).map(lambda b: b.replace(b"\n", b"x"))),
    cut=st.integers(min_value=1, max_value=17),
    gzipped=st.booleans(),
)
def test_a_part_read_in_chunks_of_any_size_gives_back_its_lines(
    lines: list[bytes], cut: int, gzipped: bool
) -> None:
    body = encode(lines, gzipped)
    chunks = (body[i : i + cut] for i in range(0, len(body), cut))
    assert list(decode(chunks, gzipped)) == [line for line in lines if line.strip()]
    if gzipped:
        assert gzip.decompress(body).count(b"\n") == len(lines)


def answer(task_id: str, ok: bool = True, size: int = 10) -> Collected:
    return Collected("g", "2026-12-01", task_id, ok, 20000 if ok else 40501, "m", b"x" * size)


def test_a_part_closes_at_its_size_or_its_age_and_a_duplicate_only_waits() -> None:
    gathered: Gathered[str] = Gathered(part_bytes=100, part_s=0.2)
    assert gathered.due_in() is None
    gathered.add(answer("t1"), "poller")
    gathered.add(answer("t2", ok=False), "receiver")
    gathered.add(answer("t1"), "receiver again")  # a postback of a task gathered already
    assert "t1" in gathered and 0 < (gathered.due_in() or 0) <= 0.2
    parts, ids = gathered.take()
    assert sorted((p.kind, len(p.lines)) for p in parts) == [("failed", 1), ("results", 1)]
    assert [p.done for p in parts if p.kind == "results"] == [["t1"]]
    assert gathered.due_in() is None and "t1" in gathered  # being written: still gathered
    gathered.add(answer("t2", ok=False), "a third delivery, while its part is written")
    assert gathered.due_in() is None  # not gathered again
    assert gathered.finish(ids) == {
        "t1": ["poller", "receiver again"],
        "t2": ["receiver", "a third delivery, while its part is written"],
    }
    assert "t1" not in gathered
    for n in range(9):
        gathered.add(answer(f"u{n}"), "poller")
    assert (gathered.due_in() or 0) > 0
    gathered.add(answer("u9"), "poller")  # 10 answers of 11 bytes: 110 >= 100
    assert gathered.due_in() == 0.0
    gathered.take()
    gathered.add(answer("v"), "poller")
    deadline = time.monotonic() + 5
    while gathered.due_in() != 0.0:  # its age passes part_s
        assert time.monotonic() < deadline
        time.sleep(0.01)


@pytest.fixture
def bucket(s3: s3_server.S3Server, monkeypatch: pytest.MonkeyPatch) -> tuple[Bucket, str]:
    for name, value in s3.env().items():
        monkeypatch.setenv(name, value)
    name = s3.bucket()
    return Bucket(f"s3://{name}/serp", s3.endpoint), name


def test_a_run_deletes_only_the_parts_of_earlier_runs_that_no_one_recorded(
    tmp_path: Path, bucket: tuple[Bucket, str], s3: s3_server.S3Server
) -> None:
    store, name = bucket
    ledger = Ledger(tmp_path / "state.sqlite")
    try:
        earlier = ledger.start_run()  # killed: it never ended
        ledger.note_bucket_folders([("g", "2026-12-01")])  # before its parts, as a run does
        assert claim(store, "g", ledger) == []  # the marker is written
        kept = part_key("g", "2026-12-01", "results", earlier, 1, True)
        store.put_sync(kept, encode([b"{}"], True))
        ledger.settle(kept, 20, [], [])
        orphan = part_key("g", "2026-12-01", "results", earlier, 2, True)
        now = ledger.start_run()  # the file's lock: the earlier run is surely gone
        mine = part_key("g", "2026-12-01", "failed", now, 1, True)  # this run's, in flight
        other = "g/period=2026-12-01/notes.txt"
        for key in (orphan, mine, other):
            store.put_sync(key, b"x")
        assert claim(store, "g", ledger) == [orphan]
        left = s3.keys(name, "serp/g/")
        assert {f"serp/{k}" for k in (kept, mine, other)} <= set(left)
        assert f"serp/{orphan}" not in left
        other_ledger = Ledger(tmp_path / "other.sqlite")
        try:
            other_ledger.start_run()
            with pytest.raises(ForeignOutput, match="written by another ledger"):
                claim(store, "g", other_ledger)
        finally:
            other_ledger.close()
        assert f"serp/{kept}" in s3.keys(name, "serp/g/")  # nothing cut for a foreign run
    finally:
        ledger.close()


def test_a_worker_keeps_the_unrecorded_parts_of_a_live_worker_and_sweeps_a_dead_ones(
    bucket: tuple[Bucket, str], s3: s3_server.S3Server, pg: pg_server.Server
) -> None:
    """Two workers on a server: a part the other one wrote and has not recorded yet is left
    alone while it lives, and swept once its connection (its lock) is gone."""
    store, name = bucket
    url = pg.url()
    first = Ledger(url, pg_server.PASSWORD, workers=True)
    second = Ledger(url, pg_server.PASSWORD, workers=True)
    try:
        writing = part_key("g", "2026-12-01", "results", first.start_run(), 1, True)
        second.start_run()
        assert claim(store, "g", first) == []
        first.note_bucket_folders([("g", "2026-12-01")])
        store.put_sync(writing, b"x")  # the record is yet to come
        assert claim(store, "g", second) == []
        assert f"serp/{writing}" in s3.keys(name, "serp/g/")
        first.close()  # as a kill: the server lets its lock go
        assert claim(store, "g", second) == [writing]
        assert f"serp/{writing}" not in s3.keys(name, "serp/g/")
    finally:
        first.close()
        second.close()


def listed(proxy: counting_proxy.CountingProxy) -> list[str]:
    """The prefixes the bucket was listed under (ListObjectsV2), in order."""
    prefixes = []
    for method, _, query in proxy.asked:
        fields = dict(field.partition("=")[::2] for field in query.split("&"))
        if method == "GET" and fields.get("list-type") == "2":
            prefixes.append(fields.get("prefix", ""))
    return prefixes


def test_a_start_lists_only_the_partitions_dead_runs_wrote_in_not_the_jobs_history(
    tmp_path: Path, s3: s3_server.S3Server, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A job with a year of recorded parts: a run killed while writing one day's parts leaves
    an orphan there. The next start lists that day's partition alone, removes the orphan, and
    forgets the day; the start after it lists nothing. (Before, every start listed every
    object of the job: its cost grew with the history.)"""
    for name, value in s3.env().items():
        monkeypatch.setenv(name, value)
    bucket_name = s3.bucket()
    ledger = Ledger(tmp_path / "state.sqlite")
    try:
        with counting_proxy.counting(s3.endpoint) as proxy:
            store = Bucket(f"s3://{bucket_name}/serp", proxy.endpoint)
            old_run = ledger.start_run()
            assert claim(store, "g", ledger) == []  # the marker
            days = [f"2025-{month:02d}-{day:02d}" for month in range(1, 13) for day in (1, 15)]
            ledger.note_bucket_folders([("g", day) for day in days])
            for day in days:
                key = part_key("g", day, "results", old_run, 1, True)
                store.put_sync(key, b"x")
                ledger.settle(key, 1, [], [])
            ledger.end_run(old_run, 0, "done")
            ledger.start_run()
            proxy.asked.clear()
            assert claim(store, "g", ledger) == []  # the ended run's days: all recorded
            assert listed(proxy) == [f"serp/g/period={day}/" for day in days]
            killed = ledger.start_run()
            ledger.note_bucket_folders([("g", "2026-12-01")])
            orphan = part_key("g", "2026-12-01", "results", killed, 1, True)
            store.put_sync(orphan, b"x")  # and killed before its record
            ledger.start_run()  # the next run: the file's lock says the killed one is gone
            proxy.asked.clear()
            assert claim(store, "g", ledger) == [orphan]
            assert listed(proxy) == ["serp/g/period=2026-12-01/"]
            proxy.asked.clear()
            assert claim(store, "g", ledger) == []
            assert listed(proxy) == []
        assert ledger.bucket_folders("g") == []
    finally:
        ledger.close()


def test_a_run_taken_over_while_it_lives_is_swept_again_until_its_process_is_gone(
    bucket: tuple[Bucket, str], s3: s3_server.S3Server, pg: pg_server.Server
) -> None:
    """A worker stalled past its lease is taken over while its process still lives. A start
    sweeps the partition it noted but keeps it noted, for a part of it may land late; once
    its process is gone (its lock free), the next start removes that late part and forgets
    the partition."""
    store, name = bucket
    url = pg.url()
    stalled = Ledger(url, pg_server.PASSWORD, workers=True)
    other = Ledger(url, pg_server.PASSWORD, workers=True)
    try:
        stalled_id = stalled.start_run()
        stalled.note_bucket_folders([("g", "2026-12-01")])
        other_id = other.start_run()
        assert claim(store, "g", other) == []  # the marker
        adopted = f"UPDATE runs SET adopted_by = {other_id} WHERE id = {stalled_id}"
        pg.psql(adopted, database=url.rsplit("/", 1)[1])  # taken over, as adopt_dead does
        assert claim(store, "g", other) == []
        assert other.bucket_folders("g") == [("2026-12-01", stalled_id)]  # it still lives
        late = part_key("g", "2026-12-01", "results", stalled_id, 1, True)
        store.put_sync(late, b"x")  # its upload lands after the sweep
        stalled.close()  # its process is gone: the server lets its lock go
        assert claim(store, "g", other) == [late]
        assert f"serp/{late}" not in s3.keys(name, "serp/g/")
        assert other.bucket_folders("g") == []
    finally:
        stalled.close()
        other.close()
