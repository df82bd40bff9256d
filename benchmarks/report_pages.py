"""Drill-down pages of a large run: build time, page size and time to load in Chromium.

A synthetic run of N samples (default 20,000: 625 items x 32 repeats, ~3 KB of reasoning and
answer each, a ~1.5 KB prompt per item) is written as m1eval writes runs; then

- the paged sample pages (what ``m1eval report`` writes, PAGE_SIZE samples a page) are built
  and the first page is opened in headless Chromium, and
- the baseline, every sample on one page with the same markup, is opened the same way.

Prints build time, bytes and load time (navigation to the load event, median of 5) for both
and their ratio. Needs Playwright and a Chromium executable (``M1EVAL_CHROMIUM`` or
``chromium`` on PATH).

    python benchmarks/report_pages.py [--samples 20000]
"""

from __future__ import annotations

import argparse
import hashlib
import json
import shutil
import statistics
import tempfile
import time
from pathlib import Path

from m1eval.reporting.samples import PAGE_SIZE, STYLE, _prompt, _sample, write_sample_pages
from m1eval.store import PROMPTS, SAMPLES


def make_run(run: Path, n: int, repeats: int = 32) -> None:
    run.mkdir(parents=True)
    words = ["the", "quick", "brown", "fox", "jumps", "over", "a", "lazy", "dog", "and", "then",
             "considers", "an", "integral"]  # fmt: skip
    with (run / SAMPLES).open("w") as samples, (run / PROMPTS).open("w") as prompts:
        for i in range(n):
            item, repeat = i // repeats, i % repeats
            sha = hashlib.sha256(str(item).encode()).hexdigest()
            if repeat == 0:
                text = " ".join(words[(item + k) % len(words)] for k in range(250))
                prompts.write(json.dumps({"prompt_sha256": sha, "messages": [
                    {"role": "user", "content": text}]}) + "\n")  # fmt: skip
            reasoning = " ".join(words[(i + k) % len(words)] for k in range(450))
            samples.write(json.dumps({
                "sample_id": f"s{i}", "suite": "aime24", "item_id": f"{item:04d}",
                "repeat": repeat, "outcome": "scored", "score": float(i % 3 == 0),
                "extracted_answer": str(i % 1000), "gold": "204", "prompt_sha256": sha,
                "answer": f"The answer is \\\\boxed{{{i % 1000}}}.", "reasoning": reasoning,
                "finish_reason": "stop",
            }) + "\n")  # fmt: skip


def load_time(browser, path: Path, runs: int = 5) -> float:
    times = []
    for _ in range(runs):
        page = browser.new_page()
        started = time.perf_counter()
        page.goto(path.as_uri(), wait_until="load")
        times.append(time.perf_counter() - started)
        page.close()
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--samples", type=int, default=20_000)
    args = parser.parse_args()
    exe = shutil.which("chromium") or shutil.which("chromium-browser")
    from playwright.sync_api import sync_playwright

    with tempfile.TemporaryDirectory() as tmp:
        run = Path(tmp) / "run-big"
        make_run(run, args.samples)
        started = time.perf_counter()
        pages = write_sample_pages(run, Path(tmp) / "out")
        paged_build = time.perf_counter() - started

        started = time.perf_counter()
        from m1eval.store import read_prompts, read_samples_file

        records, _, _ = read_samples_file(run / SAMPLES)
        prompts = read_prompts(run)
        rows = sorted(records.values(), key=lambda r: (str(r["item_id"]), r["repeat"]))
        seen: set[str] = set()
        body = []
        for r in rows:
            sha = r["prompt_sha256"]
            body.append(_sample(r, _prompt(prompts.get(sha), sha, sha not in seen)))
            seen.add(sha)
        single = Path(tmp) / "single.html"
        single.write_text(
            f"<!doctype html><html lang='en'><head><meta charset='utf-8'>"
            f"<title>all</title>{STYLE}</head><body>{''.join(body)}</body></html>"
        )
        single_build = time.perf_counter() - started

        with sync_playwright() as p:
            browser = p.chromium.launch(executable_path=exe, args=["--no-sandbox"])
            paged_load = load_time(browser, pages[0])
            single_load = load_time(browser, single)
            browser.close()
        paged_bytes = pages[0].stat().st_size
        print(f"{args.samples} samples, {len(pages)} pages of {PAGE_SIZE}")
        print(
            f"paged:    build all pages {paged_build:.2f} s, first page "
            f"{paged_bytes / 1e6:.2f} MB, load {paged_load * 1000:.0f} ms"
        )
        print(
            f"one page: build {single_build:.2f} s, {single.stat().st_size / 1e6:.1f} MB, "
            f"load {single_load * 1000:.0f} ms"
        )
        print(f"load-time ratio one page / paged: {single_load / paged_load:.1f}x")


if __name__ == "__main__":
    main()
