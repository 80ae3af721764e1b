"""Which object-store client writes the parts: obstore or fsspec's s3fs, side by side against
one local S3-compatible server (moto), same objects, same concurrency.
    <client>_import_s       wall time of `python -c "import <client>"` (median of 5)
    <client>_put_mb_per_s   async PUTs of --parts parts of --part-mb MB, 4 at a time
    <client>_get_mb_per_s   async GETs of the same parts, 4 at a time
    <client>_cpu_s_per_gb   this process's CPU seconds per GB moved (PUT + GET)
moto is itself Python and spends most of the wall time; the CPU figure is the client's own.
Needs the bench extra's clients: `pip install obstore s3fs`.
"""

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from functools import partial

from bench.common import Figures, emit
from tests import s3_server


def import_s(module: str) -> float:
    times = []
    for _ in range(5):
        started = time.perf_counter()
        subprocess.run([sys.executable, "-c", f"import {module}"], check=True)
        times.append(time.perf_counter() - started)
    return statistics.median(times)


async def gather_4(jobs: list[Callable[[], Awaitable[object]]]) -> None:
    gate = asyncio.Semaphore(4)

    async def one(job: Callable[[], Awaitable[object]]) -> None:
        async with gate:
            await job()

    await asyncio.gather(*(one(job) for job in jobs))


async def with_obstore(endpoint: str, bucket: str, body: bytes, parts: int) -> tuple[float, float]:
    from obstore.store import S3Store

    store = S3Store(bucket, endpoint=endpoint, client_options={"allow_http": True})
    names = [f"obstore/part-{n}" for n in range(parts)]
    started = time.perf_counter()
    await gather_4([partial(store.put_async, n, body) for n in names])
    put_s = time.perf_counter() - started

    async def get(name: str) -> None:
        result = await store.get_async(name)
        assert len(await result.bytes_async()) == len(body)

    started = time.perf_counter()
    await gather_4([partial(get, n) for n in names])
    return put_s, time.perf_counter() - started


async def with_s3fs(endpoint: str, bucket: str, body: bytes, parts: int) -> tuple[float, float]:
    import s3fs

    fs = s3fs.S3FileSystem(asynchronous=True, endpoint_url=endpoint)
    session = await fs.set_session()
    names = [f"{bucket}/s3fs/part-{n}" for n in range(parts)]
    started = time.perf_counter()
    await gather_4([partial(fs._pipe_file, n, body) for n in names])
    put_s = time.perf_counter() - started

    async def get(name: str) -> None:
        assert len(await fs._cat_file(name)) == len(body)

    started = time.perf_counter()
    await gather_4([partial(get, n) for n in names])
    get_s = time.perf_counter() - started
    await session.close()
    return put_s, get_s


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="bench.object_clients", description=__doc__)
    parser.add_argument("--parts", type=int, default=24)
    parser.add_argument("--part-mb", type=float, default=4.0)
    parser.add_argument("--json")
    args = parser.parse_args(argv)
    body = os.urandom(int(args.part_mb * 1024 * 1024))
    moved_gb = 2 * args.parts * len(body) / 1e9
    figures: Figures = {}
    with s3_server.running() as server:
        os.environ.update(server.env())
        for name, run in (("obstore", with_obstore), ("s3fs", with_s3fs)):
            figures[f"{name}_import_s"] = round(import_s(name), 3)
            bucket = server.bucket()
            cpu = time.process_time()
            put_s, get_s = asyncio.run(run(server.endpoint, bucket, body, args.parts))
            cpu = time.process_time() - cpu
            mb = args.parts * len(body) / 1e6
            figures[f"{name}_put_mb_per_s"] = round(mb / put_s, 1)
            figures[f"{name}_get_mb_per_s"] = round(mb / get_s, 1)
            figures[f"{name}_cpu_s_per_gb"] = round(cpu / moved_gb, 2)
    emit(figures, args.json)


if __name__ == "__main__":
    main()
