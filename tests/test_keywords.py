"""Keyword identity as users mean it (issue 27): case and space variants of a keyword are one
task, posted and paid once, on Google and Bing; elsewhere only spaces are collapsed. A ledger
keyed before this (a variant stored as written) is not posted again."""

import json
import subprocess
import sys
from pathlib import Path

import msgspec

from orchestrator.config import JobConfig
from orchestrator.pipeline.inputs import RejectedRow, ValidInput, read_inputs
from orchestrator.pipeline.load_worker import rekeyed
from schemas.pricing import PriceTable
from tests.test_e2e_promises import daily_config
from tests.test_e2e_run import ENV, run, running_simulator, stats

VARIANTS = "Running Shoes\nrunning shoes\n  running   shoes \nRUNNING SHOES\ntrail shoes\n"


def rows(path: Path, se: str = "google", normalise: bool = True) -> list[ValidInput]:
    defaults = {"location_code": 2840, "language_code": "en"}
    if se == "naver":
        defaults = {}
    job = JobConfig(
        name="j",
        se=se,
        se_type="organic",
        input=str(path),
        defaults=defaults,
        normalise_keywords=normalise,
    )
    found = list(read_inputs(job, PriceTable()))
    assert not [r for r in found if isinstance(r, RejectedRow)]
    return [r for r in found if isinstance(r, ValidInput)]


def test_case_and_space_variants_are_one_task_on_google(tmp_path: Path) -> None:
    path = tmp_path / "kw.txt"
    path.write_text(VARIANTS)
    made = rows(path)
    assert len({r.key for r in made}) == 2
    keywords = {msgspec.json.decode(r.body)["keyword"] for r in made}
    assert keywords == {"running shoes", "trail shoes"}


def test_elsewhere_spaces_are_collapsed_and_case_is_kept(tmp_path: Path) -> None:
    path = tmp_path / "kw.txt"
    path.write_text("운동화 추천\n운동화  추천\nRunning Shoes\nrunning shoes\n")
    keywords = [msgspec.json.decode(r.body)["keyword"] for r in rows(path, se="naver")]
    assert keywords == ["운동화 추천", "운동화 추천", "Running Shoes", "running shoes"]
    assert len({r.key for r in rows(path, se="naver")}) == 3


def test_normalise_keywords_false_posts_every_keyword_as_written(tmp_path: Path) -> None:
    path = tmp_path / "kw.txt"
    path.write_text(VARIANTS)
    made = rows(path, normalise=False)
    assert len({r.key for r in made}) == 5
    assert msgspec.json.decode(made[2].body)["keyword"] == "running   shoes"


def test_a_row_keyed_as_written_is_known_under_its_normalised_key(tmp_path: Path) -> None:
    """What an earlier version stored (`Running Shoes`, keyed as written) counts under the key
    the keyword has now; a row already normalised needs no second key."""
    path = tmp_path / "kw.txt"
    path.write_text("Running Shoes\n")
    (old,) = rows(path, normalise=False)
    (new,) = rows(path)
    assert old.key != new.key
    assert rekeyed("google", old.body) == new.key
    assert rekeyed("google", new.body) is None
    assert rekeyed("naver", b'{"keyword": "Running Shoes"}') is None


def test_validate_counts_variants_once_and_a_ledger_of_before_posts_none_again(
    tmp_path: Path,
) -> None:
    """`validate` says which rows repeat others and prices each task once. A ledger whose
    rows were keyed as written (normalise_keywords = false, as every earlier version did) is
    run again with normalisation on, the variants added to the file: nothing is posted."""
    with running_simulator("--delay-normal-s", "0:1", "--seed", "3") as url:
        config = daily_config(tmp_path, url, 0)
        (tmp_path / "kw.txt").write_text("Running Shoes\nTrail  Shoes\nhiking boots\n")
        text = config.read_text()
        config.write_text(
            text.replace('input = "kw.txt"', 'input = "kw.txt"\nnormalise_keywords = false')
        )
        first = run(config)
        assert first.returncode == 0, first.stderr
        assert stats(url)["tasks_created"] == 3
        config.write_text(text)
        (tmp_path / "kw.txt").write_text(
            VARIANTS.replace("trail shoes", "trail shoes\nTrail Shoes") + "Hiking Boots\n"
        )
        checked = subprocess.run(
            [sys.executable, "-m", "orchestrator", "validate", "--config", str(config)],
            capture_output=True,
            text=True,
            env=ENV,
            timeout=60,
        )
        assert checked.returncode == 0, checked.stderr
        assert "7 valid (4 repeat other rows or are variants" in checked.stdout
        assert "estimated cost $0.0018" in checked.stdout  # three tasks, not seven
        again = run(config)
        assert again.returncode == 0, again.stderr
        assert stats(url)["tasks_created"] == 3  # nothing posted twice
    lines = (tmp_path / "out" / "g" / "results.jsonl").read_text().splitlines()
    assert len(lines) == 3
    assert {json.loads(line)["data"]["keyword"] for line in lines} == {
        "Running Shoes",
        "Trail  Shoes",
        "hiking boots",
    }
