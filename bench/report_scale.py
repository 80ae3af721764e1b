"""`report` at scale, from the rankings tables (issue 26).

    report_s_100k_keywords         wall time of `orchestrator report` (a process, JSON out;
                                   the median of --repeat)
                                   comparing two periods of --keywords keywords at depth 100
    report_history_s_12_periods    the same with 12 periods in the job's history (the chart and
                                   each keyword's sparkline read all 12)
    rankings_table_mb_per_100k_items   size of the Parquet table per 100,000 SERP items, of real
                                   simulator SERPs (google organic, depth 100)
    results_json_mb_per_100k_items     the raw results.jsonl of the same tasks, beside it

The tables of the timed reports are written synthetically (DuckDB writes them in seconds):
each keyword 100 ranked items over a long tail of domains, the followed one in about half of
the SERPs. The sizes come from real simulator answers turned into a table by the product.
"""

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

from bench.common import Figures, emit, run_orchestrator, write_config
from bench.ledger import build
from orchestrator.config import load_config
from orchestrator.reports import rankings_table
from orchestrator.simulator.generator import generate_result

DEPTH = 100
# One synthetic period: per keyword, DEPTH organic items; domains from a long tail (3,000),
# with example.com at a rank of its own in about half of the keywords.
SYNTHETIC = """
COPY (
    SELECT 'bench' AS job, printf('%020x', k) AS input_key, 't' || k AS task_id,
        'google' AS se, 'organic' AS se_type, 'keyword ' || k AS keyword,
        NULL::VARCHAR AS image_url, 2840::BIGINT AS location, 'en' AS language,
        'desktop' AS device, TIMESTAMPTZ '{day} 06:00:00+00' AS datetime,
        'organic' AS type, pos::BIGINT AS rank_group, pos::BIGINT AS rank_absolute,
        (1 + (pos - 1) // 10)::BIGINT AS page,
        CASE WHEN hash(k) % 2 = 0 AND pos = 1 + (hash(k, {seed}) % 60)
             THEN 'www.example.com'
             ELSE 'www.site' || (hash(k, pos, {seed}) % 3000) || '.com' END AS domain,
        'https://www.site' || (hash(k, pos) % 3000) || '.com/page-' || pos AS url,
        'A title of result ' || pos AS title, 'A description of the result' AS description,
        NULL::DOUBLE AS rating, NULL::BIGINT AS rating_votes, NULL::VARCHAR AS address,
        NULL::VARCHAR AS phone, NULL::VARCHAR AS place_id, NULL::VARCHAR AS cid,
        NULL::VARCHAR AS category, NULL::DOUBLE AS latitude, NULL::DOUBLE AS longitude,
        NULL::VARCHAR AS channel, NULL::BIGINT AS views, NULL::BIGINT AS duration_s,
        NULL::VARCHAR AS published, NULL::VARCHAR AS source, NULL::VARCHAR AS timestamp,
        NULL::DOUBLE AS price, NULL::VARCHAR AS currency
    FROM range({keywords}) r(k), range(1, {depth} + 1) p(pos)
) TO '{path}' (FORMAT parquet, KV_METADATA {{'orchestrator.results_bytes': '0'}})
"""


def synthetic_periods(folder: Path, keywords: int, periods: int) -> None:
    """A daily job `bench` with `periods` settled days of `keywords` inputs, each with its
    table (and an empty results file: the table covers its 0 settled bytes)."""
    import duckdb

    config = write_config(folder, "http://127.0.0.1:9", 10, calls=2000, period_s=60)
    text = config.read_text().replace('input = "kw.txt"', 'input = "kw.txt"\nevery = "day"')
    config.write_text(text)
    build(folder / "state.sqlite", keywords * periods, keywords)
    job = load_config(config).jobs[0]
    for day in range(periods):
        key = time.strftime("%Y-%m-%d", time.gmtime(1_700_000_000 + day * 86400))
        path = rankings_table.table_path(load_config(config), job, key)
        path.parent.mkdir(parents=True, exist_ok=True)
        (path.parent / "results.jsonl").touch()
        sql = SYNTHETIC.format(day=key, seed=day, keywords=keywords, depth=DEPTH, path=path)
        with duckdb.connect() as db:
            db.execute("SET enable_progress_bar = false")
            db.execute(sql)


def timed_report(folder: Path, repeat: int) -> float:
    """The median wall time of `repeat` reports (this machine's times vary by a third)."""
    args = ["report", "--config", str(folder / "jobs.toml"), "--job", "bench"]
    times = []
    for _ in range(repeat):
        done = run_orchestrator(*args, "--domain", "example.com", "--format", "json")
        if done.returncode != 0:
            raise RuntimeError(done.stderr)
        assert json.loads(done.stdout)["keywords"], "a report with no keyword"
        times.append(done.wall_s)
    return statistics.median(times)


def table_sizes(folder: Path, keywords: int) -> tuple[float, float]:
    """(table MB, raw JSON MB) per 100,000 items of real simulator SERPs at depth 100."""
    config_path = write_config(folder, "http://127.0.0.1:9", 10, calls=2000, period_s=60)
    config = load_config(config_path)
    job = config.jobs[0]
    part = Path(config.output.dir) / "bench" / "period=2026-12-01"
    part.mkdir(parents=True)
    items = 0
    with (part / "results.jsonl").open("wb") as out:
        for n in range(keywords):
            params = {"keyword": f"keyword {n}", "location_code": 2840, "language_code": "en"}
            params["depth"] = DEPTH
            result = generate_result(1, "google", "organic", params, "2026-12-01 06:00:00 +00:00")
            items += len(result[0]["items"])
            data = {**params, "tag": f"bench:2026-12-01:{n:020x}"}
            out.write(json.dumps({"id": f"t{n}", "data": data, "result": result}).encode())
            out.write(b"\n")
    rankings_table.write_table(config, job, "2026-12-01", None)
    table = rankings_table.table_path(config, job, "2026-12-01").stat().st_size
    raw = (part / "results.jsonl").stat().st_size
    per = 100_000 / items / 1e6
    return table * per, raw * per


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.report_scale", description=__doc__.splitlines()[0])
    parser.add_argument("--keywords", type=int, default=100_000)
    parser.add_argument("--history", type=int, default=12, help="periods of the history run")
    parser.add_argument("--size-keywords", type=int, default=300, help="real SERPs sized")
    parser.add_argument("--repeat", type=int, default=3, help="reports timed (the median)")
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    figures: Figures = {}
    with tempfile.TemporaryDirectory() as tmp:
        two = Path(tmp) / "two"
        synthetic_periods(two, args.keywords, 2)
        figures["report_s_100k_keywords"] = round(timed_report(two, args.repeat), 2)
    with tempfile.TemporaryDirectory() as tmp:
        many = Path(tmp) / "many"
        synthetic_periods(many, args.keywords, args.history)
        figures["report_history_s_12_periods"] = round(timed_report(many, args.repeat), 2)
    with tempfile.TemporaryDirectory() as tmp:
        table_mb, raw_mb = table_sizes(Path(tmp), args.size_keywords)
        figures["rankings_table_mb_per_100k_items"] = round(table_mb, 2)
        figures["results_json_mb_per_100k_items"] = round(raw_mb, 2)
    figures["report_scale_keywords"] = args.keywords
    emit(figures, args.json)


if __name__ == "__main__":
    main()
