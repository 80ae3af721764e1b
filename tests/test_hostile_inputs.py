"""What a careless operator hands us: lines of gigabytes, FIFOs, configs nested 50,000 deep,
credentials in a URL. Each is one clear line (or one rejected row) with a documented exit
code, in bounded memory, and nothing posted."""

import os
import subprocess
import sys
from pathlib import Path

import pytest

from orchestrator.pipeline.inputs import MAX_LINE_CHARS, RejectedRow, ValidInput
from tests.peak_memory import run_with_peak
from tests.test_e2e_run import ENV
from tests.test_inputs import read

CONFIG = """
[api]
base_url = "{base_url}"
login = "sim"
password = "sim"

[[jobs]]
name = "g"
se = "google"
se_type = "organic"
input = "{input}"
[jobs.defaults]
location_code = 2840
language_code = "en"
"""


def config(tmp: Path, input_: str = "kw.txt", base_url: str = "http://127.0.0.1:9") -> Path:
    path = tmp / "jobs.toml"
    path.write_text(CONFIG.format(base_url=base_url, input=input_))
    return path


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    cmd = [sys.executable, "-m", "orchestrator", *args]
    return subprocess.run(cmd, capture_output=True, text=True, env=ENV, timeout=timeout)


def one_line(done: subprocess.CompletedProcess[str], code: int, *said: str) -> str:
    assert done.returncode == code, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1 and all(s in lines[0] for s in said), done.stderr
    return lines[0]


def rejected_lines(rows: list[ValidInput | RejectedRow]) -> dict[int, str]:
    return {r.line: r.reason for r in rows if isinstance(r, RejectedRow)}


def test_an_over_long_line_is_rejected_as_its_row_and_the_rest_is_read(tmp_path: Path) -> None:
    """In each format, a line past the bound is that row's rejection, with its line number;
    the rows around it (a quoted CSV field over two lines included) are posted."""
    huge = "x" * (MAX_LINE_CHARS * 3)
    (tmp_path / "k.txt").write_text(f"before\n{huge}\nafter\n")
    (tmp_path / "k.jsonl").write_text(f'{{"keyword": "before"}}\n{huge}\n{{"keyword": "after"}}\n')
    (tmp_path / "k.csv").write_text(
        f'keyword\nbefore\n{huge}\n"two\nlines"\n"quoted\n{huge}\nend"\nafter\n'
    )
    for name, long_at in (("k.txt", [2]), ("k.jsonl", [2]), ("k.csv", [3, 6])):
        rows = read(tmp_path / name)
        reasons = rejected_lines(rows)
        assert sorted(reasons) == long_at, (name, reasons)
        assert all(f"longer than {MAX_LINE_CHARS}" in reason for reason in reasons.values())
        kept = [r for r in rows if isinstance(r, ValidInput)]
        assert len(kept) == (3 if name == "k.csv" else 2), name
        assert all(len(r.body) < 1000 for r in kept)


def test_a_csv_record_over_the_bound_or_with_a_nul_rejects_that_row_only(tmp_path: Path) -> None:
    """A quoted field spread over many short lines, past the bound, is one rejected row (the
    line it begins on), and none of its lines is read as a row of its own; so is a record
    holding a NUL. The reader goes on with the next row."""
    many = "\n".join(['y ""quoted"" ' + "y" * 1000] * 200)
    (tmp_path / "k.csv").write_text(f'keyword\nfirst\n"{many}"\nnext\n"a\0b"\n"open\n{many}')
    rows = read(tmp_path / "k.csv")
    reasons = rejected_lines(rows)
    assert sorted(reasons) == [3, 204, 205], reasons
    assert "longer than" in reasons[3] and "NUL" in reasons[204] and "longer" in reasons[205]
    assert [r.line for r in rows if isinstance(r, ValidInput)] == [2, 203]


def test_a_stray_quote_inside_a_csv_cell_drops_nothing(tmp_path: Path) -> None:
    """`5" tv` is a literal quote to csv (not at a field's start): the 8,000 rows after it,
    far more than the bound's worth of characters, are each read as their own row."""
    rows = "".join(f"keyword number {i}\n" for i in range(8000))
    (tmp_path / "k.csv").write_text(f'keyword\n5" tv\n{rows}')
    read_rows = read(tmp_path / "k.csv")
    assert not rejected_lines(read_rows)
    assert len(read_rows) == 8001


def test_two_gigabytes_of_nul_in_one_line_cost_bounded_memory(tmp_path: Path) -> None:
    """`validate` on one 2 GiB line of NUL bytes (a sparse file) rejects that line and reads
    the keyword after it, its peak memory under 200 MB (it grew to 4-7.6 GB before)."""
    path = tmp_path / "kw.txt"
    with path.open("wb") as handle:
        handle.truncate(2 << 30)
        handle.seek(0, os.SEEK_END)
        handle.write(b"\nthe keyword after\n")
    cmd = [sys.executable, "-m", "orchestrator", "validate", "--config", str(config(tmp_path))]
    with (tmp_path / "out.txt").open("w") as out, (tmp_path / "err.txt").open("w") as err:
        code, peak_kb = run_with_peak(cmd, tmp_path, ENV, out, err)
    said = (tmp_path / "out.txt").read_text()
    assert code == 0, (tmp_path / "err.txt").read_text()
    assert "g: 1 valid, 1 rejected" in said and "line 1: line longer than" in said
    assert peak_kb < 200 * 1024, f"peak RSS {peak_kb} KB"


def test_a_fifo_as_input_or_config_is_refused_at_once(tmp_path: Path) -> None:
    """A FIFO would block `validate` and `run` for ever: they refuse it in one line (exit 2).
    The subprocess timeout is the hang this guards against."""
    os.mkfifo(tmp_path / "kw.txt")
    jobs = config(tmp_path)
    for command in ("validate", "run"):
        one_line(cli(command, "--config", str(jobs)), 2, "kw.txt", "a FIFO, not a regular file")
    os.mkfifo(tmp_path / "fifo.toml")
    one_line(cli("validate", "--config", str(tmp_path / "fifo.toml")), 2, "fifo.toml", "FIFO")
    (tmp_path / "kw.txt").unlink()
    (tmp_path / "kw.txt").mkdir()
    one_line(cli("validate", "--config", str(jobs)), 2, "kw.txt", "a folder, not a regular file")


def test_a_config_nested_fifty_thousand_deep_is_a_config_error(tmp_path: Path) -> None:
    path = tmp_path / "deep.toml"
    path.write_text("a = " + "[" * 50_000 + "]" * 50_000 + "\n")
    one_line(cli("validate", "--config", str(path)), 2, "deep.toml", "nested too deep")
    path.write_bytes(b"# " + b"x" * (5 << 20) + b"\n")
    one_line(cli("validate", "--config", str(path)), 2, "deep.toml", "larger than")


@pytest.mark.parametrize(
    "url", ["https://user:hunter2@api.dataforseo.com", "user:hunter2@api.dataforseo.com"]
)
def test_credentials_in_the_base_url_are_refused_and_never_shown(tmp_path: Path, url: str) -> None:
    jobs = config(tmp_path, base_url=url)
    (tmp_path / "kw.txt").write_text("a keyword\n")
    for command in ("validate", "run"):
        done = cli(command, "--config", str(jobs))
        one_line(done, 2, "api.base_url", "holds credentials")
        assert "hunter2" not in done.stdout + done.stderr
