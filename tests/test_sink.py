"""Results are written exactly once: a line exists exactly when its task is settled."""

import gzip
from pathlib import Path

import pytest

from orchestrator.ledger import DONE, FAILED, POSTED, Ledger
from orchestrator.sink import JobFiles


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
    files = JobFiles(tmp_path / "out" / "j", ledger, use_gzip)
    files.write_results([("id-0", b'{"id":"id-0"}')])
    path = files.paths["results"]
    files._append(path, [b'{"id":"id-1"}'])  # the process dies before settle()
    files = JobFiles(tmp_path / "out" / "j", ledger, use_gzip)  # next run
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
        files = JobFiles(tmp_path / "out" / "j", ledger, False)
        files.start_rejected()
        files.write_rejected(3, "depth: Expected `int` <= 700", "shoes,9000")
    lines = files.rejected_path.read_text().splitlines()
    assert lines == ['{"line":3,"reason":"depth: Expected `int` <= 700","input":"shoes,9000"}']
    ledger.close()
