"""decode: how fast task_get/advanced answers become typed objects, side by side in one
process with what a user would otherwise reach for.

The corpus is real wire bytes: answers the simulator (its own process) serves for google/organic
(depth 100), naver/organic, google/search_by_image, google/maps (its default depth, 100
places), google/news, google/images and youtube/organic, plus the seed's real Naver answer.
Each decoder runs over the whole corpus in turns (interleaved rounds, best round kept).

    decode_schemas_mb_s          schemas.decode_task_get: typed msgspec structs
    decode_json_mb_s             json.loads: untyped dicts
    decode_orjson_mb_s           orjson.loads: untyped dicts
    decode_official_client_mb_s  dataforseo-client's pydantic models (Model.from_json)
    decode_vs_official_client    schemas / official client            target >= 10
    decode_vs_orjson             schemas / orjson                     target >= 1.0
"""

import argparse
import base64
import importlib
import json
import time
import urllib.request
from collections.abc import Callable
from typing import Any

import schemas
from bench.common import ROOT, Figures, emit, simulator

SEED = ROOT / "tests" / "fixtures" / "naver_organic_task_get_advanced.json"
AUTH = "Basic " + base64.b64encode(b"sim:sim").decode()
_US: dict[str, object] = {"location_code": 2840, "language_code": "en"}
ENDPOINTS: dict[tuple[str, str], dict[str, object]] = {
    ("google", "organic"): {**_US, "depth": 100},
    ("naver", "organic"): {"depth": 100},
    ("google", "search_by_image"): _US,
    ("google", "maps"): _US,
    ("google", "news"): {**_US, "depth": 50},
    ("google", "images"): _US,
    ("youtube", "organic"): _US,
}
Sample = tuple[str, str, bytes]


def _call(url: str, body: bytes | None = None) -> bytes:
    request = urllib.request.Request(url, data=body, headers={"Authorization": AUTH})
    with urllib.request.urlopen(request, timeout=30) as resp:
        data: bytes = resp.read()
    return data


def build_corpus(per_endpoint: int) -> list[Sample]:
    """Post `per_endpoint` tasks to each endpoint of a fresh simulator and fetch the answers."""
    corpus: list[Sample] = [("naver", "organic", SEED.read_bytes())]
    flags = ["--delay-normal-s", "0:0", "--delay-high-s", "0:0", "--seed", "3"]
    with simulator(*flags) as sim:
        url = sim.url
        for (se, se_type), defaults in ENDPOINTS.items():
            field = "image_url" if se_type == "search_by_image" else "keyword"
            tasks: list[dict[str, object]] = [
                {field: f"https://example.com/{i}.jpg" if field == "image_url" else f"shoes {i}"}
                | defaults
                for i in range(per_endpoint)
            ]
            posted = json.loads(
                _call(f"{url}/v3/serp/{se}/{se_type}/task_post", json.dumps(tasks).encode())
            )
            for task in posted["tasks"]:
                raw = _call(f"{url}/v3/serp/{se}/{se_type}/task_get/advanced/{task['id']}")
                corpus.append((se, se_type, raw))
    return corpus


def official_decoders() -> dict[tuple[str, str], Callable[[str], Any]]:
    """The official client's response models, by endpoint (what its API methods return)."""
    decoders = {}
    for se, se_type in ENDPOINTS:
        name = f"serp_{se}_{se_type}_task_get_advanced_response_info"
        module = importlib.import_module(f"dataforseo_client.models.{name}")
        model = getattr(module, "".join(part.title() for part in name.split("_")))
        decoders[(se, se_type)] = model.from_json
    return decoders


def check_official(corpus: list[Sample], decoders: dict[tuple[str, str], Any]) -> None:
    """The comparison is only fair if the official models really read every item."""
    for se, se_type, raw in corpus:
        ours = schemas.decode_task_get(raw, se, se_type)
        theirs = decoders[(se, se_type)](raw.decode())
        mine = ours.tasks[0].result[0].items or []
        other = theirs.tasks[0].result[0].items or []
        if len(mine) != len(other) or any(item is None for item in other):
            read = sum(item is not None for item in other)
            raise SystemExit(
                f"decode: official client read {read} {se}/{se_type} items, not {len(mine)}"
            )


def measure(per_endpoint: int, seconds: float) -> Figures:
    import orjson

    corpus = build_corpus(per_endpoint)
    official = official_decoders()
    check_official(corpus, official)
    total = sum(len(raw) for *_, raw in corpus)
    runners: dict[str, Callable[[], object]] = {
        "schemas": lambda: [schemas.decode_task_get(raw, se, t) for se, t, raw in corpus],
        "json": lambda: [json.loads(raw) for *_, raw in corpus],
        "orjson": lambda: [orjson.loads(raw) for *_, raw in corpus],
        "official_client": lambda: [official[(se, t)](raw.decode()) for se, t, raw in corpus],
    }
    best = dict.fromkeys(runners, float("inf"))
    deadline = time.perf_counter() + seconds
    rounds = 0
    while rounds < 3 or time.perf_counter() < deadline:
        for name, runner in runners.items():
            started = time.perf_counter()
            runner()
            best[name] = min(best[name], time.perf_counter() - started)
        rounds += 1
    mb_s = {name: total / 1e6 / best[name] for name in runners}
    figures: Figures = {"decode_corpus_answers": len(corpus), "decode_corpus_mb": total / 1e6}
    figures["decode_rounds"] = rounds
    for name, value in mb_s.items():
        figures[f"decode_{name}_mb_s"] = round(value, 1)
    figures["decode_vs_official_client"] = round(mb_s["schemas"] / mb_s["official_client"], 2)
    figures["decode_vs_orjson"] = round(mb_s["schemas"] / mb_s["orjson"], 3)
    figures["decode_vs_json"] = round(mb_s["schemas"] / mb_s["json"], 3)
    return figures


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.decode", description=__doc__.splitlines()[0])
    parser.add_argument("--per-endpoint", type=int, default=20, help="answers per endpoint")
    parser.add_argument("--seconds", type=float, default=20.0, help="time to spend measuring")
    parser.add_argument("--json", help="merge the figures into this JSON file")
    args = parser.parse_args(argv)
    emit(measure(args.per_endpoint, args.seconds), args.json)


if __name__ == "__main__":
    main()
