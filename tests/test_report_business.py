"""Local businesses in the report (issue 27): on maps, a business is followed by its place id,
its cid or its name, not by a domain it may not have. Real processes against the simulator."""

import json
import subprocess
import sys
from pathlib import Path

from tests.test_e2e_run import ENV, run, running_simulator
from tests.test_report_browser import rendered


def test_a_business_is_followed_on_maps_by_place_id_cid_or_name(tmp_path: Path) -> None:
    (tmp_path / "kw.txt").write_text("pizza\ndentist\nbakery\n")
    config = tmp_path / "jobs.toml"
    with running_simulator("--delay-normal-s", "0:1", "--seed", "6") as url:
        config.write_text(f"""
[api]
base_url = "{url}"
login = "sim"
password = "sim"

[[jobs]]
name = "local"
se = "google"
se_type = "maps"
input = "kw.txt"
every = "day"
[jobs.defaults]
location_code = 2840
language_code = "en"
depth = 20
""")
        for day in ("2026-11-30", "2026-12-01"):
            done = run(config, "--period", day)
            assert done.returncode == 0, done.stderr
    results = tmp_path / "out" / "local" / "period=2026-12-01" / "results.jsonl"
    first = json.loads(results.read_text().splitlines()[0])
    places = [i for i in first["result"][0]["items"] if i["type"] == "maps_search"]
    place = places[2]  # ranked third among the places, ads aside

    def followed(*how: str) -> dict[str, object]:
        cmd = [sys.executable, "-m", "orchestrator", "report", "--config", str(config)]
        found = subprocess.run(
            [*cmd, "--job", "local", "--format", "json", *how],
            capture_output=True,
            text=True,
            env=ENV,
            timeout=60,
        )
        assert found.returncode == 0, found.stderr
        moves = json.loads(found.stdout)["keywords"]
        return {m["keyword"]: m["now"] for m in moves}

    keyword = first["data"]["keyword"]
    assert followed("--cid", place["cid"])[keyword] == 3
    assert followed("--place-id", place["place_id"])[keyword] == 3
    assert followed("--business", place["title"].upper())[keyword] == 3
    nowhere = followed("--cid", "1")
    assert set(nowhere.values()) == {None}  # a cid no SERP holds ranks nowhere

    html = tmp_path / "local.html"
    cmd = [
        sys.executable,
        "-m",
        "orchestrator",
        "report",
        "--config",
        str(config),
        "--job",
        "local",
    ]
    page = subprocess.run(
        [*cmd, "--cid", place["cid"], "--title", "Local pack", "--html", str(html)],
        capture_output=True,
        text=True,
        env=ENV,
        timeout=60,
    )
    assert page.returncode == 0, page.stderr
    dom, drawn = rendered(html, tmp_path / "local.png")
    assert "<h1>Local pack</h1>" in dom and drawn > 100
    assert 'class="card" data-name="keywords in the top 3"' in dom
