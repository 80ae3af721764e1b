"""Inputs are streamed, validated row by row, and keyed stably; bad rows are set aside."""

import json
from pathlib import Path

import msgspec
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from orchestrator.config import JobConfig, load_config
from orchestrator.errors import ConfigError, InputError
from orchestrator.pipeline.inputs import (
    RejectedRow,
    ValidInput,
    check_input,
    input_key,
    read_inputs,
)
from schemas.pricing import PriceTable

DEFAULTS = {"location_code": 2840, "language_code": "en"}


def job(path: Path, se: str = "google", se_type: str = "organic") -> JobConfig:
    return JobConfig(
        name="j",
        se=se,
        se_type=se_type,
        input=str(path),
        defaults=DEFAULTS if se == "google" else {},
    )


def read(path: Path, **kw: str) -> list[ValidInput | RejectedRow]:
    return list(read_inputs(job(path, **kw), PriceTable()))


def test_txt_rows_become_keyword_tasks_with_defaults_and_a_tag(tmp_path: Path) -> None:
    """Each non-blank line is a keyword; defaults merge in; the body carries the tag."""
    path = tmp_path / "k.txt"
    path.write_text("running shoes\n\n  trail shoes  \n")
    rows = read(path)
    assert [r.line for r in rows] == [1, 3]
    first = rows[0]
    assert isinstance(first, ValidInput)
    assert json.loads(first.body) == {
        **DEFAULTS,
        "keyword": "running shoes",
        "tag": f"j:{first.key}",
    }
    assert first.cost == pytest.approx(0.0006)


def test_search_by_image_txt_lines_are_image_urls(tmp_path: Path) -> None:
    """For search_by_image a .txt line is an image URL."""
    path = tmp_path / "img.txt"
    path.write_text("https://example.com/a.jpg\n")
    (row,) = read(path, se_type="search_by_image")
    assert (
        isinstance(row, ValidInput)
        and json.loads(row.body)["image_url"] == "https://example.com/a.jpg"
    )


def test_csv_values_are_coerced_and_bad_rows_rejected_with_their_line(tmp_path: Path) -> None:
    """CSV strings become ints; a row breaking a rule is rejected with line and field."""
    path = tmp_path / "k.csv"
    path.write_text("keyword,depth,priority\nshoes,100,2\nboots,9000,1\nhats,,\nshort\n")
    rows = read(path)
    assert isinstance(rows[0], ValidInput) and json.loads(rows[0].body)["depth"] == 100
    assert (
        isinstance(rows[1], RejectedRow)
        and rows[1].line == 3
        and rows[1].reason.startswith("depth:")
    )
    assert isinstance(rows[2], ValidInput) and "depth" not in json.loads(rows[2].body)
    assert isinstance(rows[3], RejectedRow) and rows[3].reason == "expected 3 columns, got 1"


def test_jsonl_keeps_types_and_rejects_garbage_lines(tmp_path: Path) -> None:
    """JSONL rows are typed as given; a line that is not an object is rejected, not fatal."""
    path = tmp_path / "k.jsonl"
    lines = ['{"keyword": "a", "depth": 20}', "{oops", '{"keyword": "b", "depth": "20"}']
    lines.append('{"keyword": "c", "tag": "x"}')
    path.write_text("\n".join(lines) + "\n")
    rows = read(path)
    assert isinstance(rows[0], ValidInput)
    assert (
        isinstance(rows[1], RejectedRow)
        and rows[1].line == 2
        and "not a JSON object" in rows[1].reason
    )
    assert isinstance(rows[2], RejectedRow) and rows[2].reason.startswith("depth:")
    assert isinstance(rows[3], RejectedRow) and rows[3].reason.startswith("tag:")


def test_same_parameters_give_the_same_key_across_files_and_formats(tmp_path: Path) -> None:
    """The key depends on the task's parameters only, not on the line or the format."""
    (tmp_path / "a.txt").write_text("x\nshoes\n")
    (tmp_path / "b.jsonl").write_text('{"keyword": "shoes"}\n')
    a, b = read(tmp_path / "a.txt")[1], read(tmp_path / "b.jsonl")[0]
    assert isinstance(a, ValidInput) and isinstance(b, ValidInput) and a.key == b.key


