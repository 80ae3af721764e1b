"""When the machine fails us (a full disk, a read-only filesystem, a damaged ledger): one line
naming the file and what to do, exit 74, no traceback, nothing paid twice, and the next run on
a mended machine ends with every input one line. The disks are real: small tmpfs mounts, which
need root (CI is root); elsewhere these tests are skipped and say why."""

import os
import shutil
import sqlite3
import subprocess
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import pytest

from tests.test_e2e_promises import daily_config
from tests.test_e2e_record import LEDGER, paid_once_each
from tests.test_e2e_run import run, running_simulator, stats
from tests.test_hostile_inputs import cli, one_line
from tests.test_hostile_outputs import hostile_results

MACHINE = 74


@contextmanager
def tmpfs(where: Path, options: str) -> Iterator[Path]:
    """A tmpfs mounted at `where` for the block (skips the test where mounting is refused)."""
    where.mkdir(parents=True, exist_ok=True)
    if os.geteuid() != 0 or shutil.which("mount") is None:
        pytest.skip("mounting a small tmpfs needs root and mount(8); CI runs these as root")
    done = subprocess.run(
        ["mount", "-t", "tmpfs", "-o", options, f"tmpfs-{uuid.uuid4().hex[:8]}", str(where)],
        capture_output=True,
        text=True,
    )
    if done.returncode != 0:
        pytest.skip(f"this machine refuses a tmpfs mount ({done.stderr.strip()})")
    try:
        yield where
    finally:
        subprocess.run(["umount", "-l", str(where)], check=False)


def remount(where: Path, options: str) -> None:
    subprocess.run(["mount", "-o", f"remount,{options}", str(where)], check=True)


def one_line_exit_74(done: subprocess.CompletedProcess[str], *said: str) -> None:
    assert done.returncode == MACHINE, done.stderr
    assert "Traceback" not in done.stderr
    last = done.stderr.strip().splitlines()[-1]
    assert last.startswith("orchestrator run: ") and all(s in last for s in said), last


@pytest.mark.parametrize("full", ["output", "ledger"])
def test_a_full_disk_stops_the_run_in_one_line_and_the_next_run_finishes(
    tmp_path: Path, full: str
) -> None:
    """The output folder (or the ledger's) fills up mid-run: exit 74 naming the file and
    'No space left on device'; once there is room, the next run writes every input once and
    posts nothing again."""
    with tmpfs(tmp_path / "small", "size=192k") as small, running_simulator() as url:
        out = small / "out" if full == "output" else tmp_path / "out"
        config = daily_config(tmp_path, url, 40, out=str(out))
        if full == "ledger":
            text = config.read_text().replace(
                "[output]", f'[state]\npath = "{small}/s.sqlite"\n[output]'
            )
            config.write_text(text)
        done = run(config, "--max-runtime", "120")
        said = "No space left on device" if full == "output" else "database or disk is full"
        one_line_exit_74(done, str(small), said, "free space")
        assert stats(url)["duplicate_tags"] == 0
        remount(small, "size=64m")
        done = run(config, "--max-runtime", "120")
        assert done.returncode == 0, done.stderr
        paid_once_each(url, out / "g", 40)


def test_a_read_only_output_folder_is_named_before_anything_is_posted(tmp_path: Path) -> None:
    with tmpfs(tmp_path / "ro", "ro,size=1m") as folder, running_simulator() as url:
        config = daily_config(tmp_path, url, 5, out=str(folder / "out"))
        done = run(config)
        one_line_exit_74(done, str(folder / "out"), "Read-only file system", "read-write")
        assert stats(url)["tasks_created"] == 0


def test_a_damaged_ledger_is_named_with_what_to_do(tmp_path: Path) -> None:
    """Pages of the ledger overwritten (a bad disk, a bad copy): `run` and `status` say so in
    one line, exit 74, and post nothing more."""
    with running_simulator() as url:
        config = daily_config(tmp_path, url, 300)
        assert run(config).returncode == 0
        ledger = tmp_path / LEDGER
        with sqlite3.connect(ledger) as db:
            db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
        pages = ledger.read_bytes()
        page = int.from_bytes(pages[16:18], "big")
        ledger.write_bytes(pages[: 2 * page] + b"\xa5" * (len(pages) - 3 * page) + pages[-page:])
        created = stats(url)["tasks_created"]
        done = run(config)
        one_line_exit_74(done, str(ledger), "malformed", "orchestrator recover")
        assert stats(url)["tasks_created"] == created
        one_line(cli("status", "--config", str(config)), MACHINE, "malformed", str(ledger))


def test_an_export_onto_a_full_disk_leaves_nothing_at_its_path(tmp_path: Path) -> None:
    """ENOSPC mid-export: exit 74 (it was 2, the code of a bad config), one line naming
    --out, and neither a part of the file nor its temporary left on the disk."""
    config = hostile_results(tmp_path)
    results = tmp_path / "out" / "n" / "results.jsonl"
    results.write_text(results.read_text() * 300)
    with tmpfs(tmp_path / "small", "size=64k") as small:
        out = small / "ranks.csv"
        done = cli("export", "--config", str(config), "--job", "n", "--out", str(out))
        one_line(done, MACHINE, str(out), "No space left on device")
        assert list(small.iterdir()) == []
