"""Results are written exactly once: a line exists exactly when its task is settled."""

import gzip
import threading
from pathlib import Path

import pytest

from orchestrator.errors import ForeignOutput
from orchestrator.ledger import DONE, FAILED, POSTED, Ledger
from orchestrator.pipeline.sink import JobFiles, claim_folder, cut_back_runs, read_marker
from orchestrator.storage.layout import MARKER


def posted_ledger(path: Path, n: int) -> Ledger:
    ledger = Ledger(path)
    ledger.add_inputs([("j", "", f"k{i}", f"j:k{i}", i, b"{}", 0.0006) for i in range(n)])
    _, claimed = ledger.claim_batch("j", "", 100)
    ledger.mark_posted([(c.tag, f"id-{i}", 0.0006) for i, c in enumerate(claimed)], "2026-11")
    return ledger


@pytest.mark.parametrize("use_gzip", [False, True])
def test_a_line_written_before_a_crash_is_cut_back_and_written_once(
    tmp_path: Path, use_gzip: bool
) -> None:
    """A result appended but not settled (crash) is removed on reopen; the rerun adds it once."""
    ledger = posted_ledger(tmp_path / "s.sqlite", 3)
    files = JobFiles(tmp_path / "out" / "j", ledger, use_gzip, tmp_path / "out")
    files.write_results([("id-0", b'{"id":"id-0"}')])
    path = files.paths["results"]
    files._append(path, [b'{"id":"id-1"}'])  # the process dies before settle()
    files = JobFiles(tmp_path / "out" / "j", ledger, use_gzip, tmp_path / "out")  # next run
    files.write_results([("id-1", b'{"id":"id-1"}')])
    files.write_failures(
        [("id-2", 40102, "No Search Results.", b'{"id":"id-2","status_code":40102}')]
    )
    raw = Path(path).read_bytes()
    text = gzip.decompress(raw) if use_gzip else raw
    assert text.splitlines() == [b'{"id":"id-0"}', b'{"id":"id-1"}']
    assert ledger.counts("j") == {
        "pending": 0,
        "posting": 0,
        POSTED: 0,
        DONE: 2,
        FAILED: 1,
        "missed": 0,
    }
    ledger.close()


def test_rejected_rows_are_rewritten_each_run(tmp_path: Path) -> None:
    """rejected.jsonl holds the rows rejected by the latest read, once each."""
    ledger = Ledger(tmp_path / "s.sqlite")
    for _ in range(2):
        files = JobFiles(tmp_path / "out" / "j", ledger, False, tmp_path / "out")
        files.start_rejected()
        size = files.write_rejected_rows([(3, "depth: Expected `int` <= 700", "shoes,9000")])
    lines = files.rejected_path.read_text().splitlines()
    assert lines == ['{"line":3,"reason":"depth: Expected `int` <= 700","input":"shoes,9000"}']
    assert size == files.rejected_path.stat().st_size
    files.write_rejected_rows([(4, "keyword: required", "")])
    files.cut_rejected(size)  # a load resumed after a crash drops what it had not committed
    assert files.rejected_path.read_text().splitlines() == lines
    ledger.close()


def test_a_crash_before_the_first_settle_is_cut_back_too(tmp_path: Path) -> None:
    """A new file is recorded as this ledger's (0 bytes) before the first append, so a line
    appended and never settled is still this ledger's to cut."""
    ledger = posted_ledger(tmp_path / "s.sqlite", 1)
    files = JobFiles(tmp_path / "out" / "j", ledger, False, tmp_path / "out")
    files._append(files.paths["results"], [b'{"id":"id-0"}'])  # killed before settle()
    JobFiles(tmp_path / "out" / "j", ledger, False, tmp_path / "out")
    assert Path(files.paths["results"]).read_bytes() == b""
    ledger.close()


def test_a_file_this_ledger_did_not_write_is_never_cut(tmp_path: Path) -> None:
    """Results another (or a lost) ledger wrote: refused, not a byte removed."""
    folder = tmp_path / "out" / "j"
    folder.mkdir(parents=True)
    (folder / "results.jsonl").write_bytes(b'{"id":"theirs"}\n')
    ledger = posted_ledger(tmp_path / "s.sqlite", 1)
    with pytest.raises(ForeignOutput, match=r"results\.jsonl was not written by this ledger"):
        JobFiles(folder, ledger, False, folder.parent)
    with pytest.raises(ForeignOutput, match=r"holds results\.jsonl that this ledger"):
        claim_folder(folder, ledger)
    assert (folder / "results.jsonl").read_bytes() == b'{"id":"theirs"}\n'
    assert not (folder / MARKER).exists()
    ledger.close()