@given(
    st.dictionaries(
        st.sampled_from(["keyword", "depth", "device"]), st.integers() | st.text(), min_size=1
    )
)
def test_key_ignores_field_order(task: dict[str, object]) -> None:
    """Reordering a task's fields never changes its key."""
    assert input_key(task) == input_key(dict(reversed(list(task.items()))))


@pytest.mark.parametrize(
    ("name", "content", "message"),
    [
        ("missing.txt", None, "cannot read"),
        ("k.xlsx", b"x", "unknown input format '.xlsx'"),
        ("k.txt", b"ok\n\xff\xfe bad\n", "not UTF-8"),
        ("k.csv", b"", "first row must name the task fields"),
    ],
)
def test_unreadable_files_raise_input_error_naming_the_file(
    tmp_path: Path, name: str, content: bytes | None, message: str
) -> None:
    """A file that cannot be read at all stops with one message naming it."""
    path = tmp_path / name
    if content is not None:
        path.write_bytes(content)
    with pytest.raises(InputError, match=message) as caught:
        read(path)
    assert str(caught.value).startswith(str(path))


def test_a_file_that_would_stop_mid_way_is_refused_before_anything_is_posted(
    tmp_path: Path,
) -> None:
    """Inputs stream while a run posts, so a Latin-1 line deep in the file, or a CSV with no
    header, is found up front with its line; a BOM is fine."""
    good = tmp_path / "good.txt"
    good.write_bytes(b"\xef\xbb\xbf" + b"".join(b"keyword %d\n" % i for i in range(50_000)))
    check_input(JobConfig(name="j", se="google", se_type="organic", input=str(good)))
    bad = tmp_path / "bad.txt"
    bad.write_bytes(
        b"".join(b"keyword %d\n" % i for i in range(40_000)) + "café\n".encode("latin-1")
    )
    with pytest.raises(InputError, match=r"bad.txt:40001: not UTF-8 text"):
        check_input(JobConfig(name="j", se="google", se_type="organic", input=str(bad)))
    headless = tmp_path / "k.csv"
    headless.write_text(",\nshoes,2840\n")
    with pytest.raises(InputError, match="the first row must name the task fields"):
        check_input(JobConfig(name="j", se="google", se_type="organic", input=str(headless)))


def test_extra_fields_pass_what_the_schemas_do_not_know_yet(tmp_path: Path) -> None:
    """A field the API added since this version: listed in `extra_fields`, it reaches the
    body as given and is part of the input's key; a known field cannot be listed there (it
    would skip its checks), and an unlisted one still refuses the file."""
    path = tmp_path / "news.csv"
    path.write_text("keyword,sort_by\npizza,date\n")
    base = JobConfig(name="n", se="google", se_type="news", input=str(path),
                     defaults={"location_code": 2840, "language_code": "en"})  # fmt: skip
    with pytest.raises(InputError, match="'sort_by': not a field of google/news"):
        check_input(base)
    job = msgspec.structs.replace(base, extra_fields=["sort_by"])
    check_input(job)
    [row] = list(read_inputs(job, PriceTable()))
    assert isinstance(row, ValidInput)
    body = json.loads(row.body)
    assert body["sort_by"] == "date" and body["keyword"] == "pizza" and body["tag"] == row.tag
    assert row.key == input_key({"keyword": "pizza", "location_code": 2840,
                                 "language_code": "en", "sort_by": "date"})  # fmt: skip
    config = tmp_path / "jobs.toml"
    config.write_text(
        '[[jobs]]\nname = "n"\nse = "google"\nse_type = "news"\ninput = "news.csv"\n'
        'extra_fields = ["depth"]\n'
    )
    with pytest.raises(ConfigError, match=r"jobs\[0\]\.extra_fields: 'depth' is a known field"):
        load_config(config)


