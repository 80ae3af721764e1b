"""`make demo`'s report as a person sees it: the demo runs a daily job over three periods and
prints where report.html is; headless Chromium renders that file and the charts are drawn
(pixels of the series colour in the screenshot); the terminal and JSON reports agree."""

import json
import os
import shutil
import struct
import subprocess
import sys
import zlib
from pathlib import Path

import pytest

from tests.test_e2e_run import ENV

SERIES_RGB = (0x1F, 0x77, 0xB4)  # the first series colour of report_html.COLOURS


def png_pixels(data: bytes) -> tuple[int, int, list[bytes]]:
    """(width, height, rows of RGB(A) bytes) of an 8-bit, non-interlaced PNG."""
    assert data[:8] == b"\x89PNG\r\n\x1a\n"
    pos, idat, width, height, channels = 8, b"", 0, 0, 0
    while pos < len(data):
        length, kind = struct.unpack(">I4s", data[pos : pos + 8])
        body = data[pos + 8 : pos + 8 + length]
        if kind == b"IHDR":
            width, height, depth, colour = struct.unpack(">IIBB", body[:10])
            assert depth == 8 and body[12] == 0, "only 8-bit non-interlaced PNGs"
            channels = {2: 3, 6: 4}[colour]
        elif kind == b"IDAT":
            idat += body
        pos += 12 + length
    raw, stride, rows, prev = zlib.decompress(idat), width * channels, [], bytes(width * channels)
    for y in range(height):
        start = y * (stride + 1)
        kind, line = raw[start], bytearray(raw[start + 1 : start + 1 + stride])
        for i in range(stride):
            a = line[i - channels] if i >= channels else 0
            b, c = prev[i], prev[i - channels] if i >= channels else 0
            if kind == 1:
                line[i] = (line[i] + a) & 255
            elif kind == 2:
                line[i] = (line[i] + b) & 255
            elif kind == 3:
                line[i] = (line[i] + (a + b) // 2) & 255
            elif kind == 4:
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                line[i] = (line[i] + (a if pa <= pb and pa <= pc else b if pb <= pc else c)) & 255
        rows.append(bytes(line))
        prev = bytes(line)
    return width, height, rows


def chromium() -> str:
    found = shutil.which("chromium") or shutil.which("chromium-browser")
    if found is None:
        if os.environ.get("CI"):
            pytest.fail("CI must install Debian's chromium (see .ci/run)")
        pytest.skip("needs Debian's chromium: apt-get install chromium (CI installs it)")
    return found


def rendered(html: Path, shot: Path) -> tuple[str, int]:
    """The page as headless Chromium builds it (its DOM) and draws it: a screenshot kept at
    `shot`, and how many of its pixels are of the first series colour (a chart drawn)."""
    browser = chromium()
    flags = [browser, "--headless", "--no-sandbox", "--disable-gpu", "--hide-scrollbars"]
    subprocess.run(
        [*flags, "--window-size=900,1100", f"--screenshot={shot}", html.resolve().as_uri()],
        capture_output=True,
        timeout=120,
        check=True,
    )
    dom = subprocess.run(
        [*flags, "--dump-dom", html.resolve().as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    width, _, rows = png_pixels(shot.read_bytes())
    channels = len(rows[0]) // width
    drawn = sum(
        tuple(row[x : x + 3]) == SERIES_RGB for row in rows for x in range(0, len(row), channels)
    )
    return dom, drawn


def test_demo_report_renders_with_its_charts_drawn(tmp_path: Path) -> None:
    """The demo ends by printing where report.html is; Chromium draws both charts."""
    browser = chromium()
    out = tmp_path / "demo"
    done = subprocess.run(
        [sys.executable, "-m", "orchestrator", "demo", "--out", str(out)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=170,
    )
    assert done.returncode == 0, done.stderr
    html = out / "report.html"
    assert done.stdout.splitlines()[-1].endswith(f"open {html.resolve()}")
    assert len(list((out / "rank-tracking").glob("period=*/results.jsonl"))) == 3
    shot = tmp_path / "report.png"
    subprocess.run(
        [
            browser,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=900,1100",
            f"--screenshot={shot}",
            html.resolve().as_uri(),
        ],
        capture_output=True,
        timeout=120,
        check=True,
    )
    width, _, rows = png_pixels(shot.read_bytes())
    channels = len(rows[0]) // width
    ys = [  # the rows of series-coloured pixels, top to bottom
        y
        for y, row in enumerate(rows)
        for x in range(0, width * channels, channels)
        if tuple(row[x : x + 3]) == SERIES_RGB
    ]
    split = max(range(1, len(ys)), key=lambda i: ys[i] - ys[i - 1])  # the gap between charts
    top, bottom = split, len(ys) - split
    assert top > 300 and bottom > 300, (top, bottom)  # lines of 3 px over ~500 px, and dots
    dom = subprocess.run(
        [browser, "--headless", "--no-sandbox", "--disable-gpu", "--dump-dom", html.as_uri()],
        capture_output=True,
        text=True,
        timeout=120,
        check=True,
    ).stdout
    for name in ("visibility (top 10)", "average rank", "keywords in the top 10", "keywords up"):
        assert f'class="card" data-name="{name}"' in dom, name  # the headline, as drawn

    config = str(out / "jobs.toml")
    cmd = [sys.executable, "-m", "orchestrator", "report", "--config", config]
    table = subprocess.run(
        [*cmd, "--job", "rank-tracking", "--domain", "example.com"],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=60,
    )
    assert table.returncode == 0, table.stderr
    assert "visibility (top 10)" in table.stdout and "biggest winners" in table.stdout
    as_json = json.loads(
        subprocess.run(
            [*cmd, "--job", "rank-tracking", "--domain", "example.com", "--format", "json"],
            capture_output=True,
            text=True,
            env=ENV,
            timeout=60,
        ).stdout
    )
    assert [period for period, _, _ in as_json["history"]] == sorted(
        p.name.removeprefix("period=") for p in (out / "rank-tracking").glob("period=*")
    )
    moves = as_json["keywords"]
    assert len(moves) >= 90 and any(m["change"] for m in moves)  # the simulator's ranks moved
    one_shot = subprocess.run(
        [*cmd, "--job", "naver-kr"], capture_output=True, text=True, env=ENV, timeout=60
    )
    assert one_shot.returncode == 2 and "has no `every`" in one_shot.stderr
    # A period with nothing collected (missed, or still to come) is refused, naming those
    # that have results: read as empty, every keyword had "left the top 100", with exit 0.
    periods = sorted(p.name.removeprefix("period=") for p in (out / "rank-tracking").glob("p*"))
    future = subprocess.run(
        [*cmd, "--job", "rank-tracking", "--from", periods[0], "--to", "2099-01-01"],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=60,
    )
    assert future.returncode == 2, future.stderr
    assert "--to: period 2099-01-01 of job 'rank-tracking' has no collected results" in (
        future.stderr
    )
    assert ", ".join(periods) in future.stderr and "Traceback" not in future.stderr