def test_a_folder_is_claimed_once_and_then_refused_to_any_other_ledger(tmp_path: Path) -> None:
    folder = tmp_path / "out" / "j"
    first = Ledger(tmp_path / "a.sqlite")
    claim_folder(folder, first)
    claim_folder(folder, first)  # its own: fine, again and again
    assert read_marker(folder) == {
        "ledger_id": first.id,
        "ledger": str((tmp_path / "a.sqlite").resolve()),
    }
    second = Ledger(tmp_path / "b.sqlite")
    assert second.id != first.id
    with pytest.raises(ForeignOutput, match=r"written by another ledger \(.*a\.sqlite"):
        claim_folder(folder, second)
    first.close()
    second.close()


def test_runs_claiming_a_new_folder_at_once_never_read_a_marker_half_written(
    tmp_path: Path,
) -> None:
    """Workers of one config started together (one host, a shared ledger) all claim each new
    job folder at once: each claim succeeds and the marker is whole. Before, one run could
    read the other's marker between its creation and its write, and stopped (exit 2)."""
    ledger = Ledger(tmp_path / "a.sqlite")
    folders = [tmp_path / "out" / f"j{n}" for n in range(60)]
    start = threading.Barrier(6)
    problems: list[Exception] = []

    def claim_all() -> None:
        start.wait()
        for folder in folders:
            try:
                claim_folder(folder, ledger)
            except ForeignOutput as exc:
                problems.append(exc)

    threads = [threading.Thread(target=claim_all) for _ in range(6)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    ledger.close()
    assert problems == []
    assert all(read_marker(folder) == read_marker(folders[0]) for folder in folders)
    assert [p.name for p in folders[0].iterdir()] == [MARKER]  # nothing left aside


@pytest.mark.parametrize("use_gzip", [False, True])
def test_lines_another_writer_appended_are_refused_not_cut(tmp_path: Path, use_gzip: bool) -> None:
    """After the last settled line: a crash's own appends (answers of tasks still posted, a
    refusal of an input still posting, a line cut short) are cut; a line of anything else
    (another writer's) stops the run with a message that says so, and not a byte is cut.
    Before, every byte after the last settled line was cut silently."""
    ledger = posted_ledger(tmp_path / "s.sqlite", 3)
    ledger.add_inputs([("j", "", "kx", "j:kx", 9, b"{}", 0.0006)])
    ledger.claim_batch("j", "", 100)  # posting when the process died
    out = tmp_path / "out"
    files = JobFiles(out / "j", ledger, use_gzip, out)
    files.write_results([("id-0", b'{"id":"id-0"}')])
    path = Path(files.paths["results"])
    settled = path.read_bytes()
    ours = [b'{"id":"id-1"}', b'{"id":null,"status_code":40501,"data":{"tag":"j:kx"}}']
    files._append(str(path), ours)
    if not use_gzip:
        with path.open("ab") as torn:
            torn.write(b'{"id":"id-2","res')  # the crash cut this one short
    JobFiles(out / "j", ledger, use_gzip, out)
    assert path.read_bytes() == settled
    files._append(str(path), [b'{"id":"id-0"}', b'{"id":"theirs"}'])  # another writer
    appended = path.read_bytes()
    with pytest.raises(ForeignOutput, match="another writer appended to it"):
        JobFiles(out / "j", ledger, use_gzip, out)
    assert path.read_bytes() == appended
    ledger.close()


def test_a_run_cuts_back_the_files_of_a_dead_run_under_its_own_jobs_only(tmp_path: Path) -> None:
    """Two configs share a ledger: the files of a dead run are cut to what it settled by a
    run of their job, which knows where they are; another config's run leaves them alone."""
    ledger = Ledger(tmp_path / "s.sqlite")
    out = tmp_path / "out"
    for job in ("a", "b"):
        (out / job).mkdir(parents=True)
        (out / job / "results-7.jsonl").write_bytes(b'{"id":"settled"}\n{"id":"not"}\n')
        ledger.settle(f"{job}/results-7.jsonl", 17, [], [])
    cut_back_runs(str(out), ledger, [7], ["a"])
    assert (out / "a" / "results-7.jsonl").read_bytes() == b'{"id":"settled"}\n'
    assert (out / "b" / "results-7.jsonl").stat().st_size == 30
    cut_back_runs(str(out), ledger, [7], ["b"])
    assert (out / "b" / "results-7.jsonl").read_bytes() == b'{"id":"settled"}\n'
    ledger.close()
