"""Harness overhead: achieved request rate against the ideal, and CPU time per request.

A stub OpenAI-compatible server (separate process, so its CPU is not counted) answers every
request after a fixed delay. With concurrency C and delay D the ideal rate is C / D requests/s;
anything below it is the harness's own overhead (HTTP client, SSE parsing, grading, writing the
record). The runner is driven exactly as ``m1eval run`` drives it: the real AIME grader, the real
store (flushed per record), the real client with streaming.

    python benchmarks/runner_overhead.py            # concurrency 64 and 256, 5,000 requests each
    python benchmarks/runner_overhead.py --requests 10000 --delay 0.5 --concurrency 256
"""

from __future__ import annotations

import argparse
import asyncio
import os
import tempfile
import time
from pathlib import Path

from m1eval.model.client import ChatClient, ClientSettings
from m1eval.registry import get_suite
from m1eval.runner import execute, plan_samples
from m1eval.store import RunStore
from m1eval.testing.stub_server import spawn


async def measure(url: str, concurrency: int, requests: int, workdir: Path) -> dict[str, float]:
    suite = get_suite("aime24")
    items, _ = suite.load("smoke", None)
    repeats = -(-requests // len(items))
    planned = plan_samples(suite, items, repeats, "stub-model", {"max_tokens": 64}, seed=None)
    planned = planned[:requests]
    store = RunStore(workdir / f"run-c{concurrency}")
    store.open("benchmark")
    settings = ClientSettings(base_url=url, model="stub-model", max_connections=concurrency)
    cpu0, wall0 = time.process_time(), time.perf_counter()
    try:
        async with ChatClient(settings) as client:
            stats = await execute(planned, suite, client, store, concurrency)
    finally:
        store.close()
    wall, cpu = time.perf_counter() - wall0, time.process_time() - cpu0
    errors = stats.outcomes.get("infra_error", 0)
    return {"requests": len(planned), "wall_s": wall, "cpu_s": cpu, "errors": errors}


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--requests", type=int, default=5000)
    p.add_argument("--delay", type=float, default=0.5, help="server reply delay, seconds")
    p.add_argument("--concurrency", type=int, action="append", help="default: 64 and 256")
    args = p.parse_args()
    levels = args.concurrency or [64, 256]
    with tempfile.TemporaryDirectory(prefix="m1eval-bench-") as tmp:
        workdir = Path(tmp)
        stub, url = spawn(workdir, "--delay", str(args.delay), "--chunks", "4")
        try:
            print(f"server delay {args.delay * 1000:.0f} ms, {args.requests} requests per level, "
                  f"{os.cpu_count()} CPUs")  # fmt: skip
            print(f"{'concurrency':>11} {'ideal req/s':>12} {'achieved':>10} {'ratio':>7} "
                  f"{'CPU ms/req':>11} {'errors':>7}")  # fmt: skip
            for c in levels:
                r = asyncio.run(measure(url, c, args.requests, workdir))
                ideal = c / args.delay
                achieved = r["requests"] / r["wall_s"]
                print(f"{c:>11} {ideal:>12.1f} {achieved:>10.1f} {achieved / ideal:>7.1%} "
                      f"{1000 * r['cpu_s'] / r['requests']:>11.3f} {r['errors']:>7}")  # fmt: skip
        finally:
            stub.kill()
            stub.wait()


if __name__ == "__main__":
    main()