# Endpoints and defaults a keyword list (.txt) is used with, valid and not.
TXT_JOBS = [
    ("google", "organic", {"location_code": 2840, "language_code": "en"}),
    ("google", "organic", {"location_name": "Germany", "language_code": "de", "device": "mobile"}),
    ("google", "organic", {"location_code": 2840, "language_code": "en", "depth": 700}),
    ("google", "organic", {"location_code": 2840, "language_code": "en", "depth": 701}),
    ("google", "organic", {"location_code": 2840}),  # no language: every row refused
    (
        "google",
        "organic",
        {
            "location_code": 2840,
            "language_code": "en",
            "priority": 2,
            "postback_url": "https://example.com/p?id=$id",
            "postback_data": "regular",
            "stop_crawl_on_match": [{"match_value": "example.com", "match_type": "domain"}],
        },
    ),
    ("google", "maps", {"location_code": 2840, "language_code": "en", "device": "mobile"}),
    ("google", "local_finder", {"location_code": 2840, "language_code": "en", "depth": 400}),
    ("google", "news", {"location_code": 2276, "language_code": "de", "depth": 100}),
    ("google", "autocomplete", {"location_code": 2840, "language_code": "en", "client": "chrome"}),
    ("google", "search_by_image", {"location_code": 2840, "language_code": "en"}),
    ("google", "ads_search", {"location_code": 2840}),  # no keyword field: every row refused
    ("bing", "organic", {"location_code": 2840, "language_code": "en"}),
    ("youtube", "organic", {"location_code": 2840, "language_code": "en", "block_depth": 40}),
    ("naver", "organic", {}),
    ("baidu", "organic", {"location_code": 2156, "language_code": "zh_CN"}),
]
KEYWORDS = st.one_of(
    st.text(st.characters(codec="utf-8", exclude_characters="\r\n"), max_size=30),
    st.sampled_from(
        [
            "cache:example.com",
            "  Cache:Example.com",
            "site:example.com shoes",
            "shoes intitle:cheap",
            'say "hi" \\ there',
            "\x00\x1f control",
            "https://example.com/a.png",
            "x" * 700,
            "x" * 701,
            "y" * 2000,
        ]
    ),
)


@settings(
    max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture]
)
@given(
    endpoint=st.sampled_from(TXT_JOBS),
    keywords=st.lists(KEYWORDS, min_size=1, max_size=12),
    period=st.sampled_from(["", "2026-11-23"]),
)
def test_the_fast_way_makes_exactly_what_the_whole_check_makes(
    tmp_path_factory: pytest.TempPathFactory,
    endpoint: tuple[str, str, dict[str, object]],
    keywords: list[str],
    period: str,
) -> None:
    """A keyword list's rows after the first valid one take keyword_rows.py's way. Row for
    row, both ways give the same key, tag, body and price, and the same rejections with the
    same reasons, on any keyword and on endpoints with and without the field."""
    se, se_type, defaults = endpoint
    path = tmp_path_factory.mktemp("kw") / "kw.txt"
    path.write_text("\n".join(keywords) + "\n", encoding="utf-8")
    the_job = JobConfig(name="j", se=se, se_type=se_type, input=str(path), defaults=defaults)
    prices = PriceTable(endpoint_base_usd={"google/maps": 0.002})
    fast = list(read_inputs(the_job, prices, period))
    whole = list(read_inputs(the_job, prices, period, fast=False))
    assert fast == whole


def test_a_txt_first_line_that_names_the_column_is_skipped_with_a_note(tmp_path: Path) -> None:
    """A spreadsheet saved as text starts with `Keyword`: that line is not posted (it was
    paid for every period), and says why in rejected.jsonl; the same word further down is a
    keyword like any other."""
    path = tmp_path / "k.txt"
    path.write_text("\nKeyword\nrunning shoes\nkeyword\n")
    rows = read(path)
    assert [(r.line, r.reason) for r in rows if isinstance(r, RejectedRow)] == [
        (2, "a column name, not an input: skipped (the first line of the file)")
    ]
    assert [json.loads(r.body)["keyword"] for r in rows if isinstance(r, ValidInput)] == [
        "running shoes",
        "keyword",
    ]
    images = tmp_path / "i.txt"
    images.write_text("image_url\nhttps://example.com/a.jpg\n")
    found = read(images, se_type="search_by_image")
    assert [type(r).__name__ for r in found] == ["RejectedRow", "ValidInput"]
